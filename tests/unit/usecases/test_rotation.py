"""Rotation: the new set in, every old version destroyed, open grants revoked, evidence kept; and finished by running
the same command again after a failure between any two of its writes."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest

from custody.bootstrap import GROUPS
from custody.config import PolicySettings
from custody.domain.models import GrantStatus
from custody.errors import Conflict, PreconditionFailed, StoreError, ValidationError
from tests.fakes import REASON, World, an_account, codes, world
from tests.memkv import WRITES


def old_versions(w: World) -> list[int]:
    return [int(v) for v in (w.kv.metadata("codes/pypi/acme") or {})["versions"]]


def test_a_rotation_replaces_the_set_destroys_the_old_one_and_revokes_open_grants(w: World) -> None:
    an_account(w)
    sec, eng = w.token["security"], w.token["engineer"]
    revealed = w.uc.access.request(eng, "pypi/acme", REASON)
    w.uc.access.reveal(eng, revealed.id)
    pending = w.uc.access.request(eng, "pypi/acme", REASON)
    before = old_versions(w)
    new = codes(7)
    result = w.uc.rotation.rotate(sec, "pypi/acme", "\n".join(new), reason="annual rotation")
    assert (result["status"], result["rotation"], result["count"], result["generation"], result["remaining"]) == (
        "completed", 1, 7, 2, 7)
    assert result["destroyed_versions"] == before and result["revoked_grants"] == [pending.id]
    assert result["rotated_by"] == "userpass-security" and result["reason"] == "annual rotation"
    assert all(w.kv.read("codes/pypi/acme", version=v) is None for v in before)
    assert w.uc.access.show(eng, pending.id).status is GrantStatus.revoked
    assert w.uc.access.show(eng, revealed.id).status is GrantStatus.revealed
    evidence = w.kv.read("rotations/pypi/acme/1")
    assert evidence is not None and evidence.data["status"] == "completed"
    assert (evidence.data["event"], evidence.data["previous_versions"], evidence.data["revoked_grants"]) == (
        "rotation.completed", before, [pending.id])
    assert w.kv.read("rotating/pypi/acme") is None
    assert not any(c in str(result) for c in new)
    assert "rotation.completed" in w.notices.names()


@pytest.mark.parametrize(("text", "resume", "error", "message"), [
    ("", False, ValidationError, "no codes given"),
    (None, False, ValidationError, "no codes given"),
    (None, True, PreconditionFailed, "no interrupted rotation to resume"),
    ("0123456789abcdeg", False, ValidationError, "malformed"),
])
def test_bad_rotations_change_nothing(w: World, text: str | None, resume: bool, error: type, message: str) -> None:
    an_account(w)
    before = len(w.kv.writes())
    with pytest.raises(error, match=message):
        w.uc.rotation.rotate(w.token["security"], "pypi/acme", text, resume=resume)
    assert len(w.kv.writes()) == before


def test_a_rotation_refuses_the_codes_already_deposited(w: World) -> None:
    current = an_account(w)
    before = len(w.kv.writes())
    with pytest.raises(Conflict, match="already deposited") as caught:
        w.uc.rotation.rotate(w.token["security"], "pypi/acme", "\n".join([current[0], *codes(7)]))
    assert "regenerate" in (caught.value.hint or "") and len(w.kv.writes()) == before


def test_a_second_rotation_while_one_runs_is_refused(w: World) -> None:
    an_account(w)
    sec = w.token["security"]
    seen = []

    def second(step: str) -> None:
        if step in ("marked", "stored"):
            with pytest.raises(Conflict, match="already in progress"):
                w.uc.rotation.rotate(sec, "pypi/acme", "\n".join(codes()))
            seen.append(step)

    first = replace(w.uc.rotation, after_step=second).rotate(sec, "pypi/acme", "\n".join(codes()))
    assert seen == ["marked", "stored"] and first["generation"] == 2 and not first["resumed"]


def _indexed(w: World) -> None:
    """The grants' index as a deployment's first listing leaves it (the writes counted here are a rotation's)."""
    w.uc.ctx.repo.grants.ensure_index(w.who("security"), w.clock())


def _rotation_writes() -> int:
    w = world()
    an_account(w)
    w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    _indexed(w)
    start = len(w.kv.writes())
    w.uc.rotation.rotate(w.token["security"], "pypi/acme", "\n".join(codes(7)))
    return len(w.kv.writes()) - start


def test_a_failure_between_any_two_writes_is_finished_by_running_the_command_again() -> None:
    total = _rotation_writes()
    # marker, evidence, summary stale, the set, summary fresh, its prints, destroy, evidence, the grant, evidence,
    # marker
    assert total == 11
    for n in range(total):
        w = world()
        an_account(w)
        sec = w.token["security"]
        grant = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
        _indexed(w)
        old, new = old_versions(w), codes(7)
        made: list[tuple[str, str]] = []

        def fail_nth(op: str, path: str, n: int = n, made: list[tuple[str, str]] = made) -> None:
            if op in WRITES:
                made.append((op, path))
                if len(made) == n + 1:
                    raise StoreError("Vault is unreachable (test)")

        w.kv.before.append(fail_nth)
        try:
            w.uc.rotation.rotate(sec, "pypi/acme", "\n".join(new))
            raised = False
        except StoreError:
            raised = True
        w.kv.before.remove(fail_nth)
        failed = made[n]
        # Only the two writes of the sweep's summary, and the set's prints (`codes identify` rebuilds them), are
        # allowed to fail without failing the rotation.
        assert raised or failed[0] == "write_custom_metadata" or failed[1].startswith("prints/"), (n, failed)
        if raised:
            w.clock.advance(minutes=16)  # plainly interrupted now, not in progress
            done = w.uc.rotation.rotate(sec, "pypi/acme", "\n".join(new))  # the same command, again
            assert done["resumed"] == (n > 0), (n, failed)
        _assert_rotated(w, old, new, grant.id, n, stale_mark_failed=(n == 2))


def _assert_rotated(w: World, old: list[int], new: list[str], grant_id: str, n: int, stale_mark_failed: bool) -> None:
    sec = w.token["security"]
    status = w.uc.codes.status(sec, "pypi/acme")[0]
    assert (status["total"], status["remaining"], status["generation"]) == (7, 7, 2), n
    assert status["interrupted_rotation"] is None and w.kv.read("rotating/pypi/acme") is None, n
    meta = w.kv.metadata("codes/pypi/acme") or {}
    assert [int(v) for v, m in meta["versions"].items() if not m["destroyed"]] == [meta["current_version"]], n
    evidence = w.kv.read("rotations/pypi/acme/1")
    assert evidence is not None and evidence.data["status"] == "completed", n
    assert evidence.data["destroyed_versions"] == old and evidence.data["revoked_grants"] == [grant_id], n
    assert w.uc.access.show(sec, grant_id).status is GrantStatus.revoked, n
    assert w.kv.list_keys("rotations/pypi/acme/") == ["1"], n  # one rotation, finished, not a second one
    facts, _ = w.uc.ctx.repo.codes.facts("pypi/acme", w.clock())
    if not stale_mark_failed:
        # When marking the summary stale fails, the writer goes on (an older service policy may not allow metadata
        # writes) and the summary of the old set stays in place: a gap docs/rotation.md names.
        assert facts is not None and (facts.total, facts.remaining, facts.generation) == (7, 7, 2), n


def test_resume_needs_the_codes_only_if_they_were_never_stored(w: World) -> None:
    an_account(w)
    sec = w.token["security"]

    def crash(name: str) -> None:
        if name == "evidence":
            raise RuntimeError(name)

    with pytest.raises(RuntimeError):
        replace(w.uc.rotation, after_step=crash).rotate(sec, "pypi/acme", "\n".join(codes()))
    with pytest.raises(PreconditionFailed, match="stopped before storing the new codes") as caught:
        w.uc.rotation.rotate(sec, "pypi/acme", None, resume=True)
    assert "again with the new codes" in (caught.value.hint or "")
    with pytest.raises(Conflict, match="already in progress") as refused:
        w.uc.rotation.rotate(sec, "pypi/acme", "\n".join(codes()))
    assert "--resume" in (refused.value.hint or "")
    new = codes(6)
    done = w.uc.rotation.rotate(sec, "pypi/acme", "\n".join(new), resume=True)
    assert done["resumed"] and done["count"] == 6 and done["rotation"] == 1
    evidence = w.kv.read("rotations/pypi/acme/1")
    assert evidence is not None and evidence.data["count"] == 6  # the set it did store, not the one it started with


def test_a_rerun_with_a_different_set_finishes_the_old_rotation_then_rotates_again(w: World) -> None:
    an_account(w)
    sec = w.token["security"]

    def crash(name: str) -> None:
        if name == "stored":
            raise RuntimeError(name)

    with pytest.raises(RuntimeError):
        replace(w.uc.rotation, after_step=crash).rotate(sec, "pypi/acme", "\n".join(codes(8)))
    w.clock.advance(minutes=16)
    second = w.uc.rotation.rotate(sec, "pypi/acme", "\n".join(codes(6)))
    assert (second["rotation"], second["count"], second["generation"]) == (2, 6, 3)
    first = w.kv.read("rotations/pypi/acme/1")
    assert first is not None and first.data["status"] == "completed"


def test_an_old_request_never_takes_a_code_of_the_new_set(w: World) -> None:
    an_account(w)
    sec, eng = w.token["security"], w.token["engineer"]
    grant = w.uc.access.request(eng, "pypi/acme", REASON)
    refused = []

    def reveal_mid_rotation(step: str) -> None:
        if step == "stored":
            with pytest.raises(Exception, match="rotated or replaced after grant") as caught:
                w.uc.access.reveal(eng, grant.id)
            refused.append(caught.value)

    result = replace(w.uc.rotation, after_step=reveal_mid_rotation).rotate(sec, "pypi/acme", "\n".join(codes()))
    assert refused and result["revoked_grants"] == [grant.id]
    status = w.uc.codes.status(sec, "pypi/acme")[0]
    assert (status["remaining"], status["consumed"]) == (8, 0)


def test_only_the_security_team_rotates(w: World) -> None:
    an_account(w)
    for name in ("engineer", "approver", "auditor"):
        with pytest.raises(Exception, match="permission denied: update on custody/accounts/pypi/acme/rotate"):
            w.uc.rotation.rotate(w.token[name], "pypi/acme", "\n".join(codes()))
    assert w.kv.read("rotating/pypi/acme") is None


def test_evidence_of_many_revoked_grants_is_paged_and_a_resume_reads_it_back() -> None:
    """Vault refuses a body of about a thousand strings: a rotation revoking 750 grants names 100 in its evidence
    and the rest on pages, written first; an interrupted run's --resume reads them all back."""
    w = world(PolicySettings(open_grants_per_account=100, open_grants_total=500))
    an_account(w)
    people = [w.vault.add(f"spammer{n}", GROUPS["custody-requesters"]) for n in range(8)]
    spam = {w.uc.access.request(people[n % 8], "pypi/acme", REASON).id for n in range(750)}

    def crash(step: str) -> None:
        if step == "revoked":
            raise StoreError("Vault is unreachable (test)")

    with pytest.raises(StoreError):
        replace(w.uc.rotation, after_step=crash).rotate(w.token["security"], "pypi/acme", "\n".join(codes(8)))
    record = w.kv.read("rotations/pypi/acme/1")
    assert record is not None and record.data["status"] == "started"
    assert (len(record.data["revoked_grants"]), record.data["revoked_count"], record.data["revoked_pages"]) == (
        100, 750, 2)
    assert w.kv.list_keys("rotations/pypi/acme/1/revoked/") == ["1", "2"]
    assert all(len(orjson.dumps(w.kv.read(f"rotations/pypi/acme/1/revoked/{k}").data)) < 20_000 for k in "12")
    w.clock.advance(minutes=16)
    done = w.uc.rotation.rotate(w.token["security"], "pypi/acme", "", resume=True)
    assert done["status"] == "completed" and set(done["revoked_grants"]) == spam
    evidence = w.uc.ctx.repo.rotations.evidence("pypi/acme", 1)
    assert evidence is not None and set(evidence.value.revoked_grants) == spam


@pytest.mark.parametrize("open_grants", [3, 10, 11, 120])
def test_many_revoked_grants_are_announced_in_one_event(open_grants: int) -> None:
    """A rotation of a busy account revokes its open grants: up to ten get an event each (as one revocation
    does); more get one ``grants.revoked`` event between them, which a webhook's queue (1000 events) and a chat
    channel can take. An emergency grant among them still gets its own event."""
    w = world(PolicySettings(open_grants_per_account=100, open_grants_total=500))
    an_account(w, approvals=1)  # so that the emergency grant is one (on an account needing none it is ordinary)
    people = [w.vault.add(f"requester{n}", GROUPS["custody-requesters"]) for n in range(4)]
    ordinary = {w.uc.access.request(people[n % 4], "pypi/acme", REASON).id for n in range(open_grants)}
    emergency_grant = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, emergency=True)
    assert emergency_grant.emergency
    emergency = emergency_grant.id
    w.notices.events.clear()
    done = w.uc.rotation.rotate(w.token["security"], "pypi/acme", "\n".join(codes(8)), reason="annual rotation")
    assert set(done["revoked_grants"]) == ordinary | {emergency}
    single = {e["grant_id"] for e in w.notices.events if e["event"] == "grant.revoked"}
    bulk = [e for e in w.notices.events if e["event"] == "grants.revoked"]
    if open_grants <= 10:
        assert single == ordinary | {emergency} and bulk == []
        return
    assert single == {emergency}
    (event,) = bulk
    assert (event["count"], event["account"], event["accounts"], event["actor"]) == (
        open_grants, "pypi/acme", ["pypi/acme"], "userpass-security")
    assert event["grant_ids"] == sorted(ordinary)[:50] and event["grant_ids_more"] == max(open_grants - 50, 0)
    assert event["reason"] == "codes rotated"
