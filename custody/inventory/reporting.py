"""``custody inventory report``: the scan (saved, or made now from ``--repo`` paths), PyPI ownership (saved, or
fetched with ``--online`` for every project the scan names) and, when a server and token are given, custody's
accounts, joined into one report with its flags."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from custody.errors import ValidationError
from custody.inventory import report
from custody.inventory.custody_view import Held
from custody.inventory.importing import ImportResult, import_ownership
from custody.inventory.model import Finding, ScanResult, ScanWarning, Severity, WarningKind
from custody.inventory.projects import normalize
from custody.inventory.scanning import scan
from custody.inventory.settings import InventorySettings

_FINDING_FIELDS = {f.name: f.type for f in fields(Finding)}
MAX_SCAN_BYTES = 50_000_000


def _bad_scan(path: Path, why: str) -> ValidationError:
    return ValidationError(f"{path} is not the JSON of `custody inventory scan --format json`: {why}",
                           hint="make it with: custody inventory scan PATH... --format json > scan.json")


def _finding(d: object, path: Path, i: int) -> Finding:
    if not isinstance(d, dict) or not {"repo", "file", "line", "job", "tool", "method", "index"} <= set(d):
        raise _bad_scan(path, f"findings[{i}] lacks fields")
    values: dict[str, Any] = {k: d.get(k) for k in _FINDING_FIELDS}
    values.setdefault("platform", "github")
    values["platform"] = values["platform"] or "github"
    values["credential"] = values["credential"] or "none"
    values["id_token"] = bool(values["id_token"])
    values["literal"] = bool(values["literal"])
    if values["method"] not in ("trusted-publishing", "token", "unknown") or \
            values["index"] not in ("pypi", "testpypi", "other") or not isinstance(values["line"], int):
        raise _bad_scan(path, f"findings[{i}] has an unknown method, index or line")
    return Finding(**values)


def _warning(d: object, path: Path, i: int) -> ScanWarning:
    try:
        assert isinstance(d, dict)
        line = d.get("line")
        return ScanWarning(str(d["repo"]), str(d["file"]), line if isinstance(line, int) else None,
                           WarningKind(d["kind"]), Severity(d["severity"]), str(d["message"]))
    except (AssertionError, KeyError, ValueError):
        raise _bad_scan(path, f"warnings[{i}] is not a scan warning") from None


def load_scan(path: Path) -> tuple[ScanResult, int]:
    """The findings and warnings of a saved scan, and how many repositories it read."""
    try:
        raw = path.read_bytes()[:MAX_SCAN_BYTES + 1]
        doc = json.loads(raw) if len(raw) <= MAX_SCAN_BYTES else None
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, RecursionError):
        raise _bad_scan(path, "not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        raise _bad_scan(path, "no `findings` list")
    out = ScanResult()
    out.findings = [_finding(d, path, i) for i, d in enumerate(doc["findings"])]
    out.warnings = [_warning(d, path, i) for i, d in enumerate(doc.get("warnings") or [])]
    repos = doc.get("repos")
    return out, len(repos) if isinstance(repos, list) else 0


def custody_accounts(use_custody: bool) -> tuple[dict[str, Held] | None, str | None]:
    """custody's accounts when a server (CUSTODY_ADDR) and a token are given; else None and why not."""
    if not use_custody:
        return None, "custody was not consulted (--skip-custody)"
    from custody.cli.client import Client
    from custody.cli.settings import client_token
    from custody.inventory.custody_view import read

    if not os.environ.get("CUSTODY_ADDR"):
        return None, "custody was not consulted: CUSTODY_ADDR is not set"
    if not client_token():
        return None, "custody was not consulted: no Vault token (VAULT_TOKEN, BAO_TOKEN or ~/.vault-token)"
    return read(Client()), None


@dataclass
class Gathered:
    """What the report and sync read: the findings and warnings of every scan, and PyPI ownership."""

    findings: list[Finding] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)
    repos: int = 0
    owned: ImportResult = field(default_factory=ImportResult)


def gather(scans: list[Path], repos: list[Path], pypi_files: list[Path], online: bool,
           settings: InventorySettings | None = None) -> Gathered:
    """Saved scans, fresh ones of ``repos``, and PyPI ownership (saved, or fetched for every project they name)."""
    out = Gathered()
    for path in scans:
        s, count = load_scan(path)
        out.findings += s.findings
        out.warnings += s.warnings
        out.repos += count
    if repos:
        fresh = scan(repos)
        out.findings += fresh.findings
        out.warnings += fresh.warnings
        out.repos += len(fresh.repos)
    names = sorted({f.project for f in out.findings if f.project}) if online else []
    out.owned = import_ownership(pypi_files, names, settings)
    return out


def build_report(scans: list[Path], repos: list[Path], pypi_files: list[Path], online: bool,
                 critical: list[str], use_custody: bool, settings: InventorySettings | None = None) -> dict[str, Any]:
    if not scans and not repos and not pypi_files:
        raise ValidationError("nothing to report on", hint="give --scan FILE and/or --repo PATH, and --pypi FILE "
                              "or --online")
    got = gather(scans, repos, pypi_files, online, settings)
    held, why = custody_accounts(use_custody)
    inputs = report.Inputs(got.findings, got.warnings, got.owned.projects, held,
                           frozenset(normalize(c) for c in critical), got.repos, [why] if why else [])
    out = report.build(inputs)
    out["warnings"] = [w.as_dict() for w in got.warnings] + [w.as_dict() for w in got.owned.warnings]
    return out
