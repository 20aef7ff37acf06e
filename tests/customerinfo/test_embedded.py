"""The embedded servers a fresh laptop gets, and the pass-through CI relies on."""

import sys
from pathlib import Path

import pytest
import redis

from customerinfo import embedded


def test_embedded_redis_starts_keeps_data_and_stops(tmp_path: Path) -> None:
    with embedded.embedded_redis(tmp_path / "redis") as url:
        client = redis.Redis.from_url(url)
        client.set("kept", "yes")
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        client.close()
    with embedded.embedded_redis(tmp_path / "redis") as url:
        client = redis.Redis.from_url(url)
        assert client.get("kept") == b"yes"
        client.close()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()


def test_configured_servers_are_used_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://ci@127.0.0.1:5432/x")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    with embedded.services_environment() as environment:
        assert environment["DATABASE_URL"] == "postgres://ci@127.0.0.1:5432/x"
        assert environment["REDIS_URL"] == "redis://127.0.0.1:6379/3"


def test_run_returns_the_commands_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://ci@127.0.0.1:5432/x")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    assert embedded.run([sys.executable, "-c", "import sys; sys.exit(3)"]) == 3


def test_run_needs_a_command() -> None:
    with pytest.raises(SystemExit, match="usage"):
        embedded.run([])


def test_data_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CUSTOMERINFO_DATA_DIR", str(tmp_path / "data"))
    assert embedded.data_dir() == tmp_path / "data"
    assert (tmp_path / "data").is_dir()


def test_embedded_postgres_creates_our_database_and_reuses_it(tmp_path: Path) -> None:
    import psycopg

    folder = tmp_path / "postgres"
    with embedded.embedded_postgres(folder) as url:
        assert url.startswith("postgres://postgres@/customerinfo?host=")
        host = url.split("host=", 1)[1]
        with psycopg.connect(host=host, user="postgres", dbname="customerinfo") as connection:
            connection.execute("CREATE TABLE kept (id int)")
            connection.commit()
    with (
        embedded.embedded_postgres(folder) as url,
        psycopg.connect(
            host=url.split("host=", 1)[1], user="postgres", dbname="customerinfo"
        ) as connection,
    ):
        assert connection.execute("SELECT count(*) FROM kept").fetchone() == (0,)
