"""An evidence pack for people: Markdown or one self-contained HTML page (no scripts, no outside resources, every
text escaped), the controls first and then the raw sections they point into. Rendering checks no signature: the
page says so and names the command that does."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from custody.evidence.dsse import Envelope
from custody.reports.page import Cell, document, esc, slashed, table, words

Row = Sequence[object]
EMPTY = "Nothing in the period."

Section = tuple[str, str, list[str], list[Row]]  # (anchor, title, columns, rows)


def _text(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _time(value: object) -> str:
    """An audit time to the second, for reading (the statement keeps it whole)."""
    text = str(value or "")
    return f"{text[:10]} {text[11:19]}Z" if len(text) >= 19 and text[10] == "T" else text or "-"


def _who(p: Mapping[str, Any] | None) -> str:
    p = p or {}
    return str(p.get("display_name") or p.get("entity_id") or "-")


def _still_open(person: Mapping[str, Any]) -> list[str]:
    """What an offboarding left: open grants, keys not marked, accounts still the leaver's."""
    now = person.get("now") or {}
    return [*(f"grant {g}" for g in now.get("revoke_grants") or []),
            *(f"key {_text(k.get('account'))} {_text(k.get('label'))}" for k in now.get("keys") or []
              if k.get("status") != "custodian_left"),
            *(f"owner of {_text(a.get('account'))}" for a in now.get("owned") or [])]


def _said(who: object, comment: object) -> str:
    """``who: comment``, or ``who`` alone when nothing was said."""
    return _text(who) + (f": {comment}" if comment else "")


def _rotation(r: Mapping[str, Any]) -> str:
    """``#2 completed 2026-03-01 by alice: reason``, each part the record has."""
    started, actor = str(r.get("started_at") or "")[:10], r.get("actor")
    return (f"#{_text(r.get('number'))} {_text(r.get('status'))}" + (f" {started}" if started else "")
            + (f" by {actor}" if actor else "") + (f": {r['reason']}" if r.get("reason") else ""))


def sections(stmt: Mapping[str, Any]) -> list[Section]:
    """The tables of a pack, in reading order: controls, inputs, then each raw section."""
    p = stmt["predicate"]
    access = p.get("access") or {}
    inputs = p.get("inputs") or {}
    rows_inputs: list[Row] = [(i.get("name"), i.get("sha256"), i.get("size")) for i in inputs.get("audit_logs") or []]
    if inputs.get("inventory"):
        inv = inputs["inventory"]
        rows_inputs.append((inv.get("name"), inv.get("sha256"), inv.get("size")))
    return [
        ("controls", "Controls", ["framework", "control", "status", "why", "evidence"],
         [(c["framework"], f"{c['control']}: {c.get('title', '')}", c["status"], c["why"], c["evidence"])
          for c in p.get("controls") or []]),
        ("inputs", "Inputs", ["file", "sha256", "bytes"], rows_inputs),
        ("accounts", "Accounts", ["account", "owner", "tier", "approvals", "ownership", "human owner"],
         [(a["account"], a.get("owner"), a.get("tier"), a.get("approvals_required"), a.get("ownership"),
           a.get("human_owner")) for a in p.get("accounts") or []]),
        ("custody", "Recovery codes in custody", ["account", "codes", "remaining", "generation", "age (days)",
                                                  "overdue", "rotations in the period"],
         [(c["account"], c["status"].get("total"), c["status"].get("remaining"), c["status"].get("generation"),
           c["status"].get("age_days"), c["status"].get("overdue"),
           [_rotation(r) for r in c.get("rotations") or []]) for c in p.get("custody") or []]),
        ("keys", "WebAuthn keys (keys check)", ["account", "keys", "distinct tokens", "custodians", "ok", "problems"],
         [(v["account"], v.get("keys"), v.get("distinct_tokens"), v.get("custodians"), v.get("ok"),
           [q.get("message") for q in v.get("problems") or []])
          for v in ((p.get("keys") or {}).get("check") or {}).get("accounts") or []]),
        ("drills", "Recovery drills", ["drill", "account", "result", "started", "time to recovery (s)", "flags"],
         [(d["id"], d.get("account"), d.get("result") or d.get("status"), d.get("started_at"),
           d.get("time_to_recovery_seconds"), [f.get("message") for f in d.get("flags") or []])
          for d in (p.get("drills") or {}).get("drills") or []]),
        ("offboardings", "Offboardings", ["email", "offboarded", "by", "reason", "still open"],
         [(o["email"], o.get("offboarded_at"), o.get("offboarded_by"), o.get("reason"), _still_open(o))
          for o in p.get("offboardings") or []]),
        ("reveals", "Reveals (from the audit logs)", ["time", "account", "grant", "requester", "reason", "ticket",
                                                       "approvers", "emergency", "review"],
         [(_time(r.get("time")), r.get("account"), r.get("grant_id"), _who(r.get("requester")), r.get("reason"),
           r.get("ticket"), [_said(a.get("approver"), a.get("comment")) for a in r.get("approvers") or []],
           r.get("emergency"), _said(r["review"].get("by"), r["review"].get("comment")) if r.get("review") else None)
          for r in access.get("reveals") or []]),
        ("anomalies", "Anomalies (from the audit logs)", ["time", "kind", "severity", "who", "path", "why"],
         [(_time(a.get("time")), a.get("kind"), a.get("severity"), _who(a.get("principal")), a.get("path"),
           a.get("why"))
          for a in access.get("anomalies") or []]),
    ]


