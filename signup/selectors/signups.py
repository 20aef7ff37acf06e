"""Reads of the portal's sign-up list at any size: filters, email search, keyset pages, counts.

A head office may hold millions of sign-ups, so nothing here costs more as the table grows:

- pages are keyset pages on (received_at, id), newest first: the next page starts from the
  index where the last one ended, however deep it is; a date jump is a page that starts at the
  end of that day. ``OFFSET`` would read and throw away every row before the page.
- counts stop at ``COUNT_CAP`` ("more than 10,000"): an exact count reads every row.
- a whole address is found through the email index (addresses are stored normalised, so the
  comparison is a plain ``=``), part of one through the trigram index when the server has it
  (migration 0007), otherwise by a scan.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from django.db.models import (
    CharField,
    Exists,
    FilteredRelation,
    Func,
    OuterRef,
    Q,
    QuerySet,
    TextField,
)
from django.db.models.functions import Cast
from django.utils.translation import gettext

from ..answers import normalise_email
from ..definitions import CUSTOM_TYPES, text_in_language
from ..models import Channel, Consent, Form, FormVersion, Location, Submission
from .access import EVERY_STORE, StoreScope

#: Counts stop here: the page says "more than 10,000" instead of reading every row to be exact.
COUNT_CAP = 10_000
#: The index migration 0007 makes where pg_trgm exists.
TRIGRAM_INDEX = "submission_email_trgm_idx"
#: pg_trgm needs three characters to make a trigram: shorter parts cannot use its index.
TRIGRAM_MIN_LENGTH = 3

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class ConsentFilter(StrEnum):
    ANY = ""
    EMAIL = "email"
    SMS = "sms"
    NONE = "none"


@dataclass(frozen=True)
class SignupFilters:
    """What the manager narrowed the list to; the CSV export takes the same."""

    email: str = ""
    date_from: date | None = None
    date_to: date | None = None
    location: Location | None = None
    form: Form | None = None
    consent: ConsentFilter = ConsentFilter.ANY
    #: The zone whole days are counted in (see ``filters_zone``).
    zone: tzinfo = UTC
    #: The stores the person looking may see (``access.store_scope``): not a filter they chose,
    #: so it is not written by ``as_json`` (exports are made by managers, who see every store).
    scope: StoreScope = EVERY_STORE

    def as_json(self) -> dict[str, str]:
        """Plain values, for an export a worker prepares later with the very same filters."""
        return {
            "email": self.email,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "location": str(self.location.pk) if self.location else "",
            "form": str(self.form.pk) if self.form else "",
            "consent": self.consent.value,
            "zone": str(self.zone),
        }

    def described(self) -> dict[str, str]:
        """As ``as_json``, with stores and forms by name: for people reading the audit log."""
        return {
            **self.as_json(),
            "location": self.location.name if self.location else "",
            "form": self.form.name if self.form else "",
        }

    @classmethod
    def from_json(cls, data: dict[str, str]) -> "SignupFilters":
        """The filters ``as_json`` wrote; a store or form deleted since raises DoesNotExist
        rather than widening the export to every store."""
        location = data.get("location")
        form = data.get("form")
        return cls(
            email=data.get("email", ""),
            date_from=date.fromisoformat(data["date_from"]) if data.get("date_from") else None,
            date_to=date.fromisoformat(data["date_to"]) if data.get("date_to") else None,
            location=Location.objects.get(pk=int(location)) if location else None,
            form=Form.objects.get(pk=int(form)) if form else None,
            consent=ConsentFilter(data.get("consent", "")),
            zone=_zone(data.get("zone", "UTC")),
        )


class SearchPath(StrEnum):
    NONE = "none"
    #: A whole address: submission_email_idx.
    EXACT = "exact"
    #: Part of an address: submission_email_trgm_idx.
    TRIGRAM = "trigram"
    #: Part of an address, without a usable index (no pg_trgm, or fewer than three characters).
    SCAN = "scan"


def trigram_index_ready() -> bool:
    """Whether this tenant's schema has a valid trigram index on emails (it may not: 0007)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(%s)",
            [TRIGRAM_INDEX],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def email_search_path(term: str) -> SearchPath:
    term = term.strip()
    if not term:
        return SearchPath.NONE
    try:
        validate_email(term)
    except ValidationError:
        pass
    else:
        return SearchPath.EXACT
    if len(term) >= TRIGRAM_MIN_LENGTH and trigram_index_ready():
        return SearchPath.TRIGRAM
    return SearchPath.SCAN


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def filters_zone(*, location: Location | None, scope: StoreScope = EVERY_STORE) -> tzinfo:
    """The time zone whole days are counted in: the chosen store's, else the one all stores
    of ``scope`` share, else UTC (stores in several zones have no common "day")."""
    if location is not None:
        return _zone(location.time_zone)
    stores = scope.stores().order_by()
    zones = list(stores.values_list("time_zone", flat=True).distinct()[:2])
    return _zone(zones[0]) if len(zones) == 1 else UTC


