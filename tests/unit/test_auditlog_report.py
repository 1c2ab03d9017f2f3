"""What the auditor's report shows beyond the figures: comments, denials, reviews, setup, approvals by tokens
without an identity, and what it counted but did not list (the bound that keeps any log's summary small).

Lines are the recorded OpenBao entries of tests/fixtures/audit/scenario.log, changed where a test needs a field
the recorder did not write, in the shape OpenBao writes them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks.bench_audit import generate_hostile
from custody.auditlog import context, render, spill, summarize, summarize_lines
from custody.auditlog.model import AnomalyKind, Severity, Summary
from custody.repo.records import NON_HMAC_KEYS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "audit"
SCENARIO = FIXTURES / "scenario.log"
EVASION = FIXTURES / "evasion.log"
LINES = SCENARIO.read_bytes().splitlines(keepends=True)


def entries() -> Iterator[dict[str, Any]]:
    for line in LINES:
        yield orjson.loads(line)


def grant_write(grant_id: str, event: str) -> dict[str, Any]:
    """The service's response entry writing a grant record with that event."""
    for e in entries():
        d = ((e["request"].get("data") or {}).get("data")) or {}
        if e["type"] == "response" and d.get("grant_id") == grant_id and d.get("event") == event:
            return e
    raise AssertionError(f"no {event} write of {grant_id}")


