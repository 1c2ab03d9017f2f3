"""Render a Summary as JSON (the stable schema), Markdown (for tickets), CSV (one row per access) or HTML.

Markdown and HTML show the same sections in the same order, built once as ``Table``s (``sections``): the
answer first (who got which code, why, approved by whom), then what needs a look (anomalies, and what was
counted but not listed), denied requests, the recognised setup, and the figures per account and principal.
The HTML report is one self-contained file: inline CSS, an inline SVG timeline of reveals, no script, no
fonts or images fetched from anywhere, so it can be attached to an audit as evidence and opened offline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, assert_never

import msgspec

from custody.auditlog.model import (
    Access,
    Anomaly,
    AnomalyKind,
    Offender,
    Principal,
    PrincipalSummary,
    Reveal,
    Severity,
    Summary,
    UnwrapStatus,
)
from custody.auditlog.timeparse import to_dt
from custody.reports.page import cards, document, slashed, table
from custody.reports.page import esc as _e

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


def render_chunks(summary: Summary, fmt: Format) -> tuple[bytes, ...]:
    """``render`` as UTF-8, in pieces to write one after the other: JSON (the largest, a report of tens of MB) never
    becomes a str on the way, nor is it copied once more to end it with a newline."""
    if fmt == "json":
        return msgspec.json.format(_ENCODE(summary), indent=2), b"\n"
    return (render(summary, fmt).encode(),)


def render_bytes(summary: Summary, fmt: Format) -> bytes:
    """``render`` as UTF-8 (``render_chunks`` joined)."""
    return b"".join(render_chunks(summary, fmt))


def render_json(summary: Summary) -> str:
    """Keys sorted, two-space indent: stable, diff-able evidence."""
    return render_bytes(summary, "json").decode()


# Keys sorted: the model declares every field in name order (a unit test checks), so the encoder writes them as
# declared, sparing it a sort of each struct's fields (a tenth of the time it takes on a large summary).
_ENCODE = msgspec.json.Encoder().encode


def _who(p: Principal) -> str:
    if p.display_name and p.entity_id:
        return f"{p.display_name} ({p.entity_id[:8]})"
    return p.display_name or p.entity_id or "(no identity)"


def _short(t: str) -> str:
    """2025-01-02T03:04:05.123456789Z -> 2025-01-02 03:04:05Z (full precision stays in JSON and CSV)."""
    return f"{t[:10]} {t[11:19]}Z" if len(t) >= 19 else t


# --- the sections, for Markdown and HTML alike -----------------------------------------------------------------

# how HTML shows a cell (Markdown: as text): a path breaks after slashes, an id never breaks
PATH, SEV, KIND, WHY_TEXT, ID, UUID = "path", "sev", "kind", "why", "id", "uuid"


@dataclass
class Table:
    """One section of the report: a title, a lead paragraph, and rows (each cell text, or (style, text))."""

    anchor: str
    title: str
    head: tuple[str, ...]
    rows: list[tuple[object, ...]]
    lead: str = ""
    empty: str = "None."
    notes: list[str] = field(default_factory=list)


def _when(t: str, day_of: str) -> str:
    """A time of the same day as ``day_of`` as its time of day; another day's in full."""
    return f"{t[11:19]}Z" if t[:10] == day_of[:10] and len(t) >= 19 else _short(t)


def _approved_by(r: Reveal) -> str:
    """Who approved, with their comments; for an emergency grant, who reviewed it (when, with what comment); a
    drill's grant says so first."""
    parts = [f"{a.approver} at {_when(a.at, r.time)}" + (f": {a.comment}" if a.comment else "") for a in r.approvers]
    if r.drill:
        parts.insert(0, f"DRILL {r.drill}")
    if r.emergency:
        if r.review is not None:
            said = f": {r.review.comment}" if r.review.comment else ""
            parts.append(f"emergency, reviewed by {r.review.by} at {_when(r.review.at, r.time) or '?'}{said}")
        else:
            parts.append("emergency, not reviewed")
    return "; ".join(parts) or "-"


