"""Sign-up data of one retailer (tenant schema): stores, tablets, forms, submissions, consent.

A Form is edited as a draft; publishing freezes the draft into a FormVersion that never changes,
so every submission can be checked, and later shown, against exactly what the shopper saw.
Consent wording is stored once per distinct text (ConsentText) and every consent given points
at it, with its hash, so the evidence survives any later edit of the form.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Location(models.Model):
    """A store. Its country is the default for phone numbers typed without a prefix."""

    name = models.CharField(max_length=120)
    code = models.SlugField(max_length=40, unique=True)
    country = models.CharField(max_length=2, default="US")
    time_zone = models.CharField(max_length=64, default="UTC")
    #: The form its tablets show; empty means the retailer's default (brand) form.
    form = models.ForeignKey("Form", null=True, blank=True, on_delete=models.SET_NULL)
    #: Per-store overrides of the brand form's texts: {"welcome": {"en": ...}, ...}.
    overrides = models.JSONField(default=dict, blank=True)
    #: The language its tablets return to after each shopper; empty: the form's first.
    language = models.CharField(max_length=8, blank=True)
    is_active = models.BooleanField(default=True)
    #: When the store last closed (``is_active`` turned off). Sign-ups captured before it are
    #: still stored: a tablet may upload them long after, and the shopper was thanked.
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StoreAssignment(models.Model):
    """A staff member who works at a store. Staff with at least one see only their stores'
    sign-ups, tablets, alerts and digest (``signup.selectors.access``); staff with none, and
    owners and managers always, see every store. Kept for a member promoted to manager, where
    it is ignored, so a demotion restores it."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="assignments")
    # No index of its own: store_assignment_once starts with it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "location"], name="store_assignment_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.location_id}"


