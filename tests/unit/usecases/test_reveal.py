"""The reveal: one code, once, to the requester; under races (a competing write between a read and its
check-and-set write), failures at every write, and resumption with the same code."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from custody.domain.models import GrantStatus, fingerprint
from custody.errors import (
    CasConflict,
    CodesChanged,
    Conflict,
    Exhausted,
    PermissionDenied,
    PreconditionFailed,
    StoreError,
)
from tests.fakes import REASON, World, an_account, codes

REVEAL_CALLS = [  # a reveal's Vault calls besides the capability check, in order: bench_load's RAW_CALLS
    ("read", "grants/{g}"), ("read", "codes/pypi/acme"), ("write", "grants/{g}"), ("write", "codes/pypi/acme"),
    ("write", "reveals/{g}"), ("wrapped_read", "reveals/{g}"), ("delete_all", "reveals/{g}"), ("write", "grants/{g}"),
]


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
    assert w.kv.calls == [(op, path.format(g=g.id)) for op, path in REVEAL_CALLS]
    assert w.vault.calls == {"capabilities": 1}  # the caller's identity was remembered from the request
    code = w.kv.unwrap(result.wrap.token)["code"]
    assert code in deposited and result.remaining == 7 and code not in repr(result)
    assert result.grant.status is GrantStatus.revealed and result.grant.code_fp == fingerprint(code)
    assert w.kv.read(f"reveals/{g.id}") is None and w.kv.list_keys("reveals/") == []
    codes_record = w.kv.read("codes/pypi/acme")
    assert codes_record is not None and codes_record.data["event"] == "code.consumed"
    assert consumed(w) == {g.id: 1}
    with pytest.raises(KeyError):
        w.kv.unwrap(result.wrap.token)  # single use
    assert w.notices.names()[-1] == "grant.revealed"


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
    with pytest.raises(Conflict, match="changed while revealing; it may already be revealed"):
        w.uc.access.reveal(w.token["engineer"], g.id)
    assert consumed(w) == {g.id: 1}


def test_a_claim_that_loses_to_a_denial_is_refused_and_takes_no_code(w: World) -> None:
    an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)

    def competing() -> None:
        w.uc.access.deny(w.token["security"], g.id, "not this one")

    w.kv.after_once("read", "codes/pypi/acme", competing)
    with pytest.raises(Conflict, match="changed while revealing"):
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


@pytest.mark.parametrize("fail_at", range(len([c for c in REVEAL_CALLS if c[0] != "read"])))
def test_a_reveal_cut_off_at_any_write_resumes_with_the_same_code(w: World, fail_at: int) -> None:
    """Vault fails at the n-th write of a reveal: the requester's retry hands out one code, the same one if one
    was already taken for the grant, and no second."""
    an_account(w)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    seen: list[tuple[str, str]] = []

    def cut(op: str, path: str) -> None:
        if op != "read":
            seen.append((op, path))
            if len(seen) == fail_at + 1:
                raise StoreError("Vault is unreachable (test)")

    w.kv.before.append(cut)
    with pytest.raises(StoreError):
        w.uc.access.reveal(w.token["engineer"], g.id)
    w.kv.before.remove(cut)
    reserved = [c for c, holder in _holders(w).items() if holder == g.id]
    result = w.uc.access.reveal(w.token["engineer"], g.id)
    code = w.kv.unwrap(result.wrap.token)["code"]
    assert reserved in ([], [code])  # a code taken before the cut is the one handed out
    assert consumed(w) == {g.id: 1} and result.remaining == 7
    assert result.grant.code_fp == fingerprint(code) and w.kv.list_keys("reveals/") == []
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
        if op == "wrapped_read":
            raise StoreError("Vault is unreachable (test)")

    w.kv.before.append(unreachable)
    with pytest.raises(StoreError):
        w.uc.access.reveal(w.token["engineer"], g.id)
    w.kv.before.remove(unreachable)
    with pytest.raises(PermissionDenied, match="only the requester"):
        w.uc.access.reveal(w.token["engineer2"], g.id)
    w.clock.advance(hours=1)
    with pytest.raises(PreconditionFailed, match="expired before its reveal finished"):
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
