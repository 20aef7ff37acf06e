"""Replaying the Dockerfile without Docker: every RUN of every stage, in a scratch directory.

No Docker engine runs on our machines, so the build is proven by doing what the builder does,
read from the Dockerfile itself: each stage gets a scratch root; FROM, ARG, ENV, WORKDIR, SHELL
and USER are applied in order; COPY brings what .dockerignore lets through, or another stage's
files; and every RUN runs with the stage's environment.

Paths. Container paths the build makes (WORKDIR, COPY destinations, the base images' stand-in
files) live in the stage's scratch root, and are rewritten to it wherever they appear in a RUN's
text or in the environment (`/app/.venv` becomes `<scratch>/<n>-builder/app/.venv`). Every other
path is the machine's: its Debian stands in for the base image's (/bin/sh, the shadow tools).
A variable naming a location (`*_DIR`, `*_ROOT`, `*_ENVIRONMENT`...) must point into the scratch
root when a RUN sees it, so that no step writes to the machine.

Base images are not pulled: tests/deploy/dockerfile_stand_ins.py says which machine files play
their part.

Confinement. A RUN may only start programs the replay can keep inside the scratch directory:
the build's own products and stand-ins, a few shell builtins, the shadow tools, which get
`--prefix <scratch root>` so users land in the stage's /etc, never the machine's, and apt-get and
rm (tests/deploy/dockerfile_packages.py: the machine's Debian packages unpacked into the stage,
removals inside the scratch directory only). Those need
root, or a user namespace where we are root (`unshare --user --map-root-user`); with neither, that
RUN is reported as not executed rather than faked. Anything else fails, naming the program.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.dockerfile_packages import installed_files, write_shims
from tests.deploy.dockerfile_stand_ins import STAND_INS, split_image, uv_cache_directory
from tests.deploy.dockerignore import context_files, parse_dockerignore
from tests.deploy.support import Instruction, Stage, global_arguments, parse_dockerfile

SHELL_BUILTINS = frozenset({"cd", "true", ":", "set", "export", "test", "[", "echo"})
SHADOW_TOOLS = frozenset({"groupadd", "useradd", "groupmod", "usermod"})
# Directories the base image owns: a COPY into one claims only the entries it creates there.
SYSTEM_DIRECTORIES = frozenset(
    {"/", "/bin", "/sbin", "/etc", "/usr", "/usr/bin", "/usr/sbin", "/usr/local"}
    | {"/usr/local/bin", "/usr/local/sbin", "/lib", "/opt", "/tmp", "/var"}  # noqa: S108
)
#: What the replay changes in a stage's environment. UV_NO_CACHE keeps the image's layer small;
#: the replay uses the machine's package cache instead, so it needs no download when the cache
#: holds the locked wheels. What gets installed comes from uv.lock either way.
REPLAY_UNSET = frozenset({"UV_NO_CACHE"})
LOCATION_SUFFIXES = ("_DIR", "_ROOT", "_ENVIRONMENT", "_HOME", "_PREFIX")
METADATA = frozenset(
    {"CMD", "ENTRYPOINT", "EXPOSE", "LABEL", "HEALTHCHECK", "STOPSIGNAL", "VOLUME"}
)


@dataclass
class StageRoot:
    """One stage's scratch filesystem and what the Dockerfile has set so far."""

    name: str
    root: Path
    env: dict[str, str]
    args: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    shell: list[str] = field(default_factory=lambda: ["/bin/sh", "-c"])
    user: str | None = None
    #: Container paths the build (or a stand-in) made: they live under `root`.
    claimed: set[str] = field(default_factory=set)

    def is_claimed(self, path: str) -> bool:
        return any(path == top or path.startswith(top.rstrip("/") + "/") for top in self.claimed)

    def host(self, path: str) -> Path:
        """Where a container path is during the replay: the scratch root, or the machine."""
        path = posixpath.normpath(posixpath.join(self.workdir, path))
        return self.root / path.lstrip("/") if self.is_claimed(path) else Path(path)

    def claim(self, path: str) -> Path:
        self.claimed.add(posixpath.normpath(path))
        return self.host(path)

    def rewrite(self, text: str) -> str:
        """Claimed container paths in a command or a value, pointed into the scratch root."""
        tops = sorted(self.claimed - {"/"}, key=len, reverse=True)
        if not tops:
            return text
        pattern = r"(?<![\w.\-/])(" + "|".join(map(re.escape, tops)) + r")(?![\w.\-])"
        return re.sub(pattern, lambda match: str(self.host(match.group(1))), text)

    def search_path(self) -> str:
        """PATH with the stage's files in front of the machine's, directory by directory."""
        entries: list[str] = []
        for entry in self.variables().get("PATH", "").split(":"):
            mirror = self.root / entry.lstrip("/")
            if self.is_claimed(entry) or mirror.is_dir():
                entries.append(str(mirror))
            if not self.is_claimed(entry):
                entries.append(entry)
        return ":".join(dict.fromkeys(entries))

    def variables(self) -> dict[str, str]:
        """ARG values, then ENV (which wins), as RUN sees them inside the container."""
        return {**self.args, **self.env}

    def environment(self) -> dict[str, str]:
        """The environment a RUN gets in the replay: nothing of the test process leaks in."""
        mapped = {
            name: self.rewrite(value)
            for name, value in self.variables().items()
            if name not in REPLAY_UNSET
        }
        home = self.root / "root"
        home.mkdir(parents=True, exist_ok=True)
        return mapped | {
            "PATH": self.search_path(),
            "HOME": str(home),
            "UV_CACHE_DIR": uv_cache_directory(),
        }


