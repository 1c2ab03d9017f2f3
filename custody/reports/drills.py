"""The drill report (``custody drill report``) as Markdown or as one self-contained HTML page: inline CSS, no
script, no fonts or images, every value escaped. Wide tables scroll in their own box, so the page reads at laptop
and half-screen widths alike."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

CSS = """
:root { --ink: #1f2933; --soft: #616e7c; --rule: #d9dee5; --paper: #f5f7fa; }
* { box-sizing: border-box; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); margin: 0;
       padding: 24px 32px; max-width: 1500px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: var(--soft); margin: 2px 0 12px; }
.verdict { display: inline-block; padding: 4px 12px; border-radius: 6px; font-weight: 600; margin: 8px 0; }
.verdict.ok { background: #e3f9e5; color: #0e5a1a; } .verdict.bad { background: #ffe3e3; color: #8a1c1c; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0; }
.tile { border: 1px solid var(--rule); border-radius: 8px; padding: 8px 14px; background: var(--paper);
        min-width: 120px; }
.tile strong { display: block; font-size: 20px; } .tile small { color: var(--soft); }
.box { overflow-x: auto; border: 1px solid var(--rule); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid var(--rule); }
th { background: var(--paper); white-space: nowrap; }
td { overflow-wrap: anywhere; } td.n { white-space: nowrap; overflow-wrap: normal; }
td.w { min-width: 15em; overflow-wrap: break-word; }
tr:last-child td { border-bottom: none; }
.pill { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600;
        margin: 0 4px 2px 0; white-space: nowrap; }
.pass { background: #e3f9e5; color: #0e5a1a; } .fail { background: #ffe3e3; color: #8a1c1c; }
.open { background: #fff3c4; color: #5c4813; } .flag { background: #ffe8d9; color: #7a3a0e; }
.sec { background: #e0e8f9; color: #19216c; } .out { background: #fce8f3; color: #6e1246; }
ul.who { list-style: none; margin: 0; padding: 0; } ul.who li { margin: 0 0 3px; }
ul.who .pill { white-space: normal; }
code { font-family: ui-monospace, Menlo, monospace; font-size: 12.5px; }
@media (max-width: 900px) {
  body { padding: 14px; } th, td { padding: 5px 6px; } .tile { min-width: 96px; }
  /* The drills table has too many columns for a half screen: each drill becomes a card of label: value rows. */
  table.stack thead { display: none; }
  table.stack, table.stack tbody, table.stack tr, table.stack td { display: block; width: auto; min-width: 0; }
  table.stack tr { border-bottom: 2px solid var(--rule); padding: 4px 0; }
  table.stack td { border: 0; display: grid; grid-template-columns: 9em minmax(0, 1fr); gap: 8px; white-space: normal; }
  table.stack td::before { content: attr(data-label); color: var(--soft); font-size: 12px; }
  table.stack td > span { justify-self: start; }
}
"""


def esc(value: object) -> str:
    return "" if value is None else html.escape(str(value), quote=True)


def duration(seconds: object) -> str:
    if not isinstance(seconds, int):
        return "-"
    if seconds < 120:
        return f"{seconds}s"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds < 7200 else f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def _result(d: dict[str, Any]) -> str:
    return str(d.get("result") or d.get("status") or "")


def _steps(d: dict[str, Any]) -> list[str]:
    """Each participant once, in the order they first acted, with their steps."""
    seen: dict[str, tuple[bool, list[str]]] = {}
    for p in d.get("participants") or []:
        name = str(p.get("name"))
        seen.setdefault(name, (bool(p.get("security_team")), []))[1].append(str(p.get("step")))
    return [f"{n} ({', '.join(dict.fromkeys(s))}{'' if sec else '; outside the security team'})"
            for n, (sec, s) in seen.items()]


# ---- Markdown ----------------------------------------------------------------------------------------------------
def _md(value: object) -> str:
    return str(value if value is not None else "").replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    body = [f"| {' | '.join(_md(c) for c in row)} |" for row in rows]
    if not body:
        return ["(none)"]
    return [f"| {' | '.join(head)} |", "|" + "---|" * len(head), *body]


def markdown(r: dict[str, Any]) -> str:
    c = r["counts"]
    lines = ["# Recovery drills", "",
             f"Report of {r['at']}; target {r['target']} per drill. "
             + ("**Nothing flagged.**" if r["ok"] else f"**{c['flagged']} drill(s) flagged, "
                                                        f"{c['accounts_without_pass']} account(s) without a passing "
                                                        "drill in 365 days.**"),
             "", f"{c['drills']} drills: {c['passed']} passed, {c['failed']} failed, {c['open']} open; median time to "
                 f"recovery {duration(r.get('median_time_to_recovery_seconds'))}.", "", "## Flags", ""]
    lines += _md_table(("drill", "account", "flag", "what"), (
        (d["id"], d["account"], f["kind"], f["message"]) for d in r["drills"] for f in d["flags"]))
    lines += ["", "## Drills", ""]
    lines += _md_table(("drill", "account", "scenario", "started", "result", "time to code", "time to recovery",
                        "participants"), (
        (d["id"], d["account"], d["scenario"], d["started_at"], _result(d), duration(d["time_to_code_seconds"]),
         duration(d["time_to_recovery_seconds"]), "; ".join(_steps(d))) for d in r["drills"]))
    lines += ["", "## Accounts without a passing drill in 365 days", ""]
    lines += _md_table(("account", "last pass", "what"), (
        (a["account"], a["last_pass"] or "never", a["message"]) for a in r["accounts_without_pass"]))
    return "\n".join(lines) + "\n"


# ---- HTML --------------------------------------------------------------------------------------------------------
def _table(head: Sequence[str], rows: Iterable[Sequence[str]], keep: Sequence[int] = (),
           wide: Sequence[int] = (), stack: bool = False) -> str:
    """Cells are given escaped (some carry markup); ``keep`` columns never wrap, ``wide`` ones keep some width;
    a ``stack`` table turns into one card per row on a narrow window."""
    def cell(i: int, c: str) -> str:
        cls = ' class="n"' if i in keep else ' class="w"' if i in wide else ""
        return f'<td{cls} data-label="{esc(head[i])}">{c}</td>'

    body = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(row)) + "</tr>" for row in rows)
    if not body:
        return '<p class="meta">(none)</p>'
    return (f'<div class="box"><table{" class=stack" if stack else ""}><thead><tr>'
            f'{"".join(f"<th>{esc(h)}</th>" for h in head)}</tr></thead><tbody>{body}</tbody></table></div>')


def _pill(text: str, kind: str) -> str:
    return f'<span class="pill {kind}">{esc(text)}</span>'


def _people(d: dict[str, Any]) -> str:
    items = [_pill(step, "out" if step.endswith("outside the security team)") else "sec") for step in _steps(d)]
    return '<ul class="who">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def html_page(r: dict[str, Any]) -> str:
    c = r["counts"]
    tiles = [(c["drills"], "drills"), (c["passed"], "passed"), (c["failed"], "failed"), (c["open"], "open"),
             (c["flagged"], "flagged"), (c["accounts_without_pass"], "accounts without a pass"),
             (duration(r.get("median_time_to_recovery_seconds")), "median time to recovery")]
    verdict = ('<p class="verdict ok">Nothing flagged</p>' if r["ok"] else
               f'<p class="verdict bad">{esc(c["flagged"])} drill(s) flagged, {esc(c["accounts_without_pass"])} '
               "account(s) without a passing drill in 365 days</p>")
    flags = _table(("drill", "account", "flag", "what"), (
        (f"<code>{esc(d['id'])}</code>", esc(d["account"]), _pill(f["kind"], "flag"), esc(f["message"]))
        for d in r["drills"] for f in d["flags"]), keep=(0, 1, 2))
    drills = _table(("drill", "account", "scenario", "started", "result", "time to code", "time to recovery",
                     "participants"), (
        (f"<code>{esc(d['id'])}</code>", esc(d["account"]), esc(d["scenario"]), esc(str(d["started_at"])[:19]),
         _pill(_result(d), {"pass": "pass", "fail": "fail"}.get(_result(d), "open")),
         esc(duration(d["time_to_code_seconds"])), esc(duration(d["time_to_recovery_seconds"])), _people(d))
        for d in r["drills"]), keep=(0, 1, 3, 4, 5, 6), wide=(2, 7), stack=True)
    stale = _table(("account", "last pass", "what"), (
        (esc(a["account"]), esc(a["last_pass"] or "never"), esc(a["message"])) for a in r["accounts_without_pass"]),
        keep=(1,))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>custody drill report</title><style>{CSS}</style></head>
<body>
<h1>Recovery drills</h1>
<p class="meta">Report of {esc(r["at"])}; target {esc(r["target"])} per drill, a passing drill per account every
365 days.</p>
{verdict}
<div class="tiles">{"".join(f"<div class='tile'><strong>{esc(n)}</strong><small>{esc(t)}</small></div>"
                            for n, t in tiles)}</div>
<h2>Flags</h2>
{flags}
<h2>Drills</h2>
{drills}
<h2>Accounts without a passing drill in 365 days</h2>
{stale}
</body></html>
"""
