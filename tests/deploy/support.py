"""Typed helpers shared by the deployment tests: paths, Dockerfile parsing, chart rendering."""

from __future__ import annotations

import json
import re
import shlex
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django
import helm_python as helm
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
GITLAB_CI = REPO_ROOT / ".gitlab-ci.yml"
CHART_DIR = REPO_ROOT / "helm"
# Console scripts of the project's virtualenv (hadolint, check-jsonschema, gunicorn, celery).
VENV_BIN = Path(sys.executable).parent

# The Dockerfile's non-root user; the chart's security contexts must use the same one.
APP_UID = 10001

Manifest = dict[str, Any]


def venv_executable(name: str) -> Path:
    """A console script installed next to the running interpreter, or fail the test."""
    path = VENV_BIN / name
    assert path.is_file(), f"{name} is not installed in {VENV_BIN} (uv sync --frozen)"
    return path


def require_application_file(relative: str) -> Path:
    """Path of an application file a deployment file refers to."""
    return REPO_ROOT / relative


# --------------------------------------------------------------------------------- Dockerfile


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        """CMD/ENTRYPOINT/RUN arguments as argv: JSON (exec) form or shell words."""
        if self.arguments.startswith("["):
            parsed: list[str] = json.loads(self.arguments)
            return parsed
        return shlex.split(self.arguments)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [item for item in self.instructions if item.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


def _instructions(text: str) -> list[Instruction]:
    """Every instruction, continuation lines joined (enough of the grammar for our own file)."""
    logical_lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        # Comments and blank lines may appear inside a continued instruction; Docker drops them.
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        logical_lines.append(pending + stripped)
        pending = ""
    if pending:
        logical_lines.append(pending)
    found: list[Instruction] = []
    for line in logical_lines:
        keyword, _, arguments = line.partition(" ")
        # Kept as written: a RUN's quoted spaces are the shell's business.
        found.append(Instruction(keyword.upper(), arguments.strip()))
    return found


def global_arguments(text: str) -> dict[str, str]:
    """The ARGs before the first FROM, with their defaults: FROM lines may use them."""
    found: dict[str, str] = {}
    for instruction in _instructions(text):
        if instruction.keyword == "FROM":
            break
        assert instruction.keyword == "ARG", f"{instruction.keyword} before the first FROM"
        for word in shlex.split(instruction.arguments):
            name, _, default = word.partition("=")
            found[name] = default
    return found


def parse_dockerfile(text: str) -> list[Stage]:
    """Split a Dockerfile into build stages."""
    stages: list[Stage] = []
    for instruction in _instructions(text):
        keyword, arguments = instruction.keyword, instruction.arguments
        if keyword == "FROM":
            words = [word for word in arguments.split() if not word.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif keyword == "ARG" and not stages:
            continue  # global build arguments precede the first FROM
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append(Instruction(keyword, arguments))
    return stages


# ------------------------------------------------------------------------------ Commands


def module_file(module: str) -> str:
    """Repository-relative file that provides a dotted module: a.b -> a/b.py (or package)."""
    path = module.replace(".", "/")
    if (REPO_ROOT / path / "__init__.py").is_file():
        return f"{path}/__init__.py"
    return f"{path}.py"


def files_referenced_by(argv: list[str]) -> list[str]:
    """What a process command needs: repository files, or `command:<name>` for manage.py."""
    program = Path(argv[0]).name
    if program == "gunicorn":
        return _gunicorn_files(argv[1:])
    if program == "celery":
        app_module = argv[argv.index("-A") + 1]
        # `celery -A customerinfo` imports customerinfo and finds the app in customerinfo.celery.
        return [module_file(app_module), module_file(f"{app_module}.celery")]
    if program.startswith("python") and len(argv) >= 2 and argv[1] == "manage.py":
        return ["manage.py", *(f"command:{argv[2]}" for _ in argv[2:3])]
    if program.startswith("python") and len(argv) >= 3 and argv[1] == "-m":
        return [module_file(argv[2])]
    raise AssertionError(f"no rule for the files {argv} needs; teach files_referenced_by")


def _option_value(arguments: list[str], *names: str) -> str | None:
    """The value of `--name value` or `--name=value` among a command's arguments."""
    for index, word in enumerate(arguments):
        if word in names and index + 1 < len(arguments):
            return arguments[index + 1]
        name, equals, value = word.partition("=")
        if equals and name in names:
            return value
    return None


def _gunicorn_files(arguments: list[str]) -> list[str]:
    """The application module (module:callable), and the config file or module if one is named."""
    config = _option_value(arguments, "-c", "--config")
    application = next(
        word
        for word in arguments
        if re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", word) and word != config
    )
    needed = [module_file(application.partition(":")[0])]
    if config is not None:
        module = config.removeprefix("python:")
        needed.append(module_file(module) if module != config else config.removeprefix("file:"))
    return needed


def _management_command_files(name: str) -> list[Path]:
    """Modules defining a management command, in our apps or in installed Django apps."""
    site_packages = Path(django.__file__).resolve().parents[1]
    found: list[Path] = []
    for root in (REPO_ROOT, site_packages):
        for depth in range(3):
            pattern = "*/" * (depth + 1) + f"management/commands/{name}.py"
            found.extend(
                path
                for path in root.glob(pattern)
                if not {".venv", ".data", "node_modules"} & set(path.relative_to(root).parts)
            )
    return found


def assert_provided(requirement: str) -> None:
    """Fail unless a file (or a management command) from files_referenced_by exists."""
    if requirement.startswith("command:"):
        name = requirement.removeprefix("command:")
        assert _management_command_files(name), f"no management command named {name}"
    else:
        assert (REPO_ROOT / requirement).is_file(), f"{requirement} does not exist"


# ----------------------------------------------------------------------------- Helm chart


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge --set results the way repeated --set flags combine: later keys win."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def values_from_set_flags(flags: list[str]) -> dict[str, Any]:
    """Values from `--set key=value` expressions, parsed by Helm's own strvals parser."""
    values: dict[str, Any] = {}
    for flag in flags:
        values = deep_merge(values, helm.parse_set_string(flag))
    return values


@dataclass(frozen=True)
class Rendering:
    """One `helm template` of the chart: every rendered object, plus NOTES.txt."""

    values: dict[str, Any]
    manifests: list[Manifest]
    notes: str

    def of_kind(self, kind: str) -> list[Manifest]:
        return [item for item in self.manifests if item["kind"] == kind]

    def named(self, kind: str, name: str) -> Manifest:
        matches = [item for item in self.of_kind(kind) if item["metadata"]["name"] == name]
        assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
        return matches[0]

    def by_component(self, kind: str, component: str) -> Manifest:
        matches = self.all_of_component(kind, component)
        assert len(matches) == 1, f"expected one {kind} for {component}, found {len(matches)}"
        return matches[0]

    def all_of_component(self, kind: str, component: str) -> list[Manifest]:
        return [
            item
            for item in self.of_kind(kind)
            if item["metadata"]["labels"].get("app.kubernetes.io/component") == component
        ]

    def workloads(self) -> list[Manifest]:
        """Everything that runs the application's image (not a review app's Redis)."""
        return [
            item
            for item in self.of_kind("Deployment") + self.of_kind("Job")
            if item["metadata"]["labels"].get("app.kubernetes.io/name") == "customerinfo"
        ]


def render_chart(
    values: dict[str, Any], *, release: str, namespace: str, revision: int
) -> Rendering:
    with helm.Chart.load(CHART_DIR) as chart:
        rendered = chart.render(
            values,
            name=release,
            namespace=namespace,
            revision=revision,
            is_upgrade=revision > 1,
            is_install=revision == 1,
        )
    manifests: list[Manifest] = []
    notes = ""
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            notes = text
            continue
        manifests.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return Rendering(values=values, manifests=manifests, notes=notes)


def render_refusal(values: dict[str, Any], *, release: str, namespace: str) -> str:
    """The message of a chart that refuses to render (`fail` in a template)."""
    try:
        render_chart(values, release=release, namespace=namespace, revision=2)
    except helm.HelmError as error:
        return str(error)
    raise AssertionError("the chart rendered although it should have refused")


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Manifest) -> Iterator[dict[str, Any]]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def container_env(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item.get("value", "") for item in container.get("env", [])}


def ingress_hosts(ingress: Manifest) -> list[str]:
    return [rule["host"] for rule in ingress["spec"]["rules"]]


def is_canary_ingress(ingress: Manifest) -> bool:
    annotations: dict[str, str] = ingress["metadata"].get("annotations", {})
    return annotations.get("nginx.ingress.kubernetes.io/canary") == "true"