def with_grant_data(e: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> bytes:
    change(e["request"]["data"]["data"])
    return orjson.dumps(e)


def replaced(old: dict[str, Any], new: bytes) -> list[bytes]:
    """The scenario with one entry (request and response, by request id) replaced by ``new``."""
    rid = old["request"]["id"]
    return [ln for ln in LINES if rid.encode() not in ln] + [new]


@pytest.fixture(scope="module")
def summary() -> Summary:
    return summarize([SCENARIO], workers=1)


def test_reveals_come_first_with_approval_comments_and_reviews(summary: Summary) -> None:
    md = render(summary, "markdown")
    page = render(summary, "html")
    assert md.index("## Reveals") < md.index("## Anomalies")
    assert page.index('id="reveals"') < page.index('id="anomalies"') < page.index('id="principals"')
    g1 = next(r for r in summary.reveals if r.grant_id == "g-0001")
    assert [a.comment for a in g1.approvers] == ["ok", "ok"]
    for text in (md, page):
        assert "userpass-bob at 07:01:05Z: ok; userpass-carol at 07:01:05Z: ok" in text
        assert "emergency, reviewed by userpass-sec at 07:01:05Z" in text  # g-0004
        assert "emergency, not reviewed" in text  # g-0003


def test_denied_requests_show_reason_denier_and_comment() -> None:
    old = grant_write("g-0005", "grant.denied")
    at = old["request"]["data"]["data"]["at"]

    def denial(d: dict[str, Any]) -> None:
        d["denial"] = {"denied_by": "userpass-bob", "denied_by_entity": d["actor_entity"], "at": at,
                       "comment": "no ticket for this"}

    s = summarize_lines(replaced(old, with_grant_data(old, denial)))
    (d,) = s.denials
    assert (d.grant_id, d.reason, d.denied_by.display_name, d.comment) == (
        "g-0005", "curious", "userpass-bob", "no ticket for this")
    for fmt in ("markdown", "html"):
        text = render(s, fmt)
        assert "Denied requests" in text and "no ticket for this" in text and "curious" in text


def test_an_emergency_review_shows_who_when_and_the_comment() -> None:
    old = grant_write("g-0004", "grant.reviewed")

    def review(d: dict[str, Any]) -> None:
        d["review"] = {"reviewed_by": "userpass-sec", "reviewed_by_entity": d["actor_entity"],
                       "at": "2026-11-25T07:01:05.352982Z", "comment": "owner confirmed the leak"}

    s = summarize_lines(replaced(old, with_grant_data(old, review)))
    g4 = next(r for r in s.reveals if r.grant_id == "g-0004")
    assert g4.review is not None and (g4.review.by, g4.review.comment) == ("userpass-sec", "owner confirmed the leak")
    assert g4.review.at == "2026-11-25T07:01:05.352982Z"
    for fmt in ("markdown", "html"):
        assert "reviewed by userpass-sec at 07:01:05Z: owner confirmed the leak" in render(s, fmt)


def test_an_approval_by_a_token_without_identity_is_flagged(summary: Summary) -> None:
    """custody records such a token as ``token-`` and a digest of its accessor (Principal.from_lookup)."""
    old = grant_write("g-0002", "grant.approved")
    orphan = "token-5c0ffee0beef"

    def by_orphan(d: dict[str, Any]) -> None:
        d["actor"], d["actor_entity"] = "token", orphan
        d["approvals"][0].update(approver="token", approver_entity=orphan)

    s = summarize_lines(replaced(old, with_grant_data(old, by_orphan)))
    (a,) = [a for a in s.anomalies if a.kind is AnomalyKind.APPROVAL_WITHOUT_IDENTITY]
    assert (a.severity, a.grant_id, a.principal.entity_id) == (Severity.HIGH, "g-0002", orphan)
    assert s.totals.anomalies == summary.totals.anomalies + 1
    assert not [a for a in summary.anomalies if a.kind is AnomalyKind.APPROVAL_WITHOUT_IDENTITY]


def _root_write(path: str, data: dict[str, Any], error: str = "") -> bytes:
    """A root token's response entry writing ``path``, shaped like the scenario's own (strings HMAC'd)."""
    e = next(e for e in entries() if e["type"] == "response" and e["request"]["path"] == "sys/mounts/custody-kv")
    e["request"]["path"], e["request"]["data"] = path, data
    e["request"]["id"] = f"setup-{path}"
    if error:
        e["error"] = error
    return orjson.dumps(e)


def _hmacs(n: int) -> list[str]:
    return [f"hmac-sha256:{i:064x}" for i in range(n)]


def bootstrap_lines(tune_keys: int = len(NON_HMAC_KEYS)) -> list[bytes]:
    """What `custody bootstrap` writes, as the audit log shows it (string values HMAC'd, numbers and booleans not)."""
    h = "hmac-sha256:" + "ab" * 32
    return [
        _root_write("sys/mounts/custody-kv", {"type": h, "options": {"version": h}, "description": h}),
        _root_write("sys/mounts/custody-kv/tune", {"audit_non_hmac_request_keys": _hmacs(tune_keys),
                                                   "audit_non_hmac_response_keys": _hmacs(tune_keys)}),
        _root_write("custody-kv/config", {"max_versions": 20, "cas_required": True, "delete_version_after": h}),
    ]


def test_bootstrap_setup_is_shown_once_as_setup_not_as_anomalies() -> None:
    s = summarize_lines(bootstrap_lines())
    paths = sorted(w.path for w in s.setup)
    assert paths == ["custody-kv/config", "sys/mounts/custody-kv", "sys/mounts/custody-kv/tune"]
    assert s.anomalies == [] and s.totals.anomalies == 0
    md, page = render(s, "markdown"), render(s, "html")
    for text in (md, page):
        assert text.count("recognised as what `custody bootstrap` does") == 1
        assert "Setup" in text and "mount_admin" not in text


def test_other_writes_by_root_stay_anomalies_at_their_severity() -> None:
    h = "hmac-sha256:" + "cd" * 32
    lines = [
        *bootstrap_lines(tune_keys=len(NON_HMAC_KEYS) + 1)[1:2],  # one more field name made readable: a code?
        _root_write("custody-kv/config", {"max_versions": 20, "cas_required": False, "delete_version_after": h}),
        _root_write("sys/mounts/custody-kv", {"type": h, "options": {"version": h}, "description": h}, "refused"),
    ]
    s = summarize_lines(lines)
    assert s.setup == []
    got = sorted((a.path, a.severity) for a in s.anomalies)
    assert got == [("custody-kv/config", Severity.HIGH), ("sys/mounts/custody-kv", Severity.MEDIUM),
                   ("sys/mounts/custody-kv/tune", Severity.CRITICAL)]


def test_past_the_bounds_the_report_counts_and_says_so(monkeypatch: pytest.MonkeyPatch, summary: Summary) -> None:
    monkeypatch.setattr(context, "LISTED_PER_GROUP", 2)
    monkeypatch.setattr(context, "LISTED_PRINCIPALS", 3)
    monkeypatch.setattr(context, "LISTED_ACCOUNTS", 0)
    s = summarize([SCENARIO], workers=1)
    assert s.totals == summary.totals  # exact, whatever is listed
    (g,) = s.not_listed.anomalies
    assert (g.kind, g.total, g.listed, len(s.anomalies)) == (AnomalyKind.PERMISSION_DENIED, 3, 2, 10)
    assert g.first_seen <= g.last_seen and g.top_offenders[0].principal.display_name == "userpass-mallory"
    assert len(s.principals) == 3 and s.not_listed.principals is not None and s.not_listed.principals.count > 0
    assert any("not_listed" in w for w in s.warnings)
    assert orjson.loads(render(s, "json"))["not_listed"]["anomalies"][0]["total"] == 3
    for fmt in ("markdown", "html"):
        text = render(s, fmt)
        assert "Counted, not listed one by one" in text and "more principals are not listed" in text
    rows = list(csv.DictReader(io.StringIO(render(s, "csv"))))
    (more,) = [r for r in rows if r["kind"] == "not_listed"]
    assert (more["path"], more["outcome"][:19]) == ("permission_denied", "1 more not listed, ")


def test_facts_on_disk_summarise_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    both = [SCENARIO, EVASION]
    in_memory = summarize(both, workers=1)
    monkeypatch.setattr(spill, "MEMORY_FACTS", 3)
    on_disk = summarize(both, workers=2)
    assert on_disk.model_dump() == in_memory.model_dump()


def test_a_hostile_log_is_counted_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused reads and lists by a principal each, and unwraps of made-up tokens: every one counted, few listed."""
    monkeypatch.setattr(spill, "MEMORY_FACTS", 500)
    log = tmp_path / "hostile.log"
    calls = int(generate_hostile(SCENARIO, log, 2)["attempts"])
    s = summarize([log], workers=2)
    refused = calls * 2 // 3  # each group: a refused read, a refused list, a failed unwrap of a made-up token
    assert s.totals.access_denied == refused + 3  # and the scenario's own three, twice in the log: counted once
    assert s.totals.reveals == 8 and s.input.entries_duplicate > 0
    (g,) = s.not_listed.anomalies
    assert g.total == refused + 3 and g.listed == context.LISTED_PER_GROUP
    assert s.not_listed.principals is not None


def test_a_reading_process_that_fails_is_an_error_not_a_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import sys

    from custody.auditlog import AuditReadError
    from custody.auditlog.partial import Partial

    parent = os.getpid()
    original = Partial.add_line

    def broken(self: Partial, line: bytes | bytearray, ex: Any) -> None:
        if os.getpid() != parent:
            raise MemoryError("out of memory in the worker")
        original(self, line, ex)

    from custody.auditlog import reader

    claim = reader._claim

    def worker_claims_all(counter: Any) -> int:  # so the failing worker reads, however late it starts
        return sys.maxsize if os.getpid() == parent else claim(counter)

    monkeypatch.setattr(Partial, "add_line", broken)
    monkeypatch.setattr(reader, "_claim", worker_claims_all)
    with pytest.raises(AuditReadError, match="reading process failed"):
        summarize([SCENARIO, EVASION], workers=2)


def test_html_paths_break_at_slashes_and_tables_stack_on_narrow_pages(summary: Summary) -> None:
    """Checked by eye in Chromium at 1400 and 800 px; this keeps what made it fit: a path breaks after a slash and
    never inside a segment, and below 900 px every table row becomes a block of labelled cells."""
    page = render(summary, "html")
    assert '<span class="seg">custody-kv</span>/<wbr><span class="seg">data</span>' in page
    assert "@media (max-width:900px){table.stack" in page
    assert page.count('<table class="stack') == page.count("<table")
    assert '<td data-label="path"><span class="path">' in page
    principals = page[page.index('id="principals"'):]
    assert "<th>grants</th>" in principals and "<th>requested</th>" not in principals  # one column, not five
