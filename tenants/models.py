"""Retailers (tenants), their host names, and the migration state of every schema.

All three live in the public schema.
"""

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class TenantStatus(models.TextChoices):
    PROVISIONING = "provisioning", "Provisioning"
    ACTIVE = "active", "Active"
    FAILED = "failed", "Provisioning failed"


class TenantAccess(models.TextChoices):
    """What a retailer may do. Set by billing from its subscription; read by every app."""

    FULL = "full", "Full"
    #: Full, with a banner and a way to pay: the payment is overdue and still being retried.
    WARNED = "warned", "Full, payment overdue"
    #: The portal is read-only but for billing; tablets keep capturing every sign-up and CRM
    #: deliveries wait, without spending attempts, until the account is paid.
    SUSPENDED = "suspended", "Suspended"


class Tenant(TenantMixin):
    """A retailer. Its data lives in the PostgreSQL schema ``schema_name``."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=40, unique=True)
    status = models.CharField(
        max_length=16, choices=TenantStatus.choices, default=TenantStatus.PROVISIONING
    )
    #: Jobs and requests only touch the schema once this is set: until then it may not exist.
    ready = models.BooleanField(default=False)
    owner_email = models.EmailField()
    #: The first owner's password hash, kept only until provisioning has created the account,
    #: so no plain password ever travels through the task queue.
    owner_password_hash = models.CharField(max_length=256, blank=True)
    provisioning_error = models.TextField(blank=True)
    access = models.CharField(
        max_length=16, choices=TenantAccess.choices, default=TenantAccess.FULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    provisioned_at = models.DateTimeField(null=True, blank=True)

    # Schemas are cloned from the template by tenants.services, never migrated on save().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["ready", "status"], name="tenant_ready_status_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class Domain(DomainMixin):
    """A host name that routes to a tenant (``<slug>.<BASE_DOMAIN>``)."""

    def __str__(self) -> str:
        return self.domain


class SchemaMigrationState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class SchemaMigration(models.Model):
    """The last migration attempt of one schema (a tenant's or the template).

    ``migrate_tenants`` writes it so an operator can see which tenants are behind, which failed
    and why, and so an interrupted run shows where it stopped.
    """

    schema_name = models.CharField(max_length=63, unique=True)
    state = models.CharField(max_length=16, choices=SchemaMigrationState.choices)
    #: The newest migration of every tenant app that the schema was being brought up to.
    target = models.JSONField(default=list)
    error = models.TextField(blank=True)
    output = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["schema_name"]

    def __str__(self) -> str:
        return f"{self.schema_name}: {self.state}"
