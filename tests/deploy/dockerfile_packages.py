"""`apt-get` and `rm` in the Dockerfile's replay: Debian packages from this machine, installed
under the stage's scratch root, and removals that cannot leave it.

No package index is reached. `apt-get update` writes the stage's package list: the packages this
machine has installed, with their versions, which are the only ones the replay can install (the
machine is Debian bookworm, like the base image). `apt-get install -y --no-install-recommends
P...` then does what apt and dpkg do in the image, from the machine's copies: every named package,
and each dependency the base image lacks, gets its files (dpkg's own list of them) under the
stage's root, its stanza in /var/lib/dpkg/status and its file list in /var/lib/dpkg/info. A package
the machine lacks, a version other than the machine's, or an install before `apt-get update`
fails the RUN as apt would ("Unable to locate package"). The base image's packages are modelled
as a minimal Debian base: every Essential or Priority: required package and what they depend on.
Options the stand-in does not implement (recommends, purge, upgrade...) fail the RUN by name.

`rm` runs only on operands inside the scratch directory; anything else fails the RUN.

Each shim runs this file as a script (`python dockerfile_packages.py apt-get <root> ARGS`), so
it imports nothing but the standard library.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DPKG_QUERY = "/usr/bin/dpkg-query"
#: The stage's package list, written by `apt-get update`.
PACKAGE_LIST = "var/lib/apt/lists/replay_machine-packages"
APT_OPTIONS = frozenset({"-y", "--yes", "-q", "-qq", "--quiet", "--no-install-recommends"})


def write_shims(shims: Path, *, root: Path, scratch: Path) -> None:
    """`apt-get` for the stage at `root`, `rm` confined to `scratch`, in the folder `shims`."""
    script = shlex.quote(str(Path(__file__).resolve()))
    python = shlex.quote(sys.executable)
    for tool, bound in (("apt-get", root), ("rm", scratch)):
        shim = shims / tool
        shim.write_text(
            f'#!/bin/sh\nexec {python} {script} {tool} {shlex.quote(str(bound))} "$@"\n'
        )
        shim.chmod(0o755)


def installed_files(root: Path) -> list[str]:
    """Container paths of every file the replay's apt-get installed in a stage."""
    found: list[str] = []
    for listing in sorted((root / "var/lib/dpkg/info").glob("*.list")):
        found += [line for line in listing.read_text().splitlines() if line.startswith("/")]
    return [path for path in found if not (root / path.lstrip("/")).is_dir()]


# --------------------------------------------------------------------------- the machine's dpkg


def _query(*arguments: str) -> str:
    return subprocess.run(  # noqa: S603 - dpkg-query, fixed options
        [DPKG_QUERY, *arguments], capture_output=True, text=True, check=True
    ).stdout


@dataclass(frozen=True)
class Package:
    version: str
    #: Pre-Depends and Depends, as dpkg writes them.
    depends: str
    provides: tuple[str, ...]
    base: bool


FIELDS = (
    "${Package}\t${Version}\t${Pre-Depends}, ${Depends}\t${Provides}\t${Essential}\t${Priority}"
)


def _names(text: str) -> list[list[str]]:
    """`a (>= 1) | b:any, c` -> [["a", "b"], ["c"]]."""
    groups = [
        [re.sub(r"\(.*?\)|:\w+$", "", item.strip()).strip() for item in group.split("|")]
        for group in text.split(",")
    ]
    return [[name for name in group if name] for group in groups if any(group)]


def machine_packages() -> dict[str, Package]:
    """Everything installed here; `base` marks the Essential and required packages."""
    found: dict[str, Package] = {}
    for line in _query("-W", "-f", "${db:Status-Abbrev}\t" + FIELDS + "\n").splitlines():
        status, name, version, depends, provides, essential, priority = line.split("\t")
        if status.startswith("ii"):
            found[name] = Package(
                version=version,
                depends=depends,
                provides=tuple(group[0] for group in _names(provides)),
                base=essential == "yes" or priority == "required",
            )
    return found


