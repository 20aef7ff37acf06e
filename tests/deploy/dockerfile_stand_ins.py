"""Base images, played by this machine: no registry is reached and no image is pulled.

Each stand-in says which machine files take an image's place and what environment the image
sets. The python image's interpreter is the one running the tests (the same minor version is
checked against the tag); its /etc is the machine's passwd and group, with locked shadow entries,
so the shadow tools have something to edit and no password hash leaves the machine's /etc. uv's
image is the machine's uv: its version may differ from the tag's by a patch release or more,
which `uv sync --frozen` tolerates as long as it reads the lock.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class StandIn:
    """Machine files that play a base image's part, and the image's own environment."""

    env: dict[str, str]
    links: dict[str, Path]
    seeded: dict[str, str] = field(default_factory=dict)
    #: Folders of the image's own, empty here: a RUN that names one works on the stage's copy.
    directories: tuple[str, ...] = ()


def uv_binary() -> Path:
    # `uv run` names itself in $UV; a plain pytest finds it on PATH or where its installer puts it.
    found = os.environ.get("UV") or shutil.which("uv") or str(Path.home() / ".local/bin/uv")
    assert Path(found).is_file(), "uv is needed to replay `uv sync` (see the README)"
    return Path(found)


@functools.cache
def uv_cache_directory() -> str:
    """The machine's uv cache (UV_CACHE_DIR in CI), which the replay installs from."""
    found = subprocess.run(  # noqa: S603 - fixed argv
        [str(uv_binary()), "cache", "dir"], capture_output=True, text=True, check=True
    )
    return found.stdout.strip()


def _locked_shadow(text: str, line: str) -> str:
    """shadow/gshadow with a locked entry per account: the machine's own hashes never leave /etc."""
    names = [entry.split(":", 1)[0] for entry in text.splitlines() if entry.strip()]
    return "".join(line.format(name) + "\n" for name in names)


def python_stand_in(tag: str) -> StandIn:
    """python:<version>-slim-bookworm: the interpreter of this test run, on the image's PATH."""
    wanted = tag.split("-", 1)[0]
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert wanted.startswith(running), f"the image's Python is {wanted}, the tests run {running}"
    interpreter = Path(getattr(sys, "_base_executable", sys.executable))
    passwd, group = Path("/etc/passwd").read_text(), Path("/etc/group").read_text()
    return StandIn(
        # The official image's PATH (its Dockerfile puts /usr/local/bin first) and locale.
        env={"PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"}
        | {"LANG": "C.UTF-8"},
        links={f"/usr/local/bin/{name}": interpreter for name in ("python", "python3")}
        | {f"/usr/local/bin/python{running}": interpreter},
        seeded={
            "/etc/passwd": passwd,
            "/etc/group": group,
            "/etc/shadow": _locked_shadow(passwd, "{}:*:19000:0:99999:7:::"),
            "/etc/gshadow": _locked_shadow(group, "{}:*::"),
            "/etc/login.defs": Path("/etc/login.defs").read_text(),
        },
        # apt's lists and dpkg's database: the replay's apt-get (dockerfile_packages.py) fills
        # them, and the Dockerfile's `rm -rf /var/lib/apt/lists/*` empties the stage's copy.
        directories=("/var/lib/apt/lists", "/var/lib/dpkg"),
    )


def uv_stand_in(tag: str) -> StandIn:
    """ghcr.io/astral-sh/uv: a distroless image holding /uv and /uvx."""
    uv = uv_binary()
    return StandIn(env={}, links={"/uv": uv, "/uvx": uv.with_name("uvx")})


STAND_INS = {"python": python_stand_in, "ghcr.io/astral-sh/uv": uv_stand_in}


def split_image(reference: str) -> tuple[str, str, str]:
    """`python:3.11-slim@sha256:ab…` -> ("python", "3.11-slim", "sha256:ab…")."""
    name, _, digest = reference.partition("@")
    repository, tag = name, ""
    if ":" in name.rsplit("/", 1)[-1]:
        repository, _, tag = name.rpartition(":")
    return repository.removeprefix("docker.io/library/"), tag, digest
