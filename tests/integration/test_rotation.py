"""Rotation and the sweep against a real OpenBao: destroy, evidence, revocation, due detection, crash recovery."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from custody.domain.models import Grant, Principal
from custody.errors import CodesChanged, Conflict, PreconditionFailed, StoreError
from custody.repo.records import evidence_path, marker_path
from custody.usecases.rotation import Rotation
from custody.usecases.suite import UseCases
from tests.helpers import REASON, Clock, Stack, in_process, new_codes, uniq

pytestmark = pytest.mark.integration


def root_get(stack: Stack, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{stack.vault_addr}/v1/custody-kv/{path}", params=params,
                     headers={"X-Vault-Token": stack.token("root")})


def new_account(service: UseCases, stack: Stack, n: int = 8, tier: str = "standard") -> tuple[str, list[str]]:
    acct = f"pypi/{uniq('rot')}"
    service.accounts.add(stack.token("security"), acct, "owner@example.com", tier=tier)
    codes = new_codes(n)
    service.codes.deposit(stack.token("security"), acct, "\n".join(codes))
    return acct, codes


def due_row(sweep: dict[str, Any], account: str) -> dict[str, Any] | None:
    return next((d for d in sweep["due"] if d["account"] == account), None)


# ---- rotate ------------------------------------------------------------------------------------------------
def test_rotate_destroys_old_versions_revokes_grants_and_keeps_evidence(stack: Stack, account: str) -> None:
    # Two reveals' worth of history plus an open grant, then rotate through the CLI.
    pending = stack.cli("engineer2", "access", "request", account, "--reason", REASON, "--format", "json").json()
    assert pending["status"] == "approved"
    before = root_get(stack, f"metadata/codes/{account}").json()["data"]
    old_versions = [int(v) for v in before["versions"]]
    new = new_codes(8)
    r = stack.cli("security", "codes", "rotate", account, "--reason", "annual rotation", "--format", "json",
                  stdin="\n".join(new))
    assert r.exit_code == 0, r.err
    out = r.json()
    assert out["status"] == "completed" and out["count"] == 8 and out["generation"] == 2
    assert out["destroyed_versions"] == old_versions
    assert out["revoked_grants"] == [pending["id"]]
    assert not any(c in r.out or c in r.err for c in new)
    # A KV read of every old version returns nothing: the data is destroyed, not just deleted.
    for v in old_versions:
        resp = root_get(stack, f"data/codes/{account}", version=v)
        assert resp.status_code == 404 or resp.json()["data"]["data"] is None, v
        assert root_get(stack, f"metadata/codes/{account}").json()["data"]["versions"][str(v)]["destroyed"]
    # The grant is revoked with a reason a person understands.
    g = stack.cli("engineer2", "access", "show", pending["id"], "--format", "json").json()
    assert g["status"] == "revoked" and g["revoked_reason"] == "codes rotated"
    # Evidence: who, when, why, how many, which versions.
    ev = root_get(stack, f"data/{evidence_path(account, 1)}").json()["data"]["data"]
    assert ev["status"] == "completed" and ev["actor"] == "userpass-security" and ev["reason"] == "annual rotation"
    assert ev["count"] == 8 and ev["destroyed_versions"] == old_versions and ev["previous_versions"] == old_versions
    assert ev["revoked_grants"] == [pending["id"]]
    assert root_get(stack, f"metadata/{marker_path(account)}").status_code == 404
    status = stack.cli("security", "codes", "status", account, "--format", "json").json()
    assert status["generation"] == 2 and status["remaining"] == 8 and status["rotation_due"] is False
    assert status["last_rotated_at"] and status["last_rotated_by"] == "userpass-security"
    assert status["interrupted_rotation"] is None and status["reveals_since_rotation"] == 0
    assert status["next_due_at"] > status["last_rotated_at"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "no codes given"), ("0123456789abcdeg", "malformed PyPI recovery code"),
     ("\n".join(["0123456789abcdef"] * 2), "duplicate code"), ("# only a comment\n", "no codes given")],
)
def test_bad_new_sets_change_nothing(stack: Stack, account: str, text: str, message: str) -> None:
    before = root_get(stack, f"metadata/codes/{account}").json()["data"]
    r = stack.cli("security", "codes", "rotate", account, stdin=text)
    assert r.exit_code == 1 and message in r.err
    after = root_get(stack, f"metadata/codes/{account}").json()["data"]
    assert after["current_version"] == before["current_version"]
    assert not any(v["destroyed"] for v in after["versions"].values())
    assert root_get(stack, f"metadata/{marker_path(account)}").status_code == 404


def test_rotate_unknown_account_and_permissions(stack: Stack, account: str) -> None:
    acct = f"pypi/{uniq()}"
    r = stack.cli("security", "codes", "rotate", acct, stdin="\n".join(new_codes(8)))
    assert r.exit_code == 1 and "unknown account" in r.err
    assert root_get(stack, f"metadata/{marker_path(acct)}").status_code == 404
    for who in ("engineer", "approver", "rotation", "auditor"):
        r = stack.cli(who, "codes", "rotate", account, stdin="\n".join(new_codes(8)))
        assert r.exit_code == 1 and "permission denied" in r.err, who
    r = stack.cli("security", "codes", "rotate", account, "--resume")
    assert r.exit_code == 1 and "no interrupted rotation" in r.err


class Crash(Exception):
    pass


def stop_half_way(service: UseCases, monkeypatch: pytest.MonkeyPatch, token: str, grant_id: str) -> None:
    """A reveal that claimed its grant and reserved a code, then lost Vault before wrapping it."""
    def unreachable(*_: Any, **__: Any) -> Any:
        raise StoreError("Vault unreachable (test)")

    with monkeypatch.context() as m:
        m.setattr(service.ctx.repo.kv, "wrap_staged", unreachable)
        with pytest.raises(StoreError):
            service.access.reveal(token, grant_id)


def test_a_half_finished_reveal_is_revoked_by_rotation_and_ends_at_expiry(stack: Stack, service: UseCases,
                                                                          clock: Clock,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A reveal that stopped half-way can be resumed by its requester while the grant lasts, for the same code;
    never after the grant expired, and never after a rotation (it would take a code of the new set unapproved)."""
    acct, _ = new_account(service, stack)
    eng, sec = stack.token("engineer"), stack.token("security")
    late = service.access.request(eng, acct, REASON, ttl="1h")
    rotated = service.access.request(eng, acct, REASON, ttl="1h")
    for g in (late, rotated):
        stop_half_way(service, monkeypatch, eng, g.id)
        assert service.access.show(eng, g.id).status.value == "revealed" and not service.access.show(eng, g.id).code_fp

    clock.advance(hours=2)
    with pytest.raises(PreconditionFailed, match="expired before its code reached you"):
        service.access.reveal(eng, late.id)
    assert not service.access.show(eng, late.id).code_fp

    result = service.rotation.rotate(sec, acct, "\n".join(new_codes(8)), reason="suspected leak")
    assert late.id in result["revoked_grants"] and rotated.id in result["revoked_grants"]
    for g in (late, rotated):
        assert service.access.show(eng, g.id).status.value == "revoked"
        with pytest.raises(PreconditionFailed, match="revoked"):
            service.access.reveal(eng, g.id)
    status = service.codes.status(sec, acct)[0]
    assert (status["remaining"], status["consumed"]) == (8, 0)  # nothing of the new set went to them


