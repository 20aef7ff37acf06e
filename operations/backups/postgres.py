"""PostgreSQL for backups: where the server is, pg_dump and pg_restore, snapshots, scratch
databases.

Backups use connections of their own (psycopg, autocommit), never Django's: a dump runs in
other processes that see only committed data, and the snapshot they share must outlive any
transaction the caller may be in.
"""

import logging
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import environ
import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ..errors import OperationsError

logger = logging.getLogger(__name__)

#: Schemas of shops (``t_<slug>``) and shops' schemas set aside by an in-place restore
#: (``r_<tenant id>_<time>``): dumped in groups. Everything else goes in one file.
TENANT_SCHEMA_PATTERNS = ("t_*", "r_*")
TENANT_SCHEMA_LIKE = r"^[tr]_"


@dataclass(frozen=True)
class Server:
    """libpq parameters of one database."""

    host: str
    port: str
    user: str
    password: str
    dbname: str
    sslmode: str = ""

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        parameters = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": self.dbname,
            "sslmode": self.sslmode,
        }
        conninfo = make_conninfo(**{key: value for key, value in parameters.items() if value})
        return psycopg.connect(conninfo, autocommit=True)

    def environment(self) -> dict[str, str]:
        """For pg_dump / pg_restore: the password travels in the environment, not argv."""
        variables = {
            "PGHOST": self.host,
            "PGPORT": self.port,
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.dbname,
            "PGSSLMODE": self.sslmode,
        }
        return {**os.environ, **{key: value for key, value in variables.items() if value}}

    def with_database(self, dbname: str) -> "Server":
        return replace(self, dbname=dbname)


def _server(config: dict[str, object]) -> Server:
    options = config.get("OPTIONS") or {}
    sslmode = options.get("sslmode", "") if isinstance(options, dict) else ""
    return Server(
        host=str(config.get("HOST") or ""),
        port=str(config.get("PORT") or ""),
        user=str(config.get("USER") or ""),
        password=str(config.get("PASSWORD") or ""),
        dbname=str(config.get("NAME") or ""),
        sslmode=str(sslmode),
    )


def app_server() -> Server:
    """The application's database (the test database under pytest)."""
    return _server(dict(connections[DEFAULT_DB_ALIAS].settings_dict))


def scratch_server() -> Server:
    """Where scratch databases may be created: BACKUP_VERIFY_DATABASE_URL, else the app's."""
    url = settings.BACKUP_VERIFY_DATABASE_URL
    return _server(environ.Env.db_url_config(url)) if url else app_server()


# --- tools -------------------------------------------------------------------------------------


def _candidate_folders() -> Iterator[Path]:
    if settings.BACKUP_PG_BIN_DIR:
        yield Path(settings.BACKUP_PG_BIN_DIR)
        return
    on_path = shutil.which("pg_dump")
    if on_path:
        # Not resolved: Debian's pg_dump is a link to a wrapper that picks the right version.
        yield Path(on_path).parent
    try:
        import pgserver
    except ImportError:
        return
    # make run's embedded server may be newer than the machine's client tools.
    yield Path(pgserver.__file__).parent / "pginstall" / "bin"


@cache
def _tool_major(path: Path) -> int:
    output = subprocess.run(  # noqa: S603 - a PostgreSQL client tool, fixed arguments
        [str(path), "--version"], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"(\d+)", output)
    return int(found.group(1)) if found else 0


def tools_folder(server_major: int) -> Path:
    """The first folder whose pg_dump is at least the server's version (pg_dump refuses a newer
    server)."""
    for folder in _candidate_folders():
        tool = folder / "pg_dump"
        if tool.exists() and _tool_major(tool) >= server_major:
            return folder
    raise OperationsError(
        f"No pg_dump of PostgreSQL {server_major} or newer: install the client tools "
        "(postgresql-client) or set BACKUP_PG_BIN_DIR"
    )


def server_major(server: Server) -> int:
    with server.connect() as connection:
        row = connection.execute("SHOW server_version_num").fetchone()
    return int(str(row[0] if row else 0)) // 10000


def run_tool(folder: Path, tool: str, arguments: Sequence[str], *, server: Server) -> None:
    """Runs pg_dump / pg_restore; its error output becomes the exception's message."""
    command = [str(folder / tool), *arguments]
    result = subprocess.run(  # noqa: S603 - our arguments, identifiers from the catalog
        command, env=server.environment(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise OperationsError(
            f"{tool} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
        )
    if result.stderr.strip():
        logger.warning("%s said something", tool, extra={"output": result.stderr[-2000:]})


# --- snapshots ---------------------------------------------------------------------------------


@contextmanager
def snapshot_transaction(
    server: Server, snapshot: str
) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A read-only transaction that sees exactly the exported ``snapshot``.

    Each caller commits its own: locks taken while counting are released batch by batch, where
    one long transaction would hold one per table of every shop.
    """
    with server.connect() as connection:
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        connection.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        connection.execute("SET LOCAL TimeZone TO 'UTC'")
        try:
            yield connection
        finally:
            connection.execute("COMMIT")


# --- scratch databases -------------------------------------------------------------------------


@contextmanager
def scratch_database(purpose: str) -> Iterator[Server]:
    """A new empty database with a random name, always dropped afterwards."""
    base = scratch_server()
    name = f"{base.dbname[:30]}_{purpose}_{secrets.token_hex(4)}"
    with base.connect() as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        # Nothing in it needs to survive a crash: no disk flush at every restored object's commit.
        connection.execute(
            sql.SQL("ALTER DATABASE {} SET synchronous_commit TO off").format(sql.Identifier(name))
        )
    try:
        yield base.with_database(name)
    finally:
        with base.connect() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def quote(name: str) -> sql.Identifier:
    return sql.Identifier(name)
