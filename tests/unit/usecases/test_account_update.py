"""Ownership classes, and changing an account: who may, what is written (old and new values, check-and-set), what
happens to open grants, and bad input refused with nothing changed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from custody.api.app import create_app
from custody.cli.accounts import OWNERSHIP
from custody.domain.accounts import AccountChange, outpaced, updated
from custody.domain.models import GrantStatus, Ownership, new_account
from custody.errors import NotFound, PermissionDenied, PreconditionFailed, ValidationError
from custody.inventory.custody_view import OWNERSHIP_CLASSES
from custody.repo.records import NON_HMAC_KEYS
from tests.fakes import REASON, World, an_account


def test_an_account_records_whom_it_belongs_to(w: World) -> None:
    sec = w.token["security"]
    bot = w.uc.accounts.add(sec, "pypi/acme-bot", "pypi@example.com", ownership="service",
                            human_owner="Jane@Example.com")
    assert (bot.ownership, bot.human_owner) == (Ownership.service, "jane@example.com")
    record = w.kv.read("accounts/pypi/acme-bot")
    assert record is not None
    assert (record.data["ownership"], record.data["human_owner"]) == ("service", "jane@example.com")
    plain = w.uc.accounts.add(sec, "pypi/acme", "o@example.com")
    assert (plain.ownership, plain.human_owner) == (None, None)


def test_a_record_from_before_ownership_reads_as_not_recorded(w: World) -> None:
    w.uc.accounts.add(w.token["security"], "pypi/old", "o@example.com")
    entry = w.kv.read("accounts/pypi/old")
    assert entry is not None
    old = {k: v for k, v in entry.data.items() if k not in ("ownership", "human_owner")}
    w.kv.write("accounts/pypi/old", old, cas=entry.version)
    account = w.uc.accounts.get(w.token["auditor"], "pypi/old")
    assert (account.ownership, account.human_owner) == (None, None)


@pytest.mark.parametrize(("kw", "message", "hint"), [
    ({"ownership": "shared"}, "unknown ownership class 'shared'", "use personal, corporate, organization or service"),
    ({"ownership": "service"}, "a service account needs a human owner", "add --human-owner EMAIL"),
    ({"ownership": "service", "human_owner": ""}, "a service account needs a human owner", "add --human-owner"),
    ({"ownership": "personal", "human_owner": "jane"}, "the human owner must be an email address", "--human-owner"),
])
def test_bad_ownership_is_refused_at_registration(w: World, kw: dict[str, str], message: str, hint: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        w.uc.accounts.add(w.token["security"], "pypi/acme", "o@example.com", **kw)
    assert hint in (caught.value.hint or "")
    assert w.kv.writes() == []


def test_an_update_writes_the_new_values_and_the_old_ones(w: World) -> None:
    sec = w.token["security"]
    w.uc.accounts.add(sec, "pypi/acme", "o@example.com")
    w.clock.advance(minutes=5)
    done = w.uc.accounts.update(sec, "pypi/acme", AccountChange(tier="critical", ownership="corporate",
                                                                 notes="publishes acme"))
    assert [(c.field, c.old, c.new) for c in done.changes] == [
        ("tier", "standard", "critical"), ("approvals_required", 0, 2), ("notes", "", "publishes acme"),
        ("ownership", None, "corporate")]
    assert (done.account.tier.value, done.account.approvals_required, done.account.updated_at) == (
        "critical", 2, w.clock.now)
    entry = w.kv.read("accounts/pypi/acme")
    assert entry is not None and entry.version == 2  # a check-and-set write over version 1
    data = entry.data
    assert (data["event"], data["actor"], data["actor_entity"]) == ("account.updated", "userpass-security",
                                                                     "entity-security")
    assert data["changed"] == ["tier", "approvals_required", "notes", "ownership"]
    assert data["previous"] == {"tier": "standard", "approvals_required": 0, "notes": "", "ownership": None}
    assert (data["tier"], data["approvals_required"], data["ownership"]) == ("critical", 2, "corporate")
    assert {"changed", "ownership", "human_owner", "tier", "approvals_required"} <= set(NON_HMAC_KEYS)
    assert "notes" not in NON_HMAC_KEYS and "previous" not in NON_HMAC_KEYS  # old notes stay HMAC'd too
    assert w.notices.names()[-1] == "account.updated"
    assert w.uc.accounts.get(w.token["auditor"], "pypi/acme") == done.account


def test_an_update_that_changes_nothing_writes_nothing(w: World) -> None:
    sec = w.token["security"]
    w.uc.accounts.add(sec, "pypi/acme", "o@example.com", tier="critical")
    before = w.kv.writes()
    done = w.uc.accounts.update(sec, "pypi/acme", AccountChange(owner="O@example.com", tier="critical"))
    assert (done.changes, done.revoked_grants) == ([], [])
    assert w.kv.writes() == before


def test_tier_and_approvals_move_together(w: World) -> None:
    sec = w.token["security"]
    w.uc.accounts.add(sec, "pypi/acme", "o@example.com", tier="critical", approvals=3)
    down = w.uc.accounts.update(sec, "pypi/acme", AccountChange(tier="standard"))
    assert down.account.approvals_required == 3  # lowering the tier never lowers the approvals by itself
    assert w.uc.accounts.update(sec, "pypi/acme", AccountChange(approvals=0)).account.approvals_required == 0
    up = w.uc.accounts.update(sec, "pypi/acme", AccountChange(tier="critical"))
    assert up.account.approvals_required == 2
    with pytest.raises(ValidationError, match="a critical account needs at least one approval"):
        w.uc.accounts.update(sec, "pypi/acme", AccountChange(approvals=0))


def test_a_service_account_keeps_its_human_owner(w: World) -> None:
    sec = w.token["security"]
    w.uc.accounts.add(sec, "pypi/bot", "o@example.com", ownership="service", human_owner="jane@example.com")
    with pytest.raises(ValidationError, match="a service account needs a human owner"):
        w.uc.accounts.update(sec, "pypi/bot", AccountChange(human_owner=""))
    moved = w.uc.accounts.update(sec, "pypi/bot", AccountChange(ownership="corporate", human_owner=""))
    assert (moved.account.ownership, moved.account.human_owner) == (Ownership.corporate, None)


@pytest.mark.parametrize(("change", "message"), [
    (AccountChange(), "nothing to update"),
    (AccountChange(ownership="team"), "unknown ownership class 'team'"),
    (AccountChange(ownership="service"), "a service account needs a human owner"),
    (AccountChange(human_owner="not an email"), "the human owner must be an email address"),
    (AccountChange(owner="nobody"), "owner must be an email address"),
    (AccountChange(tier="gold"), "unknown tier 'gold'"),
    (AccountChange(approvals=9), "approvals must be between 0 and 5"),
])
def test_bad_updates_are_refused_and_nothing_is_written(w: World, change: AccountChange, message: str) -> None:
    sec = w.token["security"]
    w.uc.accounts.add(sec, "pypi/acme", "o@example.com")
    before = w.kv.writes()
    with pytest.raises(ValidationError, match=message):
        w.uc.accounts.update(sec, "pypi/acme", change)
    assert w.kv.writes() == before


def test_an_unknown_account_cannot_be_updated(w: World) -> None:
    with pytest.raises(NotFound, match="unknown account pypi/nobody") as caught:
        w.uc.accounts.update(w.token["security"], "pypi/nobody", AccountChange(tier="critical"))
    assert caught.value.hint
    assert w.kv.read("accounts/pypi/nobody") is None
    assert [op for op, path in w.kv.writes() if path.startswith("accounts/")] == []


def test_only_the_security_team_updates_and_refusals_are_recorded(w: World) -> None:
    w.uc.accounts.add(w.token["security"], "pypi/acme", "o@example.com")
    for name in ("engineer", "approver", "auditor", "rotation"):
        with pytest.raises(PermissionDenied, match="update on custody/accounts/pypi/acme"):
            w.uc.accounts.update(w.token[name], "pypi/acme", AccountChange(approvals=0))
    assert [(d["path"], d["capability"]) for d in w.denials()] == [("custody/accounts/pypi/acme", "update")] * 4
    entry = w.kv.read("accounts/pypi/acme")
    assert entry is not None and entry.version == 1


def test_raising_the_approvals_revokes_open_grants_requested_with_fewer(w: World) -> None:
    sec, eng = w.token["security"], w.token["engineer2"]
    an_account(w, "pypi/acme", tier="critical", approvals=1)
    an_account(w, "pypi/other")
    pending = w.uc.access.request(eng, "pypi/acme", REASON)
    approved = w.uc.access.request(eng, "pypi/acme", REASON)
    w.uc.access.approve(w.token["approver"], approved.id)
    revealed = w.uc.access.request(eng, "pypi/acme", REASON)
    w.uc.access.approve(w.token["approver"], revealed.id)
    w.uc.access.reveal(eng, revealed.id)
    elsewhere = w.uc.access.request(eng, "pypi/other", REASON)

    done = w.uc.accounts.update(sec, "pypi/acme", AccountChange(approvals=2))
    assert done.revoked_grants == sorted([pending.id, approved.id])
    for grant_id in (pending.id, approved.id):
        g = w.uc.access.show(sec, grant_id)
        assert g.status is GrantStatus.revoked
        assert g.revoked_reason == "account policy tightened: 2 approval(s) required now, 1 when requested"
    assert w.uc.access.show(sec, revealed.id).status is GrantStatus.revealed
    assert w.uc.access.show(sec, elsewhere.id).status is GrantStatus.approved
    assert w.notices.names().count("grant.revoked") == 2
    again = w.uc.access.request(eng, "pypi/acme", REASON)
    assert again.approvals_required == 2


def test_lowering_the_approvals_leaves_open_grants_needing_what_they_were_requested_with(w: World) -> None:
    sec, eng = w.token["security"], w.token["engineer2"]
    an_account(w, "pypi/acme", tier="critical", approvals=2)
    grant = w.uc.access.request(eng, "pypi/acme", REASON)
    done = w.uc.accounts.update(sec, "pypi/acme", AccountChange(approvals=1))
    assert done.revoked_grants == []
    once = w.uc.access.approve(w.token["approver"], grant.id)
    assert (once.status, once.approvals_required) == (GrantStatus.pending, 2)  # one approval is not enough yet
    with pytest.raises(PreconditionFailed, match="cannot be revealed"):
        w.uc.access.reveal(eng, grant.id)
    assert w.uc.access.approve(w.token["approver2"], grant.id).status is GrantStatus.approved


def test_a_lost_race_applies_the_change_to_the_fresh_account(w: World) -> None:
    """Two updates at once: the one that lost its check-and-set applies itself again to what the other wrote."""
    sec = w.token["security"]
    w.uc.accounts.add(sec, "pypi/acme", "o@example.com")
    real_write = w.kv.write
    raced = []

    def write(path: str, data: dict, cas: int) -> int:
        if path == "accounts/pypi/acme" and not raced:
            raced.append(True)  # someone else's update lands first
            entry = w.kv.read(path)
            assert entry is not None
            real_write(path, entry.data | {"notes": "theirs"}, cas=entry.version)
        return real_write(path, data, cas)

    w.kv.write = write  # type: ignore[method-assign]
    done = w.uc.accounts.update(sec, "pypi/acme", AccountChange(tier="critical"))
    assert (done.account.tier.value, done.account.notes) == ("critical", "theirs")
    entry = w.kv.read("accounts/pypi/acme")
    assert entry is not None and entry.version == 3 and entry.data["previous"]["tier"] == "standard"


def test_outpaced_is_only_open_grants_with_fewer_approvals(w: World) -> None:
    an_account(w, "pypi/acme", tier="critical", approvals=1)
    grant = w.uc.access.request(w.token["engineer2"], "pypi/acme", REASON)
    account = new_account("pypi/acme", "o@example.com", "critical", 2, "", w.clock.now, "x")
    assert outpaced(grant, account, w.clock.now)
    assert not outpaced(grant, updated(account, AccountChange(approvals=1), w.clock.now), w.clock.now)
    w.clock.advance(days=30)  # expired: nothing left to revoke
    assert not outpaced(grant, account, w.clock.now)


def test_the_api_patches_an_account_like_bao_patch(w: World) -> None:
    w.uc.accounts.add(w.token["security"], "pypi/acme", "o@example.com")
    api = TestClient(create_app(w.uc))
    sec = {"X-Vault-Token": w.token["security"]}
    # `bao patch` sends a JSON merge patch
    resp = api.patch("/v1/custody/accounts/pypi/acme", content=b'{"ownership": "service", "human_owner": '
                     b'"jane@example.com"}', headers=sec | {"Content-Type": "application/merge-patch+json"})
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert set(data) == {"account", "changes", "revoked_grants"}
    assert (data["account"]["id"], data["account"]["ownership"], data["account"]["human_owner"]) == (
        "pypi/acme", "service", "jane@example.com")
    assert data["changes"] == [{"field": "ownership", "old": None, "new": "service"},
                               {"field": "human_owner", "old": None, "new": "jane@example.com"}]
    assert data["revoked_grants"] == []


@pytest.mark.parametrize(("who", "body", "status", "message"), [
    ("security", {"colour": "blue"}, 400, "invalid request: colour"),
    ("security", {"ownership": "shared"}, 400, "unknown ownership class 'shared'"),
    ("security", {"ownership": "service"}, 400, "a service account needs a human owner"),
    ("security", {"human_owner": "jane"}, 400, "the human owner must be an email address"),
    ("security", {}, 400, "nothing to update"),
    ("engineer", {"tier": "critical"}, 403, "update on custody/accounts/pypi/acme"),
])
def test_the_api_refuses_bad_patches_and_changes_nothing(w: World, who: str, body: dict, status: int,
                                                        message: str) -> None:
    w.uc.accounts.add(w.token["security"], "pypi/acme", "o@example.com")
    resp = TestClient(create_app(w.uc)).patch("/v1/custody/accounts/pypi/acme", json=body,
                                              headers={"X-Vault-Token": w.token[who]})
    assert resp.status_code == status and message in resp.json()["errors"][0], resp.text
    entry = w.kv.read("accounts/pypi/acme")
    assert entry is not None and entry.version == 1


def test_the_cli_offers_exactly_the_ownership_classes_custody_knows() -> None:
    assert list(OWNERSHIP.choices) == [o.value for o in Ownership]
    assert set(OWNERSHIP.choices) == OWNERSHIP_CLASSES
