"""``backup_verify``: a backup is proven by restoring it and comparing the copy with its
manifest, never by trusting the dump.

The newest complete backup is read back, its files checked against their checksums, restored
into a scratch database, and compared: every shop schema present, every table's rows counted
equal, every schema's migrations as they were, a sample of sign-ups identical. The scratch
database is dropped whatever happens.
"""

import logging
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings

from ..errors import OperationsError, VerificationError
from ..models import BackupJob, JobKind, JobStatus
from . import inventory
from .create import work_folder
from .jobs import job_finish, job_start
from .manifest import GLOBAL_DUMP, MANIFEST_NAME, DumpFile, Manifest, file_sha256, manifest_load
from .postgres import Server, run_tool, scratch_database, server_major, tools_folder
from .storage import BackupStorage, backup_storage, newest_backup

logger = logging.getLogger(__name__)


def manifest_read(storage: BackupStorage, backup_id: str) -> Manifest:
    manifest = manifest_load(storage.get_bytes(f"{backup_id}/{MANIFEST_NAME}"))
    if manifest.backup_id != backup_id:
        raise OperationsError(f"The manifest of {backup_id} describes {manifest.backup_id}")
    return manifest


def file_fetch(storage: BackupStorage, manifest: Manifest, file: DumpFile, work_dir: Path) -> Path:
    """The file on local disk, refused unless its size and checksum are the manifest's."""
    path = storage.get_file(f"{manifest.backup_id}/{file.name}", work_dir)
    size, sha256 = path.stat().st_size, file_sha256(path)
    if (size, sha256) != (file.bytes, file.sha256):
        raise VerificationError(
            [
                f"{file.name}: {size} bytes sha256 {sha256[:12]}, manifest says "
                f"{file.bytes} bytes sha256 {file.sha256[:12]}"
            ]
        )
    return path


def restore_arguments(path: Path, server: Server) -> list[str]:
    return [
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        f"--dbname={server.dbname}",
        str(path),
    ]


def _connector(server: Server) -> inventory.Connect:
    @contextmanager
    def connect() -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        with server.connect() as connection:
            yield connection

    return connect


def differences(manifest: Manifest, connect: inventory.Connect) -> list[str]:
    """Everything in which the restored copy differs from the manifest."""
    found: list[str] = []
    with connect() as connection:
        tables = inventory.tables(connection)
        tenants = inventory.tenants(connection)
    schemas = {schema for schema, _ in tables}
    expected_schemas = set(manifest.tenant_schemas()) | {
        name.partition(".")[0] for name in manifest.row_counts
    }
    found += [f"schema {name} is missing" for name in sorted(expected_schemas - schemas)]
    if [vars(t) for t in tenants] != [vars(t) for t in manifest.tenants]:
        found.append(f"shops differ: {len(tenants)} restored, {len(manifest.tenants)} in manifest")

    counts = inventory.row_counts(connect, tables)
    for name in sorted(set(manifest.row_counts) | set(counts)):
        expected, restored = manifest.row_counts.get(name), counts.get(name)
        if expected != restored:
            found.append(f"{name}: {restored} rows restored, manifest says {expected}")

    leaves = manifest.migrations
    shop_schemas = [t.schema_name for t in manifest.tenants if t.ready and t.schema_name in schemas]
    if settings.TENANT_TEMPLATE_SCHEMA in schemas:
        shop_schemas.append(settings.TENANT_TEMPLATE_SCHEMA)
    behind = inventory.schemas_missing_migrations(connect, ["public"], leaves["shared"])
    behind += inventory.schemas_missing_migrations(connect, shop_schemas, leaves["tenant"])
    if sorted(behind) != sorted(leaves["schemas_behind"]):
        found.append(
            f"schemas missing a migration: {sorted(behind)}, "
            f"manifest says {sorted(leaves['schemas_behind'])}"
        )

    for schema, hashes in manifest.samples.items():
        restored_hashes = inventory.signup_hashes(connect, schema, list(hashes))
        for signup_id, digest in hashes.items():
            if restored_hashes.get(signup_id) != digest:
                found.append(f"sign-up {signup_id} of {schema} reads back different or not")
    return found


def manifest_restore(
    manifest: Manifest, storage: BackupStorage, scratch: Server, work_dir: Path
) -> None:
    """Every file of the backup into ``scratch``: the global file first (public, template),
    then the shops' files side by side."""
    folder = tools_folder(server_major(scratch))

    def restore(file: DumpFile) -> None:
        path = file_fetch(storage, manifest, file, work_dir)
        try:
            run_tool(folder, "pg_restore", restore_arguments(path, scratch), server=scratch)
        finally:
            if path.is_relative_to(work_dir):
                path.unlink(missing_ok=True)  # a download: the disk holds one file a job

    global_file, *shop_files = manifest.files
    if global_file.name != GLOBAL_DUMP:
        raise OperationsError(f"The manifest's first file is {global_file.name}")
    restore(global_file)
    with ThreadPoolExecutor(max_workers=max(1, settings.BACKUP_JOBS)) as pool:
        for done in [pool.submit(restore, file) for file in shop_files]:
            done.result()


@contextmanager
def _work_dir() -> Iterator[Path]:
    path = work_folder()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def backup_verify(
    *, backup_id: str | None = None, storage: BackupStorage | None = None
) -> BackupJob:
    """Restores the newest backup (or ``backup_id``) into a scratch database and checks it."""
    storage = storage or backup_storage()
    job = job_start(kind=JobKind.VERIFY, backup_id=backup_id or "")
    details: dict[str, Any] = {}
    try:
        job.backup_id = backup_id or newest_backup(storage)
        manifest = manifest_read(storage, job.backup_id)
        details = {"tenants": len(manifest.tenants), "tables": len(manifest.row_counts)}
        with _work_dir() as work_dir, scratch_database("verify") as scratch:
            manifest_restore(manifest, storage, scratch, work_dir)
            found = differences(manifest, _connector(scratch))
        if found:
            raise VerificationError(found)
    except VerificationError as failure:
        details["differences"] = failure.differences[:200]
        return job_finish(job, status=JobStatus.FAILED, details=details, error=str(failure))
    except Exception as error:
        return job_finish(
            job, status=JobStatus.FAILED, details=details, error=f"{type(error).__name__}: {error}"
        )
    details["rows"] = sum(manifest.row_counts.values())
    details["samples"] = sum(len(hashes) for hashes in manifest.samples.values())
    return job_finish(job, status=JobStatus.SUCCEEDED, details=details)
