"""Project names from a repository's metadata, read as text: ``pyproject.toml`` (``[project].name``, else
Poetry's ``[tool.poetry].name``), ``setup.cfg`` (``[metadata] name``), and a ``setup.py`` whose ``setup(name=...)``
is a plain string (read with ``ast``: parsed, never run). Names are compared in PEP 503 normal form."""

from __future__ import annotations

import ast
import configparser
import re
import tomllib
from dataclasses import dataclass

METADATA_FILES = ("pyproject.toml", "setup.cfg", "setup.py")


class MetadataError(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def normalize(name: str) -> str:
    """PEP 503: lower case, runs of ``-``, ``_`` and ``.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


def valid_name(name: object) -> bool:
    return isinstance(name, str) and len(name) <= 200 and _NAME.fullmatch(name) is not None


def from_pyproject(text: str) -> str | None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _toml_line(str(exc))
        raise MetadataError(f"not valid TOML: {str(exc).split(' (at')[0]}", line) from None
    project = data.get("project")
    name = project.get("name") if isinstance(project, dict) else None
    if name is None:
        tool = data.get("tool")
        poetry = tool.get("poetry") if isinstance(tool, dict) else None
        name = poetry.get("name") if isinstance(poetry, dict) else None
    if name is not None and not valid_name(name):
        raise MetadataError("the project name is not a valid distribution name")
    return name


def _toml_line(message: str) -> int | None:
    m = re.search(r"at line (\d+)", message)
    return int(m.group(1)) if m else None


def from_setup_cfg(text: str) -> str | None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise MetadataError(f"not a valid setup.cfg: {type(exc).__name__}", getattr(exc, "lineno", None)) from None
    name = parser.get("metadata", "name", fallback=None)
    return name.strip() if name and valid_name(name.strip()) else None


def from_setup_py(text: str) -> str | None:
    """``setup(name="x")`` when the name is a string literal; None otherwise (finding it would need running it)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise MetadataError("setup.py is not valid Python") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "setup":
            for kw in node.keywords:
                if kw.arg == "name" and isinstance(kw.value, ast.Constant) and valid_name(kw.value.value):
                    return str(kw.value.value)
    return None


READERS = {"pyproject.toml": from_pyproject, "setup.cfg": from_setup_cfg, "setup.py": from_setup_py}


@dataclass(frozen=True)
class Located:
    directory: str  # relative to the repository, "" for its root, else ending in "/"
    name: str


def project_for(paths: tuple[str, ...], cwd: str, projects: list[Located]) -> str | None:
    """The project a publish step uploads: the one whose directory holds the files or directory the step names
    (``sub/dist/*``, ``--directory sub``), or the working directory's, or the repository's only one."""
    cwd = cwd.strip("/") + "/" if cwd.strip("/") else ""
    candidates: list[str] = []
    for path in paths:
        joined = path if path.startswith("/") else cwd + path.removeprefix("./")
        head = joined.split("dist/")[0] if "dist/" in joined else joined
        candidates.append(head if head.endswith("/") or not head else head.rsplit("/", 1)[0] + "/")
    candidates.append(cwd)
    for where in candidates:
        best = _deepest(where, projects)
        if best is not None:
            return best.name
    names = {p.name for p in projects}
    return names.pop() if len(names) == 1 else None


def _deepest(where: str, projects: list[Located]) -> Located | None:
    holding = [p for p in projects if where.startswith(p.directory)]
    if not holding:
        return None
    best = max(holding, key=lambda p: len(p.directory))
    ties = [p for p in holding if p.directory == best.directory]
    return best if len({p.name for p in ties}) == 1 else None
