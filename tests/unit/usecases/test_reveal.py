"""The reveal: one code, once, to the requester; under races (a competing write between a read and its
check-and-set write), failures at every write, and resumption with the same code."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from custody.domain import grants as rules
from custody.domain.models import AttemptState, GrantStatus, fingerprint
from custody.errors import (
    CasConflict,
    CodesChanged,
    Conflict,
    Exhausted,
    PermissionDenied,
    PreconditionFailed,
    StoreError,
)
from custody.repo.kv import WrapInfo
from tests.fakes import REASON, World, an_account, codes

# A reveal's Vault calls besides the capability check (the grant is read meanwhile), in order; the calls of one step
# are made at once, in either order: bench_load's RAW_CALLS.
REVEAL_STEPS = [
    [("read", "grants/{g}")], [("read", "accounts/pypi/acme"), ("read", "codes/pypi/acme")],
    [("write", "grants/{g}")], [("write", "codes/pypi/acme")], [("stage", "reveals/{g}")],
    [("wrap_staged", "reveals/{g}")], [("unstage", "reveals/{g}"), ("write", "grants/{g}")],
]
# The writes whose failure fails the reveal (the n-th write of that path): the staged copy's delete is not one.
REVEAL_WRITES = [("write", "grants/{g}", 1), ("write", "codes/pypi/acme", 1), ("stage", "reveals/{g}", 1),
                 ("write", "grants/{g}", 2)]


def in_steps(calls: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """``calls`` cut into REVEAL_STEPS' steps, each sorted (what is made at once has no order)."""
    steps, at = [], 0
    for step in REVEAL_STEPS:
        steps.append(sorted(calls[at:at + len(step)]))
        at += len(step)
    return steps + ([calls[at:]] if calls[at:] else [])


def expected_steps(grant_id: str) -> list[list[tuple[str, str]]]:
    return [sorted((op, path.format(g=grant_id)) for op, path in step) for step in REVEAL_STEPS]


def consumed(w: World) -> Counter[str]:
    """Which grant holds which code, by code."""
    entry = w.kv.read("codes/pypi/acme")
    assert entry is not None
    return Counter(c["grant_id"] for c in entry.data["codes"] if c["grant_id"])


def test_a_reveal_hands_the_requester_one_code_in_a_wrapping_token(w: World) -> None:
    deposited = an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    w.kv.calls.clear()
    w.vault.calls.clear()
    result = w.uc.access.reveal(w.token["engineer"], g.id)
    assert in_steps(w.kv.calls) == expected_steps(g.id)
    assert w.vault.calls == {"capabilities": 1}  # the caller's identity was remembered from the request
    code = w.kv.unwrap(result.wrap.token)["code"]
    assert code in deposited and result.remaining == 7 and code not in repr(result)
    assert result.grant.status is GrantStatus.revealed and result.grant.code_fp == fingerprint(code)
    assert w.kv.read(f"reveals/{g.id}") is None and not w.kv._cubbyhole  # staged in the cubbyhole, then gone
    codes_record = w.kv.read("codes/pypi/acme")
    assert codes_record is not None and codes_record.data["event"] == "code.consumed"
    assert consumed(w) == {g.id: 1}
    with pytest.raises(KeyError):
        w.kv.unwrap(result.wrap.token)  # single use
    assert w.notices.names()[-1] == "grant.revealed"


@pytest.mark.parametrize("grant", ["exists", "missing", "unreadable", "slow"])
def test_a_caller_who_may_not_reveal_learns_nothing_of_the_grant(w: World, grant: str) -> None:
    """The grant is read while Vault is asked whether the caller may reveal it: the refusal is the same whatever
    that read finds, and does not wait for it."""
    an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    gid = g.id if grant != "missing" else "gr_aaaaaaaaaaaaaaaa"
    release, read_done = threading.Event(), threading.Event()
    w.kv.calls.clear()

    def read(op: str, path: str) -> None:
        if (op, path) == ("read", f"grants/{gid}"):
            try:
                if grant == "unreadable":
                    raise StoreError("Vault is unreachable (test)")
                if grant == "slow":
                    release.wait(5)
            finally:
                read_done.set()

    w.kv.before.append(read)
    try:
        with pytest.raises(PermissionDenied) as refused:
            w.uc.access.reveal(w.token["approver"], gid)
        if grant == "slow":
            assert not read_done.is_set()  # the read is still on its way: the refusal did not wait for it
    finally:
        release.set()
    assert read_done.wait(5)
    assert refused.value.message == f"permission denied: update on custody/grants/{gid}/reveal"
    assert [op for op, path in w.kv.writes() if not path.startswith("denied/")] == []  # only the refusal's record