@pytest.mark.parametrize("step", ["marked", "evidence", "stored", "destroyed", "revoked", "completed"])
def test_interrupted_rotation_is_reported_and_finished(stack: Stack, service: UseCases, clock: Clock,
                                                       step: str) -> None:
    acct, _ = new_account(service, stack)
    sec = stack.token("security")
    grant = service.access.request(stack.token("engineer2"), acct, REASON)
    old = [int(v) for v in root_get(stack, f"metadata/codes/{acct}").json()["data"]["versions"]]

    def crash(name: str) -> None:
        if name == step:
            raise Crash(name)

    new = new_codes(7)
    with pytest.raises(Crash):
        replace(service.rotation, after_step=crash).rotate(sec, acct, "\n".join(new), reason="key holder left")
    # Whatever was written, the state is reported: status shows the open rotation...
    row = service.codes.status(sec, acct)[0]
    assert row["interrupted_rotation"]["rotation"] == 1
    stored = step not in ("marked", "evidence")
    assert row["total"] == (7 if stored else 8)  # ...and the new set, once written, is the current one
    # ...and once it has been open a while, the sweep flags it as overdue.
    clock.advance(minutes=16)
    swept = service.sweep.sweep(stack.token("rotation"))
    d = due_row(swept, acct)
    assert d is not None and d["overdue"] and d["interrupted_rotation"]["rotation"] == 1
    assert "interrupted" in [x["kind"] for x in d["reasons"]]
    # Old versions survive only while the marker says so.
    meta = root_get(stack, f"metadata/codes/{acct}").json()["data"]
    alive = [int(v) for v, m in meta["versions"].items() if int(v) in old and not m["destroyed"]]
    assert alive == ([] if step in ("destroyed", "revoked", "completed") else old)
    # Running the same command again finishes the same rotation.
    if stored:
        done = service.rotation.rotate(sec, acct, None, resume=True)
    else:
        with pytest.raises(Exception, match="before storing the new codes"):
            service.rotation.rotate(sec, acct, None, resume=True)
        done = service.rotation.rotate(sec, acct, "\n".join(new))  # open 16 minutes: counts as interrupted
    assert done["rotation"] == 1 and done["status"] == "completed" and done["count"] == 7
    assert done["destroyed_versions"] == old
    assert done["revoked_grants"] == [grant.id]
    for v in old:
        assert root_get(stack, f"data/codes/{acct}", version=v).json()["data"]["data"] is None
    row = service.codes.status(sec, acct)[0]
    assert row["interrupted_rotation"] is None and row["total"] == 7 and row["generation"] == 2
    assert service.access.show(sec, grant.id).status.value == "revoked"
    assert due_row(service.sweep.sweep(stack.token("rotation")), acct) is None


