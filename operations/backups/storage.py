"""Where backups live: a local folder or an S3-compatible bucket, and how long they stay.

A backup is ``<id>/`` holding its dump files and, written last, ``<id>/manifest.json``. Only a
backup with a manifest is complete: an interrupted upload is never mistaken for a backup.
"""

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings

from ..errors import BackupNotFoundError, OperationsError
from .manifest import MANIFEST_NAME

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

BACKUP_ID_FORMAT = "%Y%m%dT%H%M%SZ"


def backup_id_at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(BACKUP_ID_FORMAT)


def backup_time(backup_id: str) -> datetime:
    return datetime.strptime(backup_id, BACKUP_ID_FORMAT).replace(tzinfo=UTC)


class BackupStorage(Protocol):
    def put_file(self, key: str, path: Path, *, sha256: str) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_file(self, key: str, work_dir: Path) -> Path:
        """A local path holding the object (the stored file itself for a folder)."""
        ...

    def get_bytes(self, key: str) -> bytes: ...

    def backups(self) -> dict[str, bool]:
        """Every backup id, with whether it is complete (has its manifest)."""
        ...

    def delete_backup(self, backup_id: str) -> None: ...


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise OperationsError(f"Not a backup key: {key!r}")
        return path

    def put_file(self, key: str, path: Path, *, sha256: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Moved beside the target (a copy only across file systems), then renamed: a reader
        # never sees half a file.
        partial = target.with_name(target.name + ".partial")
        shutil.move(path, partial)
        os.replace(partial, target)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        with partial.open("wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, target)

    def get_file(self, key: str, work_dir: Path) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise BackupNotFoundError(f"No {key} in {self.root}")
        return path

    def get_bytes(self, key: str) -> bytes:
        return self.get_file(key, self.root).read_bytes()

    def backups(self) -> dict[str, bool]:
        if not self.root.is_dir():
            return {}
        return {
            path.name: (path / MANIFEST_NAME).is_file()
            for path in self.root.iterdir()
            if path.is_dir() and _is_backup_id(path.name)
        }

    def delete_backup(self, backup_id: str) -> None:
        shutil.rmtree(self._path(backup_id), ignore_errors=True)


class S3Storage:
    """Any S3-compatible bucket. Every object is written with server-side encryption and read
    back (size and checksum) before the upload counts as done."""

    def __init__(self, client: "S3Client", *, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _extra(self, sha256: str) -> dict[str, Any]:
        extra: dict[str, Any] = {"Metadata": {"sha256": sha256}}
        encryption = settings.BACKUP_S3_SERVER_SIDE_ENCRYPTION
        if encryption:
            extra["ServerSideEncryption"] = encryption
            if settings.BACKUP_S3_KMS_KEY_ID:
                extra["SSEKMSKeyId"] = settings.BACKUP_S3_KMS_KEY_ID
        return extra

    def _confirm(self, key: str, *, size: int, sha256: str) -> None:
        head = self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        stored = (head["ContentLength"], head.get("Metadata", {}).get("sha256"))
        if stored != (size, sha256):
            raise OperationsError(f"{key} reads back as {stored}, not ({size}, {sha256})")

    def put_file(self, key: str, path: Path, *, sha256: str) -> None:
        from boto3.s3.transfer import TransferConfig

        try:
            self.client.upload_file(
                str(path),
                self.bucket,
                self.prefix + key,
                ExtraArgs=self._extra(sha256),
                Config=TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20),
            )
        except Exception as error:
            raise OperationsError(f"Upload of {key} failed: {error}") from error
        self._confirm(key, size=path.stat().st_size, sha256=sha256)

    def put_bytes(self, key: str, data: bytes) -> None:
        import hashlib

        sha256 = hashlib.sha256(data).hexdigest()
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self.prefix + key, Body=data, **self._extra(sha256)
            )
        except Exception as error:
            raise OperationsError(f"Upload of {key} failed: {error}") from error
        self._confirm(key, size=len(data), sha256=sha256)

    def get_file(self, key: str, work_dir: Path) -> Path:
        target = work_dir / key.replace("/", "_")
        try:
            self.client.download_file(self.bucket, self.prefix + key, str(target))
        except Exception as error:
            raise BackupNotFoundError(f"Cannot download {key}: {error}") from error
        return target

    def get_bytes(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        except Exception as error:
            raise BackupNotFoundError(f"Cannot read {key}: {error}") from error
        return response["Body"].read()

    def _keys(self, prefix: str) -> list[str]:
        keys = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def backups(self) -> dict[str, bool]:
        found: dict[str, bool] = {}
        for key in self._keys(""):
            backup_id, _, name = key.removeprefix(self.prefix).partition("/")
            if _is_backup_id(backup_id):
                found[backup_id] = found.get(backup_id, False) or name == MANIFEST_NAME
        return found

    def delete_backup(self, backup_id: str) -> None:
        # The manifest first: a backup half deleted is incomplete, never a broken complete one.
        keys = sorted(self._keys(backup_id + "/"), key=lambda key: MANIFEST_NAME not in key)
        for start in range(0, len(keys), 1000):
            objects = [{"Key": key} for key in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects})  # type: ignore[typeddict-item]


def _is_backup_id(name: str) -> bool:
    try:
        backup_time(name)
    except ValueError:
        return False
    return True


def s3_client() -> "S3Client":
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.BACKUP_S3_ENDPOINT_URL or None,
        region_name=settings.BACKUP_S3_REGION,
        aws_access_key_id=settings.BACKUP_S3_ACCESS_KEY_ID or None,
        aws_secret_access_key=settings.BACKUP_S3_SECRET_ACCESS_KEY or None,
        config=Config(
            retries={"max_attempts": settings.BACKUP_S3_MAX_ATTEMPTS, "mode": "standard"},
            # Path-style works on every S3-compatible server (MinIO, Ceph, moto); AWS accepts it.
            s3={"addressing_style": "path"},
            # Checksums only where S3 requires them: many S3-compatible servers refuse the
            # newer default (aws-chunked bodies). The check re-reads every file's SHA-256.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=10,
            read_timeout=120,
        ),
    )


