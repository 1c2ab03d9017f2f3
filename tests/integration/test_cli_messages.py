"""What the CLI says, on the real stack: a grant's whole story after each step, the sweep's columns, and what a
bootstrap dry run is about."""

from __future__ import annotations

import re

import pytest

from tests.helpers import REASON, Stack, new_codes, uniq

pytestmark = pytest.mark.integration


def _grant(stack: Stack, who: str, account: str, *extra: str) -> str:
    r = stack.cli(who, "access", "request", account, "--reason", REASON, "--ticket", "SEC-77", "--format", "json",
                  *extra)
    assert r.exit_code == 0, r.err
    return str(r.json()["id"])


def _story(stack: Stack, gid: str) -> list[str]:
    """The history lines of ``access show`` (text), without their timestamps (blank where none is recorded)."""
    r = stack.cli("auditor", "access", "show", gid)
    assert r.exit_code == 0, r.err
    lines = r.out.splitlines()
    history = lines[lines.index("  history:") + 1:]
    stamp = re.compile(r"^    (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC| {23})  ")
    assert all(stamp.match(line) or not line.startswith("    ") for line in history), history
    return [stamp.sub("", line).strip() for line in history]


def test_a_revealed_grant_tells_its_story(stack: Stack, critical_account: str) -> None:
    gid = _grant(stack, "engineer", critical_account)
    approved = stack.cli("approver", "access", "approve", gid, "--comment", "confirmed on a call")
    assert approved.exit_code == 0 and 'approved by userpass-approver: "confirmed on a call"' in approved.out
    assert stack.cli("approver2", "access", "approve", gid).exit_code == 0
    assert stack.cli("engineer", "access", "reveal", gid).exit_code == 0
    shown = stack.cli("auditor", "access", "show", gid).out
    assert f"  reason:    {REASON}" in shown and "  ticket:    SEC-77" in shown
    assert _story(stack, gid) == [
        "requested by userpass-engineer",
        'approved by userpass-approver: "confirmed on a call"',
        "approved by userpass-approver2 (no comment)",
        "revealed: one code handed to userpass-engineer",
    ]


def test_a_denied_grant_tells_who_and_why(stack: Stack, critical_account: str) -> None:
    gid = _grant(stack, "engineer", critical_account)
    denied = stack.cli("approver", "access", "deny", gid, "--comment", "no incident open")
    assert denied.exit_code == 0
    assert 'denied by userpass-approver: "no incident open"' in denied.out  # the same story right away
    assert _story(stack, gid) == ["requested by userpass-engineer", 'denied by userpass-approver: "no incident open"']


def test_an_emergency_grant_shows_its_review(stack: Stack, critical_account: str) -> None:
    name = uniq("emerg")
    stack.make_user(name, "custody-emergency")
    gid = _grant(stack, name, critical_account, "--emergency")
    assert stack.cli(name, "access", "reveal", gid).exit_code == 0
    waiting = stack.cli("auditor", "access", "show", gid).out
    assert f"review: awaiting an approver's review: `custody access review {gid} --comment ...`" in waiting
    reviewed = stack.cli("approver", "access", "review", gid, "--comment", "INC-9 confirmed")
    assert reviewed.exit_code == 0 and "review:" not in reviewed.out
    assert _story(stack, gid) == [
        f"requested by userpass-{name} as an emergency (approvals skipped; reviewed afterwards)",
        f"revealed: one code handed to userpass-{name}",
        'reviewed by userpass-approver: "INC-9 confirmed"',
    ]


def test_a_revoked_grant_says_why(stack: Stack, critical_account: str) -> None:
    gid = _grant(stack, "engineer", critical_account)
    rotated = stack.cli("security", "codes", "rotate", critical_account, stdin="\n".join(new_codes(8)))
    assert rotated.exit_code == 0, rotated.err
    assert _story(stack, gid) == ["requested by userpass-engineer", "revoked: codes rotated"]


def test_sweep_says_due_or_overdue_under_a_state_column(stack: Stack) -> None:
    acct = f"pypi/{uniq('nocodes')}"  # no codes deposited: due at once, overdue only after the grace period
    assert stack.cli("security", "accounts", "add", acct, "--owner", "o@example.com").exit_code == 0
    r = stack.cli("security", "rotation", "sweep")
    assert r.exit_code in (0, 3), r.err  # other tests' accounts may be overdue
    header = next(line for line in r.out.splitlines() if line.startswith("ACCOUNT"))
    assert header.split() == ["ACCOUNT", "STATE", "DUE_SINCE", "REMAINING", "REASONS"]
    row = next(line for line in r.out.splitlines() if line.startswith(acct + " "))
    assert row.split()[1] == "due" and "no codes deposited" in row


def test_bootstrap_dry_run_says_what_it_is(stack: Stack) -> None:
    r = stack.cli("root", "bootstrap", "--vault-addr", stack.vault_addr, "--dry-run")
    assert r.exit_code == 0, r.err
    first = r.out.splitlines()[0]
    assert re.fullmatch(rf"dry run of setting up Vault at {re.escape(stack.vault_addr)} for custody "
                        r"\(mount custody-kv/\): \d+ change\(s\) to make, none made", first), first
    assert "custody at" not in r.out
