"""``tenant_restore``: one shop back from a backup, beside the live one or in its place.

Side by side (``new_slug``): the shop's schema is restored into a scratch database, renamed
there, dumped again and restored into the live database under the new name; a new Tenant and
Domain point at it. Billing is not copied: the copy is no customer of ours, and a second
billing account would bill the retailer twice. The copy starts suspended (its portal
read-only, nothing sent to a CRM) so it can be looked at and copied from without side effects.

In place: the live schema is renamed aside (``r_<tenant id>_<time>``), the backup's restored
under the shop's own name in one transaction; on failure the aside schema is renamed back. The
Tenant, Domain and billing rows are the live ones and stay: they are newer than any backup.
"""

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from psycopg import sql

from tenants import schemas as tenant_schemas
from tenants.models import Domain, Tenant, TenantAccess, TenantStatus
from tenants.services import MIGRATION_LOCK_KEY, schema_name_for, slug_check

from ..errors import OperationsError
from ..models import BackupJob, JobKind, JobStatus
from .create import work_folder
from .jobs import job_finish, job_start
from .manifest import Manifest, TenantEntry
from .postgres import Server, app_server, run_tool, scratch_database, server_major, tools_folder
from .storage import BackupStorage, backup_storage
from .verify import file_fetch, manifest_read, restore_arguments

logger = logging.getLogger(__name__)


def _entry(manifest: Manifest, slug: str) -> TenantEntry:
    for entry in manifest.tenants:
        if entry.slug == slug:
            return entry
    raise OperationsError(f"Backup {manifest.backup_id} holds no shop {slug!r}")


@contextmanager
def _locked(server: Server) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection holding the migration lock: no migrate_tenants while schemas move."""
    with server.connect() as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        try:
            yield connection
        finally:
            with suppress(psycopg.Error):
                connection.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])


def _schema_restore(path: Path, schema: str, target: Server) -> None:
    """Restores the one ``schema`` of a dump file into ``target``, in one transaction."""
    folder = tools_folder(server_major(target))
    with target.connect() as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        run_tool(
            folder,
            "pg_restore",
            ["--single-transaction", f"--schema={schema}", *restore_arguments(path, target)],
            server=target,
        )
    except Exception:
        with target.connect() as connection:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        raise


def _extensions_copy(source: Server, target: Server) -> None:
    """The live database's extensions (pg_trgm's operator classes...), which a shop's indexes
    may use: they live in public, outside the shop's schema."""
    with source.connect() as connection:
        extensions = connection.execute(
            "SELECT e.extname, n.nspname FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql'"
        ).fetchall()
    with target.connect() as connection:
        for name, schema in extensions:
            connection.execute(
                sql.SQL("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}").format(
                    sql.Identifier(str(name)), sql.Identifier(str(schema))
                )
            )


def _renamed_dump(path: Path, *, schema: str, new_schema: str, work_dir: Path) -> Path:
    """A dump of ``schema`` under the name ``new_schema``, made through a scratch database:
    pg_restore cannot rename, and editing the SQL text could touch the shop's own data."""
    with scratch_database("restore") as scratch:
        _extensions_copy(app_server(), scratch)
        _schema_restore(path, schema, scratch)
        with scratch.connect() as connection:
            connection.execute(
                sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                    sql.Identifier(schema), sql.Identifier(new_schema)
                )
            )
            # The functions moved with the schema but still name the old one as their path.
            connection.execute(tenant_schemas.functions_pin_sql(new_schema).encode())
        renamed = work_dir / f"{new_schema}.dump"
        run_tool(
            tools_folder(server_major(scratch)),
            "pg_dump",
            ["--format=custom", f'--schema="{new_schema}"', f"--file={renamed}"],
            server=scratch,
        )
    return renamed


def _migrate_if_behind(schema: str) -> None:
    """A backup older than the last deploy comes back behind: bring it up to the code."""
    targets = tenant_schemas.tenant_migration_targets()
    if tenant_schemas.schemas_behind(schema_names=[schema], targets=targets):
        tenant_schemas.schema_migrate(schema_name=schema)


