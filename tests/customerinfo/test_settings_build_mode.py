"""Build mode: the image's collectstatic step imports production settings without secrets, and
nothing else can use that to start without them.

Each case runs a fresh process, since settings are read once per process and the guard reads
the command line. That production still refuses to start without a secret is test_settings.py's
(each secret in turn) and test_dockerfile_replay.py's (the image's own command).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.customerinfo.test_settings import PRODUCTION

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BUILD = {"CUSTOMERINFO_ENV": "production", "CUSTOMERINFO_BUILD": "1"}


def run(environment: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """A process with none of this test run's settings variables, plus `environment`."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if name in {"PATH", "HOME", "LANG"} or name.startswith(("COVERAGE", "COV_CORE"))
    }
    return subprocess.run(  # noqa: S603 - fixed argv
        list(argv),
        cwd=ROOT,
        env={**kept, **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_collectstatic_needs_no_secret_in_build_mode(tmp_path: Path) -> None:
    result = run(
        {**BUILD, "STATIC_ROOT": str(tmp_path)},
        sys.executable,
        "manage.py",
        "collectstatic",
        "--noinput",
    )
    assert result.returncode == 0, result.stderr
    # Production's storage: hashed names and the manifest whitenoise serves them from.
    assert (tmp_path / "staticfiles.json").is_file()


@pytest.mark.parametrize(
    "argv",
    [
        [sys.executable, "manage.py", "migrate_tenants"],
        [str(BIN / "gunicorn"), "--check-config", "customerinfo.wsgi:application"],
        [str(BIN / "celery"), "-A", "customerinfo", "report"],
    ],
    ids=["migrations", "web", "worker"],
)
def test_build_mode_refuses_every_other_process(argv: list[str]) -> None:
    # Every secret is given: the refusal is the switch's, not a missing variable's.
    result = run({**PRODUCTION, **BUILD}, *argv)
    assert result.returncode != 0
    assert "CUSTOMERINFO_BUILD=1 only runs `manage.py collectstatic`" in result.stderr


def test_build_mode_off_is_production_as_usual() -> None:
    result = run({**PRODUCTION, "CUSTOMERINFO_BUILD": "0"}, sys.executable, "manage.py", "check")
    assert result.returncode == 0, result.stderr
