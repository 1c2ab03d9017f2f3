"""The drill report (``custody drill report``) as Markdown or as one self-contained HTML page: inline CSS, no
script, no fonts or images, every value escaped. Wide tables scroll in their own box, so the page reads at laptop
and half-screen widths alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from custody.reports.page import Cell, cards, document, esc, table

# What only the drill report has: its verdict, the kinds of pill, the participants' list.
CSS = """
.verdict{display:inline-block;padding:4px 12px;border-radius:6px;font-weight:600;margin:8px 0}
.verdict.ok{background:#e3f9e5;color:#0e5a1a}.verdict.bad{background:#ffe3e3;color:#8a1c1c}
td.w{min-width:15em}
.pill{margin:0 4px 2px 0}.flag{background:#ffe8d9;color:#7a3a0e}
.sec{background:#e0e8f9;color:#19216c}.out{background:#fce8f3;color:#6e1246}
ul.who{list-style:none;margin:0;padding:0}ul.who li{margin:0 0 4px}ul.who .steps{color:var(--soft);font-size:13px}
"""


def duration(seconds: object) -> str:
    if not isinstance(seconds, int):
        return "-"
    if seconds < 120:
        return f"{seconds}s"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds < 7200 else f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def _result(d: dict[str, Any]) -> str:
    return str(d.get("result") or d.get("status") or "")


def _participants(d: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """Each participant once, in the order they first acted: their name, their steps (and, for someone outside
    the security team, that they are), and whether they are in the security team."""
    seen: dict[str, tuple[bool, list[str]]] = {}
    for p in d.get("participants") or []:
        name = str(p.get("name"))
        seen.setdefault(name, (bool(p.get("security_team")), []))[1].append(str(p.get("step")))
    return [(n, ", ".join(dict.fromkeys(s)) + ("" if sec else "; outside the security team"), sec)
            for n, (sec, s) in seen.items()]


def _steps(d: dict[str, Any]) -> list[str]:
    """Each participant once with their steps, as one line of text."""
    return [f"{name} ({steps})" for name, steps, _ in _participants(d)]


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
    def cell(i: int, c: str) -> Cell:
        return ("id", c) if i in keep else ("w", c) if i in wide else c

    return table(head, ([cell(i, c) for i, c in enumerate(row)] for row in rows), "stack" if stack else "",
                 empty="(none)")


def _pill(text: str, kind: str) -> str:
    return f'<span class="pill {kind}">{esc(text)}</span>'


def _people(d: dict[str, Any]) -> str:
    """The participants as a list: each name a pill (coloured by whether they are in the security team), their
    steps beside it as text, so that a long list of steps wraps as text and the name stays whole."""
    items = [f'{_pill(name, "sec" if sec else "out")} <span class="steps">{esc(steps)}</span>'
             for name, steps, sec in _participants(d)]
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
    return document("custody drill report", f"""<h1>Recovery drills</h1>
<p class="meta">Report of {esc(r["at"])}; target {esc(r["target"])} per drill, a passing drill per account every
365 days.</p>
{verdict}
{cards(tiles)}
<h2>Flags</h2>
{flags}
<h2>Drills</h2>
{drills}
<h2>Accounts without a passing drill in 365 days</h2>
{stale}""", CSS)