def reveals_table(s: Summary) -> Table:
    return Table(
        "reveals",
        "Reveals: who got which code, why, approved by whom",
        ("time", "account", "grant", "requester", "reason", "ticket", "approved by (comment)", "unwrap"),
        [
            (_short(r.time), (ID, r.account), (ID, r.grant_id), _who(r.requester), r.reason, (ID, r.ticket),
             _approved_by(r), (ID, r.unwrap_status.value))
            for r in s.reveals
        ],
    )


def anomalies_table(s: Summary, with_why: bool) -> Table:
    head = ("time", "severity", "kind", "principal", "path", "detail")
    rows: list[tuple[object, ...]] = []
    for a in s.anomalies:
        row: tuple[object, ...] = (_short(a.time), (SEV, a.severity), (KIND, a.kind.value), _who(a.principal),
                                   (PATH, a.path), a.detail)
        rows.append((*row, (WHY_TEXT, a.why)) if with_why else row)
    t = Table("anomalies", "Anomalies", (*head, "why it matters") if with_why else head, rows)
    listed = sum(1 for _ in s.anomalies)
    if s.totals.anomalies > listed:
        t.lead = (f"{listed} of {s.totals.anomalies} anomalies are listed here, the earliest of each kind and "
                  "severity; the others are counted in the next section.")
    return t


def not_listed_table(s: Summary) -> Table:
    nl = s.not_listed
    t = Table(
        "not-listed",
        "Counted, not listed one by one",
        ("kind", "severity", "total", "listed", "first seen", "last seen", "top offenders (at least)"),
        [
            ((KIND, g.kind.value), (SEV, g.severity), g.total, g.listed, _short(g.first_seen), _short(g.last_seen),
             _offenders(g.top_offenders))
            for g in nl.anomalies
        ],
        lead="This log holds more than a report can list one by one. Totals above are exact; each kind of anomaly "
        "lists its earliest, and the rest are counted here with when they started and stopped and who made most "
        "of them.",
        empty="",
    )
    if nl.principals is not None:
        u = nl.principals
        t.notes.append(
            f"{u.count}{'+' if u.count_more else ''} more principals are not listed one by one: together "
            f"{u.access_denied} denied attempts, {u.direct_accesses} direct accesses, {u.anomalies} anomalies."
        )
    if nl.accounts is not None:
        u = nl.accounts
        t.notes.append(
            f"{u.count}{'+' if u.count_more else ''} more account paths, named only in other people's calls, are "
            f"not listed: together {u.access_denied} denied attempts."
        )
    return t


def _offenders(top: Sequence[Offender]) -> str:
    shown = [
        f"{_who(o.principal)}: {o.count}" + (f" (up to {o.count + o.count_error})" if o.count_error else "")
        for o in top
        if o.count > 1 or not o.count_error
    ]
    if shown:
        return "; ".join(shown)
    most = max((o.count + o.count_error for o in top), default=0)
    return f"none stands out: spread over many principals, none with more than {most}"


def denials_table(s: Summary) -> Table:
    return Table(
        "denials",
        "Denied requests",
        ("time", "account", "grant", "requester", "reason", "ticket", "denied by", "comment"),
        [(_short(d.time), (ID, d.account), (ID, d.grant_id), _who(d.requester), d.reason, (ID, d.ticket),
          _who(d.denied_by), d.comment or "-") for d in s.denials],
    )


def setup_table(s: Summary) -> Table:
    who = sorted({_who(w.principal) for w in s.setup})
    return Table(
        "setup",
        "Setup",
        ("time", "principal", "path", "what it did"),
        [(_short(w.time), _who(w.principal), (PATH, w.path), w.what) for w in s.setup],
        lead=f"{len(s.setup)} write(s) by {', '.join(who)} recognised as what `custody bootstrap` does (same paths, "
        "fields and values as far as the log shows them). They are not anomalies; any other change of the mount "
        "is listed under Anomalies at its severity.",
        empty="",
    )


