"""What operations keep in the public schema: every backup job's outcome and the errors seen."""

from django.db import models


class JobKind(models.TextChoices):
    BACKUP = "backup", "Backup"
    VERIFY = "verify", "Restore check"
    RESTORE = "restore", "Shop restore"


class JobStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    #: Another run of the same kind held the lock; nothing was done.
    SKIPPED = "skipped", "Skipped"


class BackupJob(models.Model):
    """One run of backup_create, backup_verify or tenant_restore.

    /metrics reads the newest success of each kind from here, so every pod reports the same
    "last success" and a CronJob that stopped running shows as a growing age, not as silence.
    """

    kind = models.CharField(max_length=8, choices=JobKind.choices)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.RUNNING)
    #: The backup made (backup) or read (verify, restore): ``20260105T031700Z``.
    backup_id = models.CharField(max_length=40, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    #: Figures and findings: tenants, rows, bytes, seconds, and for a check every difference.
    details = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["kind", "status", "finished_at"], name="backupjob_last_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.backup_id or '-'}: {self.status}"


class ErrorReport(models.Model):
    """One kind of error (same exception type through the same code), counted.

    Kept when no Sentry DSN is set; the daily digest mails the most frequent since the previous
    digest. ``pending`` counts occurrences not yet mailed: the digest subtracts what it sent,
    so occurrences recorded while it mails are counted in the next one.
    """

    fingerprint = models.CharField(max_length=64, unique=True)
    exception_type = models.CharField(max_length=200)
    #: Where it came from: ``request GET /portal/x`` or ``task crm_sync.tasks.deliver``.
    origin = models.CharField(max_length=300, blank=True)
    #: The latest occurrence, with shopper data scrubbed.
    message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    schema = models.CharField(max_length=63, blank=True)
    count = models.PositiveBigIntegerField(default=0)
    pending = models.PositiveBigIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen"]
        indexes = [
            models.Index(
                fields=["pending"], condition=models.Q(pending__gt=0), name="errorreport_due_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.exception_type} x{self.count}"


class ErrorDigest(models.Model):
    """A digest mailed: the next one counts what happened since ``sent_at``."""

    sent_at = models.DateTimeField()
    errors = models.PositiveIntegerField()
    occurrences = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"digest of {self.sent_at:%Y-%m-%d %H:%M}"
