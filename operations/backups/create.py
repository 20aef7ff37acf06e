"""``backup_create``: every schema dumped from one snapshot, counted, checksummed, uploaded.

Why several dump files: pg_dump locks every table it dumps until it ends, and the server's lock
table is shared by every session; a thousand shops are some 26,000 tables. Each file holds a
group of shop schemas, and every pg_dump reads the same exported snapshot, so the files
together are one consistent picture of the database, as one dump would be.
"""

import logging
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.utils import timezone

from tenants.services import MIGRATION_LOCK_KEY

from ..models import BackupJob, JobKind, JobStatus
from . import inventory
from .jobs import job_finish, job_start
from .manifest import GLOBAL_DUMP, MANIFEST_NAME, DumpFile, Manifest, file_sha256
from .postgres import (
    TENANT_SCHEMA_PATTERNS,
    Server,
    app_server,
    run_tool,
    server_major,
    snapshot_transaction,
    tools_folder,
)
from .storage import BackupStorage, Retention, backup_id_at, backup_storage, backups_prune

logger = logging.getLogger(__name__)

#: Any fixed number: two backups never dump at once (a CronJob retried while one still runs).
BACKUP_LOCK_KEY = 74_201_002


@dataclass
class Snapshot:
    server: Server
    name: str

    def reader(self) -> AbstractContextManager[psycopg.Connection[tuple[Any, ...]]]:
        return snapshot_transaction(self.server, self.name)


@contextmanager
def exported_snapshot(server: Server) -> Iterator[Snapshot | None]:
    """Holds a snapshot for the whole dump; None when another backup is running.

    The migration lock keeps migrate_tenants from changing tables between the snapshot and the
    moment each pg_dump locks them (pg_dump reads some definitions from the live catalog).
    """
    with server.connect() as holder:
        locked = holder.execute("SELECT pg_try_advisory_lock(%s)", [BACKUP_LOCK_KEY]).fetchone()
        if not locked or not locked[0]:
            yield None
            return
        holder.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        row = holder.execute("SELECT pg_export_snapshot()").fetchone()
        try:
            yield Snapshot(server=server, name=str(row[0] if row else ""))
        finally:
            # Closing the connection ends both anyway; a broken one must not hide the error.
            with suppress(psycopg.Error):
                holder.execute("COMMIT")
                holder.execute("SELECT pg_advisory_unlock_all()")


def dump_groups(tables: list[inventory.TableName], tables_per_dump: int) -> list[DumpFile]:
    """The global file, then shop schemas grouped up to ``tables_per_dump`` tables a file."""
    per_schema: dict[str, int] = {}
    for schema, _table in tables:
        if inventory.is_tenant_schema(schema):
            per_schema[schema] = per_schema.get(schema, 0) + 1
    files = [DumpFile(name=GLOBAL_DUMP, schemas=[])]
    group: list[str] = []
    size = 0
    for schema, count in sorted(per_schema.items()):
        if group and size + count > tables_per_dump:
            files.append(DumpFile(name=f"tenants-{len(files):04d}.dump", schemas=group))
            group, size = [], 0
        group.append(schema)
        size += count
    if group:
        files.append(DumpFile(name=f"tenants-{len(files):04d}.dump", schemas=group))
    return files


def _dump(snapshot: Snapshot, folder: Path, file: DumpFile, work_dir: Path) -> None:
    arguments = [
        "--format=custom",
        f"--snapshot={snapshot.name}",
        "--no-owner",
        "--no-privileges",
        f"--file={work_dir / file.name}",
    ]
    if file.schemas:
        # Double quotes: the exact name, not a pattern.
        arguments += [f'--schema="{schema}"' for schema in file.schemas]
    else:
        arguments += [f"--exclude-schema={pattern}" for pattern in TENANT_SCHEMA_PATTERNS]
    run_tool(folder, "pg_dump", arguments, server=snapshot.server)


