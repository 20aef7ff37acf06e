"""The manifest: what a backup holds, counted in the snapshot the dump was taken in.

A check restores the dump and compares it with this, so a backup is trusted for what a restore
gives back, not for the dump's exit code. The manifest carries a checksum of its own content,
which catches a manifest truncated or edited by hand.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import OperationsError

FORMAT = 1
MANIFEST_NAME = "manifest.json"
GLOBAL_DUMP = "global.dump"


@dataclass
class DumpFile:
    name: str
    #: The shop schemas in this file; empty for the global file (every other schema).
    schemas: list[str]
    bytes: int = 0
    sha256: str = ""


@dataclass
class TenantEntry:
    slug: str
    name: str
    schema_name: str
    ready: bool


@dataclass
class Manifest:
    backup_id: str
    created_at: str
    database: str
    server_version: str
    tenants: list[TenantEntry] = field(default_factory=list)
    files: list[DumpFile] = field(default_factory=list)
    #: ``schema.table`` -> rows, for every table of every dumped schema.
    row_counts: dict[str, int] = field(default_factory=dict)
    #: The newest migration of each app (``shared``: public, ``tenant``: shop schemas) when the
    #: backup was made, and the shop schemas that were missing one of them then.
    migrations: dict[str, list[Any]] = field(default_factory=dict)
    #: Sign-ups read back by the check: schema -> {sign-up id: md5 of the row as text}.
    samples: dict[str, dict[str, str]] = field(default_factory=dict)
    format: int = FORMAT

    def tenant_schemas(self) -> list[str]:
        return [schema for file in self.files for schema in file.schemas]

    def file_of_schema(self, schema_name: str) -> DumpFile:
        for file in self.files:
            if schema_name in file.schemas:
                return file
        raise OperationsError(f"Backup {self.backup_id} holds no schema {schema_name}")

    def body(self) -> dict[str, Any]:
        return asdict(self)

    def to_bytes(self) -> bytes:
        body = self.body()
        return json.dumps({**body, "checksum": _checksum(body)}, indent=1).encode()


def _checksum(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


def manifest_load(data: bytes) -> Manifest:
    """Reads a manifest; raises OperationsError if it is not one or its checksum differs."""
    try:
        body = json.loads(data)
        checksum = body.pop("checksum")
        if checksum != _checksum(body):
            raise OperationsError("The manifest's checksum does not match its content")
        if body.get("format") != FORMAT:
            raise OperationsError(f"Unknown manifest format {body.get('format')!r}")
        body["tenants"] = [TenantEntry(**entry) for entry in body["tenants"]]
        body["files"] = [DumpFile(**entry) for entry in body["files"]]
        return Manifest(**body)
    except (ValueError, KeyError, TypeError) as error:
        raise OperationsError(f"The manifest is unreadable: {error}") from error


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
