"""Accounts, deposits and policy-based authorization against a real OpenBao."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

import httpx
import pytest

from custody.devstack import bao_binary
from tests.helpers import DEPOSITED, Stack, new_codes, uniq

pytestmark = pytest.mark.integration


def kv_version(stack: Stack, path: str) -> int:
    """The current KV version of a custody record, read with the root token (0: absent)."""
    resp = httpx.get(f"{stack.vault_addr}/v1/custody-kv/metadata/{path}",
                     headers={"X-Vault-Token": stack.token("root")})
    return 0 if resp.status_code == 404 else int(resp.json()["data"]["current_version"])


def test_add_list_show_account(stack: Stack) -> None:
    acct = f"pypi/{uniq()}"
    r = stack.cli("security", "accounts", "add", acct, "--owner", "Team@Example.com", "--tier", "critical",
                  "--notes", "release bot", "--format", "json")
    assert r.exit_code == 0, r.err
    data = r.json()
    assert data["id"] == acct and data["owner"] == "team@example.com"
    assert data["tier"] == "critical" and data["approvals_required"] == 2
    listed = stack.cli("auditor", "accounts", "list", "--format", "json").json()
    assert acct in [a["id"] for a in listed]
    shown = stack.cli("engineer", "accounts", "show", acct, "--format", "json").json()
    assert shown["notes"] == "release bot"


@pytest.mark.parametrize(
    ("account", "args", "message"),
    [
        ("nowhere/alice", [], "unknown platform"),
        ("pypi/-bad-", [], "not a PyPI username"),
        ("pypi/a/b", [], "not an account id"),
        ("pypi/ok-name", ["--owner", "not-an-email"], "email"),
        ("pypi/ok-name2", ["--tier", "critical", "--approvals", "0"], "at least one approval"),
    ],
)
def test_add_account_bad_input(stack: Stack, account: str, args: list[str], message: str) -> None:
    owner = [] if "--owner" in args else ["--owner", "o@example.com"]
    r = stack.cli("security", "accounts", "add", account, *owner, *args)
    assert r.exit_code == 1
    assert message in r.err
    assert r.out == ""
    if account.count("/") == 1:
        assert kv_version(stack, f"accounts/{account}") == 0


def test_duplicate_account_is_refused(stack: Stack) -> None:
    acct = f"pypi/{uniq()}"
    assert stack.cli("security", "accounts", "add", acct, "--owner", "a@example.com").exit_code == 0
    r = stack.cli("security", "accounts", "add", acct, "--owner", "b@example.com")
    assert r.exit_code == 1 and "already exists" in r.err
    assert stack.cli("security", "accounts", "show", acct, "--format", "json").json()["owner"] == "a@example.com"


def test_engineer_cannot_add_accounts_and_denial_is_recorded(stack: Stack) -> None:
    acct = f"pypi/{uniq()}"
    r = stack.cli("engineer", "accounts", "add", acct, "--owner", "a@example.com")
    assert r.exit_code == 1
    assert "permission denied: create on custody/accounts/" in r.err and "custody-security" in r.err
    assert kv_version(stack, f"accounts/{acct}") == 0


def test_missing_invalid_and_revoked_tokens(stack: Stack) -> None:
    r = stack.cli(None, "accounts", "list")
    assert r.exit_code == 1 and "no Vault token" in r.err
    stack.extra_tokens["bogus"] = "s.notarealtoken000000000000"
    r = stack.cli("bogus", "accounts", "list")
    assert r.exit_code == 1 and "invalid or expired" in r.err
    token = stack.make_user(uniq("leaver"), "custody-requesters")
    stack.admin().call("POST", "auth/token/revoke", {"token": token})
    stack.extra_tokens["leaver"] = token
    r = stack.cli("leaver", "accounts", "list")
    assert r.exit_code == 1 and "invalid or expired" in r.err
    assert token not in r.err


def test_deposit_from_file_and_status_never_prints_codes(stack: Stack, tmp_path: Path) -> None:
    acct = f"pypi/{uniq()}"
    stack.cli("security", "accounts", "add", acct, "--owner", "o@example.com")
    codes = new_codes(7)
    # The file PyPI lets you save: one code per line, maybe upper case, maybe with spaces.
    f = tmp_path / "codes.txt"
    f.write_text("\n".join(c[:8].upper() + " " + c[8:] for c in codes) + "\n\n")
    r = stack.cli("security", "codes", "deposit", acct, "--file", str(f), "--format", "json")
    assert r.exit_code == 0, r.err
    assert r.json()["total"] == 7 and r.json()["remaining"] == 7
    for who in ("security", "auditor"):
        for fmt in ("text", "json"):
            r = stack.cli(who, "codes", "status", acct, "--format", fmt)
            assert r.exit_code == 0, r.err
            assert not any(c in r.out or c in r.err for c in codes)
    status = stack.cli("security", "codes", "status", acct, "--format", "json").json()
    assert status["remaining"] == 7 and status["deposited_by"] == "userpass-security"
    everything = stack.cli("security", "codes", "status", "--format", "json")
    assert acct in [row["account"] for row in everything.json()]
    assert not any(c in everything.out for c in codes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0123456789abcdeg", "malformed PyPI recovery code"),
        ("0123456789abcde", "malformed PyPI recovery code"),
        ("", "no codes given"),
        ("\n".join(["0123456789abcdef"] * 2), "duplicate code"),
        ("\n".join(f"{i:016x}" for i in range(9)), "at most 8"),
    ],
)
def test_bad_deposits_change_nothing(stack: Stack, account: str, text: str, message: str) -> None:
    before = kv_version(stack, f"codes/{account}")
    r = stack.cli("security", "codes", "deposit", account, "--replace", stdin=text)
    assert r.exit_code == 1 and message in r.err
    assert "0123456789abcde" not in r.err  # the message names the line, never the code
    assert kv_version(stack, f"codes/{account}") == before


def test_second_deposit_needs_replace(stack: Stack, account: str) -> None:
    r = stack.cli("security", "codes", "deposit", account, stdin="\n".join(new_codes(8)))
    assert r.exit_code == 1 and "already has codes" in r.err and "rotate" in r.err
    r = stack.cli("security", "codes", "deposit", account, "--replace", "--format", "json",
                  stdin="\n".join(new_codes(6)))
    assert r.exit_code == 0 and r.json()["total"] == 6 and r.json()["generation"] == 2


def test_deposit_for_unknown_account(stack: Stack) -> None:
    acct = f"pypi/{uniq()}"
    r = stack.cli("security", "codes", "deposit", acct, stdin="\n".join(new_codes(8)))
    assert r.exit_code == 1 and "unknown account" in r.err
    assert kv_version(stack, f"codes/{acct}") == 0


def test_generic_platform(stack: Stack) -> None:
    acct = f"generic/{uniq()}"
    stack.cli("security", "accounts", "add", acct, "--owner", "o@example.com")
    codes = [f"GEN-{secrets.token_hex(5)}-x" for _ in range(2)]
    DEPOSITED.update(codes)
    r = stack.cli("security", "codes", "deposit", acct, "--format", "json", stdin="\n".join(codes))
    assert r.exit_code == 0 and r.json()["total"] == 2


@pytest.mark.parametrize("who", ["engineer", "approver", "auditor", "security", "rotation"])
def test_no_human_role_can_read_the_kv_mount(stack: Stack, account: str, who: str) -> None:
    for path in (f"custody-kv/data/codes/{account}", f"custody-kv/metadata/codes/{account}",
                 "custody-kv/metadata/grants"):
        for method in ("GET", "LIST"):
            resp = httpx.request(method, f"{stack.vault_addr}/v1/{path}", headers={"X-Vault-Token": stack.token(who)})
            assert resp.status_code == 403, (who, method, path)


def test_bao_cli_against_custody_server(stack: Stack, account: str) -> None:
    """Plugin-style: the bao CLI itself works with BAO_ADDR pointed at the custody server."""
    env = {**os.environ, "BAO_ADDR": stack.custody_addr, "BAO_TOKEN": stack.token("engineer")}
    env.pop("VAULT_TOKEN", None)
    env.pop("VAULT_ADDR", None)
    out = subprocess.run([bao_binary(), "read", "-format=json", f"custody/accounts/{account}"],
                         env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert '"owner": "owner@example.com"' in out.stdout
    listed = subprocess.run([bao_binary(), "list", "-format=json", "custody/accounts"],
                            env=env, capture_output=True, text=True, timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert account in listed.stdout


def test_api_envelope_and_errors(stack: Stack, account: str) -> None:
    resp = httpx.get(f"{stack.custody_addr}/v1/custody/accounts/{account}",
                     headers={"X-Vault-Token": stack.token("auditor")})
    body = resp.json()
    assert resp.status_code == 200 and set(body) >= {"request_id", "data", "warnings", "wrap_info"}
    resp = httpx.get(f"{stack.custody_addr}/v1/custody/accounts/pypi/{uniq()}",
                     headers={"X-Vault-Token": stack.token("auditor")})
    assert resp.status_code == 404 and resp.json()["errors"][0].startswith("unknown account")
    resp = httpx.get(f"{stack.custody_addr}/v1/custody/accounts/{account}")
    assert resp.status_code == 403 and "missing client token" in resp.json()["errors"][0]
    resp = httpx.post(f"{stack.custody_addr}/v1/custody/accounts/{account}/codes", content=b"x" * 100_000,
                      headers={"X-Vault-Token": stack.token("security")})
    assert resp.status_code == 413


def test_unreachable_custody_server(stack: Stack) -> None:
    r = stack.cli("security", "accounts", "list", custody_addr="http://127.0.0.1:9")
    assert r.exit_code == 1 and "unreachable" in r.err and "CUSTODY_ADDR" in r.err
    # An easy mix-up: CUSTODY_ADDR set to Vault's address
    r = stack.cli("security", "accounts", "list", custody_addr=stack.vault_addr)
    assert r.exit_code == 1 and "did not answer like custody" in r.err and "not at Vault itself" in r.err, r.err


def test_whoami_shows_the_policies_groups_give(stack: Stack) -> None:
    """Someone asking why they were refused must see every policy they hold, not only their token's own."""
    r = stack.cli("engineer", "whoami", "--format", "json")
    assert r.exit_code == 0, r.err
    policies = r.json()["policies"]
    assert "custody-requester" in policies and "custody-emergency" in policies, policies
    assert "custody-security" not in policies


def test_a_json_body_sent_as_a_form_is_read_as_json(stack: Stack, account: str) -> None:
    """`curl -d '{...}'` labels the body a form; Vault reads every body as JSON, and so does custody."""
    resp = httpx.post(f"{stack.custody_addr}/v1/custody/accounts/{account}/grants",
                      content=json.dumps({"reason": "Lost my hardware key; need to publish the 2.3.1 fix"}),
                      headers={"X-Vault-Token": stack.token("engineer"),
                               "Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["account"] == account
