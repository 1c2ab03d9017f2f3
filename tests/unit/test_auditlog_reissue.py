"""A reveal handed out again (``custody access reveal --again``): the token handed out before was revoked by the
service, and the summary says so instead of reporting it never unwrapped.

The lines have the shape OpenBao wrote for a real re-issue (tests/integration/test_audit_reissue.py records one):
each grant write carries ``reveal_attempt`` with its ``number`` in clear and its ``accessor`` HMAC'd, and each
hand-out carries the wrapping token's accessor, HMAC'd with the same key, in ``response.wrap_info.accessor``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from custody.auditlog import read_lines, render, summarize_lines, summarize_partial
from custody.auditlog.model import AnomalyKind, Summary, UnwrapStatus

SERVICE = {"display_name": "approle", "metadata": {"role_name": "custody-service"}, "client_token": "hmac-sha256:svc"}
GRANT = "gr_sflgsed2xzdqvtyb"
ERIN = {"display_name": "userpass-erin", "entity_id": "e-erin", "client_token": "hmac-sha256:erin"}
MALLORY = {"display_name": "userpass-mallory", "entity_id": "e-mallory", "client_token": "hmac-sha256:mallory"}
NO_ACCESSOR = "hmac-sha256:cc0252"  # what the log shows of the empty accessor of an attempt still running
RUNNING, HANDED_OUT = "hmac-sha256:33e229", "hmac-sha256:cbac6c"  # the HMACs of the attempt's state


def at(seconds: float) -> str:
    return f"2026-12-01T13:{13 + int(seconds) // 60:02d}:{seconds % 60:09.6f}Z"


def grant_write(rid: str, t: float, event: str, attempt: int = 0, accessor: str = NO_ACCESSOR) -> bytes:
    data: dict[str, Any] = {
        "event": event, "grant_id": GRANT, "account": "pypi/acme", "actor": "userpass-erin", "actor_entity": "e-erin",
        "requester": "userpass-erin", "requester_entity": "e-erin", "reason": "lost phone, release blocked",
        "status": "approved" if not attempt else "revealed", "approvals": [], "approvals_required": 0,
        "code_fp": "fp-a678bf148f" if event != "grant.revealing" and attempt else "",
    }
    if attempt:
        state = HANDED_OUT if event == "grant.revealed" else RUNNING
        data["reveal_attempt"] = {"number": attempt, "accessor": accessor, "nonce": f"hmac-sha256:n{attempt}",
                                  "state": state, "started_at": at(t)}
    request = {"id": rid, "operation": "update", "path": f"custody-kv/data/grants/{GRANT}",
               "data": {"data": data, "options": {"cas": attempt}}}
    return orjson.dumps({"time": at(t), "type": "response", "auth": SERVICE, "request": request})


def handout(rid: str, t: float, wrap: str, accessor: str) -> bytes:
    request = {"id": rid, "operation": "read", "path": f"cubbyhole/reveals/{GRANT}"}
    return orjson.dumps({"time": at(t), "type": "response", "auth": SERVICE, "request": request,
                         "response": {"wrap_info": {"token": wrap, "accessor": accessor, "ttl": 300}}})


def unwrap(rid: str, t: float, wrap: str, who: dict[str, str], error: str = "") -> bytes:
    request = {"id": rid, "operation": "update", "path": "sys/wrapping/unwrap", "data": {"token": wrap}}
    entry = {"time": at(t), "type": "response", "auth": who, "request": request}
    return orjson.dumps(entry | ({"error": error} if error else {}))


REQUESTED = grant_write("w-0", 0, "grant.requested")
FIRST = [grant_write("w-1", 1, "grant.revealing", 1), handout("h-1", 1.1, "hmac-sha256:wrap1", "hmac-sha256:acc1"),
         grant_write("w-2", 1.2, "grant.revealed", 1, "hmac-sha256:acc1")]
# --again: the service revoked the first token (auth/token/revoke-accessor, not read), then began attempt 2
AGAIN = [grant_write("w-3", 30, "grant.reveal_resumed", 2),
         handout("h-2", 30.1, "hmac-sha256:wrap2", "hmac-sha256:acc2"),
         grant_write("w-4", 30.2, "grant.revealed", 2, "hmac-sha256:acc2"),
         unwrap("u-2", 30.5, "hmac-sha256:wrap2", ERIN)]
LATER = grant_write("w-9", 900, "grant.reviewed", 2, "hmac-sha256:acc2")  # the log goes on past both TTLs


def summary_of(lines: list[bytes]) -> Summary:
    return summarize_partial(read_lines(lines))


def statuses(s: Summary) -> list[UnwrapStatus]:
    return [r.unwrap_status for r in s.reveals]


def test_the_token_revoked_to_hand_the_code_out_again_is_not_reported_never_unwrapped() -> None:
    s = summary_of([REQUESTED, *FIRST, *AGAIN, LATER])
    assert statuses(s) == [UnwrapStatus.REVOKED_REISSUED, UnwrapStatus.BY_REQUESTER]
    assert s.anomalies == [] and s.totals.anomalies == 0
    assert s.totals.reveals == 2  # both hand-outs are still counted: the code left the vault twice
    assert [u.request_id for u in s.reveals[1].unwraps] == ["u-2"] and s.reveals[0].unwraps == []


def test_every_format_names_the_status() -> None:
    s = summary_of([REQUESTED, *FIRST, *AGAIN, LATER])
    assert [r["unwrap_status"] for r in json.loads(render(s, "json"))["reveals"]] == ["revoked_reissued",
                                                                                    "by_requester"]
    (row,) = [line for line in render(s, "markdown").splitlines() if "revoked_reissued" in line]
    assert row.startswith("| ") and GRANT in row
    page = render(s, "html")
    assert page.count("revoked_reissued") >= 3  # the table, the timeline's tooltip and its legend
    assert "revoked_reissued" in render(s, "csv")


def test_the_join_does_not_depend_on_the_order_of_lines_or_their_times() -> None:
    lines = [REQUESTED, *FIRST, *AGAIN, LATER]
    assert summary_of(lines[::-1]) == summary_of(lines)
    # a second node's clock: the re-issue's writes logged earlier than the first hand-out; attempt numbers decide
    skewed = [REQUESTED, *FIRST, grant_write("w-3", 0.5, "grant.reveal_resumed", 2), *AGAIN[1:], LATER]
    assert statuses(summary_of(skewed))[0] is UnwrapStatus.REVOKED_REISSUED


def test_without_the_re_issue_the_same_token_is_never_unwrapped() -> None:
    """Revoked by someone else, or simply left to expire: the service began no new attempt, so the summary cannot
    tell, and the requester never got that code: the anomaly stays."""
    s = summary_of([REQUESTED, *FIRST, LATER])
    assert statuses(s) == [UnwrapStatus.NEVER]
    assert [a.kind for a in s.anomalies] == [AnomalyKind.NEVER_UNWRAPPED]


def test_a_real_unwrap_before_the_re_issue_is_still_reported() -> None:
    """The service cannot revoke a token that was unwrapped; whatever a log says, an unwrap decides the status."""
    taken = unwrap("u-1", 5, "hmac-sha256:wrap1", MALLORY)
    s = summary_of([REQUESTED, *FIRST, taken, *AGAIN, LATER])
    assert statuses(s) == [UnwrapStatus.WRONG_PRINCIPAL, UnwrapStatus.BY_REQUESTER]
    (a,) = s.anomalies
    assert a.kind is AnomalyKind.UNWRAP_WRONG_PRINCIPAL and a.request_id == "u-1"


def test_an_attempt_on_the_revoked_token_is_still_an_anomaly() -> None:
    """Whoever presents the revoked token held it: the answer the requester lost reached someone."""
    late_try = unwrap("u-1", 40, "hmac-sha256:wrap1", MALLORY, error="wrapping token is not valid or does not exist")
    s = summary_of([REQUESTED, *FIRST, *AGAIN, late_try, LATER])
    assert statuses(s) == [UnwrapStatus.REVOKED_REISSUED, UnwrapStatus.BY_REQUESTER]
    assert [(a.kind, a.request_id) for a in s.anomalies] == [(AnomalyKind.UNWRAP_FAILED, "u-1")]


@pytest.mark.parametrize("accessor", ["", "hmac-sha256:other", "clear-accessor-1"])
def test_a_hand_out_the_record_does_not_name_is_not_taken_for_revoked(accessor: str) -> None:
    """No accessor in the hand-out, another one, or one in clear (an audit device with hmac_accessor off: the
    record's is HMAC'd all the same, so the two cannot be compared): the join is not made."""
    first = [FIRST[0], handout("h-1", 1.1, "hmac-sha256:wrap1", accessor), FIRST[2]]
    s = summary_of([REQUESTED, *first, *AGAIN, LATER])
    assert statuses(s) == [UnwrapStatus.NEVER, UnwrapStatus.BY_REQUESTER]
    assert [a.kind for a in s.anomalies] == [AnomalyKind.NEVER_UNWRAPPED]


def test_a_resume_after_a_failed_attempt_is_not_taken_for_a_re_issue() -> None:
    """An attempt whose grant.revealed write failed after its hand-out is abandoned (grant.reveal_failed) and
    resumed without --again. A record that does not name the token (the service could not revoke it, or wrote
    records before it named it) is not joined: the hand-out reads as a token nobody unwrapped."""
    failed = [grant_write("w-1", 1, "grant.revealing", 1), handout("h-1", 1.1, "hmac-sha256:wrap1", "hmac-sha256:acc1"),
              grant_write("w-2", 1.2, "grant.reveal_failed", 1)]
    s = summarize_lines([REQUESTED, *failed, *AGAIN, LATER])
    assert statuses(s) == [UnwrapStatus.NEVER, UnwrapStatus.BY_REQUESTER]


def test_a_token_revoked_because_its_hand_out_could_not_be_recorded_says_so() -> None:
    """The failure's record names the token the service revoked: revoked for that reason, with or without a
    retry, and no anomaly; a resumed attempt after it is not taken for a re-issue of a delivered code."""
    failed = [grant_write("w-1", 1, "grant.revealing", 1), handout("h-1", 1.1, "hmac-sha256:wrap1", "hmac-sha256:acc1"),
              grant_write("w-2", 1.2, "grant.reveal_failed", 1, "hmac-sha256:acc1")]
    for lines in ([REQUESTED, *failed, *AGAIN, LATER], [REQUESTED, *failed, LATER]):
        s = summarize_lines(lines)
        assert statuses(s)[0] is UnwrapStatus.REVOKED_UNRECORDED
        assert s.anomalies == []
        assert summarize_lines(lines[::-1]) == s
    assert statuses(summarize_lines([REQUESTED, *failed, *AGAIN, LATER])) == [UnwrapStatus.REVOKED_UNRECORDED,
                                                                             UnwrapStatus.BY_REQUESTER]
    # another hand-out of the same grant is not taken for the one the failure names
    other = [grant_write("w-1", 1, "grant.revealing", 1), handout("h-1", 1.1, "hmac-sha256:wrap1", "hmac-sha256:acc9"),
             grant_write("w-2", 1.2, "grant.reveal_failed", 1, "hmac-sha256:acc1")]
    assert statuses(summarize_lines([REQUESTED, *other, LATER])) == [UnwrapStatus.NEVER]