def expand(text: str, variables: dict[str, str]) -> str:
    """Docker's substitution in ENV, ARG, WORKDIR and COPY: $X, ${X}, ${X:-d}, ${X:+v}."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        value = variables.get(name, "")
        if match.group("operator") == ":-":
            return value or match.group("word")
        if match.group("operator") == ":+":
            return match.group("word") if value else ""
        return value

    pattern = r"\$(?:\{(?P<braced>\w+)(?:(?P<operator>:[-+])(?P<word>[^}]*))?\}|(?P<bare>\w+))"
    return re.sub(pattern, replace, text)


def assignments(arguments: str, variables: dict[str, str]) -> dict[str, str]:
    """`A=1 B="x y"` (or the legacy `A value`) with earlier values substituted."""
    words = shlex.split(arguments)
    if words and "=" not in words[0]:
        return {words[0]: expand(" ".join(words[1:]), variables)}
    found: dict[str, str] = {}
    for word in words:
        name, _, value = word.partition("=")
        found[name] = expand(value, variables | found)
    return found


def programs(shell_text: str) -> list[str]:
    """The program each simple command of a shell text starts (after its VAR=value prefix)."""
    assert "$(" not in shell_text, "command substitution cannot be confined"
    assert "`" not in shell_text, "command substitution cannot be confined"
    lexer = shlex.shlex(shell_text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in {"&&", "||", ";", "|", "&", "(", ")"}:
            commands.append([])
        else:
            commands[-1].append(token)
    found: list[str] = []
    for words in commands:
        program = next((word for word in words if not re.fullmatch(r"[A-Za-z_]\w*=.*", word)), None)
        if program is not None:
            found.append(program)
    return found


@dataclass
class RunRecord:
    stage: str
    command: str
    executed: bool
    #: Why a RUN was not executed, or how long it took.
    note: str


@dataclass
class Replay:
    """Replays a Dockerfile's stages in order under `scratch`, keeping each stage's root."""

    context: Path
    scratch: Path
    stages: dict[str, StageRoot] = field(default_factory=dict)
    runs: list[RunRecord] = field(default_factory=list)
    #: The build context: what .dockerignore lets through, relative to `context`.
    kept: list[str] = field(default_factory=list)
    #: ARGs declared before the first FROM, with their defaults.
    global_args: dict[str, str] = field(default_factory=dict)

    def build(self, dockerfile: str, ignore_text: str) -> None:
        self.kept = list(context_files(self.context, parse_dockerignore(ignore_text)))
        self.global_args = global_arguments(dockerfile)
        for index, stage in enumerate(parse_dockerfile(dockerfile)):
            current = self.start(stage, index)
            for instruction in stage.instructions:
                self.apply(current, instruction)
            self.stages[current.name] = current

    def start(self, stage: Stage, index: int) -> StageRoot:
        name = stage.name or str(index)
        root = self.scratch / f"{index}-{name}"
        base = expand(stage.base, self.global_args)
        if base in self.stages:
            parent = self.stages[base]
            shutil.copytree(parent.root, root, symlinks=True)
            return StageRoot(
                name, root, dict(parent.env), dict(parent.args), parent.workdir,
                list(parent.shell), parent.user, set(parent.claimed),
            )  # fmt: skip
        return self.from_image(name, root, base)

    def from_image(self, name: str, root: Path, reference: str) -> StageRoot:
        repository, tag, _digest = split_image(reference)
        assert repository in STAND_INS, f"no stand-in for the image {reference}; add one"
        stand_in = STAND_INS[repository](tag)
        current = StageRoot(name, root, dict(stand_in.env))
        root.mkdir(parents=True)
        for path, target in stand_in.links.items():
            link = current.claim(path)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(target)
        for path, text in stand_in.seeded.items():
            seeded = current.claim(path)
            seeded.parent.mkdir(parents=True, exist_ok=True)
            seeded.write_text(text)
        for path in stand_in.directories:
            current.claim(path).mkdir(parents=True, exist_ok=True)
        return current

    def apply(self, stage: StageRoot, instruction: Instruction) -> None:
        keyword, arguments = instruction.keyword, instruction.arguments
        if keyword == "ENV":
            stage.env |= assignments(arguments, stage.variables())
        elif keyword == "ARG":
            for word in shlex.split(arguments):
                name, given, default = word.partition("=")
                # A bare `ARG NAME` inside a stage brings in the global default, if there is one.
                value = default if given else self.global_args.get(name, "")
                stage.args[name] = expand(value, stage.variables())
        elif keyword == "WORKDIR":
            path = posixpath.join(stage.workdir, expand(arguments, stage.variables()))
            stage.claim(path).mkdir(parents=True, exist_ok=True)
            stage.workdir = posixpath.normpath(path)
        elif keyword == "SHELL":
            stage.shell = json.loads(arguments)
        elif keyword == "USER":
            stage.user = arguments
        elif keyword in {"COPY", "ADD"}:
            self.copy(stage, instruction)
        elif keyword == "RUN":
            self.run(stage, instruction)
        else:
            assert keyword in METADATA, f"the replay does not know {keyword}"

    def copy(self, stage: StageRoot, instruction: Instruction) -> None:
        words = [expand(word, stage.variables()) for word in instruction.exec_form()]
        flags: dict[str, str] = {}
        for word in words:
            if word.startswith("--"):
                name, _, value = word[2:].partition("=")
                flags[name] = value
        *sources, destination = [word for word in words if not word.startswith("--")]
        assert not any("://" in source for source in sources), "ADD from a URL"
        target = posixpath.normpath(posixpath.join(stage.workdir, destination))
        into_directory = (
            destination.endswith("/") or len(sources) > 1 or stage.host(target).is_dir()
        )
        origin = self.origin(flags.get("from"))
        for source in sources:
            for relative, source_path in self.source_files(origin, source):
                if relative:  # a directory's content lands inside the target directory
                    directory, path = target, posixpath.join(target, relative)
                elif into_directory:
                    name = posixpath.basename(source.rstrip("/"))
                    directory, path = target, posixpath.join(target, name)
                else:
                    directory, path = posixpath.dirname(target), target
                self.place(stage, directory, path, source_path, link=origin is not None)

    def origin(self, name: str | None) -> StageRoot | None:
        """The stage (or image stand-in) a COPY --from reads; None for the build context."""
        if name is None:
            return None
        if name in self.stages:
            return self.stages[name]
        number = len(list(self.scratch.glob("image-*")))
        return self.from_image(f"image-{number}", self.scratch / f"image-{number}", name)

    def source_files(self, origin: StageRoot | None, source: str) -> list[tuple[str, Path]]:
        """(path relative to the source, file) pairs; "" when the source is a single file."""
        if origin is not None:
            path = origin.host(source)
            assert path.exists() or path.is_symlink(), f"{source} is not in that stage"
            if path.is_dir() and not path.is_symlink():
                return [
                    (item.relative_to(path).as_posix(), item)
                    for item in sorted(path.rglob("*"))
                    if item.is_symlink() or not item.is_dir()
                ]
            return [("", path)]
        prefix = posixpath.normpath(source).lstrip("/")
        if prefix == ".":
            return [(relative, self.context / relative) for relative in self.kept]
        inside = [item for item in self.kept if item.startswith(prefix + "/")]
        if inside:
            return [(item[len(prefix) + 1 :], self.context / item) for item in inside]
        assert prefix in self.kept, f"COPY {source}: not in the build context (.dockerignore?)"
        return [("", self.context / prefix)]

    def place(
        self, stage: StageRoot, directory: str, path: str, source: Path, *, link: bool
    ) -> None:
        """Copies one file to its container path, claiming what the build now owns there."""
        if stage.is_claimed(directory):
            destination = stage.host(path)
        elif directory in SYSTEM_DIRECTORIES:
            # Only the new entry is the build's: the rest of /bin stays the machine's.
            destination = stage.claim(path)
        else:
            destination = stage.claim(directory) / posixpath.relpath(path, directory)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.is_symlink() or destination.is_file():
            destination.unlink()
        if source.is_symlink():
            destination.symlink_to(os.readlink(source))
        elif link:
            # Between scratch stages a hard link costs no space; the repository's own files are
            # copied, so that no RUN can ever edit the working tree through a link.
            destination.hardlink_to(source)
        else:
            shutil.copy2(source, destination)

    def run(self, stage: StageRoot, instruction: Instruction) -> None:
        assert stage.user in {None, "root", "0", "0:0"}, "a RUN after USER: teach the replay"
        exec_form = instruction.arguments.startswith("[")
        text = instruction.arguments
        started = programs(text) if not exec_form else instruction.exec_form()[:1]
        needs_root = bool(SHADOW_TOOLS & set(started))
        become_root = root_command()
        if needs_root and become_root is None:
            reason = "neither root nor user namespaces: the shadow tools cannot run here"
            self.runs.append(RunRecord(stage.name, text, executed=False, note=reason))
            return
        for name, value in stage.variables().items():
            if name.endswith(LOCATION_SUFFIXES) and value.startswith("/"):
                assert stage.is_claimed(value), f"{name}={value} would write outside the replay"
        environment = stage.environment()
        shims = self.shadow_shims(stage, become_root or [])
        environment["PATH"] = f"{shims}:{environment['PATH']}"
        for program in started:
            self.assert_confined(stage, program, environment["PATH"])
        argv = (
            [stage.rewrite(word) for word in instruction.exec_form()]
            if exec_form
            else [*stage.shell, stage.rewrite(text)]
        )
        begun = time.monotonic()
        result = subprocess.run(  # noqa: S603 - the Dockerfile's own command, confined
            argv,
            cwd=stage.host(stage.workdir),
            env=environment,
            # Docker runs every RUN with umask 022: what a step creates is readable by all users.
            umask=0o022,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"RUN {text}\n{result.stdout}\n{result.stderr}"
        # What the replay's apt-get unpacked is the stage's from now on, as COPY's files are.
        for path in installed_files(stage.root):
            stage.claim(path)
        note = f"{time.monotonic() - begun:.1f} s"
        self.runs.append(RunRecord(stage.name, text, executed=True, note=note))

    def assert_confined(self, stage: StageRoot, program: str, search_path: str) -> None:
        if program in SHELL_BUILTINS or program in SHADOW_TOOLS:
            return
        found = shutil.which(stage.rewrite(program), path=search_path)
        inside = found is not None and Path(found).is_relative_to(self.scratch)
        assert inside, (
            f"a RUN starts {program}, which the replay cannot keep inside its scratch directory;"
            " teach tests/deploy/dockerfile_support.py how to confine it"
        )

    def shadow_shims(self, stage: StageRoot, become_root: list[str]) -> Path:
        """useradd & co. that write the stage's /etc (shadow's --prefix), never the machine's;
        apt-get and rm confined to the stage (dockerfile_packages.py)."""
        shims = self.scratch / "shims" / stage.name
        shims.mkdir(parents=True, exist_ok=True)
        write_shims(shims, root=stage.root, scratch=self.scratch)
        for tool in SHADOW_TOOLS:
            real = shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin")
            if real is None:
                continue
            command = shlex.join([*become_root, real, "--prefix", str(stage.root)])
            shim = shims / tool
            shim.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
            shim.chmod(0o755)
        return shims

    def container_path(self, host: Path) -> str | None:
        """The container path of a file in one of the stages' scratch roots."""
        for stage in self.stages.values():
            if host.is_relative_to(stage.root):
                return "/" + host.relative_to(stage.root).as_posix()
        return None

    def command(self, stage: StageRoot, argv: list[str]) -> list[str]:
        """A container command (CMD, a chart's command) as the machine runs it in the stage.

        A console script names its interpreter by absolute path; in the image that path is the
        same in every stage (COPY --from keeps it), so it is followed into this stage's copy.
        """
        program = shutil.which(stage.rewrite(argv[0]), path=stage.search_path())
        assert program is not None, f"{argv[0]} is not on the stage's PATH"
        arguments = [stage.rewrite(word) for word in argv[1:]]
        with Path(program).open("rb") as script:
            first_line = script.readline(512)
        if not first_line.startswith(b"#!"):
            return [program, *arguments]
        interpreter = first_line[2:].decode().split()[0]
        inside = self.container_path(Path(interpreter))
        return [str(stage.host(inside)) if inside else interpreter, program, *arguments]


@functools.cache
def root_command() -> list[str] | None:
    """How to run a command as root over our own files: nothing if we are root, else a user
    namespace that maps us to root; None when neither is possible here."""
    if os.geteuid() == 0:
        return []
    become = ["unshare", "--user", "--map-root-user"]
    if shutil.which("unshare") is None:
        return None
    probe = subprocess.run([*become, "true"], capture_output=True, check=False)  # noqa: S603
    return become if probe.returncode == 0 else None