def test_rerun_with_a_different_set_finishes_then_rotates_again(stack: Stack, service: UseCases,
                                                                 clock: Clock) -> None:
    acct, _ = new_account(service, stack)
    sec = stack.token("security")

    def crash(name: str) -> None:
        if name == "stored":
            raise Crash(name)

    with pytest.raises(Crash):
        replace(service.rotation, after_step=crash).rotate(sec, acct, "\n".join(new_codes(8)))
    clock.advance(minutes=16)  # the crashed run is now plainly interrupted, not in progress
    second = service.rotation.rotate(sec, acct, "\n".join(new_codes(6)))
    assert second["rotation"] == 2 and second["count"] == 6 and second["generation"] == 3
    ev1 = root_get(stack, f"data/{evidence_path(acct, 1)}").json()["data"]["data"]
    assert ev1["status"] == "completed"
    meta = root_get(stack, f"metadata/codes/{acct}").json()["data"]
    assert [v for v, m in meta["versions"].items() if not m["destroyed"]] == [str(meta["current_version"])]


def test_concurrent_rotation_is_refused(stack: Stack, service: UseCases) -> None:
    acct, _ = new_account(service, stack)
    sec = stack.token("security")
    seen = []

    def second_rotation(name: str) -> None:
        if name in ("marked", "stored"):
            with pytest.raises(Exception, match="already in progress"):
                service.rotation.rotate(sec, acct, "\n".join(new_codes(8)))
            seen.append(name)

    first = replace(service.rotation, after_step=second_rotation).rotate(sec, acct, "\n".join(new_codes(8)))
    assert seen == ["marked", "stored"] and first["generation"] == 2 and not first["resumed"]


@pytest.mark.parametrize("step", ["marked", "evidence"])
def test_a_resumed_rotation_refuses_the_codes_already_deposited(stack: Stack, service: UseCases, clock: Clock,
                                                                step: str) -> None:
    """The stale-file check holds for a rotation finished later, not only for one started now."""
    acct, current = new_account(service, stack)
    sec = stack.token("security")

    def crash(name: str) -> None:
        if name == step:
            raise Crash(name)

    with pytest.raises(Crash):
        replace(service.rotation, after_step=crash).rotate(sec, acct, "\n".join(new_codes(8)))
    clock.advance(minutes=16)
    before = root_get(stack, f"metadata/codes/{acct}").json()["data"]["current_version"]
    for resume in (False, True):
        with pytest.raises(Conflict, match="already deposited"):
            service.rotation.rotate(sec, acct, "\n".join(current), resume=resume)
    assert root_get(stack, f"metadata/codes/{acct}").json()["data"]["current_version"] == before
    status = service.codes.status(sec, acct)[0]
    assert status["generation"] == 1 and status["interrupted_rotation"] is not None
    done = service.rotation.rotate(sec, acct, "\n".join(new_codes(8)), resume=True)  # the real new codes
    assert done["status"] == "completed" and service.codes.status(sec, acct)[0]["generation"] == 2


