"""Portal pages of the sign-ups: search, filters, keyset pages of 50, the streamed CSV export.

At volume (a head office with hundreds of thousands of sign-ups) the list never counts or
skips more than it shows: see signup/selectors/signups.py. Exports too large to stream are
prepared by a worker (views/exports.py).

The CSV helpers here (formula defusing, streaming in the tenant's schema) serve every export of
the portal, the "Needs attention" one included.
"""

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import F, FilteredRelation, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.http import require_GET
from django_tenants.models import TenantMixin
from django_tenants.utils import tenant_context

from customerinfo.core.audit import audit_record
from customerinfo.core.models import AuditAction
from customerinfo.core.portal import (
    EVERYONE,
    MANAGERS,
    PAGE_SIZE,
    PortalRequest,
    portal_page,
    role_required,
)

from .. import selectors, services
from ..csv_rows import CSV_HEADER, csv_cell, submission_csv_rows
from ..forms import DateJumpForm, SubmissionFilterForm
from ..models import Channel, Submission
from ..selectors import OLDEST, AnswerColumn, Cursor, SignupFilters

__all__ = ["CSV_CHUNK_SIZE", "CSV_HEADER", "csv_cell", "csv_stream"]

CSV_CHUNK_SIZE = 500


def filters_of(request: PortalRequest) -> tuple[SubmissionFilterForm, SignupFilters]:
    """The filter form of a request's query string and the filters it selects, within the
    stores the member sees."""
    scope = selectors.store_scope(request.user)
    form = SubmissionFilterForm(request.GET, scope=scope)
    return form, form.signup_filters()


def export_is_large(submissions: QuerySet[Submission]) -> bool:
    """Whether an export of ``submissions`` is too large to stream within one request."""
    limit: int = settings.SIGNUP_EXPORT_STREAM_MAX_ROWS
    return selectors.count_capped(submissions, cap=limit)[1]


@dataclass(frozen=True)
class SignupRow:
    submission: Submission
    #: When it was received, in its store's time zone.
    received: str
    consents: list[tuple[str, bool]]
    answers: list[str]
    #: Its page, and its CRM delivery log.
    url: str
    deliveries_url: str


#: A stand-in id: each row's links are made from one reversed URL, not one reverse per link.
_SAMPLE = "00000000-0000-0000-0000-000000000000"
_CHANNEL_LABELS = {channel.value: channel.label for channel in Channel}


def _rows(rows: list[Submission], columns: list[AnswerColumn]) -> list[SignupRow]:
    detail = reverse("portal-submission-detail", args=[_SAMPLE])
    deliveries = reverse("crm-submission-deliveries", args=[_SAMPLE])
    zones: dict[int, tzinfo] = {}
    result = []
    for submission in rows:
        zone = zones.get(submission.location_id)
        if zone is None:  # the store's own zone, looked up once per store on the page
            zone = zones[submission.location_id] = selectors.filters_zone(
                location=submission.location
            )
        local = timezone.localtime(submission.received_at, zone)
        identifier = str(submission.pk)
        result.append(
            SignupRow(
                submission,
                f"{date_format(local, 'SHORT_DATETIME_FORMAT')} {local.tzname()}",
                [
                    (str(label), granted)
                    for label, granted in (
                        (_CHANNEL_LABELS["email"], getattr(submission, "email_granted", None)),
                        (_CHANNEL_LABELS["sms"], getattr(submission, "sms_granted", None)),
                    )
                    if granted is not None
                ],
                [selectors.answer_text(submission.answers.get(c.key)) for c in columns],
                detail.replace(_SAMPLE, identifier),
                deliveries.replace(_SAMPLE, identifier),
            )
        )
    return result


def with_consents(submissions: QuerySet[Submission]) -> QuerySet[Submission]:
    """Each sign-up with ``email_granted`` and ``sms_granted`` (None: not asked), joined in the
    page's own query: a second query for the consents was a round trip more per page."""
    consents = {
        f"{channel}_consent": FilteredRelation("consents", condition=Q(consents__channel=channel))
        for channel in ("email", "sms")
    }
    return submissions.annotate(**consents).annotate(
        email_granted=F("email_consent__granted"), sms_granted=F("sms_consent__granted")
    )


def _place(request: HttpRequest, filters: SignupFilters) -> tuple[Cursor | None, Cursor | None]:
    """Where in the list the page starts: after a date jump, an older or a newer link."""
    jump = DateJumpForm(request.GET)
    if jump.is_valid() and jump.cleaned_data.get("go"):
        return Cursor.day_end(jump.cleaned_data["go"], filters.zone), None
    older = Cursor.parse(request.GET.get("older", ""))
    newer = Cursor.parse(request.GET.get("newer", "")) if older is None else None
    return older, newer


