"""The kernel's one model: the audit trail, in each retailer's schema."""

from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    """Every action the audit trail records. Values are stored and shown, so they never change;
    an app that adds an action adds it here, where the audit page's filter finds it."""

    ATTENTION_EXPORT = "attention.export", "Exported what needs attention"
    DELIVERY_REPLAY = "delivery.replay", "Sent a sign-up to a CRM again"
    DESTINATION_CREATE = "destination.create", "Connected a CRM"
    DESTINATION_PAUSE = "destination.pause", "Paused a CRM"
    DESTINATION_RESUME = "destination.resume", "Resumed a CRM"
    DESTINATION_ROTATE_SECRET = "destination.rotate_secret", "Rotated a CRM's secret"
    DESTINATION_TEST = "destination.test", "Tested a CRM connection"
    DESTINATION_UPDATE = "destination.update", "Changed a CRM"
    DEVICE_PAIR = "device.pair", "Paired a tablet"
    DEVICE_PAIRING_CODE = "device.pairing_code", "Made a pairing code"
    DEVICE_REVOKE = "device.revoke", "Revoked a tablet"
    FORM_CREATE = "form.create", "Created a form"
    FORM_DRAFT_UPDATE = "form.draft_update", "Edited a form's draft"
    FORM_PUBLISH = "form.publish", "Published a form"
    FORM_UPDATE = "form.update", "Changed a form's settings"
    LOCATION_CREATE = "location.create", "Added a store"
    LOCATION_UPDATE = "location.update", "Changed a store"
    MEMBER_ACTIVATE = "member.activate", "Reactivated a team member"
    MEMBER_CREATE = "member.create", "Added a team member"
    MEMBER_DEACTIVATE = "member.deactivate", "Deactivated a team member"
    MEMBER_INVITE = "member.invite", "Invited a team member"
    MEMBER_INVITE_ACCEPT = "member.invite_accept", "Accepted an invitation"
    MEMBER_INVITE_RESEND = "member.invite_resend", "Sent an invitation again"
    MEMBER_INVITE_REVOKE = "member.invite_revoke", "Revoked an invitation"
    MEMBER_ROLE = "member.role", "Changed a team member's role"
    MEMBER_TWO_FACTOR_OFF = "member.two_factor_off", "Turned two-step sign-in off"
    MEMBER_TWO_FACTOR_ON = "member.two_factor_on", "Turned two-step sign-in on"
    MEMBER_UNLOCK = "member.unlock", "Unlocked a team member's sign-in"
    REJECTION_DISCARD = "rejection.discard", "Discarded a refused sign-up"
    REJECTION_RELEASE = "rejection.release", "Released a refused sign-up"
    SETTINGS_RETENTION = "settings.retention", "Changed the retention period"
    SHOPPER_ERASE = "shopper.erase", "Erased a shopper"
    SHOPPER_EXPORT = "shopper.export", "Exported a shopper's data"
    SUBMISSION_DISCARD_ANSWER = "submission.discard_answer", "Discarded a set-aside answer"
    SUBMISSION_EXPORT = "submission.export", "Exported sign-ups"
    SUBMISSION_PURGE = "submission.purge", "Purged old sign-ups"
    SUBMISSION_RELEASE_ANSWER = "submission.release_answer", "Released a set-aside answer"


class AuditEntry(models.Model):
    """Who changed what, from which value to which, and when. Rows are only ever added."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: Who acted when it was not a signed-in user: "device:3", "system:retention".
    actor_label = models.CharField(max_length=80, blank=True)
    action = models.CharField(max_length=60, choices=AuditAction.choices)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    old = models.JSONField(null=True, blank=True)
    new = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        # The table the sign-up app created before the audit trail moved to the kernel; every
        # retailer's rows stay where they are.
        db_table = "signup_auditentry"
        ordering = ["-created_at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"
