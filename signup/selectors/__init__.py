"""Reads of the sign-up app; the sign-up list's own are in ``signups`` and named here too."""

from copy import deepcopy
from datetime import datetime, timedelta
from typing import Any, TypedDict
from uuid import UUID

from django.db.models import CharField, Count, F, Q, QuerySet, Value

from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditEntry

from ..answers import kiosk_rules
from ..definitions import FormDefinition
from ..models import (
    Device,
    Form,
    FormVersion,
    Location,
    PairingCode,
    RejectedSubmission,
    Submission,
)

# Which stores a user sees, and the sign-up list at volume, live in their own modules; callers
# read them from here.
from .access import EVERY_STORE, StoreScope, store_scope
from .signups import (
    COUNT_CAP,
    OLDEST,
    AnswerColumn,
    ConsentFilter,
    Cursor,
    SearchPath,
    SignupFilters,
    SignupPage,
    answer_columns,
    answer_text,
    count_capped,
    day_start,
    email_search_path,
    filters_zone,
    submissions_export_values,
    submissions_filtered,
    submissions_page,
    trigram_index_ready,
)


def form_for_location(*, location: Location) -> Form | None:
    if location.form_id:
        return location.form
    return Form.objects.filter(is_default=True).first()


def current_version(*, location: Location) -> FormVersion | None:
    form = form_for_location(location=location)
    return form.current_version if form else None


class KioskLocation(TypedDict):
    id: int
    name: str
    country: str
    #: The language its tablets return to after each shopper.
    language: str
    accepting: bool


class KioskForm(TypedDict):
    """What a tablet draws its form from (GET /api/kiosk/form, docs/kiosk-api.md)."""

    version: int
    number: int
    definition: FormDefinition
    location: KioskLocation
    rules: dict[str, Any]


def kiosk_form(*, location: Location) -> KioskForm:
    """The published definition a tablet renders, with the store's text overrides applied."""
    version = current_version(location=location)
    if version is None:
        raise ServiceError(
            "no_published_form",
            "No form is published for this store yet; publish one in the portal.",
            status_code=404,
        )
    definition: FormDefinition = deepcopy(version.definition)
    for name, overrides in (location.overrides or {}).get("texts", {}).items():
        definition.setdefault("texts", {}).setdefault(name, {}).update(overrides)
    languages = definition["languages"]
    return {
        "version": version.pk,
        "number": version.number,
        "definition": definition,
        "location": {
            "id": location.pk,
            "name": location.name,
            "country": location.country,
            "language": location.language if location.language in languages else languages[0],
            "accepting": location.closed_at is None,
        },
        "rules": kiosk_rules(country=location.country),
    }


# --- portal reads ------------------------------------------------------------------------------

#: A tablet that sent a heartbeat this recently counts as online (it beats about once a minute).
ONLINE_WITHIN = timedelta(minutes=3)


def device_is_online(*, device: Device, now: datetime) -> bool:
    return (
        device.revoked_at is None
        and device.last_seen_at is not None
        and now - device.last_seen_at <= ONLINE_WITHIN
    )


def devices_by_location(*, scope: StoreScope) -> list[tuple[Location, list[Device]]]:
    """Every store of ``scope`` with its tablets (revoked ones last), stores without tablets
    included."""
    devices = scope.narrow(Device.objects.select_related("location")).order_by(
        "location__name", F("revoked_at").asc(nulls_first=True), "name"
    )
    grouped: dict[int, list[Device]] = {}
    for device in devices:
        grouped.setdefault(device.location_id, []).append(device)
    return [(location, grouped.get(location.pk, [])) for location in scope.stores()]


def pairing_codes_pending(*, now: datetime, scope: StoreScope) -> QuerySet[PairingCode]:
    return scope.narrow(
        PairingCode.objects.select_related("location").filter(
            used_at__isnull=True, expires_at__gte=now
        )
    )


def locations_list() -> QuerySet[Location]:
    return Location.objects.select_related("form").annotate(
        tablet_count=Count("devices", filter=Q(devices__revoked_at__isnull=True))
    )


def only_open_location() -> Location | None:
    """The open store, when there is exactly one: forms then choose it for the manager."""
    stores = list(Location.objects.filter(is_active=True)[:2])
    return stores[0] if len(stores) == 1 else None


def forms_list() -> QuerySet[Form]:
    return Form.objects.select_related("current_version").annotate(
        store_count=Count("location", distinct=True)
    )


def form_versions(*, form: Form) -> QuerySet[FormVersion]:
    return form.versions.select_related("published_by").order_by("-number")