def test_cli_resume_after_a_crash(stack: Stack, service: UseCases) -> None:
    acct, _ = new_account(service, stack)

    def crash(name: str) -> None:
        if name == "destroyed":
            raise Crash(name)

    with pytest.raises(Crash):
        replace(service.rotation, after_step=crash).rotate(stack.token("security"), acct, "\n".join(new_codes(8)))
    r = stack.cli("security", "codes", "status", acct, "--format", "json")
    assert r.json()["interrupted_rotation"]["rotation"] == 1
    r = stack.cli("security", "codes", "status", acct)  # the text form says so too, with what to run
    assert r.exit_code == 0 and "rotation #1" in r.out and f"custody codes rotate {acct} --resume" in r.out
    r = stack.cli("security", "codes", "rotate", acct, stdin="\n".join(new_codes(8)))
    assert r.exit_code == 1 and "already in progress" in r.err and "--resume" in r.err
    r = stack.cli("security", "codes", "rotate", acct, "--resume", "--format", "json")
    assert r.exit_code == 0, r.err
    assert r.json()["resumed"] and r.json()["rotation"] == 1 and r.json()["destroyed_versions"] == [1]


# ---- due detection (injected clock, no sleeps) ---------------------------------------------------------------
def reveal(stack: Stack, service: UseCases, acct: str) -> None:
    grant = service.access.request(stack.token("engineer2"), acct, REASON)
    service.access.reveal(stack.token("engineer2"), grant.id)


def test_a_reveal_during_a_rotation_never_takes_a_new_code_on_an_old_request(stack: Stack,
                                                                              service: UseCases) -> None:
    """Between storing the new set and revoking open grants, a grant requested before the rotation is refused a
    code of the new set; it is then revoked with the others."""
    acct, _ = new_account(service, stack)
    eng, sec = stack.token("engineer"), stack.token("security")
    grant = service.access.request(eng, acct, REASON)
    new = new_codes(8)
    refused: list[str] = []

    def reveal_mid_rotation(name: str) -> None:
        if name == "stored":
            with pytest.raises(CodesChanged) as caught:
                service.access.reveal(eng, grant.id)
            refused.append(caught.value.message)

    result = replace(service.rotation, after_step=reveal_mid_rotation).rotate(sec, acct, "\n".join(new))
    assert refused and "after grant" in refused[0]
    assert grant.id in result["revoked_grants"]
    assert service.access.show(eng, grant.id).status.value == "revoked"
    status = service.codes.status(sec, acct)[0]
    assert (status["remaining"], status["consumed"]) == (8, 0)
    fresh = service.access.request(eng, acct, REASON)  # a request after the rotation takes a new code
    assert service.access.reveal(eng, fresh.id).remaining == 7


def test_a_code_set_deleted_outside_custody_is_due_and_can_be_rotated(stack: Stack, service: UseCases,
                                                                      clock: Clock) -> None:
    """Someone with root soft-deletes the current version: the sweep must not count the account as fine, and a
    rotation must replace the set rather than loop on check-and-set."""
    acct, _ = new_account(service, stack)
    sec = stack.token("security")
    resp = httpx.delete(f"{stack.vault_addr}/v1/custody-kv/data/codes/{acct}",
                        headers={"X-Vault-Token": stack.token("root")})
    assert resp.status_code == 204
    clock.advance(minutes=1)  # the service's clock was set before the deletion
    sweep = service.sweep.sweep(stack.token("rotation"))
    row = due_row(sweep, acct)
    assert row is not None and "no_codes" in str(row), row
    # Which codes were handed out went with the deleted version: a deposit must not guess, a rotation may
    with pytest.raises(PreconditionFailed, match="deleted outside custody") as caught:
        service.codes.deposit(sec, acct, "\n".join(new_codes(8)), replace=True)
    assert "undelete" in (caught.value.hint or "") and "codes rotate" in (caught.value.hint or "")
    result = service.rotation.rotate(sec, acct, "\n".join(new_codes(8)))
    assert result["status"] == "completed"
    status = service.codes.status(sec, acct)[0]
    assert status["remaining"] == 8 and status["interrupted_rotation"] is None
    assert status["generation"] > 1  # new to every grant requested before
    assert due_row(service.sweep.sweep(stack.token("rotation")), acct) is None