def test_a_caller_the_grant_refuses_is_refused_whatever_the_code_set_read_gave(w: World) -> None:
    """The code set is read while the account is: a refusal of the grant's rules still comes first."""
    an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)

    def unreadable(op: str, path: str) -> None:
        if (op, path) == ("read", "codes/pypi/acme"):
            raise StoreError("Vault is unreachable (test)")

    w.kv.before.append(unreadable)
    w.kv.calls.clear()
    with pytest.raises(PermissionDenied, match="only the requester"):
        w.uc.access.reveal(w.token["engineer2"], g.id)
    with pytest.raises(StoreError):  # the requester's own reveal needs it
        w.uc.access.reveal(w.token["engineer"], g.id)
    assert [c for c in w.kv.writes() if c[1].startswith(("grants/", "codes/"))] == []


def test_a_staged_copy_that_cannot_be_deleted_still_hands_the_code_out(w: World) -> None:
    """The delete runs beside the last write: if Vault refuses it, the token is valid and recorded, so the code
    goes out; the copy (the service's token alone reads it) dies with that token, and the log says so."""
    deposited = an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)

    def refuse(op: str, path: str) -> None:
        if op == "unstage":
            raise StoreError("Vault is unreachable (test)")

    w.kv.before.append(refuse)
    with capture_logs() as logs:
        result = w.uc.access.reveal(w.token["engineer"], g.id)
    w.kv.before.remove(refuse)
    assert w.kv.unwrap(result.wrap.token)["code"] in deposited and result.grant.status is GrantStatus.revealed
    left = [e for e in logs if e["event"] == "code.staged_left"]
    assert left and left[0]["grant_id"] == g.id and left[0]["log_level"] == "error"
    assert w.kv._cubbyhole
    w.kv.renew_token()  # the service's next token has a cubbyhole of its own
    assert not w.kv._cubbyhole


def test_a_grant_reveals_once_and_only_to_its_requester(w: World) -> None:
    an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    with pytest.raises(PermissionDenied, match="only the requester"):
        w.uc.access.reveal(w.token["engineer2"], g.id)
    with pytest.raises(PermissionDenied, match=r"update on custody/grants/.*/reveal"):
        w.uc.access.reveal(w.token["approver"], g.id)
    w.uc.access.reveal(w.token["engineer"], g.id)
    before = len(w.kv.writes())
    with pytest.raises(Conflict, match="already revealed"):
        w.uc.access.reveal(w.token["engineer"], g.id)
    assert len(w.kv.writes()) == before and consumed(w) == {g.id: 1}


def test_a_code_taken_between_our_read_and_our_write_is_not_ours(w: World) -> None:
    """Another grant's reveal takes the first free code after we read the set: our write loses, we pick again."""
    an_account(w)
    ours = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    theirs = w.uc.access.request(w.token["engineer2"], "pypi/acme", REASON)
    taken: list[str] = []

    def competing() -> None:
        taken.append(w.kv.unwrap(w.uc.access.reveal(w.token["engineer2"], theirs.id).wrap.token)["code"])

    w.kv.after_once("write", f"grants/{ours.id}", competing)  # our claim: the set was read just before it
    w.kv.calls.clear()  # (the competing reveal's calls, made from the hook, are not recorded)
    mine = w.kv.unwrap(w.uc.access.reveal(w.token["engineer"], ours.id).wrap.token)["code"]
    assert taken and mine != taken[0]
    assert consumed(w) == {ours.id: 1, theirs.id: 1}
    assert w.kv.calls.count(("write", "codes/pypi/acme")) == 2  # the write that lost the race, and the retry


