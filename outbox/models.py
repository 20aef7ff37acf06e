"""The outbox: one delivery per sign-up and destination, and the log of its attempts."""

from django.db import models
from django.db.models import Q


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    #: Waiting for its destination to be repaired; attempts are not spent while held.
    HELD = "held", "Held (destination paused)"
    #: Every attempt of the schedule failed, or the CRM refused it for good. Kept and replayable.
    DEAD = "dead", "Dead"


class Delivery(models.Model):
    """Sending one sign-up to one destination.

    Written in the same statement as the sign-up, so a committed sign-up always has its
    deliveries. ``next_attempt_at`` holds every wait, however long; Celery messages are only
    hints that a row may be due. ``lease_expires_at`` marks a row as already handed to a worker,
    so the relay does not hand it out again until the lease runs out (a lost message, a killed
    worker); ``lease_token`` says a worker has taken it and is calling the CRM.
    """

    # No constraint and no index of its own. The constraint made every sign-up with a CRM lock
    # its tenant's row (FOR KEY SHARE: WAL, and a multixact when sign-ups overlap, as a busy
    # shop's do); the index was written by every insert and every status change (the partial
    # indexes make those non-HOT) while the indexes below all start with tenant_id. Deleting a
    # tenant still deletes its deliveries (on_delete, through delivery_once).
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    #: crm_sync.Destination in the tenant's schema; a foreign key cannot cross schemas.
    destination_id = models.BigIntegerField()
    #: signup.Submission in the tenant's schema.
    submission_id = models.UUIDField()
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    #: Set when a worker takes the row to call the CRM; empty while the row only waits in a
    #: task message. Handed-out rows may be taken by any worker, taken ones only once their lease
    #: has run out, and a worker writes its result only while the token is still its own
    #: (crm_sync.services.claims).
    lease_token = models.UUIDField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "destination_id", "submission_id"], name="delivery_once"
            )
        ]
        indexes = [
            # The relay's query: due rows of every tenant, oldest first.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_due_idx",
            ),
            # A worker topping its batch up with one destination's due rows, oldest first: read
            # from the top of this index. Without it the query read every pending row of the
            # destination and sorted them, for each claim: a webhook's backlog (a claim per
            # contact) drained in quadratic time.
            models.Index(
                fields=["tenant", "destination_id", "next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_due_destination_idx",
            ),
            # The destination page, newest first, with or without a status filter: read from
            # the top of this index, never sorted over the destination's whole history.
            models.Index(
                fields=["tenant", "destination_id", "-created_at", "-id"],
                name="delivery_page_idx",
            ),
            # Health and /metrics count only what is not delivered: delivered rows are most of
            # the table and never enter this index.
            models.Index(
                fields=["tenant", "destination_id", "status", "created_at"],
                condition=~Q(status="delivered"),
                name="delivery_undelivered_idx",
            ),
            # The retention purge: the oldest delivered rows first (outbox.services.retention).
            models.Index(
                fields=["delivered_at"],
                condition=Q(status="delivered"),
                name="delivery_purge_idx",
            ),
            models.Index(fields=["tenant", "submission_id"], name="delivery_submission_idx"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"


class DeliveryTally(models.Model):
    """How many deliveries each destination has delivered, ever: a counter, not a count.

    Delivered rows are removed after ``OUTBOX_RETENTION_DAYS``, and counting the ones left cost
    a scan of most of the table per scrape. The statement that marks rows delivered adds to this
    row in the same transaction (crm_sync.services.claims), so it is exact and never goes down;
    a delivery sent again (a requeue) counts again.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    destination_id = models.BigIntegerField()
    delivered = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "destination_id"], name="tally_once")
        ]

    def __str__(self) -> str:
        return f"destination {self.destination_id}: {self.delivered} delivered"


class AttemptOutcome(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    RETRY = "retry", "Will retry"
    PERMANENT = "permanent", "Refused for good"
    BROKEN = "broken", "Destination broken"
    #: Not sent: the destination's circuit breaker was open.
    SKIPPED = "skipped", "Not sent (circuit open)"


class DeliveryAttempt(models.Model):
    """One try at a delivery: what the CRM answered, for the retailer's delivery log."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=12, choices=AttemptOutcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}: {self.outcome}"
