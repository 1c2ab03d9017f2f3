"""Render a Summary as JSON (the stable schema), Markdown (for tickets), CSV (one row per access) or HTML.
The HTML report is one self-contained file: inline CSS, an inline SVG timeline of reveals, no script, no
fonts or images fetched from anywhere, so it can be attached to an audit as evidence and opened offline.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Literal, assert_never

import orjson

from custody.auditlog.model import (
    Access,
    Anomaly,
    AnomalyKind,
    Principal,
    Reveal,
    Severity,
    Summary,
    UnwrapStatus,
)
from custody.auditlog.timeparse import to_dt

Format = Literal["json", "markdown", "csv", "html"]
FORMATS: tuple[Format, ...] = ("json", "markdown", "csv", "html")

CSV_COLUMNS = (
    "time",
    "kind",
    "account",
    "grant_id",
    "principal",
    "entity_id",
    "path",
    "operation",
    "outcome",
    "reason",
    "approvers",
    "request_id",
)


def render(summary: Summary, fmt: Format) -> str:
    """The summary as text in the given format."""
    if fmt == "json":
        return render_json(summary)
    if fmt == "markdown":
        return render_markdown(summary)
    if fmt == "csv":
        return render_csv(summary)
    if fmt == "html":
        return render_html(summary)
    assert_never(fmt)


def render_json(summary: Summary) -> str:
    data = summary.model_dump(mode="json")
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


def _who(p: Principal) -> str:
    if p.display_name and p.entity_id:
        return f"{p.display_name} ({p.entity_id[:8]})"
    return p.display_name or p.entity_id or "(no identity)"


def _short(t: str) -> str:
    """2025-01-02T03:04:05.123456789Z -> 2025-01-02 03:04:05Z (full precision stays in JSON and CSV)."""
    return f"{t[:10]} {t[11:19]}Z" if len(t) >= 19 else t


# Markdown that would turn text from the log (a reason, a name) into a link, an image, HTML, an entity, code or a
# table cell.
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|~&])")  # & too: "&#x202E;" would render as a direction override


def _md(text: object) -> str:
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\r", " ").replace("\n", " ")


def _md_table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out.extend("| " + " | ".join(_md(c) for c in row) + " |" for row in rows)
    return out


def render_markdown(s: Summary) -> str:
    t = s.totals
    lines = [
        "# Custody access summary",
        "",
        f"Mount `{s.mount}`, service role `{s.service_role}`. Window: {s.window.since or 'start of logs'} to "
        f"{s.window.until or 'end of logs'}. Entries from {s.input.first_entry or '-'} to "
        f"{s.input.last_entry or '-'}.",
        "",
        f"**{t.reveals} reveals, {t.requests} requests, {t.approvals} approvals, "
        f"{t.grants_denied} grants denied, "
        f"{t.access_denied} denied attempts, {t.direct_accesses} direct accesses, {t.deposits} deposits, "
        f"{t.rotations} rotations; {t.anomalies} anomalies.**",
        "",
        f"Read {s.input.lines_total} lines from {len(s.input.files)} file(s): "
        f"{s.input.lines_custody} custody lines parsed, {s.input.lines_invalid} invalid, "
        f"{s.input.entries_duplicate} duplicate entries dropped.",
        "",
    ]
    for w in s.warnings:
        lines += [f"> **Warning:** {w}", ""]
    lines += ["## Anomalies", ""]
    if s.anomalies:
        lines += _md_table(
            ("time", "severity", "kind", "principal", "path", "detail", "why it matters"),
            (
                (_short(a.time), a.severity.value, a.kind.value, _who(a.principal), a.path, a.detail, a.why)
                for a in s.anomalies
            ),
        )
    else:
        lines.append("None.")
    lines += ["", "## Reveals", ""]
    if s.reveals:
        lines += _md_table(
            ("time", "account", "grant", "requester", "reason", "ticket", "approvers", "unwrap"),
            (
                (
                    _short(r.time),
                    r.account,
                    r.grant_id,
                    _who(r.requester),
                    r.reason,
                    r.ticket,
                    ", ".join(a.approver for a in r.approvers) or ("emergency" if r.emergency else "-"),
                    r.unwrap_status.value,
                )
                for r in s.reveals
            ),
        )
    else:
        lines.append("None.")
    lines += ["", "## Accounts", ""]
    lines += _md_table(
        (
            "account",
            "owner",
            "tier",
            "requests",
            "approvals",
            "denied",
            "denied attempts",
            "reveals",
            "deposits",
            "rotations",
            "codes left",
        ),
        (
            (
                a.account,
                a.owner,
                a.tier,
                a.requests,
                a.approvals,
                a.grants_denied,
                a.access_denied,
                len(a.reveals),
                a.deposits,
                a.rotations,
                "-" if a.codes_remaining is None else a.codes_remaining,
            )
            for a in s.accounts
        ),
    )
    lines += ["", "## Principals", ""]
    lines += _md_table(
        (
            "principal",
            "entity",
            "requested",
            "approved",
            "denied",
            "revealed",
            "unwrapped",
            "direct",
            "denied attempts",
            "anomalies",
        ),
        (
            (
                p.principal.display_name,
                p.principal.entity_id,
                ", ".join(p.requested),
                ", ".join(p.approved),
                ", ".join(p.denied),
                ", ".join(p.revealed),
                p.unwrapped,
                p.direct_accesses,
                p.access_denied,
                p.anomalies,
            )
            for p in s.principals
        ),
    )
    return "\n".join(lines) + "\n"


_ACCESS_KINDS = {AnomalyKind.DIRECT_ACCESS, AnomalyKind.PERMISSION_DENIED, AnomalyKind.MOUNT_ADMIN}


def accesses(s: Summary) -> list[Access]:
    """Every access to a code or to the custody mount, oldest first: the rows of the CSV.

    A reveal (the code handed out in a wrapping token), each unwrap attempt of it, and each direct access,
    denied attempt or mount change. Denials recorded by the custody API itself have kind ``api_denied``.
    """
    rows: list[Access] = []
    for r in s.reveals:
        approvers = "; ".join(a.approver for a in r.approvers)
        rows.append(
            Access(time=r.time,
                kind="reveal",
                account=r.account,
                grant_id=r.grant_id,
                principal=r.requester,
                path=f"{s.mount}/data/reveals/{r.grant_id}",
                operation="read",
                outcome=r.unwrap_status.value,
                reason=r.reason,
                approvers=approvers,
                request_id=r.request_id,
            )
        )
        for u in r.unwraps:
            rows.append(
                Access(time=u.time,
                    kind="unwrap",
                    account=r.account,
                    grant_id=r.grant_id,
                    principal=u.principal,
                    path=u.path,
                    operation="read" if u.path == "cubbyhole/response" else "update",
                    outcome="ok" if u.ok else "failed",
                    reason="",
                    approvers="",
                    request_id=u.request_id,
                )
            )
    for a in s.anomalies:
        if a.kind not in _ACCESS_KINDS:
            continue
        kind = a.kind.value
        if a.kind is AnomalyKind.PERMISSION_DENIED and not a.path.startswith((s.mount + "/", "sys/")):
            kind = "api_denied"  # refused by the custody API (Vault's refusals are on the mount, or sys/ paths)
        outcome = "denied" if a.kind is AnomalyKind.PERMISSION_DENIED else ("error" if a.error else "ok")
        rows.append(
            Access(time=a.time,
                kind=kind,
                account=a.account,
                grant_id=a.grant_id,
                principal=a.principal,
                path=a.path,
                operation=a.operation,
                outcome=outcome,
                reason="",
                approvers="",
                request_id=a.request_id,
            )
        )
    rows.sort(key=lambda x: (x.time, x.request_id, x.kind))
    return rows


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...), =cmd|...): a reason typed
# by a requester must open as the text it is.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def render_csv(s: Summary) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for a in accesses(s):
        w.writerow(
            _cell(v) for v in (
                a.time,
                a.kind,
                a.account,
                a.grant_id,
                a.principal.display_name,
                a.principal.entity_id,
                a.path,
                a.operation,
                a.outcome,
                a.reason,
                a.approvers,
                a.request_id,
            )
        )
    return buf.getvalue()


# --- HTML -------------------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1200px;
color:#1b1f24;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
table{border-collapse:collapse;width:100%;margin:.6em 0}th,td{border:1px solid #d0d7de;padding:4px 6px;
text-align:left;vertical-align:top;overflow-wrap:break-word}td:first-child{white-space:nowrap}
.long{overflow-wrap:anywhere}.nw{white-space:nowrap}
.why{color:#57606a;font-size:.9em}th{background:#f6f8fa}tr:nth-child(even) td{background:#fbfcfd}
.meta{color:#57606a}.cards{display:flex;flex-wrap:wrap;gap:.6em;margin:1em 0}.card{border:1px solid #d0d7de;
border-radius:6px;padding:.5em .9em;min-width:7em}.card b{display:block;font-size:1.5em}
.sev-critical{color:#fff;background:#a40e26}.sev-high{color:#fff;background:#cf222e}.sev-medium{background:#fff8c5}
.sev-low{background:#ddf4ff}.pill{border-radius:9px;padding:0 6px;font-size:.85em;white-space:nowrap}
.warn{border-left:4px solid #bf8700;background:#fff8c5;padding:.4em .8em}
.sign td{height:2.5em}svg text{font:11px system-ui,sans-serif;fill:#1b1f24}
@media print{.cards{break-inside:avoid}h2{break-after:avoid}}
"""

