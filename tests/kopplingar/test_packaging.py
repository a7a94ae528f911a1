"""What the product wheel carries: every product package, and none of the development kit."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["forms", "registry", "render", "workqueue", "intake", "review", "kopplingar", "samples"]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def wheel_packages() -> set[str]:
    found = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    return set(find_packages(where=str(ROOT), include=found["include"]))


def test_the_wheel_has_every_product_package_and_no_dev_tools() -> None:
    packages = wheel_packages()
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in PRODUCT
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk <= packages
    assert not {p for p in packages if p.split(".")[0] in {"devkit", "devtools", "tests"}}


def test_test_servers_are_not_runtime_dependencies() -> None:
    runtime = {d.split("==")[0].split("[")[0] for d in PYPROJECT["project"]["dependencies"]}
    dev = {d.split("==")[0] for d in PYPROJECT["project"]["optional-dependencies"]["dev"]}
    assert {"aiosmtpd", "pytest", "playwright", "import-linter"} <= dev
    assert not runtime & {"aiosmtpd", "pytest", "playwright", "import-linter", "hypothesis"}


def test_no_product_module_imports_the_test_servers() -> None:
    offenders = []
    for top in PRODUCT:
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                if any(n.split(".")[0] == "aiosmtpd" for n in names):
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
