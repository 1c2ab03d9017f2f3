"""Declared dependencies are the imported ones: pyproject.toml's runtime dependencies are exactly the distributions
whose modules ``custody/`` imports, and everything the tests and benchmarks import is declared somewhere.

A module imported but not declared works only while some other package happens to pull it in; a dependency declared
but never imported is installed on every machine for nothing. Either fails here, naming the package."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: list[str]) -> set[str]:
    """Distribution names of PEP 508 requirement strings, without versions, extras or markers."""
    names = set()
    for req in requirements:
        found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
        assert found, f"not a requirement: {req!r}"
        names.add(normalise(found.group(1)))
    return names


def imported_modules(*trees: str) -> dict[str, str]:
    """Top-level third-party modules imported anywhere under ``trees`` (at any depth, in functions too), each
    with one file that imports it."""
    found: dict[str, str] = {}
    for tree in trees:
        for file in sorted((ROOT / tree).rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text(), str(file))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                elif skipped := _importorskip(node):  # a test that skips without the module still needs it
                    names = [skipped]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ("custody", "tests", "benchmarks"):
                        found.setdefault(top, str(file.relative_to(ROOT)))
    return found


def _importorskip(node: ast.AST) -> str | None:
    """The module of a ``pytest.importorskip("name")`` call."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "importorskip":
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def providers(modules: dict[str, str]) -> dict[str, str]:
    """The installed distribution providing each module -> the file that imports it."""
    by_module = packages_distributions()
    dists: dict[str, str] = {}
    for module, where in modules.items():
        assert module in by_module, f"{where} imports {module}, which no installed distribution provides"
        for dist in by_module[module]:
            dists[normalise(dist)] = f"{module} (imported by {where})"
    return dists


def test_runtime_dependencies_are_exactly_what_custody_imports() -> None:
    declared = requirement_names(PROJECT["dependencies"])
    imported = providers(imported_modules("custody"))
    undeclared = {d: why for d, why in imported.items() if d not in declared}
    unused = declared - set(imported)
    assert not undeclared, f"imported but not in [project] dependencies: {undeclared}"
    assert not unused, f"declared in [project] dependencies but never imported by custody/: {sorted(unused)}"


def test_tests_and_benchmarks_import_only_declared_packages() -> None:
    declared = requirement_names(PROJECT["dependencies"])
    for extra in PROJECT["optional-dependencies"].values():
        declared |= requirement_names(extra)
    imported = providers(imported_modules("tests", "benchmarks"))
    undeclared = {d: why for d, why in imported.items() if d not in declared}
    assert not undeclared, f"imported by tests or benchmarks but declared nowhere in pyproject.toml: {undeclared}"


def test_the_check_sees_an_undeclared_import() -> None:
    """The comparison itself: a module of this very file's imports maps to its distribution."""
    assert providers({"httpx": "x.py"}) == {"httpx": "httpx (imported by x.py)"}
    assert requirement_names(["pydantic-settings>=2.3", "Foo_Bar[x]>=1; python_version>'3'"]) == {
        "pydantic-settings", "foo-bar"}
