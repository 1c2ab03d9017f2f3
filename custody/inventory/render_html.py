"""The report as one self-contained HTML page: inline CSS, no script, no fonts or images, every value escaped.
Wide tables scroll inside their own box, so the page reads at laptop and half-screen widths alike."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

_CSS = """
:root { --fg: #1d2430; --muted: #5b6675; --line: #d8dde4; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 0;
       padding: 24px 32px; background: #fff; max-width: 1600px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
p.meta, .note { color: var(--muted); margin: 4px 0; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 8px 12px; color: var(--fg); }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 130px;
        background: var(--bg); }
.card b { display: block; font-size: 22px; } .card span { color: var(--muted); font-size: 12px; }
.scroll { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid var(--line); }
th { background: var(--bg); font-weight: 600; white-space: nowrap; position: sticky; top: 0; }
td { overflow-wrap: break-word; } td.nowrap { white-space: nowrap; overflow-wrap: normal; }
tr:last-child td { border-bottom: none; }
ul.ev { margin: 0; padding-left: 16px; } ul.ev li { margin: 2px 0; }
.sev { display: inline-block; border-radius: 10px; padding: 1px 8px; font-size: 12px; font-weight: 600; }
.critical { background: #b00020; color: #fff; } .high { background: #e65100; color: #fff; }
.medium { background: #ffd54f; color: #3a2d00; } .low { background: #cfd8dc; color: #263238; }
.flag { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 13px; white-space: nowrap; }
.tag { display: inline-block; background: #eef1f5; border: 1px solid var(--line); border-radius: 4px;
       padding: 0 6px; margin: 0 4px 4px 0; font-size: 12px; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 12.5px; }
@media (max-width: 900px) { body { padding: 16px; } th, td { padding: 5px 6px; } .card { min-width: 100px; }
                            td > .flag { white-space: normal; } }
@media print { .scroll { overflow: visible; border: none; } }
"""


def e(value: object) -> str:
    if value is None:
        return ""
    return html.escape(", ".join(map(str, value)) if isinstance(value, list) else str(value), quote=True)


def _code(escaped: str) -> str:
    """`x` in already escaped text as <code>x</code>."""
    return re.sub(r"`([^`<>]+)`", r"<code>\1</code>", escaped)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], nowrap: Sequence[int] = ()) -> str:
    """Cells are given escaped (some carry markup)."""
    body = "".join("<tr>" + "".join(f'<td class="nowrap">{c}</td>' if i in nowrap else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    if not body:
        return '<p class="meta">(none)</p>'
    return (f'<div class="scroll"><table><thead><tr>{"".join(f"<th>{e(h)}</th>" for h in head)}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _evidence(items: list[str]) -> str:
    return '<ul class="ev">' + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>"


def _sev(sev: str) -> str:
    return f'<span class="sev {e(sev)}">{e(sev)}</span>'


def _flags(flags: list[dict[str, Any]]) -> str:
    return _table(("severity", "flag", "subject", "evidence"), (
        (_sev(f["severity"]), f'<span class="flag">{e(f["flag"])}</span>', e(f["subject"]), _evidence(f["evidence"]))
        for f in flags), nowrap=(0,))


def _ownership(p: dict[str, Any]) -> str:
    if p["owners"] is None:
        return "<i>unknown</i>" + ("" if p["in_pypi_data"] else " <i>(no PyPI data)</i>")
    parts = [f"Owners: {e(p['owners']) or '<i>none</i>'}"]
    parts += [f"Maintainers: {e(p['maintainers'])}"] if p["maintainers"] else []
    parts += [f"Organization: {e(p['organization'])}"] if p["organization"] else []
    return "<br>".join(parts)


def _projects(rows: list[dict[str, Any]]) -> str:
    return _table(("project", "PyPI roles", "published by", "flags"), (
        (f"<b>{e(p['project'])}</b>", _ownership(p),
         _evidence([f"{x['where']} — {x['tool']}, {x['method']}, {x['index']}"
                    + (f", secret {x['secret']}" if x["secret"] else "") for x in p["publishing"]])
         if p["publishing"] else "<i>no scanned repository</i>",
         _tags(p["flags"])) for p in rows))


def _tags(flags: list[str]) -> str:
    return "".join(f'<span class="flag tag">{e(f)}</span>' for f in flags)


def _custody(c: dict[str, Any] | None) -> str:
    if c is None:
        return "<i>not consulted</i>"
    if not c.get("held"):
        return "<b>not held</b>"
    return e(f"{c.get('codes') or 0} codes · {c.get('tier')} · {c.get('ownership') or 'ownership not recorded'}"
             + (f" · human owner {c['human_owner']}" if c.get("human_owner") else ""))


def _accounts(rows: list[dict[str, Any]]) -> str:
    return _table(("account", "roles", "custody", "flags"), (
        (f"<b>{e(a['account'])}</b>", _evidence([f"{x['role']} of {x['project']}" for x in a["projects"]]),
         _custody(a["custody"]), _tags(a["flags"]))
        for a in rows), nowrap=(0,))


def _warnings(rows: list[dict[str, Any]]) -> str:
    return _table(("severity", "file", "line", "message"), (
        (_sev(w.get("severity", "low")), f"<code>{e(_path(w))}</code>", e(w.get("line")), e(w["message"]))
        for w in rows), nowrap=(0, 2))


def _path(w: dict[str, Any]) -> str:
    return f"{w['repo']}/{w['file']}" if w.get("repo") else str(w["file"])


def page(r: dict[str, Any]) -> str:
    s = r["summary"]
    determined = [f for f in r["flags"] if f["determined"]]
    open_ = [f for f in r["flags"] if not f["determined"]]
    cards = [(s["pypi_projects"], "PyPI projects"), (s["findings"], "publish steps"), (s["repos"], "repositories"),
             (len(r["accounts"]), "PyPI accounts"), (len(determined), "flags"), (len(open_), "undetermined")]
    notes = "".join(f'<p class="note">{_code(e(n))}</p>' for n in r["notes"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>custody inventory report</title><style>{_CSS}</style></head>
<body>
<h1>Inventory report</h1>
<p class="meta">custody {e(s["custody"])}; flags by severity, worst first.</p>
{notes}
<div class="cards">{"".join(f"<div class='card'><b>{e(n)}</b><span>{e(t)}</span></div>" for n, t in cards)}</div>
<h2>Flags</h2>
{_flags(determined)}
<h2>Projects</h2>
{_projects(r["projects"])}
<h2>Accounts</h2>
{_accounts(r["accounts"])}
<h2>Undetermined: not recorded yet</h2>
{_flags(open_)}
<h2>Warnings</h2>
{_warnings(r.get("warnings", []))}
</body></html>
"""
