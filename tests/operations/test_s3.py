"""Backups in an S3-compatible bucket, over real HTTP on loopback (moto in server mode behind a
proxy that can fail): encrypted at rest, retried when the bucket falters, and never reported as
a success when an upload did not land."""

from collections.abc import Iterator

import boto3
import pytest
from pytest_django import Settings

from operations.backups import backup_create, backup_verify
from operations.backups.storage import S3Storage, backup_storage
from operations.models import JobStatus

from .s3_server import FlakyProxy, s3_server

pytestmark = pytest.mark.django_db

BUCKET = "customerinfo-backups"


@pytest.fixture
def bucket(
    settings: Settings, tmp_path: object, ops_shops: list[str]
) -> Iterator[tuple[S3Storage, FlakyProxy]]:
    with s3_server() as (endpoint, proxy):
        settings.BACKUP_STORAGE = "s3"
        settings.BACKUP_S3_ENDPOINT_URL = endpoint
        settings.BACKUP_S3_BUCKET = BUCKET
        settings.BACKUP_S3_PREFIX = "prod/"
        settings.BACKUP_S3_ACCESS_KEY_ID = "test-key"
        settings.BACKUP_S3_SECRET_ACCESS_KEY = "test-secret"
        settings.BACKUP_S3_MAX_ATTEMPTS = 3
        settings.BACKUP_WORK_DIR = str(tmp_path)
        settings.OPERATOR_EMAILS = ["ops@customerinfo.test"]
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test-key",
            aws_secret_access_key="test-secret",
        ).create_bucket(Bucket=BUCKET)
        storage = backup_storage()
        assert isinstance(storage, S3Storage)
        yield storage, proxy


def test_a_backup_in_a_bucket_is_encrypted_and_its_check_passes(
    bucket: tuple[S3Storage, FlakyProxy],
) -> None:
    storage, proxy = bucket

    job = backup_create(storage=storage)

    assert job.status == JobStatus.SUCCEEDED, job.error
    keys = storage._keys(job.backup_id + "/")
    assert f"prod/{job.backup_id}/manifest.json" in keys
    for key in keys:
        head = storage.client.head_object(Bucket=BUCKET, Key=key)
        assert head["ServerSideEncryption"] == "AES256"
    assert storage.backups() == {job.backup_id: True}

    check = backup_verify(storage=storage)

    assert check.status == JobStatus.SUCCEEDED, check.error
    assert any(method == "GET" and "global.dump" in path for method, path in proxy.seen)


def test_an_upload_the_bucket_refuses_once_is_retried(
    bucket: tuple[S3Storage, FlakyProxy],
) -> None:
    storage, proxy = bucket
    failed: set[str] = set()

    def once(method: str, path: str) -> bool:
        if method == "PUT" and path.endswith(".dump") and path not in failed:
            failed.add(path)
            return True
        return False

    proxy.fail = once

    job = backup_create(storage=storage)

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert len(proxy.refused) == job.details["files"]
    puts = [path for method, path in proxy.seen if method == "PUT" and path.endswith(".dump")]
    assert len(puts) == 2 * job.details["files"]


def test_an_upload_that_never_lands_is_a_failure_and_leaves_no_backup(
    bucket: tuple[S3Storage, FlakyProxy], mailoutbox: list[object]
) -> None:
    storage, proxy = bucket
    proxy.fail = lambda method, path: method == "PUT" and "tenants-" in path

    job = backup_create(storage=storage)

    assert job.status == JobStatus.FAILED
    assert "Upload of" in job.error
    # Retried (BACKUP_S3_MAX_ATTEMPTS), then given up: the first shops' file never landed.
    assert len(proxy.refused) >= 3
    assert {path for _, path in proxy.refused} == {proxy.refused[0][1]}
    assert storage.backups() == {}  # what did land was deleted, and no manifest was ever written
    assert len(mailoutbox) == 1
    assert backup_verify(storage=storage).status == JobStatus.FAILED
