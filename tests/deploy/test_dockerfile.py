"""The Dockerfile: hadolint clean, pinned, multi-stage, locked install, non-root, no secrets.

No Docker engine runs here. These tests read the file; test_dockerfile_replay.py executes its
RUN steps in a scratch copy of the repository.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib

import pytest

from tests.deploy.dockerignore import is_ignored, parse_dockerignore
from tests.deploy.support import (
    APP_UID,
    DOCKERFILE,
    DOCKERIGNORE,
    REPO_ROOT,
    Instruction,
    Stage,
    assert_provided,
    files_referenced_by,
    parse_dockerfile,
    require_application_file,
    venv_executable,
)


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def final_stage(stages: list[Stage]) -> Stage:
    return stages[-1]


def _lineage(stages: list[Stage], stage: Stage) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    by_name = {item.name: item for item in stages if item.name}
    chain = [stage]
    while chain[-1].base in by_name:
        chain.append(by_name[chain[-1].base])
    return chain


def _env_assignments(instruction: Instruction) -> dict[str, str]:
    return dict(word.split("=", 1) for word in shlex.split(instruction.arguments))


def _strip_env_prefix(argv: list[str]) -> list[str]:
    """`A=1 B=2 python manage.py ...` -> `python manage.py ...`."""
    index = 0
    while index < len(argv) and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", argv[index]):
        index += 1
    return argv[index:]


def test_hadolint_reports_nothing() -> None:
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [
            str(venv_executable("hadolint")),
            "--no-color",
            "--format",
            "json",
            "--failure-threshold",
            "style",
            str(DOCKERFILE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], findings
    assert result.returncode == 0, result.stderr


def test_hadolint_ignores_carry_a_reason() -> None:
    for line in DOCKERFILE.read_text().splitlines():
        match = re.search(r"hadolint ignore=\S+(.*)$", line)
        if match:
            assert match.group(1).strip(" -:"), f"hadolint ignore without a reason: {line}"


def test_is_multi_stage_with_slim_final_image(stages: list[Stage], final_stage: Stage) -> None:
    assert len(stages) >= 2
    image = _lineage(stages, final_stage)[-1].base
    assert image.partition("@")[0] == "python:3.11-slim-bookworm"
    # The final stage copies the built /app (venv, code, static files) from an earlier stage.
    copies_from_build = [
        item for item in final_stage.all("COPY") if item.arguments.startswith("--from=")
    ]
    assert copies_from_build, "final stage copies nothing from the builder"


def test_base_images_are_pinned_by_tag_and_digest(stages: list[Stage]) -> None:
    """The digest fixes the bytes; the tag next to it says what they are (Renovate moves both)."""
    names = {stage.name for stage in stages if stage.name}
    images = [stage.base for stage in stages if stage.base not in names]
    assert images
    for image in images:
        assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", image), image


def test_builder_and_final_stage_share_one_base(stages: list[Stage], final_stage: Stage) -> None:
    """The venv made in the builder points at the base image's interpreter by absolute path."""
    builder = next(
        stage for stage in stages if any("uv sync" in item.arguments for item in stage.all("RUN"))
    )
    assert _lineage(stages, builder)[-1] is _lineage(stages, final_stage)[-1]


def test_dependencies_come_from_the_lock_without_dev_tools(
    stages: list[Stage], final_stage: Stage
) -> None:
    build_runs = [item.arguments for stage in stages[:-1] for item in stage.all("RUN")]
    assert any("uv sync --frozen --no-dev" in run for run in build_runs), build_runs
    uv_sources = [stage.base for stage in stages if stage.base.startswith("ghcr.io/astral-sh/uv")]
    assert uv_sources or any("pip install" in run and "uv" in run for run in build_runs)
    # No compiler or uv in the final stage, nor in the stages it starts FROM; apt only for
    # PostgreSQL's client (test_the_final_stage_adds_only_postgresql_s_client_tools).
    for stage in _lineage(stages, final_stage):
        for item in stage.all("RUN") + stage.all("COPY"):
            assert not re.search(r"\b(pip|uv|gcc|make)\b", item.arguments), item
            assert not re.search(r"(?<![\w/])apt\s", item.arguments), "apt-get: stable interface"
    # pyproject.toml and uv.lock are copied before `uv sync` and nothing ignores them.
    builder = next(stage for stage in stages[:-1] if stage.all("RUN"))
    copied = " ".join(item.arguments for item in builder.all("COPY"))
    for needed in ("pyproject.toml", "uv.lock"):
        assert needed in copied
        assert (REPO_ROOT / needed).is_file()


