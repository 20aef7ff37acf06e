"""Privacy: retention, and one shopper's data exported or erased."""

from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from customerinfo.core.accounts.models import User
from customerinfo.core.audit import audit_record, sha256
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditAction
from customerinfo.core.tenancy import current_tenant_id
from outbox.services import OUTBOX_FORGET_CTE, deliveries_forget

from ..answers import normalise_email
from ..models import (
    Consent,
    RejectedSubmission,
    RetailerSettings,
    Submission,
)


def retailer_settings() -> RetailerSettings:
    settings_row, _ = RetailerSettings.objects.get_or_create(pk=1)
    return settings_row


def retention_update(*, actor: User | None, days: int) -> RetailerSettings:
    if not 30 <= days <= 3650:
        raise ServiceError(
            "validation_failed",
            "Keep sign-ups between 30 days and 10 years.",
            fields={"retention_days": [{"code": "out_of_range", "message": "30 to 3650 days."}]},
        )
    row = retailer_settings()
    old = row.retention_days
    row.retention_days = days
    row.save(update_fields=["retention_days", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.SETTINGS_RETENTION,
        target=row,
        old={"retention_days": old},
        new={"retention_days": days},
    )
    return row


#: Rows deleted per statement by the retention purge: small enough that each batch is a short
#: transaction holding few locks, large enough that 100,000 rows take a few dozen statements.
PURGE_BATCH_SIZE = 5000

# One batch of old sign-ups, in one statement: their consent evidence and their CRM deliveries
# go with them (as the ORM's CASCADE would), refused sign-ups released from them forget them
# (SET_NULL), and no row ever reaches Python. The CTE is read once, so all see the same ids.
_PURGE_BATCH_SQL = (
    """
WITH batch AS (
    SELECT id FROM {submission} WHERE received_at < %(cutoff)s LIMIT %(limit)s
), """  # noqa: S608 - constant SQL only; table names from the models, values as parameters
    + OUTBOX_FORGET_CTE
    + """, consents AS (
    DELETE FROM {consent} WHERE submission_id IN (SELECT id FROM batch)
), released AS (
    UPDATE {rejected} SET submission_id = NULL WHERE submission_id IN (SELECT id FROM batch)
)
DELETE FROM {submission} WHERE id IN (SELECT id FROM batch)
"""
)

_PURGE_REJECTED_SQL = """
DELETE FROM {rejected} WHERE id IN (
    SELECT id FROM {rejected} WHERE received_at < %(cutoff)s LIMIT %(limit)s
)
"""


def _tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        "submission": quote(Submission._meta.db_table),
        "consent": quote(Consent._meta.db_table),
        "rejected": quote(RejectedSubmission._meta.db_table),
    }


def _delete_in_batches(sql: str, *, cutoff: datetime, batch_size: int) -> tuple[int, int]:
    """Runs ``sql`` until it deletes fewer than a batch; returns (rows, statements)."""
    deleted = batches = 0
    while True:
        # A transaction per batch: locks and WAL stay bounded, and a purge stopped half-way
        # keeps what it deleted; the next run continues.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                sql,
                {"cutoff": cutoff, "limit": batch_size, "outbox_tenant_id": current_tenant_id()},
            )
            count = cursor.rowcount
        deleted += count
        batches += 1
        if count < batch_size:
            return deleted, batches


def retention_purge(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Deletes sign-ups older than the retailer's retention period; returns how many.

    In batches of ``PURGE_BATCH_SIZE`` by SQL: memory stays flat whatever the number of rows
    (loading them for the ORM's delete took about 500 MB for 100,000 sign-ups).
    """
    row = retailer_settings()
    cutoff = (now or timezone.now()) - timedelta(days=row.retention_days)
    size = batch_size or PURGE_BATCH_SIZE
    tables = _tables()
    deleted, batches = _delete_in_batches(
        _PURGE_BATCH_SQL.format(**tables), cutoff=cutoff, batch_size=size
    )
    # Refused sign-ups are the shoppers' data as much as stored ones, and age out with them.
    rejected, rejected_batches = _delete_in_batches(
        _PURGE_REJECTED_SQL.format(**tables), cutoff=cutoff, batch_size=size
    )
    if deleted or rejected:
        audit_record(
            actor=None,
            actor_label="system:retention",
            action=AuditAction.SUBMISSION_PURGE,
            target=row,
            new={
                "deleted": deleted,
                "rejected_deleted": rejected,
                "before": cutoff.isoformat(),
                "batches": batches + rejected_batches,
            },
        )
    return deleted


def shopper_export(*, email: str) -> dict[str, Any]:
    """Everything we hold about one email address (a data subject access request)."""
    email = normalise_email(email)
    submissions = Submission.objects.filter(email=email).prefetch_related("consents__text")
    return {
        "email": email,
        "submissions": [
            {
                "id": str(s.pk),
                "received_at": s.received_at.isoformat(),
                "captured_at": s.captured_at.isoformat(),
                "location": s.location_id,
                "first_name": s.first_name,
                "last_name": s.last_name,
                "phone": s.phone,
                "birthday": (
                    {"month": s.birthday_month, "day": s.birthday_day} if s.birthday_month else None
                ),
                "postal_code": s.postal_code,
                "answers": s.answers,
                "set_aside": s.set_aside,
                "locale": s.locale,
                "consents": [
                    {
                        "channel": c.channel,
                        "granted": c.granted,
                        "wording": c.text.text,
                        "wording_hash": c.text_hash,
                        "captured_at": c.captured_at.isoformat(),
                    }
                    for c in s.consents.all()
                ],
            }
            for s in submissions
        ],
        "rejected": [
            {
                "id": str(r.pk),
                "received_at": r.received_at.isoformat(),
                "reason": r.code,
                "message": r.message,
                "payload": r.payload,
            }
            for r in RejectedSubmission.objects.filter(email=email)
        ],
    }


def shopper_erase(*, actor: User | None, email: str) -> int:
    """Erases every sign-up of one email address; the audit log keeps only a hash of it."""
    email = normalise_email(email)
    with transaction.atomic():
        shopper = Submission.objects.filter(email=email)
        deliveries_forget(submission_ids=shopper.values_list("pk", flat=True))
        deleted = shopper.delete()[1].get("signup.Submission", 0)
    rejected = RejectedSubmission.objects.filter(email=email).delete()[0]
    settings_row = retailer_settings()
    audit_record(
        actor=actor,
        action=AuditAction.SHOPPER_ERASE,
        target=settings_row,
        new={
            "email_sha256": sha256(email),
            "submissions_deleted": deleted,
            "rejected_deleted": rejected,
        },
    )
    return deleted