class Device(models.Model):
    """An enrolled tablet. Only a hash of its token is kept: a database leak pairs no tablet."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="devices")
    name = models.CharField(max_length=120)
    token_hash = models.CharField(max_length=64, unique=True)
    #: The token's first characters, to tell tablets apart in the portal.
    token_prefix = models.CharField(max_length=12)
    paired_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    app_version = models.CharField(max_length=40, blank=True)
    #: What the tablet last reported of its queue: sign-ups waiting to be sent, sign-ups the
    #: server refused that it has not uploaded yet ("held"), and the refusals' codes by count.
    queue_depth = models.PositiveIntegerField(default=0)
    held_count = models.PositiveIntegerField(default=0)
    held_reasons = models.JSONField(default=dict, blank=True)
    oldest_unsent_at = models.DateTimeField(null=True, blank=True)
    queue_reported_at = models.DateTimeField(null=True, blank=True)
    #: The pairing that took this revoked tablet's queue over. Its reports are ignored from
    #: then on: one still in flight when the tablet was paired again would otherwise say, for
    #: ever, that sign-ups wait on a tablet that no longer holds any.
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["location__name", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.location})"


class PairingCode(models.Model):
    """A short one-time code a manager reads off the portal and types on a new tablet.

    The code is ``LOOKUP-SECRET``: the lookup finds the row, so wrong secrets can be counted
    against that one code and burn it after a few tries; only the secret's hash is stored.
    """

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="pairing_codes")
    device_name = models.CharField(max_length=120)
    lookup = models.CharField(max_length=8, unique=True)
    secret_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"pairing code for {self.device_name}"


class Form(models.Model):
    name = models.CharField(max_length=120)
    #: The editable definition (fields, consents, texts, branding); see signup.definitions.
    draft = models.JSONField()
    #: The retailer's brand form, shown by every store that does not name another.
    is_default = models.BooleanField(default=False)
    current_version = models.ForeignKey(
        "FormVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_form"
            )
        ]

    def __str__(self) -> str:
        return self.name


class FormVersion(models.Model):
    """A published form, frozen: submissions are validated against the version they name."""

    form = models.ForeignKey(Form, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    published_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["form", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["form", "number"], name="form_version_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.form} v{self.number}"


class Channel(models.TextChoices):
    EMAIL = "email", _("Email marketing")
    SMS = "sms", _("SMS marketing")


class ConsentText(models.Model):
    """One exact wording of a consent, in one language. Rows are never edited."""

    channel = models.CharField(max_length=8, choices=Channel.choices)
    locale = models.CharField(max_length=8)
    text = models.TextField()
    #: SHA-256 of the text, so anyone can check which wording a consent was given against.
    text_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "locale", "text_hash"], name="consent_text_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel}/{self.locale} {self.text_hash[:8]}"


# SIGN_UP_REFERENCES: sign-ups and consents have no foreign-key constraints in PostgreSQL.
# Each constraint made every sign-up look up and lock (FOR KEY SHARE, a WAL record) the tablet,
# store, form version, consent text and sign-up row it points to: seven locks per sign-up, and
# seven cached check plans per shop in every connection. Over 300 shops on one connection that
# was 45 % of the database's cost of a sign-up (docs/architecture.md, "What a sign-up writes").
# What they guarded is held otherwise:
# - the sign-up statement checks, in its own snapshot, that the tablet is still paired to that
#   store (signup.services.submissions), and writes the consents from the row it inserted;
# - what a sign-up points to is never deleted: tablets are revoked and stores closed, and form
#   versions and consent texts never change. Migration 0012 makes the database refuse deleting
#   stores, form versions and consent texts; a tablet the ORM deletes (tests do) has its
#   sign-ups' device set to NULL by on_delete, as before;
# - everything that deletes sign-ups deletes their consents (the ORM's CASCADE, and the purge
#   and erasure delete consents first, signup.services.privacy).
class Submission(models.Model):
    """One shopper's sign-up. The id is made by the tablet, so a retried upload is a no-op."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No foreign-key constraints in the database on sign-ups and consents (SIGN_UP_REFERENCES
    # below says why); the ORM's on_delete still applies to whatever it deletes.
    form_version = models.ForeignKey(FormVersion, on_delete=models.PROTECT, db_constraint=False)
    # No index of its own: submission_location_idx starts with location_id. Every index is
    # written by every sign-up, the hottest INSERT of the product.
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    # Not indexed: nothing looks sign-ups up by tablet, and tablets are revoked, not deleted.
    device = models.ForeignKey(
        Device, null=True, on_delete=models.SET_NULL, db_index=False, db_constraint=False
    )
    #: Indexed in Meta as a plain B-tree: db_index=True would add a varchar_pattern_ops twin
    #: for LIKE 'prefix%', which no query makes (the portal's search is a contains).
    email = models.EmailField()
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    #: E.164, e.g. +33612345678.
    phone = models.CharField(max_length=20, blank=True)
    birthday_month = models.PositiveSmallIntegerField(null=True, blank=True)
    birthday_day = models.PositiveSmallIntegerField(null=True, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    #: Answers to the form's own questions, by field key.
    answers = models.JSONField(default=dict, blank=True)
    #: Answers the server refused though the shopper was thanked, kept apart with their error
    #: code and never sent to a CRM until a manager fixes and releases them:
    #: ``{"phone": {"value": "123456", "code": "invalid_phone", "message": "..."}}``.
    set_aside = models.JSONField(default=dict, blank=True)
    locale = models.CharField(max_length=8)
    #: When the shopper tapped Submit, by the tablet's clock (it may upload much later).
    captured_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["location", "received_at"], name="submission_location_idx"),
            models.Index(fields=["email"], name="submission_email_idx"),
            # Only the few sign-ups with answers set aside: the manager's list of them.
            models.Index(
                fields=["received_at"],
                condition=~models.Q(set_aside={}),
                name="submission_set_aside_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} at {self.location_id}"


class Consent(models.Model):
    """Evidence of one consent decision: what was shown, where, on which tablet, and when."""

    # No index of its own: consent_once_per_channel (submission, channel) starts with it.
    submission = models.ForeignKey(
        Submission,
        on_delete=models.CASCADE,
        related_name="consents",
        db_index=False,
        db_constraint=False,
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    granted = models.BooleanField()
    # Not indexed: consent texts are never deleted, and nothing lists consents by wording.
    text = models.ForeignKey(
        ConsentText, on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    text_hash = models.CharField(max_length=64)
    locale = models.CharField(max_length=8)
    # Indexed: a store's days are counted again from its consents (signup_day_recount).
    location = models.ForeignKey(Location, on_delete=models.PROTECT, db_constraint=False)
    device = models.ForeignKey(
        Device, null=True, on_delete=models.SET_NULL, db_index=False, db_constraint=False
    )
    captured_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "channel"], name="consent_once_per_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {'granted' if self.granted else 'refused'}"


class Resolution(models.TextChoices):
    RELEASED = "released", _("Fixed and released")
    DISCARDED = "discarded", _("Discarded")


class RejectedSubmission(models.Model):
    """A sign-up the server refused whole, kept with its reason and the payload as sent.

    The shopper was thanked on the tablet, so the sign-up must not live only there: the server
    writes this row while refusing, and the tablet uploads it too (whichever comes first; the
    tablet's id is the key). A manager fixes and releases it (a Submission is then stored and
    sent to the CRMs) or discards it. The email, when one can be read, makes it part of the
    shopper's data for export, erasure and retention.
    """

    #: The id the tablet made for the sign-up.
    id = models.UUIDField(primary_key=True)
    location = models.ForeignKey(Location, null=True, on_delete=models.SET_NULL, related_name="+")
    device = models.ForeignKey(Device, null=True, on_delete=models.SET_NULL, related_name="+")
    status_code = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=60)
    message = models.CharField(max_length=300)
    fields = models.JSONField(default=dict, blank=True)
    #: The request body as the tablet sent it, as JSON text with every non-ASCII character
    #: escaped (PostgreSQL text cannot hold NUL; the escapes keep every byte's meaning).
    payload = models.TextField()
    email = models.CharField(max_length=254, blank=True, db_index=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    resolution = models.CharField(max_length=12, choices=Resolution.choices, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: The sign-up stored when it was released.
    submission = models.ForeignKey(
        Submission, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            # The few still waiting for a manager: the list and the count in the portal's menu.
            models.Index(
                fields=["received_at"],
                condition=models.Q(resolution=""),
                name="rejection_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"rejected {self.id} ({self.code})"


class RetailerSettings(models.Model):
    """Settings of the whole retailer; one row (pk=1) per tenant schema."""

    retention_days = models.PositiveIntegerField(default=730)
    #: Colours and logo shown on every tablet unless a form overrides them.
    branding = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "Retailer settings"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting")
    RUNNING = "running", _("Being prepared")
    DONE = "done", _("Ready")
    FAILED = "failed", _("Failed")
    #: Its link ran out and the file was deleted; the row stays as a record of who exported what.
    EXPIRED = "expired", _("Expired")


class Export(models.Model):
    """A CSV of sign-ups too large to stream in one request, written by a worker to storage.

    The file is served only through the portal's download view (signed-in managers of this
    retailer), never by a public URL, and deleted once ``expires_at`` has passed.
    """

    #: Random, so a link in an email names no neighbouring export.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: The list's filters as the manager gave them (query-string values), applied by the worker.
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default="queued")
    #: The file's name in the exports storage; empty until written and after it expired.
    file_name = models.CharField(max_length=255, blank=True)
    row_count = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    #: Scheme and host the manager used ("https://shop.example.com"): the emailed link's base.
    portal_origin = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"export {self.id} ({self.status})"


class SignupDay(models.Model):
    """Sign-ups of one store on one day (the store's own calendar day, by when the shopper
    signed up), with its email and SMS opt-ins: what the portal's dashboard draws. A day's
    figures are the sum of its rows (up to sixteen, ``slot``).

    Kept by PostgreSQL triggers (migration 0008) in the same transaction as every insert,
    delete and consent change, so no Python runs on the kiosk's path and every writer (the
    kiosk's single statement, the ORM, the retention purge's raw batches) keeps it right. A
    store's days are counted again when its time zone changes.
    """

    # No database foreign key: every row comes from sign-ups that already hold one, and the
    # check would lock the store's row once more on every sign-up. No index of its own either:
    # signup_day_once starts with it.
    location = models.ForeignKey(
        Location,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    day = models.DateField()
    # Which of the day's sixteen rows: the sign-ups whose id falls in it (migration 0013). One
    # row a day made every sign-up of a store wait for the one before it to commit.
    slot = models.SmallIntegerField(db_default=0)
    signups = models.IntegerField(default=0)
    email_opt_ins = models.IntegerField(default=0)
    sms_opt_ins = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["location", "day", "slot"], name="signup_day_once"),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} {self.day}: {self.signups}"


class Logo(models.Model):
    """An uploaded logo image, kept in the logos storage and served from the retailer's host.

    The name is random, so an address names no other upload, and the file never changes: a new
    logo is a new row, and the tablets' browsers may keep the old one as long as they like.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    #: The file's name in the logos storage (``<schema>/<id>.<extension>``).
    file_name = models.CharField(max_length=255)
    #: Found from the file's first bytes, not from its name or the browser's word.
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"logo {self.id}"


class ExportSchedule(models.TextChoices):
    NONE = "", _("No scheduled export")
    DAILY = "daily", _("Every morning, the day before")
    WEEKLY = "weekly", _("Every Monday, the week before")


class NotificationPreference(models.Model):
    """What one portal user wants by email. A user without a row has the defaults of their
    role (``signup.selectors.notifications``): owners get the alerts and the digest."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    tablet_offline = models.BooleanField(default=False)
    destination_paused = models.BooleanField(default=False)
    weekly_digest = models.BooleanField(default=False)
    export_schedule = models.CharField(
        max_length=8, choices=ExportSchedule.choices, blank=True, default=""
    )
    #: The sign-up list's filters (``SignupFilters.as_json``, dates left out) the scheduled
    #: export applies; empty: every sign-up of the period.
    export_filters = models.JSONField(default=dict, blank=True)
    #: Scheme and host the user saved this from: the base of the links mailed to them.
    portal_origin = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"notifications of {self.user_id}"


class AlertKind(models.TextChoices):
    TABLET_OFFLINE = "tablet_offline", _("Tablet offline with unsent sign-ups")
    DESTINATION_PAUSED = "destination_paused", _("CRM paused")


class AlertEpisode(models.Model):
    """One stretch of time a tablet or a CRM destination needed someone: mailed once when it
    opens, closed when the condition is gone. A new episode needs a recovery first, so a
    tablet offline for a day is one mail, not one every check."""

    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    #: The tablet's or the destination's id (destinations belong to crm_sync, above this app).
    subject_id = models.BigIntegerField()
    subject_name = models.CharField(max_length=200)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # Two checks running at once cannot both open (and mail) the same episode.
            models.UniqueConstraint(
                fields=["kind", "subject_id"],
                condition=models.Q(closed_at__isnull=True),
                name="alert_episode_open_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_name}"


class PeriodicMailKind(models.TextChoices):
    DIGEST = "digest", _("Weekly digest")
    DAILY_EXPORT = "daily_export", _("Daily export")
    WEEKLY_EXPORT = "weekly_export", _("Weekly export")


class PeriodicMail(models.Model):
    """A digest or scheduled export made for one user and period: its unique key is what makes
    a repeated beat run, or two workers, produce it once."""

    kind = models.CharField(max_length=16, choices=PeriodicMailKind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    #: The first day of the period covered, in the shop's time zone.
    period_start = models.DateField()
    export = models.ForeignKey(
        Export, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "user", "period_start"], name="periodic_mail_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.period_start} for {self.user_id}"