def backup_storage() -> BackupStorage:
    if settings.BACKUP_STORAGE == "local":
        return LocalStorage(Path(settings.BACKUP_DIR))
    if settings.BACKUP_STORAGE == "s3":
        if not settings.BACKUP_S3_BUCKET:
            raise OperationsError("BACKUP_STORAGE=s3 needs BACKUP_S3_BUCKET")
        return S3Storage(
            s3_client(), bucket=settings.BACKUP_S3_BUCKET, prefix=settings.BACKUP_S3_PREFIX
        )
    raise OperationsError(f"BACKUP_STORAGE must be local or s3, not {settings.BACKUP_STORAGE!r}")


def newest_backup(storage: BackupStorage) -> str:
    complete = sorted(backup_id for backup_id, done in storage.backups().items() if done)
    if not complete:
        raise BackupNotFoundError("No complete backup was found")
    return complete[-1]


# --- retention ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retention:
    daily: int
    weekly: int
    monthly: int

    @classmethod
    def from_settings(cls) -> "Retention":
        return cls(
            daily=settings.BACKUP_KEEP_DAILY,
            weekly=settings.BACKUP_KEEP_WEEKLY,
            monthly=settings.BACKUP_KEEP_MONTHLY,
        )


def backups_to_keep(backup_ids: list[str], retention: Retention) -> set[str]:
    """The newest backup of each of the last ``daily`` days, ``weekly`` ISO weeks and
    ``monthly`` months that have one; the newest of all is always kept."""
    newest_first = sorted(backup_ids, reverse=True)
    keep = set(newest_first[:1])
    periods: list[tuple[int, Callable[[datetime], str]]] = [
        (retention.daily, lambda moment: moment.date().isoformat()),
        (retention.weekly, lambda moment: "{}-W{}".format(*moment.isocalendar()[:2])),
        (retention.monthly, lambda moment: f"{moment.year}-{moment.month}"),
    ]
    for count, period_of in periods:
        seen: set[str] = set()
        for backup_id in newest_first:
            period = period_of(backup_time(backup_id))
            if period not in seen and len(seen) < count:
                seen.add(period)
                keep.add(backup_id)
    return keep


def backups_prune(storage: BackupStorage, *, retention: Retention, current: str) -> list[str]:
    """Deletes complete backups past retention and incomplete ones left by failed runs."""
    found = storage.backups()
    keep = backups_to_keep([i for i, done in found.items() if done], retention) | {current}
    deleted = sorted(backup_id for backup_id in found if backup_id not in keep)
    for backup_id in deleted:
        storage.delete_backup(backup_id)
    if deleted:
        logger.info("backups deleted by retention", extra={"deleted": deleted})
    return deleted
