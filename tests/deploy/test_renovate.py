"""The Renovate configuration: valid against Renovate's schema, and covering what we ship."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from typing import Any

import pytest

from tests.deploy.support import REPO_ROOT, venv_executable

RENOVATE = REPO_ROOT / "renovate.json"


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(RENOVATE.read_text())
    return loaded


def _rule_for(config: dict[str, Any], package: str) -> dict[str, Any]:
    rules = [
        rule for rule in config["packageRules"] if package in rule.get("matchPackageNames", ())
    ]
    assert len(rules) == 1, f"expected one package rule naming {package}"
    rule: dict[str, Any] = rules[0]
    return rule


def test_validates_against_renovate_schema() -> None:
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [
            str(venv_executable("check-jsonschema")),
            "--builtin-schema",
            "vendor.renovate",
            str(RENOVATE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_kind_of_dependency_we_ship_has_its_manager(config: dict[str, Any]) -> None:
    """A manager left out of enabledManagers is silently never updated."""
    shipped = {
        "pep621": REPO_ROOT / "uv.lock",
        "dockerfile": REPO_ROOT / "Dockerfile",
        "gitlabci": REPO_ROOT / ".gitlab-ci.yml",
        "gitlabci-include": REPO_ROOT / ".gitlab-ci.yml",
        "helm-values": REPO_ROOT / "helm" / "values.yaml",
    }
    for manager, path in shipped.items():
        assert path.is_file(), path
        assert manager in config["enabledManagers"], manager
    if (REPO_ROOT / "docker-compose.yml").is_file():
        assert "docker-compose" in config["enabledManagers"]


def test_base_images_are_pinned_by_digest(config: dict[str, Any]) -> None:
    assert "docker:pinDigests" in config["extends"]


def test_minor_and_patch_updates_are_grouped_weekly(config: dict[str, Any]) -> None:
    grouped = [rule for rule in config["packageRules"] if "groupName" in rule]
    assert len(grouped) == 1
    assert set(grouped[0]["matchUpdateTypes"]) >= {"minor", "patch"}
    assert "major" not in grouped[0]["matchUpdateTypes"]
    assert config["schedule"] == ["before 6am on monday"]


def test_security_fixes_do_not_wait_for_the_schedule(config: dict[str, Any]) -> None:
    assert config["vulnerabilityAlerts"]["enabled"] is True
    assert config["vulnerabilityAlerts"]["schedule"] == ["at any time"]
    assert config["osvVulnerabilityAlerts"] is True


def test_django_stays_on_the_lts_series_pyproject_allows(config: dict[str, Any]) -> None:
    rule = _rule_for(config, "django")
    dependencies = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    django = next(spec for spec in dependencies["dependencies"] if spec.startswith("django>="))
    upper = re.search(r"<(\d+\.\d+)", django)
    assert upper is not None, django
    assert rule["allowedVersions"] == f"<{upper.group(1)}"
