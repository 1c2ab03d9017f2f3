"""Break-glass access end to end: request, approvals, reveal through a wrapping token, on a real OpenBao."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from custody.cli.client import Client
from custody.devstack import bao_binary
from custody.errors import Conflict, CustodyError, Exhausted, PermissionDenied, PreconditionFailed, ValidationError
from custody.usecases.suite import UseCases
from tests.helpers import DEPOSITED, REASON, SESSION_LIMITS, Clock, Stack, in_process, new_codes, uniq

pytestmark = pytest.mark.integration


def request(stack: Stack, who: str, account: str, *extra: str) -> dict:
    r = stack.cli(who, "access", "request", account, "--reason", REASON, "--format", "json", *extra)
    assert r.exit_code == 0, r.err
    return r.json()


def grant_version(stack: Stack, grant_id: str) -> int:
    resp = httpx.get(f"{stack.vault_addr}/v1/custody-kv/metadata/grants/{grant_id}",
                     headers={"X-Vault-Token": stack.token("root")})
    return 0 if resp.status_code == 404 else int(resp.json()["data"]["current_version"])


def test_standard_account_needs_no_approval(stack: Stack, account: str) -> None:
    g = request(stack, "engineer2", account, "--ticket", "SEC-77")
    assert g["status"] == "approved" and g["ticket"] == "SEC-77" and g["requester"] == "userpass-engineer2"
    assert set(g) >= {"id", "account", "requester", "reason", "ticket", "status", "approvals", "created_at",
                      "expires_at"}
    r = stack.cli("engineer2", "access", "reveal", g["id"], "--format", "json")
    assert r.exit_code == 0, r.err
    out = r.json()
    assert set(out) == {"grant", "account", "code", "remaining"}
    assert out["code"] in DEPOSITED and out["remaining"] == 7 and out["account"] == account
    shown = stack.cli("engineer2", "access", "show", g["id"], "--format", "json").json()
    assert shown["status"] == "revealed" and shown["code_fp"].startswith("fp-")
    assert out["code"] not in stack.cli("auditor", "access", "show", g["id"], "--format", "json").out


def test_two_approver_flow(stack: Stack, critical_account: str) -> None:
    g = request(stack, "engineer", critical_account)
    assert g["status"] == "pending" and g["approvals_required"] == 2
    gid = g["id"]
    r = stack.cli("engineer", "access", "reveal", gid)
    assert r.exit_code == 1 and "pending" in r.err
    r = stack.cli("approver", "access", "approve", gid, "--comment", "called them", "--format", "json")
    assert r.exit_code == 0 and r.json()["status"] == "pending"
    r = stack.cli("approver", "access", "approve", gid)
    assert r.exit_code == 1 and "already approved" in r.err
    r = stack.cli("approver2", "access", "approve", gid, "--format", "json")
    assert r.exit_code == 0 and r.json()["status"] == "approved"
    assert [a["approver"] for a in r.json()["approvals"]] == ["userpass-approver", "userpass-approver2"]
    r = stack.cli("engineer2", "access", "reveal", gid)
    assert r.exit_code == 1 and "only the requester" in r.err
    r = stack.cli("engineer", "access", "reveal", gid, "--format", "json")
    assert r.exit_code == 0 and r.json()["code"] in DEPOSITED
    version = grant_version(stack, gid)
    r = stack.cli("engineer", "access", "reveal", gid)
    assert r.exit_code == 1 and "already revealed" in r.err
    r = stack.cli("approver", "access", "approve", gid)
    assert r.exit_code == 1 and "you already approved" in r.err and "revealed now" in r.err
    assert grant_version(stack, gid) == version


def test_requester_can_never_approve_own_grant(stack: Stack, critical_account: str) -> None:
    name = uniq("dual")
    stack.make_user(name, "custody-requesters", "custody-approvers")
    g = request(stack, name, critical_account)
    before = grant_version(stack, g["id"])
    r = stack.cli(name, "access", "approve", g["id"])
    assert r.exit_code == 1 and "your own request" in r.err
    assert grant_version(stack, g["id"]) == before


def test_deny_then_nothing_else(stack: Stack, critical_account: str) -> None:
    g = request(stack, "engineer2", critical_account)
    r = stack.cli("approver", "access", "deny", g["id"], "--comment", "no incident open", "--format", "json")
    assert r.exit_code == 0 and r.json()["status"] == "denied"
    assert r.json()["denial"]["comment"] == "no incident open"
    before = grant_version(stack, g["id"])
    for who, cmd in (("approver2", "approve"), ("engineer2", "reveal"), ("approver", "deny")):
        r = stack.cli(who, "access", cmd, g["id"])
        assert r.exit_code == 1 and "denied" in r.err, (who, cmd, r.err)
    assert grant_version(stack, g["id"]) == before


@pytest.mark.parametrize(
    ("reason", "extra", "message"),
    [
        ("", [], "reason is required"),
        (".", [], "too short"),
        ("test", [], "too short"),
        ("asdf asdf asdf asdf asdf asdf", [], "keyboard mash"),
        ("please please please help me now", [], "does not explain"),
        ("lost lost lost lost my key", [], "repeats one word"),
        ("need the code\r\nX-Injected: yes please", [], "control"),
        (REASON, ["--ticket", "bad ticket!"], "malformed ticket"),
        (REASON, ["--ttl", "forever"], "not a duration"),
        (REASON, ["--ttl", "30d"], "ttl must be between"),
    ],
)
def test_bad_requests_create_nothing(stack: Stack, account: str, reason: str, extra: list[str], message: str) -> None:
    before = Client(stack.custody_addr, stack.token("auditor")).call("GET", "grants", params={"list": "true",
                                                                                           "account": account})
    r = stack.cli("engineer", "access", "request", account, "--reason", reason, *extra)
    assert r.exit_code == 1 and message in r.err, r.err
    after = Client(stack.custody_addr, stack.token("auditor")).call("GET", "grants", params={"list": "true",
                                                                                          "account": account})
    assert after["data"]["keys"] == before["data"]["keys"]


def test_unknown_account_and_grant(stack: Stack) -> None:
    r = stack.cli("engineer", "access", "request", f"pypi/{uniq()}", "--reason", REASON)
    assert r.exit_code == 1 and "unknown account" in r.err
    r = stack.cli("engineer", "access", "reveal", "gr_aaaaaaaaaaaaaaaa")
    assert r.exit_code == 1 and "unknown grant" in r.err
    r = stack.cli("engineer", "access", "reveal", "../../etc/passwd")
    assert r.exit_code == 1


def test_emergency_grant_and_review(stack: Stack, critical_account: str) -> None:
    r = stack.cli("engineer2", "access", "request", critical_account, "--reason", REASON, "--emergency")
    assert r.exit_code == 1 and "emergency" in r.err  # engineer2 lacks the custody-emergency policy
    g = request(stack, "engineer", critical_account, "--emergency")
    assert g["status"] == "approved" and g["emergency"] is True
    r = stack.cli("engineer", "access", "reveal", g["id"], "--format", "json")
    assert r.exit_code == 0
    unreviewed = stack.cli("auditor", "access", "list", "--unreviewed", "--format", "json").json()
    assert g["id"] in [x["id"] for x in unreviewed]
    name = uniq("dual")
    stack.make_user(name, "custody-emergency", "custody-approvers")
    own = request(stack, name, critical_account, "--emergency")
    r = stack.cli(name, "access", "review", own["id"])
    assert r.exit_code == 1 and "your own" in r.err
    r = stack.cli("approver", "access", "review", g["id"], "--comment", "incident INC-9 confirmed", "--format", "json")
    assert r.exit_code == 0 and r.json()["review"]["reviewed_by"] == "userpass-approver"
    r = stack.cli("approver2", "access", "review", g["id"])
    assert r.exit_code == 1 and "already reviewed" in r.err
    unreviewed = stack.cli("auditor", "access", "list", "--unreviewed", "--format", "json").json()
    assert g["id"] not in [x["id"] for x in unreviewed]
    normal = request(stack, "engineer2", critical_account)
    r = stack.cli("approver", "access", "review", normal["id"])
    assert r.exit_code == 1 and "not an emergency" in r.err


def test_list_visibility_follows_policy(stack: Stack, account: str) -> None:
    mine = request(stack, "engineer", account)
    theirs = request(stack, "engineer2", account)
    seen = [g["id"] for g in stack.cli("engineer", "access", "list", "--account", account, "--format", "json").json()]
    assert mine["id"] in seen and theirs["id"] not in seen
    r = stack.cli("engineer", "access", "show", theirs["id"])
    assert r.exit_code == 1 and "permission denied" in r.err
    seen = [g["id"] for g in stack.cli("approver", "access", "list", "--account", account, "--format", "json").json()]
    assert {mine["id"], theirs["id"]} <= set(seen)
    r = stack.cli("auditor", "access", "list", "--status", "bogus")
    assert r.exit_code == 1 and "unknown status" in r.err


def test_exhausted_account(stack: Stack) -> None:
    acct = f"pypi/{uniq()}"
    stack.cli("security", "accounts", "add", acct, "--owner", "o@example.com")
    stack.cli("security", "codes", "deposit", acct, stdin=new_codes(1)[0])
    first = request(stack, "engineer", acct)
    second = request(stack, "engineer", acct)
    assert stack.cli("engineer", "access", "reveal", first["id"]).exit_code == 0
    r = stack.cli("engineer", "access", "reveal", second["id"])
    assert r.exit_code == 1 and "no codes left" in r.err and "rotate" in r.err
    assert stack.cli("engineer", "access", "show", second["id"], "--format", "json").json()["status"] == "approved"
    r = stack.cli("engineer", "access", "request", acct, "--reason", REASON)
    assert r.exit_code == 1 and "no codes left" in r.err


def test_forty_concurrent_reveals_of_eight_codes(stack: Stack, account: str) -> None:
    grants = [request(stack, "engineer", account)["id"] for _ in range(40)]
    client = Client(stack.custody_addr, stack.token("engineer"))

    def reveal(gid: str) -> str:
        try:
            resp = client.call("POST", f"grants/{gid}/reveal")
        except Exhausted:
            return "exhausted"
        return str(client.unwrap(stack.vault_addr, resp["wrap_info"]["token"])["code"])

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(reveal, grants))
    codes = [r for r in results if r != "exhausted"]
    assert len(codes) == 8 and len(set(codes)) == 8
    assert results.count("exhausted") == 32
    assert set(codes) <= DEPOSITED
    status = stack.cli("security", "codes", "status", account, "--format", "json").json()
    assert status["remaining"] == 0 and status["consumed"] == 8


def test_wrapping_token_is_single_use_and_foreign_unwrap_fails(stack: Stack, account: str) -> None:
    g = request(stack, "engineer", account)
    resp = Client(stack.custody_addr, stack.token("engineer")).call("POST", f"grants/{g['id']}/reveal")
    token = resp["wrap_info"]["token"]
    assert "code" not in resp["data"] and not any(c in str(resp) for c in DEPOSITED)
    first = Client(stack.custody_addr, stack.token("engineer")).unwrap(stack.vault_addr, token)
    assert first["code"] in DEPOSITED
    with pytest.raises(PreconditionFailed, match="could not be unwrapped"):
        Client(stack.custody_addr, stack.token("engineer2")).unwrap(stack.vault_addr, token)


def test_bao_write_request_and_approve(stack: Stack, critical_account: str) -> None:
    """Plugin-style: `bao write custody/...` against the custody server."""

    def bao(who: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "BAO_ADDR": stack.custody_addr, "BAO_TOKEN": stack.token(who)}
        env.pop("VAULT_TOKEN", None)
        return subprocess.run([bao_binary(), *args], env=env, capture_output=True, text=True, timeout=30)

    out = bao("engineer", "write", "-format=json", f"custody/accounts/{critical_account}/grants", f"reason={REASON}",
              "ticket=SEC-9")
    assert out.returncode == 0, out.stderr
    import json

    gid = json.loads(out.stdout)["data"]["id"]
    out = bao("approver", "write", "-format=json", f"custody/grants/{gid}/approve", "comment=ok")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["data"]["approvals"][0]["approver"] == "userpass-approver"
    out = bao("engineer", "write", "-force", f"custody/grants/{gid}/approve")
    assert out.returncode != 0 and "permission denied" in out.stderr


# ---- in-process service with a controlled clock (same real OpenBao) -------------------------------------------
def test_pending_grant_expires(stack: Stack, service: UseCases, clock: Clock, critical_account: str) -> None:
    g = service.access.request(stack.token("engineer"), critical_account, REASON, ttl="2h")
    clock.advance(hours=2, seconds=1)
    with pytest.raises(PreconditionFailed, match="expired"):
        service.access.approve(stack.token("approver"), g.id)
    assert service.access.show(stack.token("engineer"), g.id).status.value == "expired"


def test_approved_grant_expires_before_reveal(stack: Stack, service: UseCases, clock: Clock, account: str) -> None:
    g = service.access.request(stack.token("engineer"), account, REASON, ttl="1h")
    clock.advance(hours=1)
    with pytest.raises(PreconditionFailed, match="expired"):
        service.access.reveal(stack.token("engineer"), g.id)


def test_emergency_review_overdue(stack: Stack, service: UseCases, clock: Clock, critical_account: str) -> None:
    g = service.access.request(stack.token("engineer"), critical_account, REASON, emergency=True)
    assert g.id not in [x.id for x in service.access.overdue_reviews(stack.token("auditor"))]
    clock.advance(hours=73)
    assert g.id in [x.id for x in service.access.overdue_reviews(stack.token("auditor"))]


def test_service_errors_are_typed(stack: Stack, service: UseCases, account: str) -> None:
    with pytest.raises(ValidationError):
        service.access.request(stack.token("engineer"), account, "x")
    with pytest.raises(PermissionDenied):
        service.accounts.add(stack.token("engineer"), f"pypi/{uniq()}", "o@example.com")
    g = service.access.request(stack.token("engineer"), account, REASON)
    service.access.reveal(stack.token("engineer"), g.id)
    with pytest.raises(Conflict):
        service.access.reveal(stack.token("engineer"), g.id)
    assert issubclass(Exhausted, CustodyError)


def test_interrupted_reveal_resumes_with_the_same_code(stack: Stack, clock: Clock, account: str) -> None:
    """Vault fails between consuming the code and wrapping it: the retry hands out the same code, not a second."""
    from custody.config import PolicySettings
    from custody.errors import StoreError
    from custody.repo.kv import WrapInfo
    from custody.store import Store

    class FailingWrap(Store):
        def wrap_staged(self, path: str, ttl: object) -> WrapInfo:
            raise StoreError("Vault is unreachable (wrap)")

    real = stack.service_store()
    failing = FailingWrap(stack.vault_addr)
    failing.use_token(real._refresh())
    broken = in_process(failing, settings=PolicySettings(**SESSION_LIMITS), clock=clock)
    working = in_process(real, settings=PolicySettings(**SESSION_LIMITS), clock=clock)
    g = working.access.request(stack.token("engineer"), account, REASON)
    with pytest.raises(StoreError):
        broken.access.reveal(stack.token("engineer"), g.id)
    assert working.access.show(stack.token("engineer"), g.id).status.value == "revealed"
    with pytest.raises(PermissionDenied):
        working.access.reveal(stack.token("engineer2"), g.id)
    result = working.access.reveal(stack.token("engineer"), g.id)
    code = Client(stack.custody_addr, stack.token("engineer")).unwrap(stack.vault_addr, result.wrap.token)["code"]
    assert code in DEPOSITED and result.remaining == 7
    assert working.access.show(stack.token("engineer"), g.id).code_fp
    with pytest.raises(Conflict, match="already revealed"):
        working.access.reveal(stack.token("engineer"), g.id)
    status = working.codes.status(stack.token("security"), account)[0]
    assert status["consumed"] == 1


def test_sweep_records_expired_grants(stack: Stack, service: UseCases, clock: Clock, critical_account: str) -> None:
    """Expiry is enforced at once; the write form of the sweep also writes it down, as evidence."""
    from custody.repo.records import grant_path

    stale = service.access.request(stack.token("engineer"), critical_account, REASON, ttl="1h")
    fresh = service.access.request(stack.token("engineer"), critical_account, REASON, ttl="3h")
    clock.advance(hours=2)
    sweeper = service.authz.whoami(stack.token("rotation"))
    expired = service.sweep.expire_stale(sweeper)
    assert stale.id in expired and fresh.id not in expired
    record = service.ctx.repo.kv.read(grant_path(stale.id))
    assert record is not None
    assert record.data["status"] == "expired" and record.data["event"] == "grant.expired"
    assert record.data["actor"] == sweeper.display_name
    assert service.ctx.repo.kv.read(grant_path(fresh.id)).data["status"] == "pending"  # type: ignore[union-attr]
    assert stale.id not in service.sweep.expire_stale(sweeper)  # once
    with pytest.raises(PreconditionFailed, match="expired"):
        service.access.approve(stack.token("approver"), stale.id)


def test_sweep_via_api_reports_expired_grants(stack: Stack) -> None:
    r = stack.cli("rotation", "rotation", "sweep", "--format", "json")
    assert r.exit_code in (0, 3), r.err
    assert isinstance(r.json()["expired_grants"], list)


def test_a_code_handed_out_stays_handed_out_when_the_same_codes_come_back(stack: Stack) -> None:
    """Depositing the same file again (--replace, say to fix a typo) or rotating to a stale file must never make
    a code someone already received available to the next requester."""
    acct = f"pypi/{uniq()}"
    codes = new_codes(4)
    assert stack.cli("security", "accounts", "add", acct, "--owner", "o@example.com").exit_code == 0
    assert stack.cli("security", "codes", "deposit", acct, stdin="\n".join(codes)).exit_code == 0
    first = stack.cli("engineer", "access", "reveal", request(stack, "engineer", acct)["id"], "--format", "json")
    assert first.exit_code == 0

    r = stack.cli("security", "codes", "deposit", acct, "--replace", "--format", "json", stdin="\n".join(codes))
    assert r.exit_code == 0 and r.json()["remaining"] == 3 and r.json()["total"] == 4
    seen = {first.json()["code"]}
    for who in ("engineer2", "engineer", "engineer2"):
        r = stack.cli(who, "access", "reveal", request(stack, who, acct)["id"], "--format", "json")
        assert r.exit_code == 0 and r.json()["code"] not in seen
        seen.add(r.json()["code"])
    assert seen == set(codes)
    r = stack.cli("engineer", "access", "request", acct, "--reason", REASON)
    assert r.exit_code == 1 and "no codes left" in r.err

    def code_versions() -> int:
        meta = httpx.get(f"{stack.vault_addr}/v1/custody-kv/metadata/codes/{acct}",
                         headers={"X-Vault-Token": stack.token("root")}).json()["data"]
        return int(meta["current_version"])

    before = code_versions()
    r = stack.cli("security", "codes", "rotate", acct, stdin="\n".join([*codes[:1], *new_codes(3)]))
    assert r.exit_code == 1 and "already deposited" in r.err and "regenerate" in r.err
    assert code_versions() == before
    assert stack.cli("security", "codes", "status", acct, "--format", "json").json()["interrupted_rotation"] is None