def test_evidence_names_only_what_this_rotation_destroyed_and_revoked(stack: Stack, service: UseCases) -> None:
    acct, _ = new_account(service, stack)
    eng, sec = stack.token("engineer"), stack.token("security")
    service.rotation.rotate(sec, acct, "\n".join(new_codes(8)))
    revealed = service.access.request(eng, acct, REASON)
    service.access.reveal(eng, revealed.id)
    pending = service.access.request(eng, acct, REASON)

    class ListedThenRevealed(Rotation):
        """The race: a grant listed for revocation whose reveal finished before the revocation reached it."""

        def open_grants(self, account_id: str, who: Principal) -> dict[str, Grant]:
            return super().open_grants(account_id, who) | {revealed.id: revealed}

    second = ListedThenRevealed(service.ctx, service.authz).rotate(sec, acct, "\n".join(new_codes(8)))
    assert second["revoked_grants"] == [pending.id]
    ev2 = root_get(stack, f"data/{evidence_path(acct, 2)}").json()["data"]["data"]
    assert ev2["revoked_grants"] == [pending.id]
    ev1 = root_get(stack, f"data/{evidence_path(acct, 1)}").json()["data"]["data"]
    assert set(ev2["destroyed_versions"]).isdisjoint(ev1["destroyed_versions"])
    assert set(ev2["previous_versions"]) <= set(ev2["destroyed_versions"])
    assert ev2["destroyed_versions"] == list(range(ev1["new_version"], ev2["new_version"]))


def test_due_for_age_then_overdue_after_grace(stack: Stack, service: UseCases, clock: Clock) -> None:
    acct, _ = new_account(service, stack)
    rot = service.sweep
    assert due_row(rot.sweep(stack.token("rotation")), acct) is None
    clock.advance(days=365)
    d = due_row(rot.sweep(stack.token("rotation")), acct)
    assert d is not None and [x["kind"] for x in d["reasons"]] == ["max_age"] and not d["overdue"]
    assert due_row(rot.sweep(stack.token("rotation"), max_age="400d"), acct) is None
    clock.advance(days=30, seconds=1)
    d = due_row(rot.sweep(stack.token("rotation")), acct)
    assert d is not None and d["overdue"]
    assert acct in rot.sweep(stack.token("rotation"))["overdue"]


def test_due_for_reveals_and_low_remaining(stack: Stack, service: UseCases, clock: Clock) -> None:
    acct, _ = new_account(service, stack, n=5)
    rot = service.sweep
    reveal(stack, service, acct)
    d = due_row(rot.sweep(stack.token("rotation")), acct)
    assert d is not None and [x["kind"] for x in d["reasons"]] == ["revealed"] and d["remaining"] == 4
    reveal(stack, service, acct)
    d = due_row(rot.sweep(stack.token("rotation")), acct)
    assert d is not None and {x["kind"] for x in d["reasons"]} == {"revealed", "low_remaining"}
    assert d["remaining"] == 3 and not d["overdue"]
    d = due_row(rot.sweep(stack.token("rotation"), min_remaining=2), acct)
    assert d is not None and {x["kind"] for x in d["reasons"]} == {"revealed"}
    status = service.codes.status(stack.token("security"), acct)[0]
    assert status["reveals_since_rotation"] == 2 and status["rotation_due"]
    clock.advance(days=31)
    assert acct in rot.sweep(stack.token("rotation"))["overdue"]


def test_due_without_codes(stack: Stack, service: UseCases, clock: Clock) -> None:
    acct = f"pypi/{uniq('empty')}"
    service.accounts.add(stack.token("security"), acct, "o@example.com")
    d = due_row(service.sweep.sweep(stack.token("rotation")), acct)
    assert d is not None and [x["kind"] for x in d["reasons"]] == ["no_codes"] and d["total"] == 0
    clock.advance(days=31)
    assert acct in service.sweep.sweep(stack.token("rotation"))["overdue"]