def day_start(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def submissions_filtered(
    filters: SignupFilters, *, path: SearchPath | None = None
) -> QuerySet[Submission]:
    """Sign-ups that pass ``filters``, newest first; dates are whole days in ``filters.zone``.

    Every condition is written so an index can serve it: ranges on received_at itself (not
    ``__date``), the email compared as stored, the store through (location, received_at).
    """
    submissions = filters.scope.narrow(Submission.objects.order_by("-received_at", "-id"))
    term = filters.email.strip()
    path = email_search_path(term) if path is None else path
    if path == SearchPath.EXACT:
        submissions = submissions.filter(email=normalise_email(term))
    elif path != SearchPath.NONE:
        # Addresses are stored lowercase, so a case-sensitive LIKE on the lowercased part finds
        # what ILIKE would, and the trigram index serves LIKE directly.
        submissions = submissions.filter(email__contains=term.lower())
    if filters.date_from is not None:
        submissions = submissions.filter(
            received_at__gte=day_start(filters.date_from, filters.zone)
        )
    if filters.date_to is not None:
        end = day_start(filters.date_to + timedelta(days=1), filters.zone)
        submissions = submissions.filter(received_at__lt=end)
    if filters.location is not None:
        submissions = submissions.filter(location=filters.location)
    if filters.form is not None:
        versions = FormVersion.objects.filter(form=filters.form).values("pk")
        submissions = submissions.filter(form_version_id__in=versions)
    if filters.consent:
        granted = Consent.objects.filter(submission=OuterRef("pk"), granted=True)
        if filters.consent == ConsentFilter.NONE:
            submissions = submissions.filter(~Exists(granted))
        else:
            submissions = submissions.filter(Exists(granted.filter(channel=filters.consent)))
    return submissions


def count_capped(submissions: QuerySet[Any], *, cap: int | None = None) -> tuple[int, bool]:
    """``(count, more)``: the exact count up to ``cap`` (COUNT_CAP by default), and whether
    there are more than that.

    COUNT(*) over a subquery LIMITed to cap + 1 rows: at most that many are read.
    """
    cap = COUNT_CAP if cap is None else cap
    count = submissions.order_by().values("pk")[: cap + 1].count()
    return min(count, cap), count > cap


# --- keyset pages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A place in the list: the (received_at, id) of a row. Ids break ties of received_at, so
    every row has exactly one place and a page boundary never skips or repeats one."""

    received_at: datetime
    id: UUID

    @classmethod
    def of(cls, submission: Submission) -> "Cursor":
        return cls(submission.received_at, submission.pk)

    @classmethod
    def day_end(cls, day: date, zone: tzinfo) -> "Cursor":
        """Just after the last possible row of ``day``: "older than" it is that day and before."""
        return cls(day_start(day + timedelta(days=1), zone), UUID(int=0))

    @classmethod
    def parse(cls, token: str) -> "Cursor | None":
        """The cursor of a link; None for anything that is not one (the first page is shown)."""
        micros, _, hex_id = token.partition("_")
        try:
            return cls(_EPOCH + int(micros) * _MICROSECOND, UUID(hex=hex_id))
        except (ValueError, OverflowError):
            return None

    def token(self) -> str:
        """Exact to the microsecond, and safe in a URL as it is."""
        return f"{(self.received_at - _EPOCH) // _MICROSECOND}_{self.id.hex}"


#: Before every row: "newer than" it is the whole list, oldest first (the last page).
OLDEST = Cursor(_EPOCH, UUID(int=0))


def _older_than(cursor: Cursor) -> Q:
    # (received_at, id) < cursor, spelled so that ``received_at <= t`` is an index condition:
    # as a bare OR, PostgreSQL would walk the index from the newest row to reach the page.
    return Q(received_at__lte=cursor.received_at) & (
        Q(received_at__lt=cursor.received_at) | Q(id__lt=cursor.id)
    )


def _newer_than(cursor: Cursor) -> Q:
    return Q(received_at__gte=cursor.received_at) & (
        Q(received_at__gt=cursor.received_at) | Q(id__gt=cursor.id)
    )


@dataclass(frozen=True)
class SignupPage:
    rows: list[Submission]
    #: Where the links lead: rows newer than ``newer``, rows older than ``older``; None when
    #: there are none that way.
    newer: Cursor | None
    older: Cursor | None
    #: Whether this is the newest page (the list as it opens).
    first: bool


def submissions_page(
    submissions: QuerySet[Submission],
    *,
    size: int,
    older_than: Cursor | None = None,
    newer_than: Cursor | None = None,
) -> SignupPage:
    """One page of ``submissions``, newest first: the newest ones, those just older than
    ``older_than``, or those just newer than ``newer_than``. Each costs an index range read of
    ``size + 1`` rows and one EXISTS for the other direction, however deep the page."""
    if newer_than is not None:
        chunk = list(
            submissions.filter(_newer_than(newer_than)).order_by("received_at", "id")[: size + 1]
        )
        rows = chunk[:size][::-1]
        newer = Cursor.of(rows[0]) if len(chunk) > size else None
        edge = Cursor.of(rows[-1]) if rows else newer_than
        older = edge if submissions.filter(_older_than(edge)).exists() else None
        return SignupPage(rows, newer, older, first=newer is None)
    chosen = submissions if older_than is None else submissions.filter(_older_than(older_than))
    chunk = list(chosen[: size + 1])
    rows = chunk[:size]
    older = Cursor.of(rows[-1]) if len(chunk) > size else None
    newer = None
    if older_than is not None:
        edge = Cursor.of(rows[0]) if rows else older_than
        newer = edge if submissions.filter(_newer_than(edge)).exists() else None
    return SignupPage(rows, newer, older, first=newer is None)


# --- custom answers as columns -----------------------------------------------------------------


@dataclass(frozen=True)
class AnswerColumn:
    key: str
    label: str


def answer_columns(*, form: Form | None) -> list[AnswerColumn]:
    """The custom questions of ``form`` (else the brand form), as its current version asks them.

    One definition is read per page, never one per row.
    """
    forms = (
        Form.objects.filter(pk=form.pk)
        if form is not None
        else Form.objects.filter(is_default=True)
    )
    definition = forms.values_list("current_version__definition", flat=True).first()
    return [
        AnswerColumn(field["key"], text_in_language(field["label"], "en") or field["key"])
        for field in (definition or {}).get("fields", [])
        if field.get("type") in CUSTOM_TYPES
    ]


def answer_text(value: object) -> str:
    """An answer as a cell: choices joined, a checkbox as Yes/No, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


# --- the CSV export's rows ---------------------------------------------------------------------


class _IsoText(Func):
    """A timestamp as ISO 8601 text in UTC, made by PostgreSQL: parsing 600,000 timestamps into
    datetime objects only to print them again was a third of an export's time."""

    template = (
        "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
    )
    output_field = CharField()


#: The columns the export reads, in its order: the form's version number and the store through
#: joins, each consent through a LEFT JOIN of its own, so no row loads a form definition
#: (about 3 KB of JSON) or builds a model object. Ids and times arrive as text.
EXPORT_COLUMNS = {
    "id_text": Cast("id", CharField()),
    "received_text": _IsoText("received_at"),
    "captured_text": _IsoText("captured_at"),
    "location__code": None,
    "location__name": None,
    "device_id": None,
    "form_version__number": None,
    "locale": None,
    "email": None,
    "first_name": None,
    "last_name": None,
    "phone": None,
    "birthday_month": None,
    "birthday_day": None,
    "postal_code": None,
    # As text: two sign-ups in three answer no custom question, and their "{}" needs no parse.
    "answers_text": Cast("answers", TextField()),
    "email_consent__granted": None,
    "email_captured_text": _IsoText("email_consent__captured_at"),
    "email_consent__text_hash": None,
    "sms_consent__granted": None,
    "sms_captured_text": _IsoText("sms_consent__captured_at"),
    "sms_consent__text_hash": None,
}


def submissions_export_values(submissions: QuerySet[Submission]) -> QuerySet[Any]:
    """``submissions`` as tuples of EXPORT_COLUMNS, newest first like the list."""
    consents = {
        f"{channel.value}_consent": FilteredRelation(
            "consents", condition=Q(consents__channel=channel.value)
        )
        for channel in (Channel.EMAIL, Channel.SMS)
    }
    texts = {name: expression for name, expression in EXPORT_COLUMNS.items() if expression}
    return (
        submissions.annotate(**consents)
        .annotate(**texts)
        .order_by("-received_at", "-id")
        .values_list(*EXPORT_COLUMNS)
    )