_DOT = {
    UnwrapStatus.BY_REQUESTER: "#1a7f37",
    UnwrapStatus.OUTSTANDING: "#8c959f",
    UnwrapStatus.LATE: "#bf8700",
    UnwrapStatus.NEVER: "#0969da",
    UnwrapStatus.UNATTRIBUTED: "#cf222e",
    UnwrapStatus.WRONG_PRINCIPAL: "#a40e26",
}


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _html_table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """Cells are given already escaped (some carry markup)."""
    h = "".join(f"<th>{_e(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>'


def _sev(sev: Severity) -> str:
    return f'<span class="pill sev-{sev.value}">{_e(sev.value)}</span>'


def timeline_svg(reveals: Sequence[Reveal], anomalies: Sequence[Anomaly], width: int = 1100) -> str:
    """Inline SVG: a row per account, a dot per reveal coloured by what became of its wrapping token."""
    accounts = sorted({r.account or "(unknown)" for r in reveals})
    row_h, left, right, top = 26, 170, 20, 30
    height = top + row_h * max(len(accounts), 1) + 48
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="timeline" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>Timeline of reveals</title>'
    ]
    if not reveals:
        parts.append(f'<text x="{left}" y="{top + 14}">No reveals in this window.</text></svg>')
        return "".join(parts)
    times = [to_dt(r.time).timestamp() for r in reveals]
    t0, t1 = min(times), max(times)
    span = (t1 - t0) or 1.0
    plot_w = width - left - right
    flagged = {a.grant_id for a in anomalies if a.grant_id}
    for i, acct in enumerate(accounts):
        y = top + i * row_h + row_h / 2
        parts.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{_e(acct)}</text>'
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#d0d7de"/>'
        )
    axis_y = top + row_h * len(accounts) + 8
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" stroke="#57606a"/>')
    fmt = "%H:%M:%S.%f" if span < 60 else ("%m-%d %H:%M:%S" if span < 86400 else "%Y-%m-%d %H:%M")
    for k in range(5):
        x = left + plot_w * k / 4
        label = datetime.fromtimestamp(t0 + span * k / 4, tz=UTC).strftime(fmt)
        if fmt.endswith("%f"):
            label = label[:-3]  # milliseconds
        anchor = "start" if k == 0 else ("end" if k == 4 else "middle")
        parts.append(
            f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 5}" stroke="#57606a"/>'
            f'<text x="{x:.1f}" y="{axis_y + 18}" text-anchor="{anchor}">{_e(label)}</text>'
        )
    parts.append(f'<text x="{left}" y="{axis_y + 32}" fill="#57606a">UTC</text>')
    for r, ts in zip(reveals, times, strict=True):
        x = left + plot_w * (ts - t0) / span
        y = top + accounts.index(r.account or "(unknown)") * row_h + row_h / 2
        stroke = ' stroke="#1b1f24" stroke-width="2"' if r.grant_id in flagged else ""
        tip = (
            f"{_short(r.time)} {r.account} grant {r.grant_id} by {_who(r.requester)}: "
            f"{r.reason} [{r.unwrap_status.value}]"
        )
        parts.append(
            f'<circle class="reveal" cx="{x:.1f}" cy="{y:.1f}" r="6" '
            f'fill="{_DOT[r.unwrap_status]}"{stroke}><title>{_e(tip)}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend() -> str:
    items = "".join(
        f'<span style="margin-right:1em"><svg width="12" height="12"><circle cx="6" cy="6" r="5" '
        f'fill="{c}"/></svg> {_e(st.value)}</span>'
        for st, c in _DOT.items()
    )
    return f'<p class="meta">{items} &mdash; a black ring marks a grant with an anomaly.</p>'


def render_html(s: Summary) -> str:
    t = s.totals
    cards = "".join(
        f'<div class="card"><b>{v}</b>{_e(k)}</div>'
        for k, v in (
            ("reveals", t.reveals),
            ("anomalies", t.anomalies),
            ("requests", t.requests),
            ("approvals", t.approvals),
            ("grants denied", t.grants_denied),
            ("denied attempts", t.access_denied),
            ("direct accesses", t.direct_accesses),
            ("deposits", t.deposits),
            ("rotations", t.rotations),
        )
    )
    warnings = "".join(f'<p class="warn">{_e(w)}</p>' for w in s.warnings)
    anomalies = (
        _html_table(
            ("time", "severity", "kind", "principal", "path", "detail", "why it matters"),
            (
                (
                    _e(_short(a.time)),
                    _sev(a.severity),
                    f'<span class="nw">{_e(a.kind.value)}</span>',
                    _e(_who(a.principal)),
                    f'<span class="long">{_e(a.path)}</span>',
                    f'<span class="long">{_e(a.detail)}</span>',
                    f'<span class="why">{_e(a.why)}</span>',
                )
                for a in s.anomalies
            ),
        )
        if s.anomalies
        else "<p>None.</p>"
    )
    reveals = (
        _html_table(
            ("time", "account", "grant", "requester", "reason", "ticket", "approvers", "unwrap"),
            (
                (
                    _e(_short(r.time)),
                    _e(r.account),
                    _e(r.grant_id),
                    _e(_who(r.requester)),
                    _e(r.reason),
                    _e(r.ticket),
                    _e(", ".join(a.approver for a in r.approvers) or ("emergency" if r.emergency else "-")),
                    _e(r.unwrap_status.value),
                )
                for r in s.reveals
            ),
        )
        if s.reveals
        else "<p>None.</p>"
    )
    accounts = _html_table(
        (
            "account",
            "owner",
            "tier",
            "requests",
            "approvals",
            "grants denied",
            "denied attempts",
            "reveals",
            "deposits",
            "rotations",
            "codes left",
        ),
        (
            (
                _e(a.account),
                _e(a.owner),
                _e(a.tier),
                str(a.requests),
                str(a.approvals),
                str(a.grants_denied),
                str(a.access_denied),
                str(len(a.reveals)),
                str(a.deposits),
                str(a.rotations),
                "-" if a.codes_remaining is None else str(a.codes_remaining),
            )
            for a in s.accounts
        ),
    )
    principals = _html_table(
        (
            "principal",
            "entity",
            "requested",
            "approved",
            "denied",
            "revealed",
            "unwrapped",
            "direct",
            "denied attempts",
            "anomalies",
        ),
        (
            (
                _e(p.principal.display_name),
                _e(p.principal.entity_id),
                _e(", ".join(p.requested)),
                _e(", ".join(p.approved)),
                _e(", ".join(p.denied)),
                _e(", ".join(p.revealed)),
                str(p.unwrapped),
                str(p.direct_accesses),
                str(p.access_denied),
                str(p.anomalies),
            )
            for p in s.principals
        ),
    )
    files = "".join(f"<li><code>{_e(f)}</code></li>" for f in s.input.files)
    sign = _html_table(
        ("role", "name", "signature", "date"),
        ((_e(r), "", "", "") for r in ("Prepared by", "Reviewed by (security)", "Auditor")),
        cls="sign",
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Custody access summary</title><style>{_CSS}</style></head>
<body>
<h1>Custody access summary</h1>
<p class="meta">Mount <code>{_e(s.mount)}</code>, service role <code>{_e(s.service_role)}</code>.
Window: {_e(s.window.since or "start of logs")} to {_e(s.window.until or "end of logs")}.
Entries from {_e(s.input.first_entry or "-")} to {_e(s.input.last_entry or "-")}.
Schema version {_e(s.schema_version)}.</p>
{warnings}
<div class="cards">{cards}</div>
<h2>Timeline of reveals</h2>
{timeline_svg(s.reveals, s.anomalies)}
{_legend()}
<h2>Anomalies</h2>
{anomalies}
<h2>Reveals</h2>
{reveals}
<h2>Accounts</h2>
{accounts}
<h2>Principals</h2>
{principals}
<h2>Evidence read</h2>
<p>{s.input.lines_total} lines, {s.input.lines_custody} custody lines parsed, {s.input.lines_invalid} invalid,
{s.input.entries_duplicate} duplicate entries dropped.</p>
<ul>{files}</ul>
<h2>Sign-off</h2>
{sign}
</body></html>
"""
