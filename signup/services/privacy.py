"""Privacy: retention, and one shopper's data exported or erased."""

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from customerinfo.core.accounts.models import User
from customerinfo.core.audit import audit_record, sha256
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditAction

from ..answers import normalise_email
from ..models import (
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


def retention_purge(*, now: datetime | None = None) -> int:
    """Deletes sign-ups older than the retailer's retention period; returns how many."""
    row = retailer_settings()
    cutoff = (now or timezone.now()) - timedelta(days=row.retention_days)
    deleted = (
        Submission.objects.filter(received_at__lt=cutoff).delete()[1].get("signup.Submission", 0)
    )
    # Refused sign-ups are the shoppers' data as much as stored ones, and age out with them.
    rejected = RejectedSubmission.objects.filter(received_at__lt=cutoff).delete()[0]
    if deleted or rejected:
        audit_record(
            actor=None,
            actor_label="system:retention",
            action=AuditAction.SUBMISSION_PURGE,
            target=row,
            new={"deleted": deleted, "rejected_deleted": rejected, "before": cutoff.isoformat()},
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
    deleted = Submission.objects.filter(email=email).delete()[1].get("signup.Submission", 0)
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