def _client_tools_major(stages: list[Stage], final_stage: Stage) -> int:
    """The one apt RUN of the final image: update, install PostgreSQL's client of one pinned
    major without recommends, remove the lists, all in one layer. Returns the major."""
    (run,) = [
        item
        for stage in _lineage(stages, final_stage)
        for item in stage.all("RUN")
        if "apt-get" in item.arguments
    ]
    commands = [shlex.split(command) for command in run.arguments.split("&&")]
    assert len(commands) == 3, run
    update, install, remove = commands
    assert update == ["apt-get", "update"]
    *options, package = _strip_env_prefix(install)
    assert options == ["apt-get", "install", "-y", "--no-install-recommends"]
    pinned = re.fullmatch(r"postgresql-client-(\d+)=(\d+)\.\*", package)
    assert pinned, f"{package}: one major, in the name and the version pattern"
    assert pinned.group(1) == pinned.group(2)
    assert remove == ["rm", "-rf", "/var/lib/apt/lists/*"]
    return int(pinned.group(1))


def test_the_final_stage_adds_only_postgresql_s_client_tools(
    stages: list[Stage], final_stage: Stage
) -> None:
    """pg_dump refuses a server newer than itself: the image's client is the servers' major,
    which the deploy guide and the backup guide name."""
    major = _client_tools_major(stages, final_stage)
    deploy_guide = (REPO_ROOT / "docs" / "deploy.md").read_text()
    assert re.findall(r"Database server: PostgreSQL (\d+)", deploy_guide) == [str(major)]
    assert f"postgresql-client-{major}" in (REPO_ROOT / "docs" / "operations.md").read_text()
    # Installed as root, before the application user takes over.
    keywords = [item.keyword for item in final_stage.instructions]
    first_apt = next(
        index for index, item in enumerate(final_stage.instructions) if "apt-get" in item.arguments
    )
    assert "USER" not in keywords[:first_apt]


def test_every_server_the_project_runs_on_is_the_client_tools_major(
    stages: list[Stage], final_stage: Stage
) -> None:
    """Compose and the GitLab test job start PostgreSQL themselves: a newer major there would
    make the image's pg_dump refuse every backup taken in them."""
    major = _client_tools_major(stages, final_stage)
    compose = (REPO_ROOT / "docker-compose.yml").read_text()
    gitlab = (REPO_ROOT / ".gitlab-ci.yml").read_text()
    image = re.compile(r"(?:image:|- name:) postgres:(\d+)")
    servers = image.findall(compose) + image.findall(gitlab)
    assert len(servers) >= 2, "both Compose and the GitLab test job name a PostgreSQL image"
    assert set(servers) == {str(major)}


