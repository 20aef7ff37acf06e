"""Settings come from the environment; production refuses to start half-configured.

Each case runs Django in a fresh interpreter, since settings are read once per process.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "CUSTOMERINFO_ENV": "production",
    "SECRET_KEY": "a" * 60 + "production-secret-with-enough-entropy-1234567890",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/customerinfo",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "BASE_DOMAIN": "customerinfo.example",
    "CRM_ENCRYPTION_KEYS": "x5R2CgSDoZ1Y4mcpq4yC8qCDrV4d0QRPgqvkzoZIxJs=",
    "STRIPE_SECRET_KEY": "sk_live_production_key",
    "STRIPE_WEBHOOK_SECRET": "whsec_production_secret",
    "METRICS_TOKEN": "a-production-metrics-token",
}


def run_django(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DEBUG"))}
    for name in (
        "SECRET_KEY",
        "SECRET_KEY_FALLBACKS",
        "DATABASE_URL",
        "REDIS_URL",
        "CUSTOMERINFO_ENV",
        "CRM_ENCRYPTION_KEYS",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "STRIPE_API_BASE",
        "METRICS_TOKEN",
    ):
        clean.pop(name, None)
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "missing",
    [
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "CRM_ENCRYPTION_KEYS",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "METRICS_TOKEN",
    ],
)
def test_production_stops_at_start_naming_a_missing_secret(missing: str) -> None:
    environment = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = run_django(environment, "check")
    assert result.returncode != 0
    assert f"Set the {missing} environment variable" in result.stderr


def test_production_passes_check_deploy_cleanly() -> None:
    result = run_django(PRODUCTION, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_a_secret_can_come_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret_key"
    secret_file.write_text("b" * 60 + "from-a-mounted-kubernetes-secret-volume")
    environment = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    environment["SECRET_KEY_FILE"] = str(secret_file)
    result = run_django(
        environment, "shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == secret_file.read_text()


def show_fallbacks(environment: dict[str, str]) -> list[str]:
    result = run_django(
        environment,
        "shell",
        "-c",
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.SECRET_KEY_FALLBACKS))",
    )
    assert result.returncode == 0, result.stderr
    fallbacks: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return fallbacks


def test_previous_secret_keys_are_read_while_one_is_rotated(tmp_path: Path) -> None:
    old_keys = ["c" * 50 + "-the-key-before", "d" * 50 + "-the-key-before-that"]
    assert show_fallbacks(PRODUCTION) == []
    assert show_fallbacks({**PRODUCTION, "SECRET_KEY_FALLBACKS": ",".join(old_keys)}) == old_keys
    # Like every other secret, from a mounted file too.
    fallbacks_file = tmp_path / "secret_key_fallbacks"
    fallbacks_file.write_text(",".join(old_keys))
    from_file = {**PRODUCTION, "SECRET_KEY_FALLBACKS_FILE": str(fallbacks_file)}
    assert show_fallbacks(from_file) == old_keys
    # And `check --deploy` still passes with fallbacks set (each must be a strong key too).
    result = run_django(from_file, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr


def test_debug_cannot_be_on_in_production() -> None:
    result = run_django({**PRODUCTION, "DEBUG": "true"}, "check")
    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_unknown_environment_name_is_refused() -> None:
    result = run_django({"CUSTOMERINFO_ENV": "staging"}, "check")
    assert result.returncode != 0
    assert "CUSTOMERINFO_ENV must be" in result.stderr
