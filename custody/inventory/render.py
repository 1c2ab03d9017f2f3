"""The inventory's outputs as text: JSON (the contract), Markdown (for tickets and wikis), CSV (for spreadsheets)
and, for the report, one self-contained HTML page (inline CSS, no script, nothing fetched). Every value from a
scanned file or a PyPI document is escaped for the format it lands in."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

FINDING_COLUMNS = ("repo", "file", "line", "job", "tool", "method", "index", "secret", "project", "platform",
                   "credential", "id_token", "literal", "index_url", "via")
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|~&])")  # not `_`: GFM does not emphasise inside words
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def as_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def md(value: object) -> str:
    text = "" if value is None else ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\r", " ").replace("\n", " ")


def md_table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return out if len(out) > 2 else ["(none)"]


def cell(value: object) -> str:
    text = "" if value is None else ";".join(map(str, value)) if isinstance(value, list) else str(value)
    return "'" + text if text.startswith(_FORMULA) else text  # a spreadsheet must not run a formula


def csv_text(head: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    w.writerows([cell(v) for v in row] for row in rows)
    return buf.getvalue()


def _warnings_md(warnings: list[dict[str, Any]]) -> list[str]:
    """Scan warnings (with severity and kind) and PyPI document warnings (file, line, message) alike."""
    if all("kind" not in w for w in warnings):
        return md_table(("file", "line", "message"), ((w["file"], w["line"] or "", w["message"]) for w in warnings))
    rows = [(w.get("severity", ""), f"{w['repo']}/{w['file']}" if w.get("repo") else w["file"],
             w.get("line") or "", w.get("kind", ""), w["message"]) for w in warnings]
    return md_table(("severity", "file", "line", "kind", "message"), rows)


def _notes(notes: list[str]) -> list[str]:
    out: list[str] = []
    for n in notes:  # custody's own sentences, Markdown as written; one quoted paragraph each
        out += [f"> {n}", ""]
    return out[:-1]


# ---- scan ---------------------------------------------------------------------------------------------------
def scan_markdown(scan: dict[str, Any]) -> str:
    out = [f"# Publishing inventory: {len(scan['findings'])} publish steps in {len(scan['repos'])} repositories", ""]
    out += md_table(("repo", "file", "line", "job", "tool", "method", "index", "secret", "project"),
                    ([f[c] for c in FINDING_COLUMNS[:9]] for f in scan["findings"]))
    out += ["", "## Repositories", ""]
    out += md_table(("repo", "path", "projects"), ((r["repo"], r["path"], r["projects"]) for r in scan["repos"]))
    out += ["", f"## Warnings ({len(scan['warnings'])})", "", *_warnings_md(scan["warnings"])]
    return "\n".join(out) + "\n"


def scan_csv(scan: dict[str, Any]) -> str:
    return csv_text(FINDING_COLUMNS, ([f.get(c) for c in FINDING_COLUMNS] for f in scan["findings"]))


# ---- import -------------------------------------------------------------------------------------------------
def import_markdown(data: dict[str, Any]) -> str:
    out = [f"# PyPI ownership: {len(data['projects'])} projects, {len(data['accounts'])} accounts", ""]
    out += [*_notes(data["notes"]), ""]
    out += md_table(("project", "owners", "maintainers", "organization", "source"), (
        (p["project"], p["owners"] if p["ownership_known"] else "unknown (no ownership in the document)",
         p["maintainers"] if p["ownership_known"] else "unknown", p["organization"] or "", p["source"])
        for p in data["projects"]))
    out += ["", "## Accounts", ""]
    out += md_table(("account", "projects"), ((a["account"], [f"{x['project']} ({x['role']})" for x in a["projects"]])
                                              for a in data["accounts"]))
    out += ["", f"## Warnings ({len(data['warnings'])})", "", *_warnings_md(data["warnings"])]
    return "\n".join(out) + "\n"


def import_csv(data: dict[str, Any]) -> str:
    rows = [(p["project"], u, role, p["organization"]) for p in data["projects"]
            for role, users in (("Owner", p["owners"] or []), ("Maintainer", p["maintainers"] or [])) for u in users]
    rows += [(p["project"], "", "unknown", p["organization"]) for p in data["projects"] if not p["ownership_known"]]
    return csv_text(("project", "user", "role", "organization"), rows)


# ---- report -------------------------------------------------------------------------------------------------
def report_markdown(r: dict[str, Any]) -> str:
    s = r["summary"]
    out = [f"# Inventory report: {s['pypi_projects']} PyPI projects, {s['findings']} publish steps in {s['repos']} "
           f"repositories (custody {s['custody']})", ""]
    out += [*_notes(r["notes"]), "", "## Flags", ""]
    determined = [f for f in r["flags"] if f["determined"]]
    out += md_table(("severity", "flag", "subject", "evidence"),
                    ((f["severity"], f["flag"], f["subject"], " / ".join(f["evidence"])) for f in determined))
    undetermined = [f for f in r["flags"] if not f["determined"]]
    out += ["", f"## Undetermined ({len(undetermined)}): what is not recorded yet", ""]
    out += md_table(("flag", "subject", "missing"), ((f["flag"], f["subject"], " / ".join(f["evidence"]))
                                                     for f in undetermined))
    out += ["", "## Projects", ""]
    out += md_table(("project", "owners", "maintainers", "organization", "published by", "flags"), (
        (p["project"], p["owners"] if p["owners"] is not None else "unknown", p["maintainers"] or "",
         p["organization"] or "", [f"{x['where']} ({x['method']}, {x['index']})" for x in p["publishing"]] or "none",
         p["flags"]) for p in r["projects"]))
    out += ["", "## Accounts", ""]
    out += md_table(("account", "roles", "custody", "flags"), (
        (a["account"], [f"{x['role']} of {x['project']}" for x in a["projects"]], _custody_cell(a["custody"]),
         a["flags"]) for a in r["accounts"]))
    out += ["", f"## Warnings ({len(r['warnings'])})", "", *_warnings_md(r["warnings"])]
    return "\n".join(out) + "\n"


def _custody_cell(c: dict[str, Any] | None) -> str:
    if c is None:
        return "not consulted"
    if not c.get("held"):
        return "not held"
    own = c.get("ownership") or "ownership not recorded"
    human = f", human owner {c['human_owner']}" if c.get("human_owner") else ""
    return f"{c.get('codes') or 0} codes, {c.get('tier')}, {own}{human}"


def report_csv(r: dict[str, Any]) -> str:
    return csv_text(("severity", "flag", "subject_kind", "subject", "determined", "evidence"), (
        (f["severity"], f["flag"], f["subject_kind"], f["subject"], f["determined"], " | ".join(f["evidence"]))
        for f in r["flags"]))


# ---- sync ---------------------------------------------------------------------------------------------------
def sync_markdown(data: dict[str, Any]) -> str:
    s = data["summary"]
    if data["apply"]:
        head = f"# Inventory sync: created {s['created']} accounts in custody"
    else:
        head = f"# Inventory sync (dry run): {s['to_create']} accounts to create in custody"
    out = [f"{head}; {s['held']} held already, {s['refused']} refused, of {s['found']} found", ""]
    out += [*_notes(data["notes"]), ""]
    out += md_table(("account", "action", "status", "owner", "tier", "why"), (
        (a["account"], a["action"], a["status"], a["owner"] or "", a["tier"] or "", " / ".join(a["why"]))
        for a in data["accounts"]))
    if not data["apply"] and s["to_create"]:
        out += ["", "Nothing was written: run again with --apply to create the accounts marked create."]
    if data["warnings"]:
        out += ["", f"## Warnings ({len(data['warnings'])})", "", *_warnings_md(data["warnings"])]
    return "\n".join(out) + "\n"


def report_html(r: dict[str, Any]) -> str:
    from custody.inventory.render_html import page

    return page(r)
