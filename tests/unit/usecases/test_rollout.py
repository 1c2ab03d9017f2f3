"""Enrolment waves over the use cases: stages come from what custody holds, and move as those facts do."""

from __future__ import annotations

import pytest

from custody.errors import Conflict, NotFound, PermissionDenied
from tests.fakes import REASON, World, an_account


def stages(w: World, wave: str | None = None) -> dict[str, str]:
    s = w.uc.rollout.status(w.token["auditor"], wave)
    return {a["account"]: a["stage"] for wv in s["waves"] for a in wv["accounts"]}


def test_an_account_moves_through_the_stages_as_custody_learns_the_facts(w: World) -> None:
    sec = w.token["security"]
    w.uc.accounts.add(sec, "pypi/acme", "o@acme.example")
    w.uc.rollout.add_wave(sec, "wave-1", ["pypi/acme"], "2026-01-05/2026-01-30")
    assert stages(w) == {"pypi/acme": "registered"}
    w.uc.codes.deposit(sec, "pypi/acme", "\n".join(["0123456789abcdef", "fedcba9876543210"]))
    assert stages(w) == {"pypi/acme": "codes-deposited"}
    w.uc.keys.add(sec, "pypi/acme", "a", "engineer@acme.example", "1")
    w.uc.keys.add(sec, "pypi/acme", "b", "approver@acme.example", "2")
    w.uc.keys.verify(w.token["engineer"], "pypi/acme", "a")
    w.uc.keys.verify(w.token["approver"], "pypi/acme", "b")
    assert stages(w) == {"pypi/acme": "keys-ok"}
    d = w.uc.drills.start(sec, "pypi/acme", "maintainer lost both keys abroad")
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, drill=d.id)
    w.uc.access.reveal(w.token["engineer"], g.id)
    w.uc.drills.finish(sec, d.id, "pass")
    status = w.uc.rollout.status(w.token["security"], "wave-1")
    assert status["counts"]["drill-passed"] == 1 and status["waves"][0]["complete"] is True
    w.clock.advance(days=366)  # the drill is a year old: the account falls back
    assert stages(w) == {"pypi/acme": "codes-deposited"}  # and its keys are due for their annual check too


def test_bad_waves_change_nothing(w: World) -> None:
    an_account(w)
    sec = w.token["security"]
    w.uc.rollout.add_wave(sec, "wave-1", ["pypi/acme"])
    before = len(w.kv.writes())
    with pytest.raises(NotFound, match="unknown account pypi/nope"):
        w.uc.rollout.add_wave(sec, "wave-2", ["pypi/nope"])
    with pytest.raises(Conflict, match="already exists"):
        w.uc.rollout.add_wave(sec, "wave-1", ["pypi/acme"])
    with pytest.raises(Conflict, match="already in wave wave-1"):
        w.uc.rollout.add_wave(sec, "wave-2", ["pypi/acme"])
    with pytest.raises(NotFound, match="unknown wave nope"):
        w.uc.rollout.status(sec, "nope")
    with pytest.raises(PermissionDenied):
        w.uc.rollout.add_wave(w.token["auditor"], "wave-3", ["pypi/acme"])
    assert [p for _, p in w.kv.writes()[before:] if not p.startswith("denied/")] == []
