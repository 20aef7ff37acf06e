"""Tenant lifecycle: create, provision (clone the template), and migrate every schema."""

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_exists

from customerinfo.core.accounts.models import Role, User
from customerinfo.core.tenancy import tenant_connection, use_public_schema

from . import fleet, schemas
from .errors import TenantError
from .models import Domain, Tenant, TenantStatus
from .selectors import hosts_changed

logger = logging.getLogger(__name__)

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
#: Host names people would take for ours, or that the platform needs for itself.
RESERVED_SLUGS = frozenset(
    {"www", "admin", "api", "app", "static", "media", "mail", "public", "portal", "status", "help"}
)
#: Any fixed number: what matters is that every migrate_tenants run and provisioning agree on it.
MIGRATION_LOCK_KEY = 74_201_001


def schema_name_for(slug: str) -> str:
    """``t_`` keeps tenant schemas apart from public, pg_* and the template, whatever the slug."""
    return "t_" + slug.replace("-", "_")


def slug_check(*, slug: str) -> str:
    """The address as it will be used; raises TenantError if it cannot be a shop's address.

    The sign-up form asks this while the retailer types, and ``tenant_create`` again when it
    writes: the database's unique constraint is the last word on a race.
    """
    slug = slug.strip().lower()
    if not SLUG_PATTERN.match(slug):
        raise TenantError(
            "invalid_slug",
            "Use 1 to 40 lowercase letters, digits and hyphens, not starting or ending with one.",
        )
    if slug in RESERVED_SLUGS:
        raise TenantError("reserved_slug", f"The address {slug!r} is reserved.")
    domain = f"{slug}.{settings.BASE_DOMAIN}"
    if Tenant.objects.filter(slug=slug).exists() or Domain.objects.filter(domain=domain).exists():
        raise TenantError("slug_taken", f"The address {slug!r} is already taken.")
    return slug


def tenant_create(
    *,
    name: str,
    slug: str,
    owner_email: str,
    owner_password: str | None = None,
    owner_password_hash: str | None = None,
    provision_now: bool = False,
) -> Tenant:
    """Records a new retailer and gets its schema made.

    The request that creates a tenant only writes two rows; the schema is cloned by a Celery task
    after commit (or here with ``provision_now``), and the tenant serves nothing until ``ready``.
    The owner's password comes in plain (an operator's command) or already hashed (the public
    sign-up, which hashed it when the form was sent).
    """
    if not name.strip():
        raise TenantError("invalid_name", "A retailer needs a name.")
    with transaction.atomic():
        slug = slug_check(slug=slug)
        tenant = Tenant.objects.create(
            name=name.strip(),
            slug=slug,
            schema_name=schema_name_for(slug),
            owner_email=User.objects.normalize_email(owner_email).lower(),
            owner_password_hash=owner_password_hash or make_password(owner_password),
        )
        Domain.objects.create(
            domain=f"{slug}.{settings.BASE_DOMAIN}", tenant=tenant, is_primary=True
        )
        if not provision_now:
            from .tasks import tenant_provision_task

            transaction.on_commit(lambda: tenant_provision_task.delay(tenant_id=tenant.pk))
    if provision_now:
        tenant = tenant_provision(tenant_id=tenant.pk)
    logger.info("tenant created", extra={"tenant": slug, "provisioned": tenant.ready})
    return tenant


def tenant_provision(*, tenant_id: int) -> Tenant:
    """Clones the template into the tenant's schema, creates its owner, and marks it ready.

    Safe to run twice or concurrently: the tenant row is locked and a ready tenant is left alone.
    Clone, owner and ready flag commit together, so a crash leaves no half-made tenant.
    """
    template_ensure_current()
    try:
        with transaction.atomic():
            tenant = Tenant.objects.select_for_update().get(pk=tenant_id)
            if tenant.ready:
                return tenant
            schemas.schema_clone(source=settings.TENANT_TEMPLATE_SCHEMA, target=tenant.schema_name)
            tenant_connection().set_tenant(tenant)
            try:
                User.objects.create(
                    email=tenant.owner_email,
                    password=tenant.owner_password_hash,
                    role=Role.OWNER,
                )
            finally:
                use_public_schema()
            tenant.ready = True
            tenant.status = TenantStatus.ACTIVE
            tenant.provisioned_at = timezone.now()
            tenant.owner_password_hash = ""
            tenant.provisioning_error = ""
            tenant.save()
    except Exception as error:
        Tenant.objects.filter(pk=tenant_id, ready=False).update(
            status=TenantStatus.FAILED, provisioning_error=f"{type(error).__name__}: {error}"
        )
        hosts_changed()
        logger.exception("tenant provisioning failed", extra={"tenant_id": tenant_id})
        raise
    logger.info("tenant provisioned", extra={"tenant": tenant.slug})
    return tenant