def draft_is_published(*, form: Form) -> bool:
    """Whether the draft equals the current version (publishing adds only consent wording)."""
    if form.current_version is None:
        return False
    published = deepcopy(form.current_version.definition)
    for consent in published.get("consents", {}).values():
        consent.pop("wording", None)
    return bool(published == form.draft)


def submission_count_for_email(*, email: str) -> int:
    return Submission.objects.filter(email=email.strip().lower()).count()


def audit_entries() -> QuerySet[AuditEntry]:
    return AuditEntry.objects.select_related("actor").order_by("-created_at", "-pk")


# --- needs attention: what the server kept apart for a manager to fix --------------------------

#: The two kinds of entry of the "Needs attention" list.
SET_ASIDE, REJECTED = "set_aside", "rejected"

#: Exactly the condition of the partial index submission_set_aside_idx: written any other way,
#: PostgreSQL would not know the index holds every row the query wants.
HAS_SET_ASIDE = ~Q(set_aside={})


def set_aside_submissions(*, scope: StoreScope) -> QuerySet[Submission]:
    """Sign-ups of ``scope`` with at least one answer set aside, newest first."""
    return (
        scope.narrow(Submission.objects.filter(HAS_SET_ASIDE))
        .select_related("location", "device", "form_version")
        .order_by("-received_at", "pk")
    )


def rejections_open(*, scope: StoreScope) -> QuerySet[RejectedSubmission]:
    """Rejected sign-ups of ``scope`` no one has released or discarded yet, newest first."""
    return (
        scope.narrow(RejectedSubmission.objects.filter(resolution=""))
        .select_related("location", "device")
        .order_by("-received_at", "pk")
    )


def set_aside_submission(*, pk: UUID, scope: StoreScope) -> Submission | None:
    """One sign-up of ``scope`` for its "needs attention" page, set aside or not (a released
    one shows what became of it)."""
    return (
        scope.narrow(Submission.objects.select_related("location", "device", "form_version"))
        .filter(pk=pk)
        .first()
    )


def rejection(*, pk: UUID, scope: StoreScope) -> RejectedSubmission | None:
    """One rejected sign-up of ``scope``, resolved or not."""
    return (
        scope.narrow(RejectedSubmission.objects.select_related("location", "device", "resolved_by"))
        .filter(pk=pk)
        .first()
    )


def attention_entries(*, scope: StoreScope) -> QuerySet[Any]:
    """``(kind, id, received_at)`` of both kinds in one list, newest first.

    A UNION ALL of the two, so a page of 50 is one query whatever the mix, and ``count()`` on
    it is one query too (the portal's navigation shows it on every page).
    """
    kind = CharField()
    set_aside = (
        scope.narrow(Submission.objects.filter(HAS_SET_ASIDE))
        .order_by()
        .annotate(kind=Value(SET_ASIDE, output_field=kind))
        .values_list("kind", "id", "received_at")
    )
    rejected = (
        scope.narrow(RejectedSubmission.objects.filter(resolution=""))
        .order_by()
        .annotate(kind=Value(REJECTED, output_field=kind))
        .values_list("kind", "id", "received_at")
    )
    return set_aside.union(rejected, all=True).order_by("-received_at", "id")


def attention_count(*, scope: StoreScope) -> int:
    """How many entries need a manager: one COUNT over the union above."""
    return attention_entries(scope=scope).order_by().count()


__all__ = [
    "COUNT_CAP",
    "EVERY_STORE",
    "HAS_SET_ASIDE",
    "OLDEST",
    "ONLINE_WITHIN",
    "REJECTED",
    "SET_ASIDE",
    "AnswerColumn",
    "ConsentFilter",
    "Cursor",
    "KioskForm",
    "KioskLocation",
    "SearchPath",
    "SignupFilters",
    "SignupPage",
    "StoreScope",
    "answer_columns",
    "answer_text",
    "attention_count",
    "attention_entries",
    "audit_entries",
    "count_capped",
    "current_version",
    "day_start",
    "device_is_online",
    "devices_by_location",
    "draft_is_published",
    "email_search_path",
    "filters_zone",
    "form_for_location",
    "form_versions",
    "forms_list",
    "kiosk_form",
    "locations_list",
    "only_open_location",
    "pairing_codes_pending",
    "rejection",
    "rejections_open",
    "set_aside_submission",
    "set_aside_submissions",
    "store_scope",
    "submission_count_for_email",
    "submissions_export_values",
    "submissions_filtered",
    "submissions_page",
    "trigram_index_ready",
]