def test_two_grants_never_get_one_code() -> None:
    """Ten reveals at once on eight codes: eight distinct codes, two clean 'exhausted' refusals, and those two
    grants back to approved."""
    from custody.config import PolicySettings
    from tests.fakes import world

    w = world(PolicySettings(open_grants_per_account=10))
    deposited = an_account(w)
    grants = [w.uc.access.request(w.token["engineer"], "pypi/acme", REASON) for _ in range(10)]
    got: dict[str, str] = {}
    refused: list[str] = []
    start = threading.Barrier(10)
    w.kv.before.append(lambda op, path: time.sleep(0.002) if op == "write" else None)  # widen every race window

    def reveal(gid: str) -> None:
        start.wait()
        try:
            got[gid] = w.kv.unwrap(w.uc.access.reveal(w.token["engineer"], gid).wrap.token)["code"]
        except Exhausted:
            refused.append(gid)

    threads = [threading.Thread(target=reveal, args=(g.id,)) for g in grants]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    races = [c for c in w.kv.calls if c == ("write", "codes/pypi/acme")]
    assert len(races) > 8 + 1  # the deposit and eight takes, and more: writes that lost a race and were retried
    assert len(got) == 8 and set(got.values()) == set(deposited) and len(refused) == 2
    for gid in refused:
        assert w.uc.access.show(w.token["engineer"], gid).status is GrantStatus.approved


def test_a_claim_that_loses_to_a_finished_reveal_of_the_same_grant_is_refused(w: World) -> None:
    an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)

    def competing() -> None:
        w.uc.access.reveal(w.token["engineer"], g.id)  # the same person, say from a second terminal

    w.kv.after_once("read", "codes/pypi/acme", competing)
    with pytest.raises(Conflict, match="was already revealed"):  # what happened, from the grant as it is now
        w.uc.access.reveal(w.token["engineer"], g.id)
    assert consumed(w) == {g.id: 1}


def test_a_claim_that_loses_to_a_denial_is_refused_and_takes_no_code(w: World) -> None:
    an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)

    def competing() -> None:
        w.uc.access.deny(w.token["security"], g.id, "not this one")

    w.kv.after_once("read", "codes/pypi/acme", competing)
    with pytest.raises(PreconditionFailed, match="is denied; it cannot be revealed"):
        w.uc.access.reveal(w.token["engineer"], g.id)
    assert consumed(w) == {}
    assert w.uc.access.show(w.token["engineer"], g.id).status is GrantStatus.denied


def test_our_claim_landed_but_its_answer_was_lost(w: World) -> None:
    """Vault wrote the claim and the answer never came (a failover): the retry's check-and-set fails, and the
    reveal goes on with the claim it finds is its own."""
    deposited = an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)

    def lost_answer() -> None:
        raise CasConflict("concurrent update (write)")

    w.kv.after_once("write", f"grants/{g.id}", lost_answer)
    result = w.uc.access.reveal(w.token["engineer"], g.id)
    assert w.kv.unwrap(result.wrap.token)["code"] in deposited and result.grant.code_fp
    assert consumed(w) == {g.id: 1}


@pytest.mark.parametrize(("op", "where", "nth"), REVEAL_WRITES)
def test_a_reveal_cut_off_at_any_write_resumes_with_the_same_code(w: World, op: str, where: str, nth: int) -> None:
    """Vault fails at a write of a reveal: the staged copy (if any) is gone, and the requester's retry hands out
    one code, the same one if one was already taken for the grant, and no second."""
    an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    seen: list[tuple[str, str]] = []

    def cut(name: str, path: str) -> None:
        if (name, path) == (op, where.format(g=g.id)):
            seen.append((name, path))
            if len(seen) == nth:
                raise StoreError("Vault is unreachable (test)")

    w.kv.before.append(cut)
    with pytest.raises(StoreError):
        w.uc.access.reveal(w.token["engineer"], g.id)
    w.kv.before.remove(cut)
    assert not w.kv._cubbyhole
    reserved = [c for c, holder in _holders(w).items() if holder == g.id]
    result = w.uc.access.reveal(w.token["engineer"], g.id)
    code = w.kv.unwrap(result.wrap.token)["code"]
    assert reserved in ([], [code])  # a code taken before the cut is the one handed out
    assert consumed(w) == {g.id: 1} and result.remaining == 7
    assert result.grant.code_fp == fingerprint(code) and not w.kv._cubbyhole
    with pytest.raises(Conflict, match="already revealed"):
        w.uc.access.reveal(w.token["engineer"], g.id)


def _holders(w: World) -> dict[str, str]:
    entry = w.kv.read("codes/pypi/acme")
    assert entry is not None
    return {c["code"]: c["grant_id"] for c in entry.data["codes"] if c["grant_id"]}