def tenants_provision_pending(*, older_than_seconds: int = 60) -> list[int]:
    """Provisions tenants whose task was lost; returns their ids."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    pending = list(
        Tenant.objects.filter(
            ready=False, status=TenantStatus.PROVISIONING, created_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    for tenant_id in pending:
        tenant_provision(tenant_id=tenant_id)
    return pending


@contextmanager
def migration_lock() -> Iterator[None]:
    """One schema-changing job at a time across all pods (a PostgreSQL advisory lock)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])


def template_ensure_current() -> None:
    """Creates or migrates the template schema when it is missing a migration.

    Normally migrate_tenants has done it at deploy; this covers a fresh database and the window
    between a new release starting and its migration Job finishing.
    """
    template = settings.TENANT_TEMPLATE_SCHEMA
    targets = schemas.tenant_migration_targets()
    if not schemas.schemas_behind(schema_names=[template], targets=targets):
        return
    with migration_lock():
        if schemas.schemas_behind(schema_names=[template], targets=targets):
            schemas.schema_migrate(schema_name=template)


@dataclass
class MigrationReport:
    checked: int = 0
    behind: list[str] = field(default_factory=list)
    migrated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


@contextmanager
def _migration_lock_held_apart() -> Iterator[None]:
    """``migration_lock`` on a connection of its own, which outlives the fork of the workers.

    The workers must not share the parent's connections, so the parent closes them before it
    forks: a lock taken on them would be released at that moment.
    """
    lock_connection = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with lock_connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        yield
        with lock_connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
    finally:
        lock_connection.close()


def tenants_migrate(
    *, workers: int = 2, progress: Callable[[str], None] = lambda line: None
) -> MigrationReport:
    """Migrates public, then the template, then only the tenant schemas that are behind.

    One query finds the schemas behind; ``workers`` long-lived processes bring them up to date
    (tenants/fleet.py). Re-running after an interruption picks up exactly the schemas still
    behind.
    """
    started = time.monotonic()
    report = MigrationReport()
    use_public_schema()
    with _migration_lock_held_apart():
        progress(schemas.schema_migrate(schema_name=get_public_schema_name()).strip())
        targets = schemas.tenant_migration_targets()
        template = settings.TENANT_TEMPLATE_SCHEMA
        tenant_schemas = list(
            Tenant.objects.filter(ready=True).order_by("pk").values_list("schema_name", flat=True)
        )
        all_schemas = [template, *tenant_schemas]
        report.checked = len(all_schemas)
        report.behind = schemas.schemas_behind(schema_names=all_schemas, targets=targets)
        progress(f"{len(report.behind)} of {len(all_schemas)} schemas are behind")
        if template in report.behind or not schema_exists(template):
            # New tenants are cloned from the template: bring it up to date before the others.
            name, error = fleet.schema_migrate_recorded(template, [list(t) for t in targets])
            _record(report, name, error, progress)
        fleet.schemas_update(
            schema_names=[name for name in report.behind if name != template],
            targets=targets,
            workers=workers,
            report=lambda outcome: _record(report, *outcome, progress),
        )
        use_public_schema()
    report.seconds = time.monotonic() - started
    return report


def _record(
    report: MigrationReport, name: str, error: str | None, progress: Callable[[str], None]
) -> None:
    if error is None:
        report.migrated.append(name)
        progress(f"migrated {name}")
    else:
        report.failed[name] = error
        progress(f"FAILED {name}: {error}")
