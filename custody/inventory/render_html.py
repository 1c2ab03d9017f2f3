"""The report as one self-contained HTML page: inline CSS, no script, no fonts or images, every value escaped.
Wide tables scroll inside their own box, so the page reads at laptop and half-screen widths alike."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from custody.reports.page import cards, document, esc, slashed, table

# What only the inventory report has: evidence lists, flags in monospace, tags.
_CSS = """
ul.ev{margin:0;padding-left:16px}ul.ev li{margin:2px 0}
.flag{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px;white-space:nowrap}
.tag{display:inline-block;background:#eef1f5;border:1px solid var(--rule);border-radius:4px;padding:0 6px;
margin:0 4px 4px 0;font-size:12px}
"""


def e(value: object) -> str:
    """A value as HTML text; a list as its items, comma-separated."""
    return esc(", ".join(map(str, value)) if isinstance(value, list) else value)


def _code(escaped: str) -> str:
    """`x` in already escaped text as <code>x</code>."""
    return re.sub(r"`([^`<>]+)`", r"<code>\1</code>", escaped)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], nowrap: Sequence[int] = ()) -> str:
    """Cells are given escaped (some carry markup)."""
    return table(head, ([("id", c) if i in nowrap else c for i, c in enumerate(row)] for row in rows),
                 empty="(none)")


def _evidence(items: list[str]) -> str:
    return '<ul class="ev">' + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>"


def _sev(sev: str) -> str:
    return f'<span class="pill sev {e(sev)}">{e(sev)}</span>'


def _flags(flags: list[dict[str, Any]]) -> str:
    return _table(("severity", "flag", "subject", "evidence"), (
        (_sev(f["severity"]), f'<span class="flag">{e(f["flag"])}</span>', e(f["subject"]), _evidence(f["evidence"]))
        for f in flags), nowrap=(0, 1, 2))


def _names(names: list[str]) -> str:
    """PyPI user names, each kept whole (``alice-acme`` never splits at its hyphen)."""
    return ", ".join(f'<span class="id">{e(n)}</span>' for n in names)


def _ownership(p: dict[str, Any]) -> str:
    if p["owners"] is None:
        return "<i>unknown</i>" + ("" if p["in_pypi_data"] else " <i>(no PyPI data)</i>")
    parts = [f"Owners: {_names(p['owners']) or '<i>none</i>'}"]
    parts += [f"Maintainers: {_names(p['maintainers'])}"] if p["maintainers"] else []
    parts += [f"Organization: {_names([p['organization']])}"] if p["organization"] else []
    return "<br>".join(parts)


def _projects(rows: list[dict[str, Any]]) -> str:
    return _table(("project", "PyPI roles", "published by", "flags"), (
        (f"<b>{e(p['project'])}</b>", _ownership(p),
         _evidence([f"{x['where']} — {x['tool']}, {x['method']}, {x['index']}"
                    + (f", secret {x['secret']}" if x["secret"] else "") for x in p["publishing"]])
         if p["publishing"] else "<i>no scanned repository</i>",
         _tags(p["flags"])) for p in rows), nowrap=(0,))


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
        (_sev(w.get("severity", "low")), f"<code>{slashed(_path(w))}</code>", e(w.get("line")), _code(e(w["message"])))
        for w in rows), nowrap=(0, 2))


def _path(w: dict[str, Any]) -> str:
    return f"{w['repo']}/{w['file']}" if w.get("repo") else str(w["file"])


def page(r: dict[str, Any]) -> str:
    s = r["summary"]
    determined = [f for f in r["flags"] if f["determined"]]
    open_ = [f for f in r["flags"] if not f["determined"]]
    figures = [(s["pypi_projects"], "PyPI projects"), (s["findings"], "publish steps"), (s["repos"], "repositories"),
             (len(r["accounts"]), "PyPI accounts"), (len(determined), "flags"), (len(open_), "undetermined")]
    notes = "".join(f'<p class="note">{_code(e(n))}</p>' for n in r["notes"])
    return document("custody inventory report", f"""<h1>Inventory report</h1>
<p class="meta">custody {e(s["custody"])}; flags by severity, worst first.</p>
{notes}
{cards(figures)}
<h2>Flags</h2>
{_flags(determined)}
<h2>Projects</h2>
{_projects(r["projects"])}
<h2>Accounts</h2>
{_accounts(r["accounts"])}
<h2>Undetermined: not recorded yet</h2>
{_flags(open_)}
<h2>Warnings</h2>
{_warnings(r.get("warnings", []))}""", _CSS)
