"""Ownership classes and `custody accounts update` on a real custody and OpenBao: what the CLI prints, what Vault's
audit log shows of a change (who, which fields, the old and new values), open grants under a raised requirement,
and bad input refused with nothing changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REASON, Stack, new_codes, uniq

pytestmark = pytest.mark.integration


def ok(stack: Stack, who: str, *args: str, stdin: str = "") -> Any:
    r = stack.cli(who, *args, "--format", "json", stdin=stdin)
    assert r.exit_code == 0, r.err
    return r.json()


def audit_entries(stack: Stack, account: str, event: str) -> list[dict[str, Any]]:
    """The service's KV write requests for ``account`` carrying ``event``, as Vault's audit device recorded them."""
    found = []
    for line in Path(stack.state["audit_log"]).read_text().splitlines():
        if account in line and event in line:
            entry = json.loads(line)
            if entry["type"] == "request" and entry["request"]["path"].endswith(f"data/accounts/{account}"):
                found.append(entry)
    return found


def test_ownership_is_recorded_and_an_update_shows_in_vaults_audit_log(stack: Stack) -> None:
    acct = f"pypi/{uniq('bot')}"
    added = ok(stack, "security", "accounts", "add", acct, "--owner", "pypi@example.com", "--ownership", "service",
               "--human-owner", "Jane@Example.com")
    assert (added["ownership"], added["human_owner"]) == ("service", "jane@example.com")
    text = stack.cli("security", "accounts", "update", acct, "--tier", "critical", "--human-owner", "raj@example.com")
    assert text.exit_code == 0, text.err
    assert text.out.splitlines() == [f"updated {acct}: tier standard -> critical, approvals_required 0 -> 2, "
                                     "human_owner jane@example.com -> raj@example.com"]
    shown = ok(stack, "auditor", "accounts", "show", acct)
    assert (shown["tier"], shown["approvals_required"], shown["human_owner"]) == ("critical", 2, "raj@example.com")
    assert shown["updated_at"] is not None

    (entry,) = audit_entries(stack, acct, "account.updated")
    data = entry["request"]["data"]["data"]
    assert entry["auth"]["display_name"].startswith("approle")  # the service writes; the record names the person
    assert (data["event"], data["actor"]) == ("account.updated", "userpass-security")
    assert data["changed"] == ["tier", "approvals_required", "human_owner"]
    assert data["previous"] == {"tier": "standard", "approvals_required": 0, "human_owner": "jane@example.com"}
    assert (data["tier"], data["approvals_required"], data["ownership"], data["human_owner"]) == (
        "critical", 2, "service", "raj@example.com")
    assert entry["request"]["data"]["options"]["cas"] == 1  # a check-and-set write over the registration


def test_raising_the_approvals_revokes_open_grants(stack: Stack) -> None:
    acct = f"pypi/{uniq('tight')}"
    ok(stack, "security", "accounts", "add", acct, "--owner", "o@example.com")
    ok(stack, "security", "codes", "deposit", acct, stdin="\n".join(new_codes(8)))
    grant = ok(stack, "engineer2", "access", "request", acct, "--reason", REASON)
    assert grant["status"] == "approved"  # a standard account needs no approval...
    done = ok(stack, "security", "accounts", "update", acct, "--approvals", "1")
    assert done["changes"] == [{"field": "approvals_required", "old": 0, "new": 1}]
    assert done["revoked_grants"] == [grant["id"]]  # ...so its open grant is revoked when it starts needing one
    after = ok(stack, "security", "access", "show", grant["id"])
    assert after["status"] == "revoked"
    refused = stack.cli("engineer2", "access", "reveal", grant["id"])
    assert refused.exit_code != 0 and "revoked" in refused.err


@pytest.mark.parametrize(("args", "message"), [
    (("--ownership", "shared"), "Invalid value for '--ownership': 'shared' is not one of"),
    (("--ownership", "service"), "error: a service account needs a human owner\n  hint: add --human-owner EMAIL"),
    (("--ownership", "personal", "--human-owner", "jane"), "error: the human owner must be an email address"),
])
def test_bad_ownership_at_registration_changes_nothing(stack: Stack, args: tuple[str, ...], message: str) -> None:
    acct = f"pypi/{uniq('bad')}"
    r = stack.cli("security", "accounts", "add", acct, "--owner", "o@example.com", *args)
    assert r.exit_code != 0 and message in r.err, r.err
    assert "unknown account" in stack.cli("security", "accounts", "show", acct).err


@pytest.mark.parametrize(("args", "message"), [
    ((), "error: nothing to update"),
    (("--ownership", "service"), "error: a service account needs a human owner"),
    (("--human-owner", "not-an-email"), "error: the human owner must be an email address"),
    (("--ownership", "team"), "Invalid value for '--ownership': 'team' is not one of"),
])
def test_bad_updates_change_nothing(stack: Stack, args: tuple[str, ...], message: str) -> None:
    acct = f"pypi/{uniq('keep')}"
    before = ok(stack, "security", "accounts", "add", acct, "--owner", "o@example.com")
    r = stack.cli("security", "accounts", "update", acct, *args)
    assert r.exit_code != 0 and message in r.err, r.err
    assert ok(stack, "security", "accounts", "show", acct) == before


def test_an_unknown_account_and_a_requester_cannot_be_updated(stack: Stack) -> None:
    r = stack.cli("security", "accounts", "update", f"pypi/{uniq('ghost')}", "--tier", "critical")
    assert r.exit_code == 1 and "error: unknown account" in r.err
    acct = f"pypi/{uniq('mine')}"
    before = ok(stack, "security", "accounts", "add", acct, "--owner", "o@example.com")
    r = stack.cli("engineer", "accounts", "update", acct, "--approvals", "0", "--owner", "me@example.com")
    assert r.exit_code == 1 and f"permission denied: update on custody/accounts/{acct}" in r.err
    assert ok(stack, "security", "accounts", "show", acct) == before


def test_bao_patch_updates_an_account(stack: Stack) -> None:
    """Vault's own CLI, pointed at custody, changes an account: the same path, the same policy."""
    acct = f"pypi/{uniq('bao')}"
    ok(stack, "security", "accounts", "add", acct, "--owner", "o@example.com")
    bao = Path(sys.executable).parent / "bao"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env |= {"BAO_ADDR": stack.custody_addr, "BAO_TOKEN": stack.token("security"), "HOME": str(stack.dir)}
    out = subprocess.run([str(bao), "patch", "-format=json", f"custody/accounts/{acct}", "ownership=corporate"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["data"]["changes"] == [{"field": "ownership", "old": None, "new": "corporate"}]
    assert ok(stack, "auditor", "accounts", "show", acct)["ownership"] == "corporate"