def closure(names: list[str], installed: dict[str, Package]) -> list[str]:
    """`names` and everything they depend on (the first alternative installed here, a virtual
    package by what provides it), in the order found."""
    providers: dict[str, str] = {}
    for name, package in installed.items():
        for virtual in package.provides:
            providers.setdefault(virtual, name)
    found: list[str] = []
    pending = list(names)
    while pending:
        name = pending.pop(0)
        if name in found:
            continue
        found.append(name)
        for group in _names(installed[name].depends):
            present = [item for item in group if item in installed] or [
                providers[item] for item in group if item in providers
            ]
            assert present, f"{name} needs one of {group}, which this machine lacks"
            pending.append(present[0])
    return found


def base_image_packages(installed: dict[str, Package]) -> set[str]:
    """A minimal Debian base: the Essential and required packages and their dependencies."""
    return set(closure([name for name, item in installed.items() if item.base], installed))


# ------------------------------------------------------------------------------------- apt-get


def _fail(message: str, code: int = 100) -> int:
    print(message, file=sys.stderr)
    return code


def apt_get(root: Path, argv: list[str]) -> int:
    options = {word for word in argv if word.startswith("-")}
    words = [word for word in argv if not word.startswith("-")]
    unknown = sorted(options - APT_OPTIONS)
    if unknown or not words or words[0] not in {"update", "install"}:
        return _fail(
            f"apt-get {shlex.join(argv)}: the replay stands in for update and install only, "
            "without these options: teach tests/deploy/dockerfile_packages.py",
            code=2,
        )
    command, *packages = words
    package_list = root / PACKAGE_LIST
    if command == "update":
        package_list.parent.mkdir(parents=True, exist_ok=True)
        listed = machine_packages()
        package_list.write_text(
            "".join(f"{name}\t{item.version}\n" for name, item in listed.items())
        )
        return 0
    if not {"-y", "--yes"} & options:
        return _fail("apt-get install without -y waits for an answer no build gives", code=1)
    if "--no-install-recommends" not in options:
        return _fail("the replay installs without recommends only: add --no-install-recommends")
    return _install(root, package_list, packages)


def _install(root: Path, package_list: Path, packages: list[str]) -> int:
    if not package_list.is_file():
        return _fail(f"E: Unable to locate package {packages[0]} (no apt-get update before)")
    available = dict(line.split("\t") for line in package_list.read_text().splitlines())
    names: list[str] = []
    for requested in packages:
        name, _, version = requested.partition("=")
        # apt matches a version pattern (`=15.*`) as a glob.
        if name not in available or not fnmatch.fnmatchcase(available[name], version or "*"):
            return _fail(
                f"E: Unable to locate package {requested}: the replay installs this machine's "
                f"packages (apt-get install {name} here), at the version installed here"
            )
        names.append(name)
    installed = machine_packages()
    base = base_image_packages(installed)
    done = _installed_in_stage(root)
    for package in closure(names, installed):
        if package not in base and package not in done:
            _unpack(root, package)
            print(f"Setting up {package} ({available[package]}) ...")
    return 0


def _installed_in_stage(root: Path) -> set[str]:
    return {path.stem for path in (root / "var/lib/dpkg/info").glob("*.list")}


def _unpack(root: Path, package: str) -> None:
    """The package's files, dpkg status stanza and file list under `root`."""
    paths = [line for line in _query("-L", package).splitlines() if line.startswith("/")]
    for path in paths:
        source, target = Path(path), root / path.lstrip("/")
        if source.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink() or target.exists():
                target.unlink()
            target.symlink_to(os.readlink(source))
        elif source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True, exist_ok=True)
    (info / f"{package}.list").write_text("".join(f"{path}\n" for path in paths))
    with (root / "var/lib/dpkg/status").open("a") as status:
        status.write(_query("-s", package).rstrip("\n") + "\n\n")


# ------------------------------------------------------------------------------------------ rm


def rm(scratch: Path, argv: list[str]) -> int:
    operands = [word for word in argv if not word.startswith("-")]
    for operand in operands:
        path = Path(os.path.realpath(Path(operand).absolute().parent)) / Path(operand).name
        if not path.is_relative_to(scratch):
            return _fail(f"rm {operand}: outside the replay's scratch directory", code=1)
    return subprocess.run(["/bin/rm", *argv], check=False).returncode  # noqa: S603 - checked


if __name__ == "__main__":
    tool, bound, *arguments = sys.argv[1:]
    handler = {"apt-get": apt_get, "rm": rm}[tool]
    sys.exit(handler(Path(bound), arguments))
