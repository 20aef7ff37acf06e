"""The GitLab pipeline: valid against GitLab's schema, Auto DevOps plus our own test job."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.conftest import AUTO_DEPLOYS
from tests.deploy.support import (
    CHART_DIR,
    GITLAB_CI,
    REPO_ROOT,
    Rendering,
    require_application_file,
    venv_executable,
)

TEST_IMAGE_DOCKERFILE = REPO_ROOT / ".gitlab" / "test-image.Dockerfile"


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


#: What turns off the template's scanners (docs/operations.md, "Dependency updates and security
#: scanning"): none may be set, here or on a job.
SCANNER_SWITCHES = (
    "DEPENDENCY_SCANNING_DISABLED",
    "SAST_DISABLED",
    "SECRET_DETECTION_DISABLED",
    "CONTAINER_SCANNING_DISABLED",
)


def test_auto_devops_security_scans_stay_on(pipeline: dict[str, Any]) -> None:
    """Dependency scanning, SAST, secret detection and container scanning come with the
    Auto DevOps template; nothing here switches them off or overrides their jobs."""
    assert {"template": "Auto-DevOps.gitlab-ci.yml"} in pipeline["include"]
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict)}
    for switch in SCANNER_SWITCHES:
        assert switch not in pipeline.get("variables", {}), switch
        for name, job in jobs.items():
            assert switch not in (job.get("variables") or {}), (name, switch)
    # A job of ours named like the template's would be merged into it (and could `when: never`
    # it): semgrep-sast, gemnasium-python-dependency_scanning, secret_detection, ...
    scanner_job = re.compile(r"sast|dependency_scanning|secret_detection|container_scanning")
    assert not [name for name in jobs if scanner_job.search(name)]
    # The scanners run in the template's `test` stage; a stages list without it would drop them.
    assert "stages" not in pipeline or "test" in pipeline["stages"]


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


def test_default_branch_reaches_production_only_through_staging(pipeline: dict[str, Any]) -> None:
    """Auto DevOps deploys to staging, then offers `production_manual` instead of deploying."""
    variables = pipeline["variables"]
    assert variables["STAGING_ENABLED"] == "true"
    # Set, these would replace the manual promotion with canary or timed rollouts.
    for name in ("INCREMENTAL_ROLLOUT_MODE", "INCREMENTAL_ROLLOUT_ENABLED", "CANARY_ENABLED"):
        assert name not in variables
    # Review apps are second releases; without a database of their own they stay off.
    assert variables["REVIEW_DISABLED"] == "true"


def test_test_job_runs_make_test_against_postgres_and_redis(test_job: dict[str, Any]) -> None:
    assert test_job["image"] == "$TEST_IMAGE"
    assert test_job["needs"] == ["test-image"]
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


def test_test_image_tag_follows_its_dockerfile(pipeline: dict[str, Any]) -> None:
    """An edit to the test image's Dockerfile must come with a new tag, or the pipeline would
    keep running the old image that the registry already holds."""
    digest = hashlib.sha256(TEST_IMAGE_DOCKERFILE.read_bytes()).hexdigest()[:12]
    assert pipeline["variables"]["TEST_IMAGE"] == f"$CI_REGISTRY_IMAGE/test:{digest}"


def test_test_image_is_built_only_when_missing(pipeline: dict[str, Any]) -> None:
    job = pipeline["test-image"]
    assert job["stage"] == "build"
    script = "\n".join(job["script"])
    # The existence check comes first and the build and push only run in its else branch.
    check = script.index('docker manifest inspect "$TEST_IMAGE"')
    build = script.index("docker build --file .gitlab/test-image.Dockerfile")
    assert check < script.index("else") < build < script.index('docker push "$TEST_IMAGE"')
    assert "--password-stdin" in script


def test_test_image_holds_what_make_test_would_install() -> None:
    """`make browser` installs chromium and nodejs with apt when missing: the image has them."""
    text = TEST_IMAGE_DOCKERFILE.read_text()
    installed = re.search(r"apt-get install[^\n]*\n\s*([^\n]+)", text)
    assert installed is not None
    packages = set(installed.group(1).replace("\\", "").split())
    makefile = require_application_file("Makefile").read_text()
    wanted = set(re.findall(r'missing="\$\$missing (\w+)"', makefile))
    assert wanted == {"chromium", "nodejs"}
    assert wanted <= packages
    assert re.search(r"^FROM python:3\.11-bookworm", text, flags=re.MULTILINE)


def test_test_image_dockerfile_is_hadolint_clean() -> None:
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [str(venv_executable("hadolint")), "--no-color", str(TEST_IMAGE_DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("job", "environment"), [("staging", "staging"), ("production_manual", "production")]
)
def test_deploy_jobs_serve_tenants_under_the_environments_own_domain(
    pipeline: dict[str, Any], job: str, environment: str
) -> None:
    """The chart takes the base domain from the environment URL's host (service.url)."""
    assert pipeline[job]["environment"] == {
        "name": environment,
        "url": "https://$KUBE_INGRESS_BASE_DOMAIN",
    }


@pytest.mark.parametrize("job", ["staging", "production_manual"])
def test_a_failed_deploy_prints_the_migration_hooks_log(
    pipeline: dict[str, Any], job: str, renderings: dict[str, Rendering]
) -> None:
    script = "\n".join(pipeline[job]["after_script"])
    assert '"$CI_JOB_STATUS" = "failed"' in script
    named = re.search(r'logs "job/\$\{CI_ENVIRONMENT_SLUG\}(-\w+)"', script)
    assert named is not None, script
    # Auto Deploy names the stable release after the environment's slug: the Job the script
    # reads is the chart's migration hook of that release.
    for scenario in ("production", "staging"):
        release = AUTO_DEPLOYS[scenario].release
        assert release == AUTO_DEPLOYS[scenario].environment.slug
        hook = renderings[scenario].by_component("Job", "migrate")
        assert hook["metadata"]["name"] == f"{release}{named.group(1)}"
