"""Typed helpers shared by the deployment tests: paths, Dockerfile parsing, chart rendering."""

from __future__ import annotations

import json
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


def parse_dockerfile(text: str) -> list[Stage]:
    """Split a Dockerfile into build stages (enough of the grammar for our own file)."""
    logical_lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        # Comments and blank lines may appear inside a continued instruction; Docker drops them.
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical_lines.append(pending + stripped)
        pending = ""
    if pending:
        logical_lines.append(pending)

    stages: list[Stage] = []
    for line in logical_lines:
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        arguments = " ".join(arguments.split())
        if keyword == "FROM":
            words = arguments.split()
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
        # The application is the first positional argument: module:callable.
        target = next(word for word in argv[1:] if ":" in word and not word.startswith("-"))
        return [module_file(target.partition(":")[0])]
    if program == "celery":
        app_module = argv[argv.index("-A") + 1]
        # `celery -A customerinfo` imports customerinfo and finds the app in customerinfo.celery.
        return [module_file(app_module), module_file(f"{app_module}.celery")]
    if program.startswith("python") and len(argv) >= 2 and argv[1] == "manage.py":
        return ["manage.py", *(f"command:{argv[2]}" for _ in argv[2:3])]
    raise AssertionError(f"no rule for the files {argv} needs; teach files_referenced_by")


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
        matches = [
            item
            for item in self.of_kind(kind)
            if item["metadata"]["labels"].get("app.kubernetes.io/component") == component
        ]
        assert len(matches) == 1, f"expected one {kind} for {component}, found {len(matches)}"
        return matches[0]


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


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Manifest) -> Iterator[dict[str, Any]]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


# What auto-deploy-image's `deploy` passes to `helm upgrade --install` for a production release
# of project 4242 (plus ingress annotations a project adds through HELM_UPGRADE_EXTRA_ARGS).
GITLAB_RELEASE = "production"
GITLAB_AUTO_DEPLOY_SET_FLAGS = [
    "gitlab.app=acme-customerinfo",
    "gitlab.env=production",
    "gitlab.envName=production",
    "gitlab.envURL=https://acme-customerinfo.apps.example.net",
    "gitlab.projectID=4242",
    "service.enabled=true",
    f"releaseOverride={GITLAB_RELEASE}",
    "image.repository=registry.gitlab.com/acme/customerinfo/main",
    "image.tag=3f2c9e1b7a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b",
    "image.pullPolicy=IfNotPresent",
    "image.secrets[0].name=gitlab-registry-acme-customerinfo",
    "application.track=stable",
    "application.database_url=",
    f"application.secretName={GITLAB_RELEASE}-secret",
    "application.secretChecksum=9b74c9897bac770ffc029102a200c5de0a1f6f1a1b2c3d4e5f60718293a4b5c6",
    "service.commonName=le-4242.apps.example.net",
    "service.url=https://acme-customerinfo.apps.example.net",
    "service.additionalHosts={signup.acme.example}",
    "replicaCount=3",
    "postgresql.enabled=false",
    "application.migrateCommand=",
    "application.initializeCommand=",
    "ingress.modSecurity.enabled=false",
    "ingress.modSecurity.secRuleEngine=DetectionOnly",
    "ingress.tls.enabled=true",
    "ingress.tls.secretName=acme-customerinfo-wildcard-tls",
    r"ingress.annotations.cert-manager\.io/cluster-issuer=letsencrypt-dns01",
    r"ingress.annotations.nginx\.ingress\.kubernetes\.io/ssl-redirect=true",
    r"ingress.annotations.nginx\.ingress\.kubernetes\.io/proxy-body-size=8",
]
