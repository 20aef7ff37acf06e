"""The GitLab pipeline: valid against GitLab's schema, Auto DevOps plus our own test job."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.support import CHART_DIR, GITLAB_CI, REPO_ROOT, require_application_file


@pytest.fixture(scope="module")
def pipeline() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(GITLAB_CI.read_text())
    return loaded


@pytest.fixture(scope="module")
def test_job(pipeline: dict[str, Any]) -> dict[str, Any]:
    jobs = [
        job
        for job in pipeline.values()
        if isinstance(job, dict) and job.get("stage") == "test" and "make test" in job["script"]
    ]
    assert len(jobs) == 1, "expected exactly one job in stage test running `make test`"
    return jobs[0]


def test_validates_against_gitlab_ci_schema() -> None:
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.gitlab-ci",
            "--data-transform",
            "gitlab-ci",
            str(GITLAB_CI),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_includes_auto_devops_and_disables_auto_test(pipeline: dict[str, Any]) -> None:
    assert {"template": "Auto-DevOps.gitlab-ci.yml"} in pipeline["include"]
    assert pipeline["variables"]["TEST_DISABLED"] == "true"
    # A job named `test` would merge with Auto Test and inherit its `when: never` rule.
    assert "test" not in pipeline


def test_auto_deploy_uses_our_chart(pipeline: dict[str, Any]) -> None:
    chart = REPO_ROOT / pipeline["variables"]["AUTO_DEVOPS_CHART"]
    assert chart.resolve() == CHART_DIR.resolve()
    assert (chart / "Chart.yaml").is_file()


def test_auto_deploy_waits_longer_than_helms_default(pipeline: dict[str, Any]) -> None:
    """Web pods turn ready only once the tenant migrations are applied."""
    extra_args = pipeline["variables"]["HELM_UPGRADE_EXTRA_ARGS"].split()
    timeout = extra_args[extra_args.index("--timeout") + 1]
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", timeout)
    assert match is not None, timeout
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    assert hours * 3600 + minutes * 60 + seconds > 5 * 60


def test_test_job_runs_make_test_against_postgres_and_redis(test_job: dict[str, Any]) -> None:
    assert test_job["image"].startswith("python:3.11")
    assert test_job["script"] == ["make test"]
    aliases = {service["alias"]: service["name"].split(":")[0] for service in test_job["services"]}
    assert aliases == {"postgres": "postgres", "redis": "redis"}
    variables = test_job["variables"]
    assert variables["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    database = urlsplit(variables["DATABASE_URL"])
    assert database.scheme.startswith("postgres")
    assert database.hostname == "postgres"
    assert database.path.lstrip("/") == variables["POSTGRES_DB"]
    assert database.username == variables["POSTGRES_USER"]
    assert urlsplit(variables["REDIS_URL"]).hostname == "redis"


def test_test_job_keeps_coverage(test_job: dict[str, Any]) -> None:
    assert "coverage.lcov" in test_job["artifacts"]["paths"]
    reports = test_job["artifacts"]["reports"]
    assert reports["junit"] == "junit.xml"
    assert reports["coverage_report"] == {"coverage_format": "cobertura", "path": "coverage.xml"}
    pattern = re.compile(test_job["coverage"].strip("/"))
    # coverage's terminal report, with branch columns (as configured in pyproject.toml).
    match = pattern.search("TOTAL                    1520     40    380     21    96.18%")
    assert match is not None
    assert match.group(1) == "96.18"


def test_makefile_has_the_test_target() -> None:
    makefile = require_application_file("Makefile")
    assert makefile.is_file(), "the pipeline runs `make test`"
    assert re.search(r"^test:", makefile.read_text(), flags=re.MULTILINE)
