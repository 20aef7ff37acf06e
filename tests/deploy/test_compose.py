"""docker-compose.yml: valid against the Compose specification, and wired the way the chart is.

No Docker engine runs here: the file is validated with check-jsonschema's copy of the Compose
schema, and what matters is asserted on the file itself (same image everywhere, migrations
before the application, one beat, health checks, development-only values).
"""

from __future__ import annotations

import re
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.support import (
    DOCKERFILE,
    REPO_ROOT,
    assert_provided,
    files_referenced_by,
    parse_dockerfile,
    venv_executable,
)

COMPOSE = REPO_ROOT / "docker-compose.yml"
APP_SERVICES = ("migrate", "web", "worker", "beat")
LONG_RUNNING = ("postgres", "redis", "web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def test_the_file_follows_the_compose_specification() -> None:
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [
            str(venv_executable("check-jsonschema")),
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_application_service_runs_the_one_image(services: dict[str, dict[str, Any]]) -> None:
    builds = {name: services[name].get("build") for name in APP_SERVICES}
    images = {services[name].get("image") for name in APP_SERVICES}
    assert all(build == {"context": ".", "dockerfile": "Dockerfile"} for build in builds.values())
    assert len(images) == 1, images
    others = set(services) - set(APP_SERVICES)
    assert others == {"postgres", "redis"}
    assert not any("build" in services[name] for name in others)


def test_migrations_run_once_before_the_application(services: dict[str, dict[str, Any]]) -> None:
    migrate = services["migrate"]
    assert migrate["command"] == ["python", "manage.py", "migrate_tenants"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "beat"):
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", name


def test_beat_runs_exactly_once(services: dict[str, dict[str, Any]]) -> None:
    beat = services["beat"]
    assert beat["deploy"]["replicas"] == 1
    assert "scale" not in beat
    assert beat["command"][:4] == ["celery", "-A", "customerinfo", "beat"]


def test_web_runs_the_image_s_own_command(services: dict[str, dict[str, Any]]) -> None:
    """No command of its own: what runs locally is what the image runs in the cluster."""
    web = services["web"]
    assert "command" not in web
    assert "entrypoint" not in web
    exposed = parse_dockerfile(DOCKERFILE.read_text())[-1].last("EXPOSE")
    assert exposed is not None
    assert web["ports"] == [f"8000:{exposed.arguments}"]
    assert "/healthz" in " ".join(web["healthcheck"]["test"])


def test_long_running_services_have_health_checks_that_gate_their_dependents(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in LONG_RUNNING:
        test = services[name]["healthcheck"]["test"]
        assert test[0] in {"CMD", "CMD-SHELL"}, name
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], (name, dependency)


def test_commands_and_checks_name_files_the_image_holds(
    services: dict[str, dict[str, Any]],
) -> None:
    commands = [services[name]["command"] for name in APP_SERVICES if "command" in services[name]]
    commands += [services[name]["healthcheck"]["test"][1:] for name in ("worker", "beat")]
    for argv in commands:
        for needed in files_referenced_by(argv):
            assert_provided(needed)


def test_celery_heartbeats_are_checked_where_they_are_written(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("worker", "beat"):
        service = services[name]
        heartbeat = service["environment"]["CELERY_HEARTBEAT_FILE"]
        assert heartbeat.startswith("/tmp/"), "the only writable place"  # noqa: S108
        assert service["healthcheck"]["test"][4] == heartbeat
        assert "/tmp" in service["tmpfs"]  # noqa: S108


def test_values_are_development_values_that_agree(services: dict[str, dict[str, Any]]) -> None:
    """Development settings, so production can never accept these values; and the database
    URL the application uses is the database the postgres service creates."""
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert environment["CUSTOMERINFO_ENV"] == "development", name
        assert "not-a-secret" in environment["SECRET_KEY"], name
        assert services[name]["read_only"] is True, name
    environment = services["web"]["environment"]
    database = urlsplit(environment["DATABASE_URL"])
    postgres = services["postgres"]["environment"]
    assert (database.hostname, database.path) == ("postgres", f"/{postgres['POSTGRES_DB']}")
    assert (database.username, database.password) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
    )
    assert "not-a-secret" in postgres["POSTGRES_PASSWORD"]
    assert urlsplit(environment["REDIS_URL"]).hostname == "redis"
    # Stripe keys are never written here: they come from the developer's shell, if at all.
    assert re.fullmatch(r"\$\{STRIPE_SECRET_KEY:-\}", environment["STRIPE_SECRET_KEY"])


def test_postgres_keeps_its_data_in_a_named_volume(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["postgres"]["volumes"]
    assert "postgres-data:/var/lib/postgresql/data" in volumes
    assert "postgres-data" in compose["volumes"]