def manifest_take(snapshot: Snapshot, *, backup_id: str) -> Manifest:
    """Counts everything the dump holds, in the dump's own snapshot."""
    with snapshot.reader() as connection:
        tables = inventory.tables(connection)
        tenants = inventory.tenants(connection)
        version = connection.execute("SHOW server_version").fetchone()
    leaves = inventory.migration_leaves()
    existing = {schema for schema, _ in tables}
    shop_schemas = [t.schema_name for t in tenants if t.ready and t.schema_name in existing]
    if settings.TENANT_TEMPLATE_SCHEMA in existing:
        shop_schemas.append(settings.TENANT_TEMPLATE_SCHEMA)
    behind = inventory.schemas_missing_migrations(snapshot.reader, shop_schemas, leaves["tenant"])
    public_behind = inventory.schemas_missing_migrations(
        snapshot.reader, ["public"], leaves["shared"]
    )
    if behind or public_behind:
        logger.warning("schemas behind at backup", extra={"schemas": public_behind + behind})
    table_set = set(tables)
    with_signups = [
        t.schema_name
        for t in tenants
        if t.ready and (t.schema_name, inventory.SIGNUP_TABLE) in table_set
    ]
    samples = {
        schema: inventory.signup_hashes(snapshot.reader, schema)
        for schema in inventory.sample_schemas(with_signups, settings.BACKUP_SAMPLE_TENANTS)
    }
    return Manifest(
        backup_id=backup_id,
        created_at=timezone.now().isoformat(),
        database=snapshot.server.dbname,
        server_version=str(version[0] if version else ""),
        tenants=tenants,
        files=dump_groups(tables, settings.BACKUP_TABLES_PER_DUMP),
        row_counts=inventory.row_counts(snapshot.reader, tables),
        migrations={**leaves, "schemas_behind": public_behind + behind},
        samples={schema: hashes for schema, hashes in samples.items() if hashes},
    )


def work_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="backup-", dir=settings.BACKUP_WORK_DIR or None))


def backup_create(*, storage: BackupStorage | None = None) -> BackupJob:
    """Dumps the database, uploads the files then the manifest, and applies retention.

    A failure leaves no complete backup behind (its files are deleted, and without a manifest
    nothing would read them) and is recorded, logged and mailed to the operators.
    """
    storage = storage or backup_storage()
    backup_id = backup_id_at(timezone.now())
    job = job_start(kind=JobKind.BACKUP, backup_id=backup_id)
    server = app_server()
    work_dir = work_folder()
    uploaded = False
    try:
        folder = tools_folder(server_major(server))
        with exported_snapshot(server) as snapshot:
            if snapshot is None:
                return job_finish(
                    job, status=JobStatus.SKIPPED, details={"reason": "another backup runs"}
                )
            manifest = manifest_take(snapshot, backup_id=backup_id)
            with ThreadPoolExecutor(max_workers=max(1, settings.BACKUP_JOBS)) as pool:
                for done in [
                    pool.submit(_dump, snapshot, folder, file, work_dir) for file in manifest.files
                ]:
                    done.result()
        uploaded = True
        for file in manifest.files:
            path = work_dir / file.name
            file.bytes = path.stat().st_size
            file.sha256 = file_sha256(path)
            storage.put_file(f"{backup_id}/{file.name}", path, sha256=file.sha256)
        # Last: a backup is complete, and will be used, only once its manifest exists.
        storage.put_bytes(f"{backup_id}/{MANIFEST_NAME}", manifest.to_bytes())
        deleted = backups_prune(storage, retention=Retention.from_settings(), current=backup_id)
    except Exception as error:
        if uploaded:
            _delete_quietly(storage, backup_id)
        return job_finish(
            job,
            status=JobStatus.FAILED,
            details={},
            error=f"{type(error).__name__}: {error}",
        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return job_finish(
        job,
        status=JobStatus.SUCCEEDED,
        details={
            "tenants": len(manifest.tenants),
            "tables": len(manifest.row_counts),
            "rows": sum(manifest.row_counts.values()),
            "files": len(manifest.files),
            "bytes": sum(file.bytes for file in manifest.files),
            "deleted_by_retention": deleted,
        },
    )


def _delete_quietly(storage: BackupStorage, backup_id: str) -> None:
    try:
        storage.delete_backup(backup_id)
    except Exception:
        logger.exception("failed backup's files not deleted", extra={"backup_id": backup_id})
