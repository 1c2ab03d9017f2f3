"""What one insider must not be able to do with break-glass access: act through tokens that name no person, drain
an account with emergency grants, flood it with open grants, or make every listing slow."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from custody.api.app import create_app
from custody.bootstrap import GROUPS
from custody.config import PolicySettings
from custody.domain.models import GrantStatus
from custody.errors import CasConflict, PermissionDenied, TooMany
from custody.notify import is_urgent
from tests.fakes import REASON, World, an_account, world


def test_every_step_of_a_grant_needs_a_token_that_names_a_person(w: World) -> None:
    an_account(w, tier="critical")
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    orphans = [w.vault.add("orphan", GROUPS["custody-approvers"], entity=False) for _ in range(2)]
    for token in orphans:
        with pytest.raises(PermissionDenied, match="no Vault identity") as refused:
            w.uc.access.approve(token, g.id)
        assert "log in as yourself" in (refused.value.hint or "")
    for step in (w.uc.access.deny, w.uc.access.review):
        with pytest.raises(PermissionDenied, match="no Vault identity"):
            step(orphans[0], g.id)
    requester = w.vault.add("orphan-requester", GROUPS["custody-emergency"], entity=False)
    with pytest.raises(PermissionDenied, match="no Vault identity"):
        w.uc.access.request(requester, "pypi/acme", REASON)
    with pytest.raises(PermissionDenied, match="no Vault identity"):
        w.uc.access.reveal(requester, g.id)
    after = w.uc.access.show(w.token["auditor"], g.id)
    assert (after.status, after.approvals, after.version) == (GrantStatus.pending, (), 1)  # as requested
    assert [p for p in w.kv.list_keys("grants/")] == [g.id]


def test_one_person_holds_at_most_one_emergency_grant_not_yet_reviewed(w: World) -> None:
    """Ten emergency requests took all eight codes of a three-approval account in under a second."""
    an_account(w, "pypi/acme", tier="critical", approvals=3)
    an_account(w, "pypi/other", tier="critical")
    first = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, emergency=True)
    before = len(w.kv.list_keys("grants/"))
    with pytest.raises(TooMany, match=f"your emergency grant {first.id} on pypi/acme awaits review") as refused:
        w.uc.access.request(w.token["engineer"], "pypi/other", REASON, emergency=True)  # across accounts too
    assert refused.value.status == 429 and f"custody access review {first.id}" in (refused.value.hint or "")
    assert len(w.kv.list_keys("grants/")) == before
    w.uc.access.reveal(w.token["engineer"], first.id)
    with pytest.raises(TooMany, match="awaits review"):  # revealing it does not free the slot: reviewing does
        w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, emergency=True)
    assert w.uc.access.request(w.token["engineer"], "pypi/acme", REASON).status is GrantStatus.pending
    w.uc.access.review(w.token["approver"], first.id, "incident INC-7, fine")
    second = w.uc.access.request(w.token["engineer"], "pypi/other", REASON, emergency=True)
    assert second.emergency and second.status is GrantStatus.approved


def test_concurrent_emergency_requests_cannot_pass_the_limit_together(w: World) -> None:
    an_account(w, tier="critical")
    w.kv.before.append(lambda op, path: time.sleep(0.002) if op == "write" else None)  # widen every race window
    start = threading.Barrier(10)
    outcomes: list[str] = []

    def request() -> None:
        start.wait()
        try:
            w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, emergency=True)
            outcomes.append("granted")
        except TooMany:
            outcomes.append("refused")

    threads = [threading.Thread(target=request) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["granted"] + ["refused"] * 9
    assert len(w.kv.list_keys("grants/")) == 1


def test_a_requester_holds_at_most_three_open_grants_per_account_and_twenty_in_all() -> None:
    w = world()
    for n in range(8):
        an_account(w, f"pypi/acct{n}")
    held = [w.uc.access.request(w.token["engineer"], "pypi/acct0", REASON) for _ in range(3)]
    with pytest.raises(TooMany, match=r"you already hold 3 open grants on pypi/acct0 \(at most 3\)") as refused:
        w.uc.access.request(w.token["engineer"], "pypi/acct0", REASON)
    assert refused.value.status == 429 and all(g.id in (refused.value.hint or "") for g in held)
    assert w.uc.access.request(w.token["engineer2"], "pypi/acct0", REASON)  # another person's limits are theirs
    w.uc.access.reveal(w.token["engineer"], held[0].id)  # a revealed grant is no longer open
    w.uc.access.request(w.token["engineer"], "pypi/acct0", REASON)
    for n in range(1, 7):
        for _ in range(3 if n < 6 else 2):
            w.uc.access.request(w.token["engineer"], f"pypi/acct{n}", REASON)
    with pytest.raises(TooMany, match=r"you already hold 20 open grants across all accounts \(at most 20\)"):
        w.uc.access.request(w.token["engineer"], "pypi/acct7", REASON)
    w.clock.advance(hours=25)  # expired grants (never written as such) are no longer open either
    w.uc.access.request(w.token["engineer"], "pypi/acct7", REASON)
    record = w.kv.read("holdings/entity-engineer")
    assert record is not None and len(record.data["open"]) == 1  # what expired was pruned from the record


def test_limits_are_settings() -> None:
    w = world(PolicySettings(open_grants_per_account=1, open_grants_total=2, emergency_unreviewed_max=2))
    an_account(w, "pypi/a", tier="critical")
    an_account(w, "pypi/b", tier="critical")
    an_account(w, "pypi/c", tier="critical")
    w.uc.access.request(w.token["engineer"], "pypi/a", REASON, emergency=True)
    with pytest.raises(TooMany, match="at most 1"):
        w.uc.access.request(w.token["engineer"], "pypi/a", REASON)
    w.uc.access.request(w.token["engineer"], "pypi/b", REASON, emergency=True)
    with pytest.raises(TooMany, match="awaits review"):
        w.uc.access.request(w.token["engineer"], "pypi/c", REASON, emergency=True)
    with pytest.raises(TooMany, match="across all accounts"):
        w.uc.access.request(w.token["engineer"], "pypi/c", REASON)
    with pytest.raises(ValueError, match="less than or equal to 500"):
        PolicySettings(open_grants_total=501)


def test_every_emergency_reveal_is_announced_at_once(w: World) -> None:
    an_account(w, tier="critical")
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, emergency=True)
    w.uc.access.reveal(w.token["engineer"], g.id)
    revealed = [e for e in w.notices.events if e["event"] == "grant.revealed"]
    assert len(revealed) == 1 and revealed[0]["emergency"] is True and is_urgent(revealed[0])


def test_a_limit_is_an_http_429_with_its_hint() -> None:
    w = world(PolicySettings(open_grants_per_account=1))
    an_account(w)
    api = TestClient(create_app(w.uc, vault_addr="http://vault.example:8200"))
    eng = {"X-Vault-Token": w.token["engineer"]}
    first = api.post("/v1/custody/accounts/pypi/acme/grants", json={"reason": REASON}, headers=eng)
    again = api.post("/v1/custody/accounts/pypi/acme/grants", json={"reason": REASON}, headers=eng)
    assert first.status_code == 200 and again.status_code == 429
    message, hint = again.json()["errors"]
    assert "you already hold 1 open grant on pypi/acme" in message and first.json()["data"]["id"] in hint


def many(w: World, who: str, account: str, n: int) -> list[str]:
    """``n`` grants, one a second (listings are in the order grants were requested)."""
    ids = []
    for _ in range(n):
        w.clock.advance(seconds=1)
        ids.append(w.uc.access.request(w.token[who], account, REASON).id)
    return ids


def grant_reads(w: World) -> int:
    return sum(1 for op, path in w.kv.calls if op == "read" and path.startswith("grants/"))


ROOMY = PolicySettings(open_grants_per_account=100, open_grants_total=500)


def test_a_listing_reads_what_it_returns_whatever_the_other_grants() -> None:
    """2,000 grants of others made every requester's listing read all of them: now it reads their own only."""
    w = world(ROOMY)
    an_account(w, "pypi/spammed")
    an_account(w, "pypi/quiet")
    w.uc.access.list_grants(w.token["engineer"])  # the first listing of a deployment marks the index complete
    many(w, "engineer2", "pypi/spammed", 60)
    mine = many(w, "engineer", "pypi/quiet", 2) + many(w, "engineer", "pypi/spammed", 1)
    w.kv.calls.clear()
    assert [g.id for g in w.uc.access.list_grants(w.token["engineer"])] == mine
    assert grant_reads(w) == 3
    w.kv.calls.clear()
    assert [g.id for g in w.uc.access.list_grants(w.token["auditor"], account="pypi/quiet")] == mine[:2]
    assert grant_reads(w) == 2
    w.kv.calls.clear()
    assert len(w.uc.access.list_grants(w.token["auditor"])) == 63  # everything: it reads everything
    assert grant_reads(w) == 63


