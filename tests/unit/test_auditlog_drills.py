"""A drill's grant is a drill in the audit summary: its reveal row carries the drill id, and the renderers say so."""

from __future__ import annotations

import json

import orjson

from custody.auditlog import render, summarize_lines

SERVICE = {"display_name": "approle", "metadata": {"role_name": "custody-service"}}


def grant_write(grant: str, drill: str | None, at: str) -> bytes:
    data = {"event": "grant.requested", "grant_id": grant, "account": "pypi/acme", "requester": "userpass-eng",
            "requester_entity": "e-eng", "reason": "recovery drill of the release account", "status": "approved",
            **({"drill": drill} if drill else {})}
    request = {"id": f"w-{grant}", "operation": "update", "path": f"custody-kv/data/grants/{grant}",
               "data": {"data": data}}
    return orjson.dumps({"time": at, "type": "response", "auth": SERVICE, "request": request})


def handout(grant: str, at: str) -> bytes:
    request = {"id": f"h-{grant}", "operation": "read", "path": f"custody-kv/data/reveals/{grant}"}
    return orjson.dumps({"time": at, "type": "response", "auth": SERVICE, "request": request,
                         "response": {"wrap_info": {"token": "hmac-sha256:w", "ttl": 60}}})


def test_a_drill_reveal_is_flagged_and_a_real_one_is_not() -> None:
    lines = [grant_write("gr_aaaaaaaaaaaaaaaa", "dr_abcdefghijkl", "2026-05-01T10:00:00Z"),
             handout("gr_aaaaaaaaaaaaaaaa", "2026-05-01T10:01:00Z"),
             grant_write("gr_bbbbbbbbbbbbbbbb", None, "2026-05-01T11:00:00Z"),
             handout("gr_bbbbbbbbbbbbbbbb", "2026-05-01T11:01:00Z")]
    s = summarize_lines(lines)
    assert {r.grant_id: r.drill for r in s.reveals} == {"gr_aaaaaaaaaaaaaaaa": "dr_abcdefghijkl",
                                                        "gr_bbbbbbbbbbbbbbbb": ""}
    reveals = json.loads(render(s, "json"))["reveals"]
    assert [r["drill"] for r in reveals] == ["dr_abcdefghijkl", ""]
    markdown = render(s, "markdown")
    drill_rows = [line for line in markdown.splitlines() if "DRILL dr_abcdefghijkl" in line]
    assert len(drill_rows) == 1 and "gr_aaaaaaaaaaaaaaaa" in drill_rows[0]
    assert "DRILL dr_abcdefghijkl" in render(s, "html") and markdown.count("DRILL") == 1
