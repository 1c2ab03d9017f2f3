"""``custody inventory import``: PyPI ownership from saved JSON API documents and, with ``--online``, from the
index named by ``CUSTODY_PYPI_URL``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custody.inventory import pypi
from custody.inventory.pypi_client import PyPIIndex
from custody.inventory.settings import InventorySettings


@dataclass
class ImportResult:
    projects: list[pypi.Ownership] = field(default_factory=list)
    warnings: list[pypi.DocWarning] = field(default_factory=list)
    index: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"projects": [p.as_dict() for p in self.projects], "accounts": pypi.accounts(self.projects),
                "warnings": [w.as_dict() for w in self.warnings], "notes": [pypi.TEAM_ROLES_NOTE],
                "index": self.index}


def _documents(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        out.extend(sorted(p for p in path.glob("*.json") if p.is_file()) if path.is_dir() else [path])
    return out


def _read(path: Path, result: ImportResult) -> None:
    try:
        with path.open("rb") as f:
            raw = f.read(pypi.MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        result.warnings.append(pypi.DocWarning(str(path), None, f"cannot read: {exc.strerror or exc}"))
        return
    if len(raw) > pypi.MAX_DOCUMENT_BYTES:
        result.warnings.append(pypi.DocWarning(str(path), None, "larger than a PyPI document can be: not read"))
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.warnings.append(pypi.DocWarning(str(path), None, "not UTF-8 text (binary?): not read"))
        return
    _add(result, pypi.parse_text(text, str(path)))


def _add(result: ImportResult, parsed: pypi.Parsed) -> None:
    result.warnings.extend(parsed.warnings)
    known = {p.key: i for i, p in enumerate(result.projects)}
    for project in parsed.projects:
        if project.key in known:  # the later document wins (a fresher fetch of the same project)
            result.projects[known[project.key]] = project
        else:
            known[project.key] = len(result.projects)
            result.projects.append(project)


def import_ownership(files: list[Path], online: list[str], settings: InventorySettings | None = None,
                     index: PyPIIndex | None = None) -> ImportResult:
    result = ImportResult()
    for path in _documents(files):
        _read(path, result)
    if online:
        s = settings or InventorySettings()
        index = index or PyPIIndex(s.pypi_url, s.cache_root(), s.pypi_interval, s.pypi_cache_seconds, s.pypi_timeout)
        result.index = index.base_url
        for name in dict.fromkeys(online):
            fetched = index.fetch(name)
            if fetched.note:
                result.warnings.append(pypi.DocWarning(fetched.source, None, fetched.note))
            if fetched.text is not None:
                _add(result, pypi.parse_text(fetched.text, fetched.source))
    result.projects.sort(key=lambda p: p.key)
    return result
