"""The shape of custody/: no import cycle (function-level imports included), no module using another module's
private names, and layers that point one way: domain <- repo <- usecases <- api, console (and server wires them);
the command line (custody/cli/) is a shell that nothing but itself and ``python -m custody`` imports."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "custody"

# Private names one module may take from another, with the reason (none today).
BORROWED: set[tuple[str, str, str]] = set()

# What each layer must not import (prefixes of module names).
FORBIDDEN = {
    "custody.domain": ("custody.repo", "custody.usecases", "custody.api", "custody.store", "custody.server",
                       "custody.cli", "custody.config", "custody.notify"),
    # The evidence pack's format and controls are pure like the domain; the audit summary reaches them as JSON.
    "custody.evidence": ("custody.repo", "custody.usecases", "custody.api", "custody.store", "custody.server",
                         "custody.cli", "custody.config", "custody.notify", "custody.auditlog"),
    "custody.repo": ("custody.usecases", "custody.api", "custody.store", "custody.server", "custody.cli"),
    "custody.usecases": ("custody.api", "custody.console", "custody.store", "custody.server", "custody.cli"),
    "custody.api": ("custody.store", "custody.server", "custody.cli", "custody.repo.kv",
                    "custody.repo.repository", "custody.repo.grants", "custody.repo.codes"),
    # The web console is a shell like the API: over the use cases, never the repository or Vault itself.
    "custody.console": ("custody.api", "custody.store", "custody.server", "custody.cli", "custody.repo"),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported
    name: str | None  # the name taken from it, for ``from target import name``
    line: int


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package: its Python files, and the stubs of its compiled ones (``auditlog/_scan``)."""
    found = {}
    stubs = [p for p in root.rglob("*.pyi") if not p.with_suffix(".py").exists()]
    for path in sorted([*root.rglob("*.py"), *stubs]):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(mods: dict[str, Path]) -> Iterator[Import]:
    """Every import of a custody module, wherever it is written (module level or inside a function)."""
    for module, path in mods.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                yield from (Import(module, a.name, None, node.lineno) for a in node.names if a.name in mods)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    if sub in mods:
                        yield Import(module, sub, None, node.lineno)
                    elif base in mods:
                        yield Import(module, base, alias.name, node.lineno)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), and modules that import themselves."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            component.append(v)
            if len(component) > 1 or v in edges[v]:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for imp in imports(mods):
        if imp.target != imp.module:
            edges[imp.module].add(imp.target)
    return edges


def private(imp: Import) -> bool:
    """A private name of another module, or a private module of another package."""
    if imp.name is not None and imp.name.startswith("_") and not imp.name.startswith("__"):
        return True
    hidden = [i for i, part in enumerate(imp.target.split(".")) if part.startswith("_") and part != "__init__"]
    return bool(hidden) and not imp.module.startswith(".".join(imp.target.split(".")[: hidden[0]]) + ".")


def test_there_is_no_import_cycle_in_custody() -> None:
    assert cycles(graph(modules())) == []


def test_the_cycle_finder_finds_one(tmp_path: Path) -> None:
    pkg = tmp_path / "custody"
    (pkg / "inner").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "inner" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from custody.inner import b\n")
    (pkg / "inner" / "b.py").write_text("def f():\n    from ..a import x\n")  # function level, relative
    (pkg / "c.py").write_text("import custody.a\n")
    assert cycles(graph(modules(pkg))) == [["custody.a", "custody.inner.b"]]


def test_no_module_imports_another_modules_private_names() -> None:
    found = {(i.module, i.target, i.name) for i in imports(modules()) if private(i)}
    assert found - BORROWED == set()


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_point_one_way(layer: str) -> None:
    wrong = [f"{i.module}:{i.line} imports {i.target}" for i in imports(modules())
             if (i.module == layer or i.module.startswith(layer + "."))
             and any(i.target == f or i.target.startswith(f + ".") for f in FORBIDDEN[layer])]
    assert wrong == []


# The command line's own modules, and the entry point that runs it: the only importers of custody.cli.
CLI_SHELL = ("custody.cli", "custody.__main__")


def outside_the_cli_importing_it(mods: dict[str, Path]) -> list[str]:
    return [f"{i.module}:{i.line} imports {i.target}" for i in imports(mods)
            if not any(i.module == s or i.module.startswith(s + ".") for s in CLI_SHELL)
            and (i.target == "custody.cli" or i.target.startswith("custody.cli."))]


def test_only_the_command_line_imports_the_command_line() -> None:
    """A module that needs what a command has (its API client, its settings) is given it by the command."""
    assert outside_the_cli_importing_it(modules()) == []


def test_the_cli_check_finds_an_import_of_the_cli(tmp_path: Path) -> None:
    pkg = tmp_path / "custody"
    (pkg / "cli").mkdir(parents=True)
    for name in ("__init__.py", "__main__.py", "cli/__init__.py", "cli/client.py", "cli/main.py"):
        (pkg / name).write_text("")
    (pkg / "__main__.py").write_text("from custody.cli.main import main\n")
    (pkg / "cli" / "main.py").write_text("from custody.cli import client\n")
    (pkg / "view.py").write_text("def read():\n    from custody.cli.client import Client\n")
    assert outside_the_cli_importing_it(modules(pkg)) == ["custody.view:2 imports custody.cli.client"]