def test_processes_are_runtime_dependencies() -> None:
    """The image has no dev group, so every program it runs must be a runtime dependency."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    runtime = {re.split(r"[\[<>=!~ ;]", spec, maxsplit=1)[0] for spec in project["dependencies"]}
    assert {"gunicorn", "celery", "django", "whitenoise"} <= runtime


def test_final_stage_runs_as_numeric_non_root_user(final_stage: Stage) -> None:
    user = final_stage.last("USER")
    assert user is not None, "the final stage has no USER"
    uid, _, gid = user.arguments.partition(":")
    assert uid.isdigit(), "USER must be numeric so Kubernetes can enforce runAsNonRoot"
    assert int(uid) == APP_UID
    assert not gid or (gid.isdigit() and int(gid) != 0)
    # USER comes after the last RUN/COPY so that nothing later runs as root.
    keywords = [item.keyword for item in final_stage.instructions]
    last_user = len(keywords) - 1 - keywords[::-1].index("USER")
    assert "RUN" not in keywords[last_user:]


def test_the_user_created_is_the_user_that_runs(final_stage: Stage) -> None:
    """Read from the shell text; test_dockerfile_replay.py also runs it and reads /etc/passwd."""
    created: dict[str, dict[str, str]] = {}
    for item in final_stage.all("RUN"):
        for command in item.arguments.split("&&"):
            words = shlex.split(command)
            if words and words[0] in {"groupadd", "useradd"}:
                options = dict(zip(words[1:], [*words[2:], ""], strict=True))
                created[words[0]] = options
    user = final_stage.last("USER")
    assert user is not None
    assert created["useradd"]["--uid"] == str(APP_UID)
    assert created["useradd"]["--gid"] == created["groupadd"]["--gid"]
    assert user.arguments == f"{APP_UID}:{created['groupadd']['--gid']}"
    assert created["useradd"]["--shell"] == "/usr/sbin/nologin"


def test_the_code_stays_owned_by_root(final_stage: Stage) -> None:
    """The app user can read its code but not rewrite it: nothing is copied --chown to it."""
    for item in final_stage.all("COPY"):
        assert "--chown" not in item.arguments, item
        assert "--chmod" not in item.arguments, item


def test_runtime_environment(final_stage: Stage) -> None:
    env: dict[str, str] = {}
    for item in final_stage.all("ENV"):
        env.update(_env_assignments(item))
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith("/app/.venv/bin:")
    assert any(item.arguments.split("/")[0] == "8000" for item in final_stage.all("EXPOSE"))


def test_default_command_is_the_web_process(final_stage: Stage) -> None:
    cmd = final_stage.last("CMD")
    assert cmd is not None
    assert cmd.arguments.startswith("["), "use the exec form so signals reach gunicorn"
    assert cmd.exec_form() == [
        "gunicorn",
        "customerinfo.wsgi:application",
        "--config",
        "python:customerinfo.gunicorn_config",
        "--bind",
        "0.0.0.0:8000",
        "--workers",
        "3",
    ]


def test_commands_reference_programs_and_files_that_exist(stages: list[Stage]) -> None:
    commands: list[list[str]] = []
    for stage in stages:
        for item in stage.all("CMD") + stage.all("ENTRYPOINT"):
            commands.append(item.exec_form())
        for item in stage.all("RUN"):
            argv = _strip_env_prefix(shlex.split(item.arguments))
            if "manage.py" in argv:
                commands.append(argv)
    assert commands
    for argv in commands:
        venv_executable(argv[0].rsplit("/", 1)[-1])
        for needed in files_referenced_by(argv):
            require_application_file(needed)
            assert_provided(needed)


def test_build_mode_is_set_on_the_collectstatic_step_alone(stages: list[Stage]) -> None:
    """The image is built without secrets; the switch that allows it never reaches a process."""
    runs = [item for stage in stages for item in stage.all("RUN")]
    collect = [item for item in runs if "collectstatic" in item.arguments]
    assert len(collect) == 1
    words = shlex.split(collect[0].arguments)
    prefix = words[: len(words) - len(_strip_env_prefix(words))]
    assert dict(word.split("=", 1) for word in prefix) == {
        "CUSTOMERINFO_ENV": "production",
        "CUSTOMERINFO_BUILD": "1",
    }
    assert "--noinput" in words
    others = [item for item in runs if item is not collect[0]]
    assert not any("CUSTOMERINFO_BUILD" in item.arguments for item in others)
    for stage in stages:
        for item in stage.all("ENV") + stage.all("ARG"):
            assert "CUSTOMERINFO_BUILD" not in item.arguments, item


def test_no_secret_is_baked_into_the_image(stages: list[Stage]) -> None:
    secrets = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CRM_ENCRYPTION_KEYS", "STRIPE_")
    for stage in stages:
        for item in stage.instructions:
            if item.keyword in {"ENV", "ARG", "RUN", "LABEL"}:
                assert not any(name in item.arguments for name in secrets), item


def test_dockerignore_keeps_the_context_small_but_complete() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    excluded_paths = (".git", ".venv", ".data", "node_modules", ".coverage", "coverage.lcov")
    for excluded in (*excluded_paths, "tests", "helm", "docker-compose.yml"):
        assert excluded in patterns, f"{excluded} is not in .dockerignore"
    assert any("__pycache__" in pattern for pattern in patterns)
    for needed in ("pyproject.toml", "uv.lock", "manage.py", "customerinfo", "frontend"):
        assert needed not in patterns, f"{needed} is needed in the build context"


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("tests/deploy/support.py", True),  # an excluded directory excludes what it holds
        ("customerinfo/__pycache__/logs.cpython-311.pyc", True),  # `**/` at any depth
        ("signup/tests.py", False),  # `tests` is anchored at the context's root
        ("customerinfo/logs.py", False),
        ("frontend/static/portal/portal.css", False),
        ("staticfiles/admin/css/base.css", True),
        ("docker-compose.yml", True),
    ],
)
def test_dockerignore_is_read_the_way_docker_reads_it(path: str, ignored: bool) -> None:
    assert is_ignored(path, parse_dockerignore(DOCKERIGNORE.read_text())) is ignored


def test_a_later_exception_takes_a_path_back() -> None:
    patterns = parse_dockerignore("docs\n!docs/kiosk-*.md\n*.md\n")
    assert is_ignored("docs/architecture.md", patterns)
    assert not is_ignored("docs/kiosk-api.md", patterns)
    assert is_ignored("README.md", patterns)
    assert not is_ignored("frontend/README.md", patterns)
