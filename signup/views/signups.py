"""Portal pages of the sign-ups: search, filters, pages of 50, the streamed CSV export.

The CSV helpers here (formula defusing, streaming in the tenant's schema) serve every export of
the portal, the "Needs attention" one included.
"""

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
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
from ..forms import SubmissionFilterForm
from ..models import Channel, Submission

CSV_CHUNK_SIZE = 500


def _filtered(request: HttpRequest) -> tuple[SubmissionFilterForm, Any]:
    """The filter form and the sign-ups it selects; an invalid filter value is ignored."""
    filters = SubmissionFilterForm(request.GET)
    filters.is_valid()
    values = {name: filters.cleaned_data.get(name) for name in ("date_from", "date_to", "location")}
    submissions = selectors.submissions_filtered(
        email=filters.cleaned_data.get("email") or "", **values
    )
    return filters, submissions


def _consent_summary(submission: Submission) -> list[tuple[str, bool]]:
    return [(Channel(c.channel).label, c.granted) for c in submission.consents.all()]


@role_required(EVERYONE, doing="see sign-ups")
@require_GET
def submissions_list(request: PortalRequest) -> HttpResponse:
    filters, submissions = _filtered(request)
    page = Paginator(submissions.prefetch_related("consents"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [(submission, _consent_summary(submission)) for submission in page.object_list]
    return portal_page(
        request,
        "signup/portal/submissions_list.html",
        "signups",
        {
            "filters": filters,
            "page": page,
            "rows": rows,
            "can_export": request.user.role in MANAGERS,
        },
    )


CSV_HEADER = [
    "id",
    "received_at",
    "captured_at",
    "store_code",
    "store",
    "tablet_id",
    "form_version",
    "locale",
    "email",
    "first_name",
    "last_name",
    "phone",
    "birthday",
    "postal_code",
    "answers",
    "email_consent",
    "email_consent_captured_at",
    "email_consent_text_sha256",
    "sms_consent",
    "sms_consent_captured_at",
    "sms_consent_text_sha256",
]


def csv_cell(value: str) -> str:
    """Defuses spreadsheet formulas (CSV injection); phone numbers like +33… stay numbers."""
    if value[:1] in ("=", "@", "\t", "\r") or (
        value[:1] in ("+", "-") and not value[1:].replace(" ", "").isdigit()
    ):
        return "'" + value
    return value


def _csv_row(submission: Submission) -> list[str]:
    consents = {consent.channel: consent for consent in submission.consents.all()}
    birthday = (
        f"{submission.birthday_month:02d}-{submission.birthday_day:02d}"  # MM-DD, no year
        if submission.birthday_month and submission.birthday_day
        else ""
    )
    row = [
        str(submission.pk),
        submission.received_at.isoformat(),
        submission.captured_at.isoformat(),
        submission.location.code,
        submission.location.name,
        str(submission.device_id or ""),
        str(submission.form_version.number),
        submission.locale,
        submission.email,
        submission.first_name,
        submission.last_name,
        submission.phone,
        birthday,
        submission.postal_code,
        json.dumps(submission.answers, ensure_ascii=False, sort_keys=True)
        if submission.answers
        else "",
    ]
    for channel in (Channel.EMAIL, Channel.SMS):
        consent = consents.get(channel)
        if consent is None:
            row += ["", "", ""]
        else:
            row += [
                "granted" if consent.granted else "refused",
                consent.captured_at.isoformat(),
                consent.text_hash,
            ]
    return row


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
    from this tenant whatever ran on the connection meanwhile. Every cell is defused.
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


@role_required(MANAGERS, doing="export sign-ups")
@require_GET
def submissions_export(request: PortalRequest) -> StreamingHttpResponse:
    filters, submissions = _filtered(request)
    submissions = submissions.prefetch_related("consents")
    audit_record(
        actor=request.user,
        action=AuditAction.SUBMISSION_EXPORT,
        target=services.retailer_settings(),
        new={"filters": {name: str(value or "") for name, value in filters.cleaned_data.items()}},
    )

    def rows() -> Iterator[list[str]]:
        # iterator(): a server-side cursor fetching CSV_CHUNK_SIZE rows (and their consents)
        # at a time, so a million sign-ups never sit in memory at once.
        for submission in submissions.iterator(chunk_size=CSV_CHUNK_SIZE):
            yield _csv_row(submission)

    return csv_stream(tenant=request.tenant, header=CSV_HEADER, rows=rows, filename="signups")
