"""The architecture's rules stay true: the import contract covers the wiring, and the linters a
commit runs are the ones ``make test`` runs."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return [str(layer) for layer in contract["layers"]]


def test_the_wiring_layer_names_every_module_of_customerinfo_outside_the_kernel() -> None:
    wiring = {name.strip() for name in re.split(r"[|:]", _layers()[0])}
    package = ROOT / "customerinfo"
    modules = {
        f"customerinfo.{path.stem}"
        for path in package.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists() and path.name != "core")
    }
    assert modules == wiring


def test_the_layers_put_the_kernel_at_the_bottom_and_the_apps_in_order() -> None:
    assert _layers()[1:] == [
        "operations",
        "billing",
        "crm_sync",
        "signup",
        "tenants | outbox",
        "customerinfo.core",
    ]


def test_every_root_package_is_in_the_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    apps = {
        path.parent.name for path in ROOT.glob("*/apps.py") if not path.parent.name.startswith(".")
    }
    assert apps | {"customerinfo"} == set(config["root_packages"])


def test_pre_commit_runs_what_make_lint_and_typecheck_run() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    committed = {re.sub(r"^uv run --frozen ", "", hook["entry"]) for hook in hooks}
    makefile = (ROOT / "Makefile").read_text()
    targets = {}
    for target in ("lint", "typecheck"):
        body = re.search(rf"^{target}:\n((?:\t.*\n)+)", makefile, re.MULTILINE)
        assert body, target
        targets[target] = [
            re.sub(r"^\$\(UV\) run --frozen ", "", line.strip())
            for line in body.group(1).splitlines()
        ]
    assert set(targets["lint"]) | set(targets["typecheck"]) | {"make migrations-check"} == committed