def test_summary_follows_concurrent_reveals_and_replacements(stack: Stack, service: UseCases) -> None:
    """The sweep reads a metadata summary; it must agree with the code set itself, never overstate what is left."""
    acct, _ = new_account(service, stack, n=8)
    codes = service.ctx.repo.codes
    sec = stack.token("security")
    assert codes.facts(acct, service.ctx.clock())[1] == "summary"
    for _ in range(3):
        reveal(stack, service, acct)
    facts, source = codes.facts(acct, service.ctx.clock())
    assert source == "summary" and facts is not None and facts.remaining == 5 and len(facts.consumed_times) == 3
    service.codes.deposit(sec, acct, "\n".join(new_codes(2)), replace=True)  # smaller set, written by deposit
    facts, source = codes.facts(acct, service.ctx.clock())
    assert source == "summary" and facts is not None and facts.remaining == 2 and facts.total == 2
    # An account deposited before summaries existed (or with a lost one) is read from the set and healed.
    meta_version = root_get(stack, f"metadata/codes/{acct}").json()["data"]["current_metadata_version"]
    httpx.post(f"{stack.vault_addr}/v1/custody-kv/metadata/codes/{acct}",
               headers={"X-Vault-Token": stack.token("root")},
               json={"custom_metadata": {}, "metadata_cas": meta_version}).raise_for_status()
    assert codes.facts(acct, service.ctx.clock())[1] == "codes"
    assert codes.facts(acct, service.ctx.clock())[1] == "summary"


# ---- the sweep from the CLI and the API -------------------------------------------------------------------------
def test_sweep_cli_exit_codes_and_json(stack: Stack) -> None:
    acct = f"pypi/{uniq('cli')}"
    assert stack.cli("security", "accounts", "add", acct, "--owner", "o@example.com").exit_code == 0
    r = stack.cli("rotation", "rotation", "sweep", "--format", "json")
    assert r.exit_code in (0, 3), r.err
    body = r.json()
    assert body["policy"] == {"max_age": "365d", "min_remaining": 3, "grace": "30d"}
    assert due_row(body, acct) is not None
    assert (r.exit_code == 3) == bool(body["overdue"])
    # With a zero grace every due account is overdue: exit 3, JSON still complete on stdout.
    r = stack.cli("rotation", "rotation", "sweep", "--grace", "0s", "--format", "json")
    assert r.exit_code == 3 and acct in r.json()["overdue"] and "overdue for rotation" in r.err
    r = stack.cli("security", "rotation", "sweep", "--grace", "0s")
    assert r.exit_code == 3 and acct in r.out
    r = stack.cli("engineer", "rotation", "sweep")
    assert r.exit_code == 1 and "permission denied" in r.err
    r = stack.cli("rotation", "rotation", "sweep", "--max-age", "soon")
    assert r.exit_code == 1 and "not a duration" in r.err


def test_sweep_against_unreachable_server_is_exit_1(stack: Stack) -> None:
    r = stack.cli("rotation", "rotation", "sweep", custody_addr="http://127.0.0.1:9")
    assert r.exit_code == 1 and "unreachable" in r.err


def test_sweep_against_unreachable_vault_is_a_503(stack: Stack) -> None:
    from fastapi.testclient import TestClient

    from custody.api.app import create_app
    from custody.store import Store

    dead = in_process(Store("http://127.0.0.1:9", retries=0))
    client = TestClient(create_app(dead))
    resp = client.get("/v1/custody/rotation/sweep", headers={"X-Vault-Token": stack.token("rotation")})
    assert resp.status_code == 503 and "unreachable" in resp.json()["errors"][0]


def test_sweep_api_get_and_bao_read(stack: Stack) -> None:
    resp = httpx.get(f"{stack.custody_addr}/v1/custody/rotation/sweep", params={"min_remaining": 2},
                     headers={"X-Vault-Token": stack.token("rotation")})
    assert resp.status_code == 200 and resp.json()["data"]["policy"]["min_remaining"] == 2
    resp = httpx.post(f"{stack.custody_addr}/v1/custody/rotation/sweep", json={"max_age": "bogus"},
                      headers={"X-Vault-Token": stack.token("rotation")})
    assert resp.status_code == 400


def test_rotation_events_are_logged_and_never_hold_codes(stack: Stack, service: UseCases, clock: Clock) -> None:
    from structlog.testing import capture_logs

    acct, _ = new_account(service, stack)
    new = new_codes(8)
    with capture_logs() as logs:
        service.rotation.rotate(stack.token("security"), acct, "\n".join(new))
        clock.advance(seconds=2)
        service.sweep.sweep(stack.token("rotation"), max_age="1s")
    events = [e["event"] for e in logs]
    assert "rotation.started" in events and "rotation.completed" in events and "codes.rotated" in events
    assert any(e["event"] == "rotation.due" and e["account"] == acct for e in logs)
    assert not any(c in str(logs) for c in new)

