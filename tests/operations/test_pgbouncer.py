"""PgBouncer in session pooling mode keeps every shop's sign-ups in its own schema.

django-tenants puts a shop's schema on the connection (`SET search_path`) and the ORM's queries
rely on it. Behind a pooler, one PostgreSQL session serves many client connections in turn. The
tests start Debian's PgBouncer on a free loopback port with a pool of one server connection per
database, so both shops share one PostgreSQL session, and send the kiosk's real sign-up requests
for the two shops alternately, with Django's connection going through the pooler:

- each request on a new client connection (the server connection is reset and lent again);
- all requests on one client connection that stays open (django-tenants switches the schema).

Every sign-up must be found in its own shop's schema and in no other. The last test shows what
transaction pooling does with the same two schemas, which is why docs/operations.md refuses it.
Skipped only where PgBouncer is not installed, and never in CI (.ci/run installs it).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context
from psycopg import sql
from pytest_django import DjangoDbBlocker

from operations.backups.postgres import app_server
from tenants.models import Tenant
from tenants.services import tenant_create
from tests.conftest import PASSWORD, host_of
from tests.operations.conftest import schemas_drop
from tests.signup.factories import Kiosk, kiosk_create, submission_body

PGBOUNCER = Path("/usr/sbin/pgbouncer")
SHOPS = ("pool-a", "pool-b")
ROUNDS = 3
T = TypeVar("T")

#: The test database is made for tests that ask for it; the sign-ups themselves commit from a
#: thread of their own (in_a_thread_through), outside the test's transaction.
pytestmark = pytest.mark.django_db

if not PGBOUNCER.exists() and os.environ.get("CI") != "true":
    pytest.skip("PgBouncer is not installed (apt-get install pgbouncer)", allow_module_level=True)


@dataclass(frozen=True)
class Bouncer:
    port: int

    def connect(self, dbname: str) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, dbname=dbname, user="postgres", autocommit=True
        )

    def servers(self) -> list[dict[str, Any]]:
        """The admin console's SHOW SERVERS (simple query protocol only: a client cursor)."""
        with (
            closing(self.connect("pgbouncer")) as admin,
            psycopg.ClientCursor(admin) as cursor,
        ):
            cursor.execute("SHOW SERVERS")
            names = [column.name for column in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _configuration(port: int, pool_mode: str, pool_size: int) -> str:
    server = app_server()
    return f"""
[databases]
* = host={server.host or "127.0.0.1"} port={server.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = users.txt
admin_users = postgres
pool_mode = {pool_mode}
default_pool_size = {pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 50
server_reset_query = DISCARD ALL
; A client waiting for the only server connection fails instead of hanging the test.
query_wait_timeout = 20
ignore_startup_parameters = extra_float_digits
"""


@contextmanager
def pgbouncer(*, pool_mode: str, pool_size: int) -> Iterator[Bouncer]:
    """PgBouncer in the foreground, configured in a folder of its own, stopped afterwards."""
    assert PGBOUNCER.exists(), "CI=true: PgBouncer must be installed (.ci/run installs it)"
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = _free_port()
    (folder / "pgbouncer.ini").write_text(_configuration(port, pool_mode, pool_size))
    (folder / "users.txt").write_text('"postgres" ""\n')
    command = [str(PGBOUNCER), "pgbouncer.ini"]
    if os.geteuid() == 0:
        # PgBouncer refuses to run as root: it switches to an ordinary account.
        account = next(name for name in ("postgres", "nobody") if _account_exists(name))
        folder.chmod(0o755)
        command += ["-u", account]
    # Its log goes to a file we opened: a pipe nobody reads would stall it once full.
    log = folder / "pgbouncer.log"
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 - Debian's pgbouncer, our configuration
            command, cwd=folder, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_listening(process, port, log)
        yield Bouncer(port)
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def _account_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"pgbouncer exited {process.returncode}:\n{log.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("pgbouncer did not listen within 30 s")


def in_a_thread_through(bouncer: Bouncer, work: Callable[[], T]) -> T:
    """Runs ``work`` in a thread whose Django connection goes through the pooler.

    Django's connections belong to their thread: this one commits for real, outside the test's
    own transaction, and its client connections come and go as a web process's do.
    """

    def through() -> T:
        # A copy: every thread's wrapper starts from the one settings dictionary.
        connection.settings_dict = {
            **connection.settings_dict,
            "HOST": "127.0.0.1",
            "PORT": str(bouncer.port),
        }
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(through).result()


@pytest.fixture(scope="module")
def pool_shops(
    django_db_setup: None, django_db_blocker: DjangoDbBlocker
) -> Iterator[dict[str, Kiosk]]:
    """Two shops with a tablet each, committed: sign-ups travel over other connections."""
    kiosks: dict[str, Kiosk] = {}
    with django_db_blocker.unblock():
        for slug in SHOPS:
            tenant = tenant_create(
                name=f"Pool {slug[-1].upper()}",
                slug=slug,
                owner_email=f"owner@{slug}.example",
                owner_password=PASSWORD,
                provision_now=True,
            )
            with tenant_context(tenant):
                kiosks[slug] = kiosk_create()
        yield kiosks
        Tenant.objects.filter(slug__in=SHOPS).delete()
        schemas_drop("t\\_pool\\_%")


def _schema(slug: str) -> str:
    return "t_" + slug.replace("-", "_")


def _emails_by_schema() -> dict[str, set[str]]:
    """Every sign-up's email in each shop's schema, read straight from PostgreSQL."""
    found: dict[str, set[str]] = {}
    with app_server().connect() as direct:
        for slug in SHOPS:
            table = sql.Identifier(_schema(slug), "signup_submission")
            rows = direct.execute(sql.SQL("SELECT email FROM {}").format(table)).fetchall()
            found[_schema(slug)] = {str(row[0]) for row in rows}
    return found


def _sign_up(client: Client, kiosk: Kiosk, tenant: Tenant, email: str) -> int:
    """One sign-up through the kiosk API; returns the PostgreSQL session that served it."""
    body = submission_body(kiosk, answers={"email": email, "first_name": "Ann"})
    response = client.post(
        "/api/kiosk/submissions",
        body,
        content_type="application/json",
        headers=kiosk.headers,
        HTTP_HOST=host_of(tenant),
    )
    assert response.status_code == 201, response.content
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("reconnect", [True, False], ids=["new-client-each", "one-client"])
def test_alternating_shops_share_one_server_connection_and_keep_their_rows(
    pool_shops: dict[str, Kiosk], reconnect: bool
) -> None:
    mode = "new" if reconnect else "kept"
    expected = {
        _schema(slug): {f"{mode}{number}@{slug}.example" for number in range(ROUNDS)}
        for slug in SHOPS
    }
    tenants = {tenant.slug: tenant for tenant in Tenant.objects.filter(slug__in=SHOPS)}
    before = _emails_by_schema()

    def alternate() -> dict[str, set[int]]:
        sessions: dict[str, set[int]] = {slug: set() for slug in SHOPS}
        client = Client()
        for number in range(ROUNDS):
            for slug in SHOPS:
                email = f"{mode}{number}@{slug}.example"
                sessions[slug].add(_sign_up(client, pool_shops[slug], tenants[slug], email))
                if reconnect:
                    # The client leaves: PgBouncer resets the server session and lends it on.
                    connection.close()
        return sessions

    with pgbouncer(pool_mode="session", pool_size=1) as bouncer:
        sessions = in_a_thread_through(bouncer, alternate)
        servers = bouncer.servers()
    # One PostgreSQL session, PgBouncer's only server connection, served both shops in turn.
    assert sessions[SHOPS[0]] == sessions[SHOPS[1]]
    (pid,) = sessions[SHOPS[0]]
    assert [server["remote_pid"] for server in servers] == [pid]
    after = _emails_by_schema()
    for schema, emails in expected.items():
        assert after[schema] - before[schema] == emails
    assert not expected[_schema(SHOPS[0])] & after[_schema(SHOPS[1])]
    assert not expected[_schema(SHOPS[1])] & after[_schema(SHOPS[0])]


def test_transaction_pooling_hands_one_shop_s_schema_to_another(
    pool_shops: dict[str, Kiosk],
) -> None:
    """Why transaction pooling is refused: a session setting outlives the transaction that set
    it, and the next client's statements run with it. Session pooling keeps each its own."""
    database = app_server().dbname
    first, second = (_schema(slug) for slug in SHOPS)
    seen: dict[str, str] = {}
    for mode, size in (("transaction", 1), ("session", 2)):
        with (
            pgbouncer(pool_mode=mode, pool_size=size) as bouncer,
            closing(bouncer.connect(database)) as shop_a,
            closing(bouncer.connect(database)) as shop_b,
        ):
            shop_a.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(first)))
            shop_b.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(second)))
            row = shop_a.execute("SELECT current_schema()").fetchone()
            seen[mode] = str(row[0]) if row else ""
    assert seen == {"transaction": second, "session": first}