def test_an_interrupted_reveal_resumes_only_while_the_grant_lasts(w: World) -> None:
    an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, ttl="1h")

    def unreachable(op: str, path: str) -> None:
        if op == "wrap_staged":
            raise StoreError("Vault is unreachable (test)")

    w.kv.before.append(unreachable)
    with pytest.raises(StoreError):
        w.uc.access.reveal(w.token["engineer"], g.id)
    w.kv.before.remove(unreachable)
    with pytest.raises(PermissionDenied, match="only the requester"):
        w.uc.access.reveal(w.token["engineer2"], g.id)
    w.clock.advance(hours=1)
    with pytest.raises(PreconditionFailed, match="expired before its code reached you"):
        w.uc.access.reveal(w.token["engineer"], g.id)
    assert consumed(w) == {g.id: 1}  # its code stays reserved for it, never handed to anyone else
    assert not w.uc.access.show(w.token["engineer"], g.id).code_fp


def test_a_claim_whose_code_went_elsewhere_is_undone(w: World) -> None:
    """The last code goes to another grant between our claim and our take: we get 'exhausted', and the grant is
    approved again (a deposit or rotation later, it could be revealed)."""
    an_account(w, n=1)
    ours = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    theirs = w.uc.access.request(w.token["engineer2"], "pypi/acme", REASON)

    def competing() -> None:
        w.uc.access.reveal(w.token["engineer2"], theirs.id)

    w.kv.after_once("write", f"grants/{ours.id}", competing)
    with pytest.raises(Exhausted, match="no codes left"):
        w.uc.access.reveal(w.token["engineer"], ours.id)
    undone = w.kv.read(f"grants/{ours.id}")
    assert undone is not None and undone.data["status"] == "approved" and undone.data["revealed_at"] is None
    assert undone.data["event"] == "grant.reveal_failed"
    assert consumed(w) == {theirs.id: 1}


def test_codes_replaced_after_the_request_are_not_the_ones_approved(w: World) -> None:
    """Even a grant the replacement did not revoke (it was requested as the replacement ran) takes no new code."""
    an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    w.uc.ctx.repo.grants.ensure_index(w.who("security"), w.clock())
    w.kv.after_once("write", "codes/pypi/acme", lambda: w.kv.delete_all(f"index/account/pypi/acme/{g.id}"))
    w.uc.codes.deposit(w.token["security"], "pypi/acme", "\n".join(codes()), replace=True)
    before = len(w.kv.writes())
    with pytest.raises(CodesChanged, match="rotated or replaced after grant") as caught:
        w.uc.access.reveal(w.token["engineer"], g.id)
    assert caught.value.hint == "request a new grant" and len(w.kv.writes()) == before


def test_the_security_team_hears_when_codes_run_low(w: World) -> None:
    an_account(w, n=4)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    w.uc.access.reveal(w.token["engineer"], g.id)
    assert w.notices.events[-1] == {"event": "rotation.due", "account": "pypi/acme", "remaining": 3}