def drop_index(w: World, folder: str = "index/") -> None:
    """Make the KV look as it did before the index existed."""
    for key in w.kv.list_keys(folder):
        if key.endswith("/"):
            drop_index(w, folder + key)
        else:
            w.kv.delete_all(folder + key)


def test_grants_from_before_the_index_are_indexed_once_and_listed() -> None:
    w = world(ROOMY)
    an_account(w)
    old = many(w, "engineer", "pypi/acme", 3) + many(w, "engineer2", "pypi/acme", 4)
    drop_index(w)
    assert w.kv.list_keys("index/") == []
    w.kv.calls.clear()
    assert [g.id for g in w.uc.access.list_grants(w.token["engineer"])] == old[:3]
    assert grant_reads(w) == 7 + 3  # the backfill read every grant once, then the listing its own
    built = w.kv.read("index/built")
    assert built is not None and built.data["count"] == 7 and built.data["event"] == "grants.indexed"
    w.kv.calls.clear()
    assert [g.id for g in w.uc.access.list_grants(w.token["engineer2"])] == old[3:]
    assert [g.id for g in w.uc.access.list_grants(w.token["auditor"], account="pypi/acme")] == old
    assert grant_reads(w) == 4 + 7
    w.kv.delete_all("index/built")  # how an operator asks for the index to be rebuilt
    w.kv.delete_all(f"index/requester/entity-engineer/{old[0]}")
    assert old[0] in [g.id for g in w.uc.access.list_grants(w.token["engineer"])]
    assert w.kv.read(f"index/requester/entity-engineer/{old[0]}") is not None


def test_a_request_whose_holdings_write_landed_but_whose_answer_was_lost_is_held_once(w: World) -> None:
    an_account(w)
    path = "holdings/entity-engineer"
    w.kv.after_once("write", path, lambda: (_ for _ in ()).throw(CasConflict("concurrent update (write)")))
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    record = w.kv.read(path)
    assert record is not None and [h.split(" ")[0] for h in record.data["open"]] == [g.id]


def test_a_burst_of_one_persons_requests_waits_its_turn_on_their_record() -> None:
    """Thirty requests of one person at once all contend for their one holdings record: each is admitted in turn,
    none fails for the contention, and the record holds each once."""
    w = world(ROOMY)
    an_account(w)
    w.kv.before.append(lambda op, path: time.sleep(0.002) if op == "write" else None)  # widen every race window
    start = threading.Barrier(30)
    admitted: list[str] = []

    def request() -> None:
        start.wait()
        admitted.append(w.uc.access.request(w.token["engineer"], "pypi/acme", REASON).id)

    threads = [threading.Thread(target=request) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = w.kv.read("holdings/entity-engineer")
    assert len(admitted) == 30 and record is not None
    assert sorted(h.split(" ")[0] for h in record.data["open"]) == sorted(admitted)
