"""Backups against the real PostgreSQL: made, proven by a restore, refused when tampered with,
and one shop restored beside the live one or in its place."""

import io
import json
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client

from operations.backups import backup_create, backup_verify, tenant_restore
from operations.backups.manifest import MANIFEST_NAME, manifest_load
from operations.backups.postgres import app_server
from operations.backups.storage import LocalStorage
from operations.models import BackupJob, JobKind, JobStatus
from tenants.models import Domain, Tenant, TenantAccess

from .conftest import SHOPS, rows_of, schemas_drop, signup_count

pytestmark = pytest.mark.django_db


def made(storage: LocalStorage) -> BackupJob:
    job = backup_create(storage=storage)
    assert job.status == JobStatus.SUCCEEDED, job.error
    return job


def test_a_backup_holds_every_shop_counted_and_its_check_passes(storage: LocalStorage) -> None:
    metrics = Client().get("/metrics").content.decode()
    assert "customerinfo_backup_last_success_timestamp_seconds 0.0" in metrics
    job = made(storage)

    manifest = manifest_load((storage.root / job.backup_id / MANIFEST_NAME).read_bytes())
    slugs = {tenant.slug for tenant in manifest.tenants}
    assert {"alice", "charlie", *SHOPS} <= slugs
    assert manifest.row_counts["t_ops_a.signup_submission"] == SHOPS["ops-a"]
    assert len(manifest.files) > 2  # the global file and several groups of shops
    assert {"t_ops_a", "t_ops_b"} <= set(manifest.tenant_schemas())
    assert set(manifest.samples) >= {"t_ops_a"} or set(manifest.samples) >= {"t_ops_b"}
    assert manifest.migrations["schemas_behind"] == []

    check = backup_verify(storage=storage)

    assert check.status == JobStatus.SUCCEEDED, check.error
    assert check.backup_id == job.backup_id
    assert check.details["rows"] == sum(manifest.row_counts.values())
    assert mail.outbox == []
    with app_server().connect() as connection:
        scratch = connection.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE %s",
            [f"{app_server().dbname[:30]}_verify_%"],
        ).fetchone()
    assert scratch == (0,)
    assert check.finished_at is not None
    metrics = Client().get("/metrics").content.decode()
    for name in (
        "customerinfo_backup_last_success_timestamp_seconds",
        "customerinfo_backup_verify_last_success_timestamp_seconds",
    ):
        (line,) = [line for line in metrics.splitlines() if line.startswith(name + " ")]
        assert float(line.split()[1]) == pytest.approx(check.finished_at.timestamp(), abs=60)


def test_a_dump_changed_after_the_backup_fails_the_check_and_alerts(
    storage: LocalStorage,
) -> None:
    job = made(storage)
    dump = sorted((storage.root / job.backup_id).glob("tenants-*.dump"))[0]
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))

    with pytest.raises(CommandError, match="did not verify"):
        call_command("backup_verify")

    check = BackupJob.objects.filter(kind=JobKind.VERIFY).first()
    assert check is not None
    assert check.status == JobStatus.FAILED
    assert dump.name in check.error
    (alert,) = mail.outbox
    assert alert.to == ["ops@customerinfo.test"]
    assert job.backup_id in alert.subject
    assert dump.name in alert.body


def test_a_manifest_edited_by_hand_fails_the_check(storage: LocalStorage) -> None:
    job = made(storage)
    path = storage.root / job.backup_id / MANIFEST_NAME
    body = json.loads(path.read_bytes())
    body["row_counts"]["t_ops_a.signup_submission"] += 1
    path.write_text(json.dumps(body))

    check = backup_verify(storage=storage)

    assert check.status == JobStatus.FAILED
    assert "checksum" in check.error
    assert len(mail.outbox) == 1


def test_a_manifest_that_disagrees_with_its_dump_fails_on_the_difference(
    storage: LocalStorage,
) -> None:
    """A manifest rewritten with a valid checksum is still compared with what comes back."""
    job = made(storage)
    path = storage.root / job.backup_id / MANIFEST_NAME
    manifest = manifest_load(path.read_bytes())
    manifest.row_counts["t_ops_a.signup_submission"] += 1
    path.write_bytes(manifest.to_bytes())

    check = backup_verify(storage=storage)

    assert check.status == JobStatus.FAILED
    assert check.details["differences"] == [
        f"t_ops_a.signup_submission: {SHOPS['ops-a']} rows restored, "
        f"manifest says {SHOPS['ops-a'] + 1}"
    ]
    assert "signup_submission" in mail.outbox[0].body