def test_fifty_reveals_of_one_grant_at_once_give_one_code_in_one_token() -> None:
    """50 simultaneous reveals of one grant returned 10-14 answers, each with its own wrapping token."""
    from tests.fakes import world

    w = world()
    deposited = an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    w.kv.before.append(lambda op, path: time.sleep(0.001) if op != "read" else None)  # widen every race window
    start = threading.Barrier(50)
    tokens: list[str] = []
    refused: list[str] = []

    def reveal() -> None:
        start.wait()
        try:
            tokens.append(w.uc.access.reveal(w.token["engineer"], g.id).wrap.token)
        except Conflict as exc:
            refused.append(exc.message)

    threads = [threading.Thread(target=reveal) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(tokens) == 1 and len(refused) == 49
    assert all("in progress" in m or "already revealed" in m for m in refused)
    assert w.kv.unwrap(tokens[0])["code"] in deposited and consumed(w) == {g.id: 1}


def test_a_reveal_whose_answer_was_lost_is_handed_out_again_and_the_first_token_dies(w: World) -> None:
    deposited = an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    lost = w.uc.access.reveal(w.token["engineer"], g.id).wrap  # the answer never reached the requester
    with pytest.raises(Conflict, match="already revealed") as refused:
        w.uc.access.reveal(w.token["engineer"], g.id)
    assert f"custody access reveal --again {g.id}" in (refused.value.hint or "")
    with pytest.raises(PermissionDenied, match="only the requester"):
        w.uc.access.reveal(w.token["engineer2"], g.id, again=True)
    again = w.uc.access.reveal(w.token["engineer"], g.id, again=True)
    with pytest.raises(KeyError):
        w.kv.unwrap(lost.token)  # revoked before the new one was handed out
    code = w.kv.unwrap(again.wrap.token)["code"]
    assert code in deposited and again.remaining == 7 and consumed(w) == {g.id: 1}
    assert again.grant.attempt is not None and again.grant.attempt.number == 2
    with pytest.raises(Conflict, match="no longer valid: it was unwrapped") as used:
        w.uc.access.reveal(w.token["engineer"], g.id, again=True)  # that one was unwrapped: nothing goes out
    assert "tell the security team" in (used.value.hint or "")


def test_a_token_that_could_not_be_recorded_is_revoked_and_the_retry_need_not_wait(w: World) -> None:
    an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    made: list[str] = []
    real = w.kv.wrap_staged

    accessors: list[str] = []

    def wrap_and_keep(path: str, ttl: timedelta) -> WrapInfo:
        info = real(path, ttl)
        made.append(info.token)
        accessors.append(info.accessor)
        return info

    def fail_once(op: str, path: str) -> None:
        if op == "write" and path.startswith("grants/"):  # recording the token: Vault fails that one write
            w.kv.before.remove(fail_once)
            raise StoreError("Vault is unreachable (test)")

    w.kv.wrap_staged = wrap_and_keep  # type: ignore[method-assign]
    w.kv.after_once("wrap_staged", f"reveals/{g.id}", lambda: w.kv.before.append(fail_once))
    with pytest.raises(StoreError):
        w.uc.access.reveal(w.token["engineer"], g.id)
    with pytest.raises(KeyError):
        w.kv.unwrap(made[0])  # it never left the service, and it is dead
    failed = w.uc.access.repo.grants.get(g.id)
    assert failed.attempt is not None and failed.attempt.state is AttemptState.abandoned
    assert failed.attempt.accessor == accessors[0]  # the record names the token it revoked (the audit log joins it)
    assert rules.handed_out(failed) == "" and not rules.delivered(failed)  # which never counts as handed out
    result = w.uc.access.reveal(w.token["engineer"], g.id)  # at once: the failed attempt was abandoned...
    assert w.kv.unwrap(result.wrap.token)["code"] and consumed(w) == {g.id: 1}  # ...but not by Vault


def test_a_reveal_whose_process_died_is_taken_over_after_its_lease(w: World) -> None:
    an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)

    def die(op: str, path: str) -> None:
        if op == "stage":
            raise SystemExit("the server was killed")  # nothing after this runs: no abandon either

    w.kv.before.append(die)
    with pytest.raises(SystemExit):
        w.uc.access.reveal(w.token["engineer"], g.id)
    w.kv.before.remove(die)
    with pytest.raises(Conflict, match=r"a reveal of grant gr_\w+ is in progress"):
        w.uc.access.reveal(w.token["engineer"], g.id)
    w.clock.advance(seconds=61)
    result = w.uc.access.reveal(w.token["engineer"], g.id)
    assert result.grant.attempt is not None and result.grant.attempt.number == 2
    assert w.kv.unwrap(result.wrap.token)["code"] and consumed(w) == {g.id: 1}


def test_a_service_token_renewed_between_staging_and_wrapping_stages_again(w: World) -> None:
    deposited = an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    w.kv.after_once("stage", f"reveals/{g.id}", w.kv.renew_token)
    result = w.uc.access.reveal(w.token["engineer"], g.id)
    assert w.kv.unwrap(result.wrap.token)["code"] in deposited
    assert [c for c in w.kv.calls if c[0] == "stage"] == [("stage", f"reveals/{g.id}")] * 2


def test_revealing_a_pending_grant_says_who_still_has_to_approve() -> None:
    from tests.fakes import world

    w = world()
    an_account(w, tier="critical", approvals=3)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    w.uc.access.approve(w.token["approver"], g.id)
    with pytest.raises(PreconditionFailed, match="is pending; it cannot be revealed yet") as refused:
        w.uc.access.reveal(w.token["engineer"], g.id)
    assert refused.value.hint == (
        "it needs 2 more approvals of 3 (approved so far by userpass-approver), each by an approver other than you "
        f"(a requester cannot approve their own grant): ask one to run `custody access approve {g.id}`")