def accounts_table(s: Summary) -> Table:
    return Table(
        "accounts",
        "Accounts",
        ("account", "owner", "tier", "requests", "approvals", "grants denied", "denied attempts", "reveals",
         "deposits", "rotations", "codes left"),
        [
            (a.account, a.owner, a.tier, a.requests, a.approvals, a.grants_denied, a.access_denied, len(a.reveals),
             a.deposits, a.rotations, "-" if a.codes_remaining is None else a.codes_remaining)
            for a in s.accounts
        ],
    )


def _grants_of(p: PrincipalSummary) -> str:
    """What a principal did to which grants, in one cell: 'requested g-1, g-2; approved g-3'."""
    parts = [(what, ids) for what, ids in (("requested", p.requested), ("approved", p.approved),
                                           ("denied", p.denied), ("reviewed", p.reviewed), ("revealed", p.revealed))]
    return "; ".join(f"{what} {', '.join(ids)}" for what, ids in parts if ids) or "-"


def principals_table(s: Summary) -> Table:
    return Table(
        "principals",
        "Principals",
        ("principal", "entity", "grants", "unwrapped", "direct accesses", "denied attempts", "anomalies"),
        [
            (p.principal.display_name, (UUID, p.principal.entity_id), _grants_of(p), p.unwrapped, p.direct_accesses,
             p.access_denied, p.anomalies)
            for p in s.principals
        ],
    )


def sections(s: Summary, why_per_row: bool) -> list[Table]:
    """The report's sections, in order; the optional ones only when they have rows."""
    out = [reveals_table(s), anomalies_table(s, why_per_row)]
    if s.not_listed.anomalies or s.not_listed.principals or s.not_listed.accounts:
        out.append(not_listed_table(s))
    out.append(denials_table(s))
    if s.setup:
        out.append(setup_table(s))
    return [*out, accounts_table(s), principals_table(s)]


def headline(s: Summary) -> str:
    t = s.totals
    return (f"{t.reveals} reveals, {t.requests} requests, {t.approvals} approvals, {t.grants_denied} grants denied, "
            f"{t.access_denied} denied attempts, {t.direct_accesses} direct accesses, {t.deposits} deposits, "
            f"{t.rotations} rotations; {t.anomalies} anomalies")


def anomaly_breakdown(s: Summary) -> str:
    """What the anomalies are, by severity and kind: '1 critical (direct_access), 3 medium (permission_denied)'."""
    counts: dict[tuple[Severity, str], int] = {}
    for a in s.anomalies:
        counts[(a.severity, a.kind.value)] = counts.get((a.severity, a.kind.value), 0) + 1
    for g in s.not_listed.anomalies:  # the groups count all of theirs, listed or not
        counts[(g.severity, g.kind.value)] = g.total
    order = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}
    by_sev: dict[Severity, list[str]] = {}
    for (sev, kind), n in sorted(counts.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        by_sev.setdefault(sev, []).append(f"{n} {kind.replace('_', ' ')}")
    return "; ".join(f"{sev.value}: {', '.join(kinds)}" for sev, kinds in by_sev.items())


# --- Markdown --------------------------------------------------------------------------------------------------

# Markdown that would turn text from the log (a reason, a name) into a link, an image, HTML, an entity, code or a
# table cell.
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|~&])")  # & too: "&#x202E;" would render as a direction override


def _md(text: object) -> str:
    if isinstance(text, tuple):
        text = text[1]
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\r", " ").replace("\n", " ")


def _md_table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out.extend("| " + " | ".join(_md(c) for c in row) + " |" for row in rows)
    return out


