"""The image's build, replayed without Docker from the Dockerfile itself.

What is executed: every RUN of every stage, as the Dockerfile writes it, by /bin/sh, with that
stage's ENV, ARG defaults and WORKDIR, in a scratch copy of the build context (what .dockerignore
lets through; COPY --from takes the earlier stage's scratch files). Here that is
`uv sync --frozen --no-dev` (the machine's uv, from its package cache: UV_NO_CACHE is the one
variable the replay leaves out), `manage.py collectstatic` under production settings in build
mode with no secret given, groupadd/useradd, run for real with `--prefix` so that they edit
the stage's own /etc: as root, or as root of a user namespace (`unshare --user`), and the final
stage's apt-get RUN, whose `rm -rf /var/lib/apt/lists/*` runs for real on the stage's copy.

What is not executed, and why: base images cannot be pulled here, so the interpreter running the
tests and the machine's uv stand in for them (tests/deploy/dockerfile_stand_ins.py). No package
index is reached either: apt-get installs this machine's own Debian packages (the same bookworm
as the image), unpacking each named package and the dependencies a minimal Debian lacks into
the stage, as dpkg would (tests/deploy/dockerfile_packages.py); a package the machine lacks
fails the RUN, as an unknown package fails apt. On a
machine with neither root nor user namespaces the user-creating RUN cannot run: it is reported
as not executed, the /etc/passwd test is skipped saying so, and test_dockerfile.py still reads
its UID from the shell text and compares it with the chart's.

Then the result is checked: the venv holds exactly the locked runtime packages, static files
have production's manifest, the app user can read its code and exists with the chart's UID, and
the final stage's own command, with the final stage's ENV, loads the application with its
secrets and refuses to start without them or with the build switch.

The replay takes about ten seconds; it runs once per test run, shared by the xdist workers.
Deselect it while iterating with `-m "not slow"`.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import pickle
import re
import secrets
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

from tests.deploy.dockerfile_packages import installed_files, write_shims
from tests.deploy.dockerfile_stand_ins import uv_binary
from tests.deploy.dockerfile_support import SHADOW_TOOLS, Replay, StageRoot, programs
from tests.deploy.support import (
    APP_UID,
    DOCKERFILE,
    DOCKERIGNORE,
    REPO_ROOT,
    Stage,
    files_referenced_by,
    parse_dockerfile,
)

pytestmark = pytest.mark.slow

# What a deployment gives the container (the chart's secret); none of these reaches a server.
RUNTIME_SECRETS = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "DATABASE_URL": "postgres://customerinfo@127.0.0.1:5432/customerinfo",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "CRM_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    "STRIPE_SECRET_KEY": "sk_test_replay",
    "STRIPE_WEBHOOK_SECRET": "whsec_replay",
    "METRICS_TOKEN": secrets.token_urlsafe(32),
}


def _replay(scratch: Path) -> Replay:
    replay = Replay(context=REPO_ROOT, scratch=scratch)
    replay.build(DOCKERFILE.read_text(), DOCKERIGNORE.read_text())
    return replay


@pytest.fixture(scope="session")
def replay(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Replay:
    """One replay per test run: the first xdist worker builds it, the others read its result."""
    if worker_id == "master":
        return _replay(tmp_path_factory.mktemp("dockerfile-replay"))
    shared = tmp_path_factory.getbasetemp().parent / "dockerfile-replay"
    shared.mkdir(exist_ok=True)
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = shared / "replay.pickle"
        if saved.exists():
            # Written a moment ago by another worker of this same run, in our own temp folder.
            loaded: Replay = pickle.loads(saved.read_bytes())  # noqa: S301
            return loaded
        # A folder of this worker's own: a replay that failed in another worker left its half.
        built = _replay(shared / f"scratch-{worker_id}")
        saved.write_bytes(pickle.dumps(built))
        return built


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture
def final(replay: Replay, stages: list[Stage]) -> StageRoot:
    return replay.stages[stages[-1].name or str(len(stages) - 1)]


def test_every_run_of_every_stage_is_replayed(replay: Replay, stages: list[Stage]) -> None:
    expected = [
        (stage.name or str(index), item.arguments)
        for index, stage in enumerate(stages)
        for item in stage.all("RUN")
    ]
    assert [(run.stage, run.command) for run in replay.runs] == expected
    # Only a user-creating RUN may be left out, and only for want of root (see the docstring).
    for run in replay.runs:
        assert run.executed or SHADOW_TOOLS & set(programs(run.command)), run


def _locked_runtime_packages() -> dict[str, str]:
    """uv.lock's runtime packages (no dev group) that apply to this Linux and this Python."""
    exported = subprocess.run(  # noqa: S603 - fixed argv
        [str(uv_binary()), "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    packages: dict[str, str] = {}
    for line in exported.stdout.splitlines():
        if not line or line.startswith((" ", "#")):
            continue
        requirement, _, marker = line.partition(";")
        name, _, version = requirement.strip().partition("==")
        if not marker.strip() or Marker(marker.strip()).evaluate():
            packages[canonicalize_name(name)] = version
    return packages


def test_the_venv_holds_exactly_the_locked_runtime_packages(final: StageRoot) -> None:
    site_packages = next(final.host("/app/.venv/lib").glob("python3.*/site-packages"))
    installed = {
        canonicalize_name(distribution.metadata["Name"]): distribution.version
        for distribution in metadata.distributions(path=[str(site_packages)])
    }
    assert installed == _locked_runtime_packages()
    assert {"gunicorn", "celery", "django", "whitenoise"} <= installed.keys()


def test_static_files_are_collected_with_production_s_manifest(
    replay: Replay, final: StageRoot
) -> None:
    static_root = final.host(final.env["STATIC_ROOT"])
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    ours = [
        item.removeprefix("frontend/static/")
        for item in replay.kept
        if item.startswith("frontend/static/")
    ]
    assert ours
    assert not [item for item in ours if item not in manifest]
    assert "admin/css/base.css" in manifest
    assert all((static_root / hashed).is_file() for hashed in manifest.values())


def test_the_image_holds_what_its_command_needs_and_no_development_tree(
    final: StageRoot, stages: list[Stage]
) -> None:
    command = stages[-1].last("CMD")
    assert command is not None
    for needed in files_referenced_by(command.exec_form()):
        assert final.host(f"{final.workdir}/{needed}").is_file(), needed
    for left_out in ("tests", "bench", "helm", "docs", ".git", ".venv/bin/pytest"):
        assert not final.host(f"{final.workdir}/{left_out}").exists(), left_out


def test_the_app_user_can_read_everything_in_the_app_folder(final: StageRoot) -> None:
    """The code belongs to root and the app user is "other": it needs the other-read bits (and
    other-execute on folders), or the server fails on a file a checkout left private."""
    folder = final.host(final.workdir)
    closed = [path for path in folder.rglob("*") if not _open_to_others(path)]
    assert not closed, closed[:10]


def _open_to_others(path: Path) -> bool:
    if path.is_symlink():
        return True  # a link has no mode of its own; a target inside the folder is checked
    needed = 0o005 if path.is_dir() else 0o004
    return path.stat().st_mode & needed == needed


def test_the_venv_interpreter_is_the_final_stage_s_own(replay: Replay, final: StageRoot) -> None:
    """The venv links to the base image's interpreter, which the final stage has too (a Python
    that uv downloaded into the builder would be left behind by COPY --from)."""
    target = Path(os.readlink(final.host("/app/.venv/bin/python")))
    inside = replay.container_path(target)
    assert inside is not None, f"the venv's interpreter {target} is not the base image's"
    assert final.host(inside).exists()


def test_the_user_created_is_the_chart_s_user(replay: Replay, final: StageRoot) -> None:
    creating = next(run for run in replay.runs if "useradd" in run.command)
    if not creating.executed:
        pytest.skip(creating.note)
    assert final.user is not None
    uid, _, gid = final.user.partition(":")
    accounts = [line.split(":") for line in final.host("/etc/passwd").read_text().splitlines()]
    (account,) = [entry for entry in accounts if entry[2] == uid]
    assert int(uid) == APP_UID
    assert account[3] == gid
    assert account[5:] == [final.workdir, "/usr/sbin/nologin"]
    groups = [line.split(":") for line in final.host("/etc/group").read_text().splitlines()]
    assert [entry[0] for entry in groups if entry[2] == gid] == [account[0]]


def _dpkg_status(stage: StageRoot) -> dict[str, str]:
    """Package -> version, from the stage's /var/lib/dpkg/status."""
    text = (stage.root / "var/lib/dpkg/status").read_text()
    found: dict[str, str] = {}
    for stanza in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line)
        if "Package" in fields:
            found[fields["Package"]] = fields["Version"]
    return found


def _client_major(stages: list[Stage]) -> int:
    runs = " ".join(item.arguments for item in stages[-1].all("RUN"))
    found = re.search(r"postgresql-client-(\d+)", runs)
    assert found, "the final stage installs no PostgreSQL client"
    return int(found.group(1))


def test_postgresql_s_client_is_installed_alone_and_small(
    final: StageRoot, stages: list[Stage]
) -> None:
    major = _client_major(stages)
    packages = _dpkg_status(final)
    assert packages[f"postgresql-client-{major}"].startswith(f"{major}.")
    assert packages["libpq5"].startswith(f"{major}.")
    # The client alone: no server, no documentation package, nothing recommended.
    assert not {f"postgresql-{major}", "postgresql", f"postgresql-doc-{major}"} & packages.keys()
    # The package lists are gone from the layer.
    assert list(final.host("/var/lib/apt/lists").iterdir()) == []
    # Perl, which Debian's pg_wrapper needs, is most of it; the python image may have the rest.
    installed = [final.root / path.lstrip("/") for path in installed_files(final.root)]
    size = sum(path.lstat().st_size for path in installed)
    assert size < 100 * 1024 * 1024, f"{size / 1024 / 1024:.0f} MiB of packages"


@pytest.mark.parametrize("tool", ["pg_dump", "pg_restore"])
def test_the_client_tools_run_in_the_replayed_image(
    final: StageRoot, stages: list[Stage], tool: str
) -> None:
    """What backup_create finds on PATH is the image's wrapper; the binary it starts runs with
    the image's own libpq and reports the pinned major."""
    major = _client_major(stages)
    on_path = shutil.which(tool, path=final.search_path())
    assert on_path == str(final.host(f"/usr/bin/{tool}"))
    assert Path(on_path).resolve().is_relative_to(final.root)  # Debian's pg_wrapper
    binary = final.host(f"/usr/lib/postgresql/{major}/bin/{tool}")
    assert binary.is_relative_to(final.root)
    (libpq,) = [path for path in installed_files(final.root) if path.endswith("/libpq.so.5")]
    environment = {"LD_LIBRARY_PATH": str(final.host(libpq).parent), "PATH": "/usr/bin:/bin"}
    version = subprocess.run(  # noqa: S603 - the image's own binary
        [str(binary), "--version"], env=environment, capture_output=True, text=True, check=True
    )
    assert re.fullmatch(rf"{tool} \(PostgreSQL\) {major}\.\d+ .*\n", version.stdout)
    linked = subprocess.run(  # noqa: S603 - fixed argv
        ["/usr/bin/ldd", str(binary)], env=environment, capture_output=True, text=True, check=True
    )
    (line,) = [line for line in linked.stdout.splitlines() if "libpq.so.5" in line]
    assert str(final.root) in line, line


def _start_checking(
    replay: Replay, final: StageRoot, stages: list[Stage], extra: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The final stage's CMD with its ENV (plus `extra`), as far as loading the application."""
    command = stages[-1].last("CMD")
    assert command is not None
    return subprocess.run(  # noqa: S603 - the image's own command
        replay.command(final, [*command.exec_form(), "--check-config"]),
        cwd=final.host(final.workdir),
        env=final.environment() | extra,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_default_command_loads_with_its_secrets(
    replay: Replay, final: StageRoot, stages: list[Stage]
) -> None:
    result = _start_checking(replay, final, stages, RUNTIME_SECRETS)
    assert result.returncode == 0, result.stderr


def test_the_default_command_refuses_to_start_without_its_secrets(
    replay: Replay, final: StageRoot, stages: list[Stage]
) -> None:
    result = _start_checking(replay, final, stages, {})
    assert result.returncode != 0
    assert "Set the SECRET_KEY environment variable" in result.stderr


def test_the_build_switch_cannot_start_the_server(
    replay: Replay, final: StageRoot, stages: list[Stage]
) -> None:
    result = _start_checking(replay, final, stages, {"CUSTOMERINFO_BUILD": "1"})
    assert result.returncode != 0
    assert "CUSTOMERINFO_BUILD=1 only runs `manage.py collectstatic`" in result.stderr


def _shim(tmp_path: Path, tool: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """The replay's apt-get (for a stage rooted at tmp_path/root) or rm (confined to tmp_path)."""
    shims = tmp_path / "shims"
    shims.mkdir(exist_ok=True)
    (tmp_path / "root").mkdir(exist_ok=True)
    write_shims(shims, root=tmp_path / "root", scratch=tmp_path)
    return subprocess.run(  # noqa: S603 - our own shim
        [str(shims / tool), *arguments], capture_output=True, text=True, check=False
    )


def test_the_replay_s_rm_refuses_paths_outside_its_scratch_directory(tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    refused = _shim(tmp_path, "rm", "-rf", str(outside), str(tmp_path / "root" / ".." / ".."))
    assert refused.returncode == 1
    assert "outside the replay's scratch directory" in refused.stderr
    assert outside.is_dir()
    inside = tmp_path / "root" / "var/lib/apt/lists/some-list"
    inside.parent.mkdir(parents=True)
    inside.write_text("")
    assert _shim(tmp_path, "rm", "-rf", str(inside.parent) + "/some-list").returncode == 0
    assert not inside.exists()


def test_the_replay_s_apt_get_fails_where_apt_would(tmp_path: Path) -> None:
    install = ["install", "-y", "--no-install-recommends"]
    before_update = _shim(tmp_path, "apt-get", *install, "postgresql-client-15")
    assert before_update.returncode == 100
    assert "Unable to locate package" in before_update.stderr
    assert _shim(tmp_path, "apt-get", "update").returncode == 0
    for unknown in ("no-such-package-here", "postgresql-client-15=14.*"):
        missing = _shim(tmp_path, "apt-get", *install, unknown)
        assert missing.returncode == 100, unknown
        assert f"Unable to locate package {unknown}" in missing.stderr
    with_recommends = _shim(tmp_path, "apt-get", "install", "-y", "postgresql-client-15")
    assert with_recommends.returncode != 0
    unsupported = _shim(tmp_path, "apt-get", "dist-upgrade", "-y")
    assert "teach tests/deploy/dockerfile_packages.py" in unsupported.stderr
    # Nothing was unpacked by any of them.
    assert not (tmp_path / "root" / "usr").exists()