@role_required(EVERYONE, doing=gettext_lazy("see sign-ups"))
@require_GET
def submissions_list(request: PortalRequest) -> HttpResponse:
    filter_form, filters = filters_of(request)
    search = selectors.email_search_path(filters.email)
    submissions = selectors.submissions_filtered(filters, path=search)
    older, newer = _place(request, filters)
    page = selectors.submissions_page(
        with_consents(submissions.select_related("location")),
        size=PAGE_SIZE,
        older_than=older,
        newer_than=newer,
    )
    if page.first and page.older is None:
        # The whole list fits on this page: its rows are the count (an exact search, a rare
        # part of an address), and no second query is needed.
        count, more = min(len(page.rows), selectors.COUNT_CAP), len(page.rows) > selectors.COUNT_CAP
    else:
        count, more = selectors.count_capped(submissions)
    columns = selectors.answer_columns(form=filters.form)
    can_export = request.user.role in MANAGERS
    limit: int = settings.SIGNUP_EXPORT_STREAM_MAX_ROWS
    return portal_page(
        request,
        "signup/portal/submissions_list.html",
        "signups",
        {
            "filters": filter_form,
            "jump": DateJumpForm(request.GET),
            "page": page,
            "rows": _rows(page.rows, columns),
            "columns": columns,
            "count_label": (
                ngettext("More than %(count)s sign-up", "More than %(count)s sign-ups", count)
                if more
                else ngettext("%(count)s sign-up", "%(count)s sign-ups", count)
            )
            % {"count": number_format(count, force_grouping=True)},
            "search": search.value,
            "zone": str(filters.zone),
            "oldest": OLDEST.token(),
            "can_export": can_export,
            # The list's own count answers this when the limits agree (they do by default).
            "export_large": can_export
            and (more if limit == selectors.COUNT_CAP else export_is_large(submissions)),
            "export_limit": number_format(limit, force_grouping=True),
            "export_fields": export_filter_fields(filter_form),
        },
    )


class _Echo:
    """A file-like object csv.writer writes to, which hands each line back instead of storing."""

    def write(self, value: str) -> str:
        return value


def csv_stream(
    *,
    tenant: TenantMixin,
    header: list[str],
    rows: Callable[[], Iterable[list[str]]],
    filename: str,
) -> StreamingHttpResponse:
    """A CSV download produced while it is sent; ``rows`` is called only then.

    The body is produced after the view returned, so the schema is named again: the rows come
    from this tenant whatever ran on the connection meanwhile. Every cell is defused. The header
    is not translated: its column names are identifiers that imports and scripts read by name,
    the same whatever language the manager's portal is in.
    """
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        with tenant_context(tenant):
            yield "\ufeff" + writer.writerow(header)  # BOM: spreadsheets then read UTF-8
            for row in rows():
                yield writer.writerow([csv_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@role_required(MANAGERS, doing=gettext_lazy("export sign-ups"))
@require_GET
def submissions_export(request: PortalRequest) -> HttpResponseBase:
    """Streams the CSV of what the list shows, when that is small enough to finish in time."""
    _, filters = filters_of(request)
    submissions = selectors.submissions_filtered(filters)
    if export_is_large(submissions):
        # Streamed, it would be cut at the web server's timeout with a 200 in the access log.
        messages.info(
            request,
            gettext(
                "More than %(count)s sign-ups: prepare the export instead, and download it when "
                "it is ready."
            )
            % {"count": number_format(settings.SIGNUP_EXPORT_STREAM_MAX_ROWS, force_grouping=True)},
        )
        return redirect(f"{reverse('portal-submissions')}?{request.GET.urlencode()}")
    audit_record(
        actor=request.user,
        action=AuditAction.SUBMISSION_EXPORT,
        target=services.retailer_settings(),
        new={"filters": filters.described()},
    )

    def rows() -> Iterator[list[str]]:
        return submission_csv_rows(submissions, chunk_size=CSV_CHUNK_SIZE)

    return csv_stream(tenant=request.tenant, header=CSV_HEADER, rows=rows, filename="signups")


def export_filter_fields(filters: SubmissionFilterForm) -> list[tuple[str, Any]]:
    """The filters as hidden inputs of the "prepare export" form (name, value), set ones only."""
    return [
        (name, value) for name, value in filters.data.items() if name in filters.fields and value
    ]