def render_markdown(s: Summary) -> str:
    lines = [
        "# Custody access summary",
        "",
        f"Mount `{s.mount}`, service role `{s.service_role}`. Window: {s.window.since or 'start of logs'} to "
        f"{s.window.until or 'end of logs'}. Entries from {s.input.first_entry or '-'} to "
        f"{s.input.last_entry or '-'}.",
        "",
        f"**{headline(s)}.**" + (f" Anomalies by severity: {_md(anomaly_breakdown(s))}." if s.anomalies else ""),
        "",
        f"Read {s.input.lines_total} lines from {len(s.input.files)} file(s): "
        f"{s.input.lines_custody} custody lines parsed, {s.input.lines_invalid} invalid, "
        f"{s.input.entries_duplicate} duplicate entries dropped.",
        "",
    ]
    for w in s.warnings:
        lines += [f"> **Warning:** {_md(w)}", ""]
    for t in sections(s, why_per_row=True):
        lines += [f"## {t.title}", ""]
        if t.lead:
            lines += [_md(t.lead).replace("\\`", "`"), ""]
        if t.rows:
            lines += _md_table(t.head, t.rows)
        elif t.empty:
            lines.append(t.empty)
        lines += [line for n in t.notes for line in ("", _md(n))]
        lines.append("")
    return "\n".join(lines)


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
            Access(
                time=r.time,
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
                Access(
                    time=u.time,
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
            Access(
                time=a.time,
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
    import csv
    import io

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
    for g in s.not_listed.anomalies:
        # what the rows above leave out, said in rows of its own: the CSV is read without the other sections
        w.writerow((g.first_seen, "not_listed", "", "", "", "", g.kind.value, g.severity.value,
                    f"{g.total - g.listed} more not listed, until {g.last_seen}", "", "", ""))
    return buf.getvalue()


# --- HTML ------------------------------------------------------------------------------------------------------

# What only the audit summary has: monospace paths, the anomaly kinds' list, the sign-off table, the timeline
# (drawn 1100 wide and shrunk to fit: on a narrow window its labels are drawn larger, to stay readable).
_CSS = """
td:first-child{white-space:nowrap}
.path{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.92em}
.nw{white-space:nowrap}.why{color:var(--soft);font-size:.9em}
.kinds dt{font-weight:600;margin-top:.4em}.kinds dd{margin:0 0 0 1.5em;color:var(--soft)}
.legend span{margin-right:1em}
.sign td{height:2.5em}svg{max-width:100%;height:auto}svg text{font:11px system-ui,sans-serif;fill:var(--ink)}
@media (max-width:900px){svg text{font-size:15px}}
"""

_DOT = {
    UnwrapStatus.BY_REQUESTER: "#1a7f37",
    UnwrapStatus.OUTSTANDING: "#8c959f",
    UnwrapStatus.LATE: "#bf8700",
    UnwrapStatus.NEVER: "#0969da",
    UnwrapStatus.UNATTRIBUTED: "#cf222e",
    UnwrapStatus.WRONG_PRINCIPAL: "#a40e26",
    UnwrapStatus.REVOKED_REISSUED: "#8250df",
    UnwrapStatus.REVOKED_UNRECORDED: "#c297ff",  # a lighter purple: revoked by the service too
}


def _td(c: object) -> str:
    if isinstance(c, tuple):
        style, text = c
        if style == SEV:
            return f'<span class="pill {_e(text)}">{_e(text)}</span>'
        if style == KIND:
            return f'<span class="nw">{_e(text)}</span>'
        if style == PATH:
            return f'<span class="path">{slashed(str(text))}</span>'
        if style == ID:
            return f'<span class="id">{_e(text)}</span>'
        if style == UUID:
            return "-<wbr>".join(_e(part) for part in str(text).split("-"))
        return f'<span class="why">{_e(text)}</span>'
    if isinstance(c, int):
        return f'<span class="num">{c}</span>'
    return f'<span class="free">{_e(c)}</span>' if len(str(c)) > 40 else _e(c)


def _html_table(head: Sequence[str], rows: Iterable[Sequence[object]], cls: str = "") -> str:
    """A table that, on a narrow page, shows each row as a block of labelled cells instead of running past the
    margin."""
    return table(head, ([_td(c) for c in row] for row in rows), f"stack {cls}".strip())


def _html_section(t: Table) -> str:
    parts = [f'<h2 id="{t.anchor}">{_e(t.title)}</h2>']
    if t.lead:
        parts.append(f"<p>{_e(t.lead)}</p>")
    if t.rows:
        parts.append(_html_table(t.head, t.rows, t.anchor))
    elif t.empty:
        parts.append(f"<p>{_e(t.empty)}</p>")
    parts.extend(f"<p>{_e(n)}</p>" for n in t.notes)
    return "\n".join(parts)


def _kinds(s: Summary) -> str:
    """What each kind of anomaly in the report means, once per kind."""
    seen: dict[str, str] = {}
    for a in s.anomalies:
        seen.setdefault(a.kind.value, a.why)
    for g in s.not_listed.anomalies:
        seen.setdefault(g.kind.value, g.why)
    if not seen:
        return ""
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(why)}</dd>" for k, why in sorted(seen.items()))
    return f'<h3>What each kind means</h3><dl class="kinds">{items}</dl>'


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
        f'<span><svg width="12" height="12"><circle cx="6" cy="6" r="5" '
        f'fill="{c}"/></svg> {_e(st.value)}</span>'
        for st, c in _DOT.items()
    )
    return f'<p class="meta legend">{items} &mdash; a black ring marks a grant with an anomaly.</p>'


def render_html(s: Summary) -> str:
    t = s.totals
    figures = cards([(t.reveals, "reveals"), (t.anomalies, "anomalies"), (t.requests, "requests"),
                     (t.approvals, "approvals"), (t.grants_denied, "grants denied"),
                     (t.access_denied, "denied attempts"), (t.direct_accesses, "direct accesses"),
                     (t.deposits, "deposits"), (t.rotations, "rotations")])
    warnings = "".join(f'<p class="note">{_e(w)}</p>' for w in s.warnings)
    parts = sections(s, why_per_row=False)
    nav = "".join(f'<a href="#{p.anchor}">{_e(p.title.split(":")[0])}</a>' for p in parts)
    body = []
    for p in parts:
        body.append(_html_section(p))
        if p.anchor == "reveals":
            body.append(f"{timeline_svg(s.reveals, s.anomalies)}\n{_legend()}")
        elif p.anchor == "anomalies":
            body.append(_kinds(s))
    breakdown = f"<p>Anomalies by severity: {_e(anomaly_breakdown(s))}.</p>" if s.anomalies else ""
    return document("Custody access summary", f"""<h1>Custody access summary</h1>
<p class="meta">Mount <code>{_e(s.mount)}</code>, service role <code>{_e(s.service_role)}</code>.
Window: {_e(s.window.since or "start of logs")} to {_e(s.window.until or "end of logs")}.
Entries from {_e(s.input.first_entry or "-")} to {_e(s.input.last_entry or "-")}.
Schema version {_e(s.schema_version)}.</p>
{warnings}
{figures}
{breakdown}
<nav>{nav}<a href="#evidence">Evidence read</a></nav>
{"".join(body)}
{_evidence(s)}""", _CSS)


def _evidence(s: Summary) -> str:
    files = "".join(f"<li><code>{_e(f)}</code></li>" for f in s.input.files)
    sign = _html_table(
        ("role", "name", "signature", "date"),
        ((r, "", "", "") for r in ("Prepared by", "Reviewed by (security)", "Auditor")),
        cls="sign",
    )
    return f"""<h2 id="evidence">Evidence read</h2>
<p>{s.input.lines_total} lines, {s.input.lines_custody} custody lines parsed, {s.input.lines_invalid} invalid,
{s.input.entries_duplicate} duplicate entries dropped.</p>
<ul>{files}</ul>
<h2>Sign-off</h2>
{sign}"""
