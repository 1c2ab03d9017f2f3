"""Offboarding over the use cases: a dry run changes nothing, --apply changes what the plan says, once."""

from __future__ import annotations

import pytest

from custody.domain.models import GrantStatus
from custody.errors import NotFound, PermissionDenied, PreconditionFailed, ValidationError
from tests.fakes import REASON, World, an_account

WHY = "left the company on 2026-05-31 (HR-1234)"


def leaver_world(w: World) -> dict[str, str]:
    """engineer: revealed a code of pypi/acme, has an open grant on pypi/crit, holds a key on pypi/acme."""
    an_account(w)
    an_account(w, "pypi/crit", tier="critical")
    eng, sec = w.token["engineer"], w.token["security"]
    revealed = w.uc.access.request(eng, "pypi/acme", REASON)
    w.uc.access.reveal(eng, revealed.id)
    pending = w.uc.access.request(eng, "pypi/crit", REASON)
    w.uc.keys.add(sec, "pypi/acme", "Engineer's key", "engineer@acme.example", "1")
    w.uc.keys.add(sec, "pypi/acme", "Spare", "approver@acme.example", "2")
    w.uc.keys.verify(eng, "pypi/acme", "Engineer's key")
    w.uc.keys.verify(w.token["approver"], "pypi/acme", "Spare")
    return {"revealed": revealed.id, "pending": pending.id}


def test_a_dry_run_shows_the_plan_and_changes_nothing(w: World) -> None:
    g = leaver_world(w)
    before = len(w.kv.writes())
    plan = w.uc.people.offboard(w.token["security"], "Engineer@acme.example", WHY)
    assert (plan["applied"], plan["changed"], plan["revoke_grants"], plan["rotation_due"]) == (
        False, False, [g["pending"]], ["pypi/acme"])
    assert plan["keys"] == [{"account": "pypi/acme", "label": "Engineer's key", "status": "active"}]
    assert plan["entities"] == ["entity-engineer"] and len(plan["checklist"]) == 3
    assert len(w.kv.writes()) == before


def test_apply_revokes_marks_and_records_and_a_second_run_changes_nothing(w: World) -> None:
    g = leaver_world(w)
    sec = w.token["security"]
    assert w.uc.keys.check(sec)["not_ok"] == ["pypi/crit"]  # pypi/acme has two verified keys
    assert [r["kind"] for r in w.uc.sweep.sweep(sec)["due"][0]["reasons"]] == ["revealed"]
    w.uc.rotation.rotate(sec, "pypi/acme", "\n".join(f"{i:016x}" for i in range(8)))  # the reveal is rotated away
    assert w.uc.sweep.sweep(sec)["due"] == []
    done = w.uc.people.offboard(sec, "engineer@acme.example", WHY, apply=True)
    assert done["changed"] and done["run"]["revoked"] == [g["pending"]]
    assert done["run"]["keys_marked"] == ["pypi/acme Engineer's key"] and done["run"]["rotation_due"] == ["pypi/acme"]
    assert w.uc.access.show(sec, g["pending"]).status is GrantStatus.revoked
    check = w.uc.keys.check(sec)
    assert "pypi/acme" in check["not_ok"]
    acme = next(a for a in check["accounts"] if a["account"] == "pypi/acme")
    assert [p["kind"] for p in acme["problems"]] == ["custodian_left"]
    due = w.uc.sweep.sweep(sec)["due"]
    assert [(d["account"], [r["kind"] for r in d["reasons"]]) for d in due] == [("pypi/acme", ["person_left"])]
    before = len(w.kv.writes())
    again = w.uc.people.offboard(sec, "engineer@acme.example", WHY, apply=True)
    assert again["changed"] is False and again["run"]["revoked"] == []
    assert [p for _, p in w.kv.writes()[before:]] == ["people/engineer@acme.example"]  # only the run is recorded
    shown = w.uc.people.show(w.token["auditor"], "engineer@acme.example")
    assert shown["offboarded"]["reason"] == WHY and len(shown["offboarded"]["runs"]) == 2
    assert {x["id"] for x in shown["grants"]} == set(g.values())


def test_the_next_rotation_clears_the_leavers_mark_and_reassigning_clears_the_key(w: World) -> None:
    leaver_world(w)
    sec = w.token["security"]
    w.uc.people.offboard(sec, "engineer@acme.example", WHY, apply=True)
    w.uc.rotation.rotate(sec, "pypi/acme", "\n".join(f"{i:016x}" for i in range(8)))
    assert "pypi/acme" not in [d["account"] for d in w.uc.sweep.sweep(sec)["due"]]
    w.uc.keys.reassign(sec, "pypi/acme", "Engineer's key", "security@acme.example", "kept by the security team")
    w.uc.keys.verify(sec, "pypi/acme", "Engineer's key")
    assert "pypi/acme" not in w.uc.keys.check(sec)["not_ok"]
    with pytest.raises(PreconditionFailed, match="offboarded"):
        w.uc.keys.add(sec, "pypi/acme", "Another", "engineer@acme.example", "3")


def test_owners_are_listed(w: World) -> None:
    w.uc.accounts.add(w.token["security"], "pypi/owned", "Engineer@acme.example")
    plan = w.uc.people.offboard(w.token["security"], "engineer@acme.example", WHY)
    assert plan["owned"] == [{"account": "pypi/owned", "role": "owner"}]
    w.kv.write("accounts/pypi/human", {**w.kv.read("accounts/pypi/owned").data,  # type: ignore[union-attr]
                                        "id": "pypi/human", "owner": "team@acme.example",
                                        "human_owner": "engineer@acme.example"}, cas=0)
    plan = w.uc.people.offboard(w.token["security"], "engineer@acme.example", WHY)
    assert plan["owned"] == [{"account": "pypi/human", "role": "human_owner"},
                             {"account": "pypi/owned", "role": "owner"}]


def test_offboarding_someone_unknown_or_without_the_right_changes_nothing(w: World) -> None:
    leaver_world(w)
    before = len(w.kv.writes())
    with pytest.raises(NotFound, match=r"knows nobody with the email nobody@acme\.example"):
        w.uc.people.offboard(w.token["security"], "nobody@acme.example", WHY, apply=True)
    with pytest.raises(NotFound, match="knows nobody"):
        w.uc.people.show(w.token["security"], "nobody@acme.example")
    with pytest.raises(ValidationError, match="not an email address"):
        w.uc.people.offboard(w.token["security"], "engineer", WHY, apply=True)
    with pytest.raises(ValidationError, match="reason"):
        w.uc.people.offboard(w.token["security"], "engineer@acme.example", "", apply=True)
    assert len(w.kv.writes()) == before
    for name in ("auditor", "approver", "engineer"):
        with pytest.raises(PermissionDenied):
            w.uc.people.offboard(w.token[name], "engineer@acme.example", WHY, apply=True)
    assert [p for _, p in w.kv.writes()[before:] if not p.startswith("denied/")] == []
