"""Drills over the use cases: a grant that names a drill follows every rule and is recorded in the drill."""

from __future__ import annotations

import pytest

from custody.config import PolicySettings
from custody.errors import Conflict, NotFound, PermissionDenied, PreconditionFailed, ValidationError
from tests.fakes import REASON, World, an_account, world


def test_a_drill_timed_through_a_real_grant(w: World) -> None:
    an_account(w, tier="critical")
    d = w.uc.drills.start(w.token["security"], "pypi/acme", "maintainer lost both keys abroad",
                          witness="Auditor@acme.example")
    assert d.witness == "auditor@acme.example"
    w.clock.advance(minutes=1)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, drill=d.id)
    assert g.drill == d.id and g.status.value == "pending"  # the same approvals as any grant
    assert w.notices.events[-1]["drill"] == d.id
    w.clock.advance(minutes=2)
    w.uc.access.approve(w.token["approver"], g.id)
    w.uc.access.approve(w.token["approver2"], g.id)
    w.clock.advance(minutes=3)
    revealed = w.uc.access.reveal(w.token["engineer"], g.id)
    assert revealed.remaining == 7  # the code it takes counts
    w.clock.advance(minutes=4)
    done = w.uc.drills.finish(w.token["security"], d.id, "pass", "back in within ten minutes")
    assert done.time_to_recovery is not None and done.time_to_recovery.total_seconds() == 600
    assert [(p.name, p.step.value, p.security_team) for p in done.participants] == [
        ("userpass-security", "started", True), ("userpass-engineer", "requested", False),
        ("userpass-approver", "approved", False), ("userpass-approver2", "approved", False),
        ("userpass-engineer", "revealed", False), ("userpass-security", "finished", True)]
    sweep = w.uc.sweep.sweep(w.token["rotation"])
    assert [r["kind"] for r in sweep["due"][0]["reasons"]] == ["revealed"]  # rotation follows as usual
    report = w.uc.drills.report(w.token["auditor"])
    assert report["flagged"] == [d.id] and report["drills"][0]["time_to_code_seconds"] == 360
    assert [f["kind"] for f in report["drills"][0]["flags"]] == ["outside_security"]
    assert report["accounts_without_pass"] == [] and report["ok"] is False


def test_the_target_is_a_setting() -> None:
    w = world(PolicySettings(drill_target="5m"))
    an_account(w)
    d = w.uc.drills.start(w.token["security"], "pypi/acme", "maintainer lost both keys abroad")
    w.clock.advance(minutes=6)
    w.uc.drills.finish(w.token["security"], d.id, "fail", "the approver could not be reached")
    flags = [f["kind"] for f in w.uc.drills.report(w.token["security"])["drills"][0]["flags"]]
    assert flags == ["over_target", "failed"]


def test_bad_drills_are_refused_and_change_nothing(w: World) -> None:
    an_account(w)
    an_account(w, "pypi/other")
    sec, eng = w.token["security"], w.token["engineer"]
    d = w.uc.drills.start(sec, "pypi/acme", "maintainer lost both keys abroad")
    before = len(w.kv.writes())
    with pytest.raises(NotFound, match="unknown account pypi/nope"):
        w.uc.drills.start(sec, "pypi/nope", "maintainer lost both keys abroad")
    with pytest.raises(NotFound, match="unknown drill dr_aaaaaaaaaaaa"):
        w.uc.drills.finish(sec, "dr_aaaaaaaaaaaa", "pass")
    with pytest.raises(NotFound, match="unknown drill"):
        w.uc.access.request(eng, "pypi/acme", REASON, drill="dr_aaaaaaaaaaaa")
    with pytest.raises(ValidationError, match="not a drill id"):
        w.uc.access.request(eng, "pypi/acme", REASON, drill="gr_aaaaaaaaaaaaaaaa")
    with pytest.raises(PreconditionFailed, match="not of pypi/other"):
        w.uc.access.request(eng, "pypi/other", REASON, drill=d.id)
    with pytest.raises(ValidationError, match="scenario"):
        w.uc.drills.start(sec, "pypi/acme", "short")
    assert len(w.kv.writes()) == before
    w.uc.drills.finish(sec, d.id, "pass")
    before = len(w.kv.writes())
    with pytest.raises(Conflict, match="already finished"):
        w.uc.drills.finish(sec, d.id, "fail")
    with pytest.raises(PreconditionFailed, match="is finished"):
        w.uc.access.request(eng, "pypi/acme", REASON, drill=d.id)
    assert len(w.kv.writes()) == before


def test_only_the_security_team_runs_drills_and_auditors_read_them(w: World) -> None:
    an_account(w)
    with pytest.raises(PermissionDenied):
        w.uc.drills.start(w.token["engineer"], "pypi/acme", "maintainer lost both keys abroad")
    d = w.uc.drills.start(w.token["security"], "pypi/acme", "maintainer lost both keys abroad")
    for name in ("approver", "auditor", "engineer"):
        with pytest.raises(PermissionDenied):
            w.uc.drills.finish(w.token[name], d.id, "pass")
    assert w.uc.drills.show(w.token["auditor"], d.id) == d and w.uc.drills.all(w.token["auditor"]) == [d]


def test_a_participant_in_the_security_team_is_not_flagged(w: World) -> None:
    an_account(w)
    lead = w.vault.add("lead", ("custody-security", "custody-requester"))
    d = w.uc.drills.start(w.token["security"], "pypi/acme", "maintainer lost both keys abroad")
    g = w.uc.access.request(lead, "pypi/acme", REASON, drill=d.id)
    w.uc.access.reveal(lead, g.id)
    w.uc.drills.finish(w.token["security"], d.id, "pass")
    report = w.uc.drills.report(w.token["security"])
    assert report["ok"] is True and report["drills"][0]["outside_security"] == []


def test_a_step_that_cannot_be_recorded_never_stops_the_grant(w: World) -> None:
    an_account(w)
    d = w.uc.drills.start(w.token["security"], "pypi/acme", "maintainer lost both keys abroad")
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, drill=d.id)

    def refuse(op: str, path: str) -> None:
        if op == "write" and path == f"drills/{d.id}":
            from custody.errors import StoreError

            raise StoreError("Vault is unreachable (test)")

    w.kv.before.append(refuse)
    revealed = w.uc.access.reveal(w.token["engineer"], g.id)
    w.kv.before.remove(refuse)
    assert revealed.grant.status.value == "revealed"
    assert [p.step.value for p in w.uc.drills.show(w.token["security"], d.id).participants] == [
        "started", "requested"]