def test_no_backup_to_check_is_a_failure(storage: LocalStorage) -> None:
    with pytest.raises(CommandError, match="No complete backup"):
        call_command("backup_verify")


def test_one_shop_restored_beside_the_live_one_has_the_same_rows(storage: LocalStorage) -> None:
    """The copy's schema stays until the session ends (tests/operations/conftest.py drops it):
    this test's transaction has read it and holds its locks until it is rolled back."""
    job = made(storage)
    restore = tenant_restore(slug="ops-a", backup_id=job.backup_id, new_slug="ops-a-copy")

    assert restore.status == JobStatus.SUCCEEDED, restore.error
    assert rows_of("t_ops_a_copy") == rows_of("t_ops_a")
    copy = Tenant.objects.get(slug="ops-a-copy")
    assert (copy.schema_name, copy.ready, copy.access) == (
        "t_ops_a_copy",
        True,
        TenantAccess.SUSPENDED,
    )
    assert copy.owner_email == "owner@ops-a.example"
    assert Domain.objects.get(tenant=copy).domain == "ops-a-copy.localhost"
    assert not hasattr(copy, "billing_account")


def test_a_restore_as_a_taken_slug_changes_nothing(storage: LocalStorage) -> None:
    job = made(storage)

    restore = tenant_restore(slug="ops-a", backup_id=job.backup_id, new_slug="charlie")

    assert restore.status == JobStatus.FAILED
    assert "already taken" in restore.error
    assert not Tenant.objects.filter(name__contains="restored").exists()


def test_a_shop_restored_in_place_gets_back_what_it_erased(storage: LocalStorage) -> None:
    job = made(storage)
    before = rows_of("t_ops_b")
    with app_server().connect() as connection:
        connection.execute("DELETE FROM t_ops_b.signup_consent")
        connection.execute("DELETE FROM t_ops_b.signup_submission")
    assert signup_count("t_ops_b") == 0

    with pytest.raises(CommandError, match="confirm"):
        call_command("tenant_restore", "ops-b", backup=job.backup_id, in_place=True)
    call_command(
        "tenant_restore",
        "ops-b",
        backup=job.backup_id,
        in_place=True,
        confirm="ops-b",
        keep_aside=True,
    )

    assert rows_of("t_ops_b") == before
    restore = BackupJob.objects.get(kind=JobKind.RESTORE)
    aside = restore.details["aside"]
    assert aside.startswith("r_")
    assert signup_count(aside) == 0
    schemas_drop(aside)


def test_an_in_place_restore_that_fails_puts_the_live_schema_back(
    storage: LocalStorage,
) -> None:
    job = made(storage)
    backup = storage.root / job.backup_id
    manifest = manifest_load((backup / MANIFEST_NAME).read_bytes())
    file = manifest.file_of_schema("t_ops_b")
    # A dump file that reads back right but is no dump: pg_restore refuses it.
    garbage = b"not a dump" * 10
    (backup / file.name).write_bytes(garbage)
    import hashlib

    file.bytes, file.sha256 = len(garbage), hashlib.sha256(garbage).hexdigest()
    (backup / MANIFEST_NAME).write_bytes(manifest.to_bytes())
    before = rows_of("t_ops_b")

    restore = tenant_restore(slug="ops-b", backup_id=job.backup_id, in_place=True)

    assert restore.status == JobStatus.FAILED
    assert "pg_restore" in restore.error
    assert rows_of("t_ops_b") == before
    with app_server().connect() as connection:
        assert connection.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'r\\_%'"
        ).fetchone() == (0,)


def test_backups_past_retention_are_deleted(storage: LocalStorage, tmp_path: Path) -> None:
    for old in ("20200101T030000Z", "20200102T030000Z"):
        (storage.root / old).mkdir(parents=True)
        (storage.root / old / MANIFEST_NAME).write_text("{}")
    (storage.root / "20200103T030000Z").mkdir()  # an interrupted upload, no manifest
    out = io.StringIO()

    call_command("backup_create", stdout=out)

    job = BackupJob.objects.get(kind=JobKind.BACKUP)
    assert out.getvalue().startswith(f"backup={job.backup_id} status=succeeded tenants=")
    assert job.details["deleted_by_retention"] == ["20200103T030000Z"]
    assert sorted(storage.backups()) == ["20200101T030000Z", "20200102T030000Z", job.backup_id]
