"""Sign-up exports too large to stream: a worker writes the CSV to storage, the manager is told.

A request that streams 200,000 rows is cut by the web server's timeout after a fraction of them,
while the access log still says 200. Above ``SIGNUP_EXPORT_STREAM_MAX_ROWS`` the portal asks for
an export instead: an Export row now, the file from a worker, an email when it is ready. The
file is kept in the ``exports`` storage for ``SIGNUP_EXPORT_LINK_HOURS`` and served only through
the portal's download view, then deleted by ``exports_purge``.
"""

import io
import logging
import tempfile
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from customerinfo.core.accounts.models import User
from customerinfo.core.audit import audit_record
from customerinfo.core.i18n import in_language_of
from customerinfo.core.models import AuditAction
from customerinfo.core.tenancy import current_schema

from .. import selectors
from ..csv_rows import CSV_HEADER, csv_file_write, submission_csv_rows
from ..models import Export, ExportStatus
from .privacy import retailer_settings

logger = logging.getLogger(__name__)

#: Rows fetched per round trip by the worker: large enough to keep the server-side cursor busy,
#: small enough that a chunk of tuples stays a few megabytes.
EXPORT_CHUNK_SIZE = 2000
#: A queued or running export older than this lost its worker (killed, Redis flushed): the
#: task's own time limit is far shorter.
EXPORT_STALE_AFTER = timedelta(hours=2)


def exports_storage() -> Storage:
    return storages["exports"]


def export_request(*, actor: User, filters: selectors.SignupFilters, portal_origin: str) -> Export:
    """Records an export of the sign-ups ``filters`` select and hands it to a worker."""
    export = Export.objects.create(
        requested_by=actor, filters=filters.as_json(), portal_origin=portal_origin
    )
    audit_record(
        actor=actor,
        action=AuditAction.SUBMISSION_EXPORT,
        target=retailer_settings(),
        new={"filters": filters.described(), "export": str(export.pk)},
    )
    from ..tasks import export_run_task

    schema_name = current_schema()
    transaction.on_commit(
        lambda: export_run_task.delay(schema_name=schema_name, export_id=str(export.pk))
    )
    return export


def _claim(export_id: UUID) -> Export | None:
    """The export, marked running; None when it is finished already (a repeated message).

    A running one is taken again: with late acknowledgement, a message comes back only when
    the worker that had it died, so nobody else is writing it.
    """
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(pk=export_id).first()
        if export is None or export.status not in (ExportStatus.QUEUED, ExportStatus.RUNNING):
            return None
        export.status = ExportStatus.RUNNING
        export.started_at = timezone.now()
        export.save(update_fields=["status", "started_at"])
    return export


def _write(export: Export) -> tuple[str, int]:
    """Writes the CSV to a local temporary file, then hands it to the storage whole: a storage
    such as S3 takes a file, and a half-written one is never visible there."""
    filters = selectors.SignupFilters.from_json(export.filters)
    submissions = selectors.submissions_filtered(filters)
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    name = f"{current_schema()}/signups-{stamp}-{export.pk.hex[:12]}.csv"
    with tempfile.TemporaryFile() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        # One transaction for the read: the server-side cursor then streams rows as they are
        # fetched (outside one it is declared WITH HOLD and the server materialises the whole
        # result first), and the file is one consistent snapshot.
        with transaction.atomic():
            count = csv_file_write(
                text,
                header=CSV_HEADER,
                rows=submission_csv_rows(submissions, chunk_size=EXPORT_CHUNK_SIZE),
            )
        text.flush()
        text.detach()  # the storage reads ``raw``; closing the wrapper would close it
        raw.seek(0)
        saved = exports_storage().save(name, File(raw, name=name))
    return saved, count


def export_run(*, export_id: UUID) -> Export | None:
    """Writes the export's CSV and emails the manager who asked; a failure is recorded on the
    export (and shown on the exports page), not retried: the same filters would fail again."""
    export = _claim(export_id)
    if export is None:
        return None
    try:
        file_name, count = _write(export)
    except Exception as error:
        logger.exception("sign-up export failed", extra={"export": str(export.pk)})
        export.status = ExportStatus.FAILED
        export.error = f"{type(error).__name__}: {error}"[:300]
        export.finished_at = timezone.now()
        export.save(update_fields=["status", "error", "finished_at"])
        return export
    now = timezone.now()
    export.status = ExportStatus.DONE
    export.file_name = file_name
    export.row_count = count
    export.finished_at = now
    export.expires_at = now + timedelta(hours=settings.SIGNUP_EXPORT_LINK_HOURS)
    export.save(update_fields=["status", "file_name", "row_count", "finished_at", "expires_at"])
    transaction.on_commit(lambda: _mail_ready(export))
    return export


def export_link(export: Export) -> str:
    path = reverse("portal-export", args=[export.pk])
    return f"{export.portal_origin}{path}"


def _mail_ready(export: Export) -> None:
    if export.requested_by is None or not export.requested_by.email or not export.expires_at:
        return
    # In the requester's language (their portal's): what this mail says follows it once its
    # wording is translated, as the portal's pages do.
    with in_language_of(export.requested_by):
        _mail_ready_send(export, to=export.requested_by.email, expires_at=export.expires_at)


def _mail_ready_send(export: Export, *, to: str, expires_at: datetime) -> None:
    ready = ngettext(
        "Your export of %(count)s sign-up is ready.",
        "Your export of %(count)s sign-ups is ready.",
        export.row_count or 0,
    ) % {"count": export.row_count}
    until = _(
        "The link works until %(until)s UTC; the file is deleted then. Only managers of your "
        "shop can download it."
    ) % {"until": date_format(expires_at, "SHORT_DATETIME_FORMAT")}
    download = _("Download it here (you will be asked to sign in):")
    body = f"{ready}\n\n{download}\n{export_link(export)}\n\n{until}"
    try:
        send_mail(_("CustomerInfo: your sign-ups export is ready"), body, None, [to])
    except Exception:
        # The export is ready and listed on the exports page; a mail failure changes nothing.
        logger.exception("could not send the export-ready mail", extra={"export": str(export.pk)})


def export_is_downloadable(export: Export, *, now: datetime) -> bool:
    return (
        export.status == ExportStatus.DONE
        and bool(export.file_name)
        and export.expires_at is not None
        and export.expires_at > now
    )


def exports_purge(*, now: datetime | None = None) -> int:
    """Deletes the files of expired exports (their rows stay, as a record) and marks exports
    whose worker was lost as failed; returns how many files were deleted."""
    now = now or timezone.now()
    storage = exports_storage()
    deleted = 0
    for export in Export.objects.filter(status=ExportStatus.DONE, expires_at__lte=now):
        if export.file_name:
            storage.delete(export.file_name)
            deleted += 1
        export.status = ExportStatus.EXPIRED
        export.file_name = ""
        export.save(update_fields=["status", "file_name"])
    Export.objects.filter(
        status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING],
        created_at__lt=now - EXPORT_STALE_AFTER,
    ).update(
        status=ExportStatus.FAILED,
        error="The worker preparing it stopped; ask for the export again.",
        finished_at=now,
    )
    return deleted