def _header(stmt: Mapping[str, Any], env: Envelope) -> list[tuple[str, str]]:
    p = stmt["predicate"]
    inputs = p.get("inputs") or {}
    counts = {st: sum(1 for c in p.get("controls") or [] if c.get("status") == st)
              for st in ("pass", "fail", "not-applicable")}
    return [("period", f"from {p['period']['start']} up to {p['period']['end']} (excluded)"),
            ("controls", f"{counts['fail']} fail, {counts['pass']} pass, {counts['not-applicable']} not applicable"),
            ("built", _text(inputs.get("built_at")) + (f" by {_who(inputs['built_by'])}" if inputs.get("built_by")
                                                         else "")),
            ("custody version", _text(inputs.get("custody_version"))),
            ("signatures", ", ".join(s.keyid for s in env.signatures) or "none"),
            ("checked", "not by this page: run `custody evidence verify FILE --public-key KEY` (or --vault)")]


# ---- Markdown -----------------------------------------------------------------------------------------------
def _md(value: object) -> str:
    return _text(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def markdown(stmt: Mapping[str, Any], env: Envelope) -> str:
    out = ["# Evidence pack", ""]
    out += [f"- **{k}**: {_md(v)}" for k, v in _header(stmt, env)]
    for _, title, columns, rows in sections(stmt):
        out += ["", f"## {title}", ""]
        if not rows:
            out.append(EMPTY)
            continue
        out += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


# ---- HTML ---------------------------------------------------------------------------------------------------
def _e(value: object) -> str:
    return esc(_text(value))


# What only the evidence pack has: the header's list of facts, the controls' column widths.
CSS = """
dl.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:4px 16px;margin:12px 0;padding:12px 16px;
border:1px solid var(--rule);border-radius:6px;background:var(--paper)}dl.facts dt{font-weight:600}
dl.facts dd{margin:0;overflow-wrap:anywhere}
#controls td:first-child{min-width:8em}#controls td:nth-child(2){min-width:14em}
#controls td:last-child{min-width:17em}td.free{min-width:9em}td code{display:block}
@media (max-width:900px){#controls td:nth-child(2){min-width:9em}#controls td:last-child{min-width:12em}}
"""

# Columns of free text, which may break anywhere to fit; of names that break only after a "/" (pypi/acme-tools);
# of names that break only between words (ISO/IEC 27001:2022). Every other column holds an identifier, a time or a
# number, which never breaks.
FREE = {"control", "why", "reason", "problems", "flags", "approvers", "review", "still open",
        "rotations in the period"}
SLASHED = {"account", "path", "file"}
WORDS = {"framework"}
# The tables too wide for a half screen: there, each row becomes a block of labelled cells.
STACKED = {"custody", "reveals", "anomalies"}


def _cell(column: str, value: object) -> Cell:
    if column in SLASHED:
        return slashed(_text(value))
    if column in WORDS:
        return words(_text(value))
    if column == "status":
        cls = str(value) if value in ("pass", "fail", "not-applicable") else ""
        return f'<span class="pill {cls}">{_e(value)}</span>'
    if column == "evidence" and isinstance(value, list):  # JSON pointers into the statement
        return "".join(f"<code>{slashed(_text(v))}</code>" for v in value)
    return ("free" if column in FREE else "id", _e(value))


def _section(anchor: str, title: str, columns: list[str], rows: list[Row]) -> str:
    body = table(columns, ([_cell(c, v) for c, v in zip(columns, row, strict=True)] for row in rows),
                 "stack" if anchor in STACKED else "", empty=EMPTY)
    return f'<section id="{_e(anchor)}"><h2>{_e(title)}</h2>{body}</section>'


def html(stmt: Mapping[str, Any], env: Envelope) -> str:
    parts = sections(stmt)
    header = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in _header(stmt, env))
    nav = "".join(f'<a href="#{_e(a)}">{_e(t)}</a>' for a, t, _, _ in parts)
    return document(f"Evidence pack {stmt['predicate']['period']['start'][:10]}",
                    f'<h1>Evidence pack</h1><dl class="facts">{header}</dl><nav>{nav}</nav>'
                    + "".join(_section(*s) for s in parts), CSS)
