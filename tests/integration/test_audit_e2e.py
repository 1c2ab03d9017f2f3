"""The audit summary over the real stack's audit log: a known scenario in, exactly those numbers out.

A stack of its own (not the session's shared one), so that its audit log holds only this scenario: two accounts
with their deposits, three requests, two approvals, a denial, two reveals, an unwrap by the wrong person, a
custody API call refused by policy, an engineer's denied direct read of the KV mount and a root-token read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from custody.auditlog import render, summarize
from custody.auditlog.model import AnomalyKind, Severity, Summary, UnwrapStatus
from custody.cli.main import main as custody_main
from tests.helpers import REASON, Stack, new_codes, private_stack, uniq

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with private_stack(tmp_path_factory.mktemp("audit-e2e")) as stack:
        yield stack


class Scenario:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.std = f"pypi/{uniq('std')}"
        self.crit = f"pypi/{uniq('crit')}"
        self.start = datetime.now(UTC)
        self.grants: dict[str, str] = {}

    def ok(self, who: str, *args: str, stdin: str = "") -> dict[str, object]:
        r = self.stack.cli(who, *args, "--format", "json", stdin=stdin)
        assert r.exit_code == 0, r.err
        return r.json()  # type: ignore[no-any-return]

    def vault(self, who: str, method: str, path: str, body: object = None) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.stack.vault_addr}/v1/{path}",
            json=body,
            headers={"X-Vault-Token": self.stack.token(who)},
            timeout=30,
        )

    def run(self) -> None:
        s = self
        s.ok("security", "accounts", "add", s.std, "--owner", "std@example.com")
        s.ok("security", "accounts", "add", s.crit, "--owner", "crit@example.com", "--tier", "critical")
        s.ok("security", "codes", "deposit", s.std, stdin="\n".join(new_codes(8)))
        s.ok("security", "codes", "deposit", s.crit, stdin="\n".join(new_codes(8)))

        # crit: two approvals, revealed by its requester through the CLI (which unwraps with her token)
        g1 = s.ok("engineer", "access", "request", s.crit, "--reason", REASON, "--ticket", "SEC-1")
        s.grants["crit"] = str(g1["id"])
        s.ok("approver", "access", "approve", s.grants["crit"], "--comment", "called the owner")
        s.ok("approver2", "access", "approve", s.grants["crit"])
        s.ok("engineer", "access", "reveal", s.grants["crit"])

        # std: no approval needed; the wrapping token ends up with another engineer, who unwraps it
        g2 = s.ok("engineer2", "access", "request", s.std, "--reason", REASON)
        s.grants["std"] = str(g2["id"])
        wrap = s.stack.client("engineer2").call("POST", f"grants/{s.grants['std']}/reveal")["wrap_info"]["token"]
        assert s.vault("engineer", "POST", "sys/wrapping/unwrap", {"token": wrap}).status_code == 200

        # crit again: denied by an approver
        g3 = s.ok("engineer", "access", "request", s.crit, "--reason", REASON)
        s.grants["denied"] = str(g3["id"])
        s.ok("approver", "access", "deny", s.grants["denied"], "--comment", "no ticket")

        # refused by policy at the custody API, then straight at the KV mount, then a root-token read
        refused = s.stack.cli("engineer", "accounts", "add", f"pypi/{uniq('nope')}", "--owner", "x@example.com")
        assert refused.exit_code != 0
        assert s.vault("engineer", "GET", f"custody-kv/data/codes/{s.crit}").status_code == 403
        assert s.vault("root", "GET", f"custody-kv/data/codes/{s.crit}").status_code == 200


@pytest.fixture(scope="module")
def scenario(own_stack: Stack) -> Scenario:
    sc = Scenario(own_stack)
    sc.run()
    return sc


@pytest.fixture(scope="module")
def summary(scenario: Scenario, own_stack: Stack) -> Summary:
    # The window starts after the dev stack's bootstrap (root set the mount and policies up before it).
    return summarize([Path(own_stack.state["audit_log"])], since=scenario.start)


def test_figures(summary: Summary) -> None:
    t = summary.totals
    assert (t.reveals, t.requests, t.approvals, t.grants_denied) == (2, 3, 2, 1)
    assert (t.deposits, t.rotations, t.direct_accesses, t.access_denied) == (2, 0, 1, 2)
    assert summary.input.lines_invalid == 0
    assert summary.warnings == []


def test_exactly_the_expected_anomalies(summary: Summary, scenario: Scenario, own_stack: Stack) -> None:
    kinds = Counter(a.kind for a in summary.anomalies)
    assert kinds == {
        AnomalyKind.UNWRAP_WRONG_PRINCIPAL: 1,
        AnomalyKind.PERMISSION_DENIED: 2,
        AnomalyKind.DIRECT_ACCESS: 1,
    }
    wrong = next(a for a in summary.anomalies if a.kind is AnomalyKind.UNWRAP_WRONG_PRINCIPAL)
    assert wrong.grant_id == scenario.grants["std"] and wrong.account == scenario.std
    assert wrong.principal.display_name == "userpass-engineer"
    direct = next(a for a in summary.anomalies if a.kind is AnomalyKind.DIRECT_ACCESS)
    assert direct.severity is Severity.CRITICAL and direct.path == f"custody-kv/data/codes/{scenario.crit}"
    denied = {a.path: a for a in summary.anomalies if a.kind is AnomalyKind.PERMISSION_DENIED}
    assert f"custody-kv/data/codes/{scenario.crit}" in denied  # Vault refused the engineer
    api = [p for p in denied if p.startswith("custody/")]  # the custody API refused the engineer
    assert len(api) == 1
    assert all(a.principal.display_name == "userpass-engineer" for a in denied.values())


def test_reveals_joined_with_reason_and_approvers(summary: Summary, scenario: Scenario) -> None:
    by_grant = {r.grant_id: r for r in summary.reveals}
    crit = by_grant[scenario.grants["crit"]]
    assert crit.account == scenario.crit
    assert crit.requester.display_name == "userpass-engineer"
    assert crit.reason == REASON and crit.ticket == "SEC-1"
    assert [a.approver for a in crit.approvers] == ["userpass-approver", "userpass-approver2"]
    assert crit.unwrap_status is UnwrapStatus.BY_REQUESTER
    std = by_grant[scenario.grants["std"]]
    assert std.unwrap_status is UnwrapStatus.WRONG_PRINCIPAL
    assert std.requester.display_name == "userpass-engineer2"


def test_accounts_and_principals(summary: Summary, scenario: Scenario) -> None:
    acc = {a.account: a for a in summary.accounts}
    crit, std = acc[scenario.crit], acc[scenario.std]
    assert (crit.requests, crit.approvals, crit.grants_denied, crit.deposits, len(crit.reveals)) == (2, 2, 1, 1, 1)
    assert (std.requests, std.approvals, std.grants_denied, std.deposits, len(std.reveals)) == (1, 0, 0, 1, 1)
    assert crit.codes_remaining == 7 and std.codes_remaining == 7
    assert crit.access_denied == 1  # the engineer's direct read of its codes
    people = {p.principal.display_name: p for p in summary.principals}
    assert people["userpass-engineer"].requested == sorted([scenario.grants["crit"], scenario.grants["denied"]])
    assert people["userpass-approver"].approved == [scenario.grants["crit"]]
    assert people["userpass-approver"].denied == [scenario.grants["denied"]]
    assert people["userpass-engineer"].unwrapped == 2  # her own code, and engineer2's


def test_cli_prints_the_same_summary(
    summary: Summary, scenario: Scenario, own_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code = custody_main(
        ["audit", "summary", "--log", own_stack.state["audit_log"], "--since", scenario.start.isoformat(),
         "--format", "json"]
    )
    out, _ = capsys.readouterr()
    assert code == 0
    assert Summary.model_validate_json(out).totals == summary.totals
    assert render(summary, "html").count('class="reveal"') == 2


def test_the_report_shows_comments_and_the_denial(summary: Summary, scenario: Scenario) -> None:
    """On the real service's records: the approver's comment, and who denied which request, why it was asked and
    what the approver said, in every format an auditor reads."""
    crit = next(r for r in summary.reveals if r.grant_id == scenario.grants["crit"])
    assert crit.approvers[0].comment == "called the owner"
    (d,) = summary.denials
    assert (d.grant_id, d.denied_by.display_name, d.reason, d.comment) == (
        scenario.grants["denied"], "userpass-approver", REASON, "no ticket")
    for fmt in ("markdown", "html"):
        text = render(summary, fmt)
        assert "called the owner" in text and "no ticket" in text
        assert text.count(scenario.grants["denied"]) >= 2  # in the denied requests and the principals


def test_the_dev_stacks_bootstrap_is_setup_not_anomalies(own_stack: Stack, scenario: Scenario) -> None:
    """The whole log, bootstrap included: what `custody bootstrap` wrote as root is recognised as setup, once."""
    whole = summarize([Path(own_stack.state["audit_log"])], until=scenario.start)
    paths = sorted(w.path for w in whole.setup)
    assert paths == ["custody-kv/config", "sys/mounts/custody-kv", "sys/mounts/custody-kv/tune"]
    assert not [a for a in whole.anomalies if a.kind is AnomalyKind.MOUNT_ADMIN]
    assert render(whole, "markdown").count("recognised as what `custody bootstrap` does") == 1