def _side_by_side(
    manifest: Manifest, entry: TenantEntry, path: Path, new_slug: str, work_dir: Path
) -> dict[str, str]:
    new_slug = slug_check(slug=new_slug)
    new_schema = schema_name_for(new_slug)
    renamed = _renamed_dump(
        path, schema=entry.schema_name, new_schema=new_schema, work_dir=work_dir
    )
    server = app_server()
    with _locked(server):
        _schema_restore(renamed, new_schema, server)
    try:
        _migrate_if_behind(new_schema)
        live = Tenant.objects.filter(slug=entry.slug).first()
        with transaction.atomic():
            copy = Tenant.objects.create(
                name=f"{entry.name} (restored {manifest.backup_id})"[:200],
                slug=new_slug,
                schema_name=new_schema,
                owner_email=live.owner_email if live else "",
                status=TenantStatus.ACTIVE,
                ready=True,
                access=TenantAccess.SUSPENDED,
                provisioned_at=timezone.now(),
            )
            Domain.objects.create(
                domain=f"{new_slug}.{settings.BASE_DOMAIN}", tenant=copy, is_primary=True
            )
    except Exception:
        with server.connect() as connection:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(new_schema))
            )
        raise
    return {"mode": "side_by_side", "slug": new_slug, "schema": new_schema}


def _in_place(
    manifest: Manifest, entry: TenantEntry, path: Path, *, keep_aside: bool
) -> dict[str, str]:
    tenant = Tenant.objects.filter(slug=entry.slug, schema_name=entry.schema_name).first()
    if tenant is None:
        raise OperationsError(
            f"No live shop {entry.slug!r} on schema {entry.schema_name}: restore it with --as"
        )
    aside = f"r_{tenant.pk}_{timezone.now():%Y%m%d%H%M%S}"
    schema, rename = sql.Identifier(entry.schema_name), sql.SQL("ALTER SCHEMA {} RENAME TO {}")
    server = app_server()
    with _locked(server) as connection:
        connection.execute(rename.format(schema, sql.Identifier(aside)))
        try:
            _schema_restore(path, entry.schema_name, server)
        except Exception:
            connection.execute(rename.format(sql.Identifier(aside), schema))
            raise
        logger.warning("shop restored in place", extra={"tenant": entry.slug, "aside": aside})
    _migrate_if_behind(entry.schema_name)
    if not keep_aside:
        with server.connect() as connection:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(aside)))
    return {
        "mode": "in_place",
        "slug": entry.slug,
        "schema": entry.schema_name,
        "aside": aside if keep_aside else "",
    }


def tenant_restore(
    *,
    slug: str,
    backup_id: str,
    new_slug: str | None = None,
    in_place: bool = False,
    keep_aside: bool = False,
    storage: BackupStorage | None = None,
) -> BackupJob:
    """Restores the shop ``slug`` from ``backup_id``: as ``new_slug`` beside the live shop, or
    ``in_place`` over it. Exactly one of the two must be asked for."""
    if (new_slug is None) == (not in_place):
        raise OperationsError("Restore either beside the shop (a new slug) or in place")
    storage = storage or backup_storage()
    job = job_start(kind=JobKind.RESTORE, backup_id=backup_id)
    work_dir = work_folder()
    try:
        manifest = manifest_read(storage, backup_id)
        entry = _entry(manifest, slug)
        path = file_fetch(storage, manifest, manifest.file_of_schema(entry.schema_name), work_dir)
        if new_slug is not None:
            outcome = _side_by_side(manifest, entry, path, new_slug, work_dir)
        else:
            outcome = _in_place(manifest, entry, path, keep_aside=keep_aside)
    except Exception as error:
        return job_finish(
            job,
            status=JobStatus.FAILED,
            details={"tenant": slug},
            error=f"{type(error).__name__}: {error}",
        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return job_finish(job, status=JobStatus.SUCCEEDED, details={"tenant": slug, **outcome})
