"""The rollout after the codes, on a stack of its own (its checks are global, so no other test's accounts may be in
it): the key roster until `keys check` passes, a wave followed to `drill-passed`, a drill timed end to end through a
real break-glass grant, a leaver whose offboarding changes what `keys check` and `rotation sweep` report, and a
leaked code burned. Real OpenBao, the real server, the real CLI; every exit code as cron sees it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from custody.auditlog import summarize
from custody.devstack import DevStack
from tests.helpers import DEPOSITED, REASON, Stack, new_codes
from tests.integration.test_notify_and_secrecy import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ACCT = "pypi/acme-release"
DOCS = "pypi/acme-docs"
LEAVER = "engineer@acme.example"


@pytest.fixture(scope="module")
def hooks() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory, hooks: Receiver) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("rollout-stack")
    dev = DevStack(directory)
    s = Stack(state=dev.up({"CUSTODY_WEBHOOKS": hooks.url}), dir=directory)
    try:
        # A security-team member who also requests: their drill has nobody outside the security team in it.
        s.make_user("lead", "custody-security", "custody-requesters")
        yield s
        leaks = [name for name, text in s.logs().items() for code in DEPOSITED if code in text]
        assert not leaks, f"recovery codes found in {leaks}"
    finally:
        dev.down()


def ok(result: object, code: int = 0) -> dict:
    assert result.exit_code == code, (result.exit_code, result.out, result.err)  # type: ignore[attr-defined]
    return result.json()  # type: ignore[attr-defined, no-any-return]


def test_the_rollout_from_keys_to_a_leaver(fresh: Stack, hooks: Receiver) -> None:
    codes = register(fresh)
    keys_until_ok(fresh)
    clean_drill(fresh)
    drill = timed_drill(fresh, hooks)
    drill_in_the_audit_log(fresh, drill)
    leaver(fresh)
    leaked(fresh, codes)


def register(s: Stack) -> list[str]:
    sec = "security"
    added = s.cli(sec, "accounts", "add", ACCT, "--owner", "pypi-owners@acme.example", "--tier", "critical")
    assert added.exit_code == 0
    assert s.cli(sec, "accounts", "add", DOCS, "--owner", "docs@acme.example").exit_code == 0
    codes = new_codes(7)
    assert s.cli(sec, "codes", "deposit", ACCT, stdin="\n".join(codes)).exit_code == 0
    assert s.cli(sec, "codes", "deposit", DOCS, stdin="\n".join(new_codes(8))).exit_code == 0
    wave = ok(s.cli(sec, "rollout", "wave", "add", "wave-1", "--accounts", ACCT, DOCS, "--window",
                    "2026-01-05/2099-01-30", "--format", "json"))
    assert wave["accounts"] == [ACCT, DOCS]
    status = ok(s.cli("auditor", "rollout", "status", "--format", "json"))
    assert status["counts"]["codes-deposited"] == 2 and status["waves"][0]["late"] is False
    return codes


def keys_until_ok(s: Stack) -> None:
    check = ok(s.cli("rotation", "keys", "check", "--format", "json"), 3)  # the cron's own token runs it
    assert sorted(check["not_ok"]) == sorted([ACCT, DOCS])
    for account, spare_holder in ((ACCT, "lead@acme.example"), (DOCS, "security@acme.example")):
        ok(s.cli("security", "keys", "add", account, "--label", "Engineer's YubiKey", "--custodian", LEAVER,
                 "--serial", f"{account}-1", "--model", "YubiKey 5C NFC", "--format", "json"))
        ok(s.cli("security", "keys", "add", account, "--label", "Spare", "--custodian", spare_holder,
                 "--serial", f"{account}-2", "--location", "safe, office 2", "--format", "json"))
        ok(s.cli("engineer", "keys", "verify", account, "Engineer's YubiKey", "--format", "json"))
    refused = s.cli("engineer", "keys", "verify", ACCT, "Spare")  # not theirs: the email of their entity says so
    assert refused.exit_code == 1 and "only the key's custodian (lead@acme.example)" in refused.err
    ok(s.cli("lead", "keys", "verify", ACCT, "Spare", "--format", "json"))
    still = s.cli("security", "keys", "check")
    docs_row = next(line for line in still.out.splitlines() if line.startswith(DOCS))
    assert still.exit_code == 3 and docs_row.split()[1:3] == ["NOT", "OK"] and "never been verified" in docs_row
    ok(s.cli("security", "keys", "verify", DOCS, "Spare", "--format", "json"))
    done = ok(s.cli("auditor", "keys", "check", "--format", "json"))
    assert done["ok"] is True and all(a["distinct_tokens"] == 2 for a in done["accounts"])
    assert ok(s.cli("auditor", "rollout", "status", "--format", "json"))["counts"]["keys-ok"] == 2


def clean_drill(s: Stack) -> None:
    """A drill of the docs account by a security-team member: nothing flagged, but the other account is undrilled."""
    d = ok(s.cli("security", "drill", "start", DOCS, "--scenario", "docs bot lost its only key", "--format", "json"))
    g = ok(s.cli("lead", "access", "request", DOCS, "--drill", d["id"], "--reason", REASON, "--format", "json"))
    assert g["status"] == "approved" and g["drill"] == d["id"]
    ok(s.cli("lead", "access", "reveal", g["id"], "--format", "json"))
    ok(s.cli("security", "drill", "finish", d["id"], "--result", "pass", "--format", "json"))
    report = ok(s.cli("auditor", "drill", "report", "--format", "json"), 3)
    assert report["flagged"] == [] and [a["account"] for a in report["accounts_without_pass"]] == [ACCT]


def timed_drill(s: Stack, hooks: Receiver) -> dict:
    """The drill the issue asks for: start, a real critical grant naming it, two approvals, the reveal, finish."""
    d = ok(s.cli("security", "drill", "start", ACCT, "--scenario", "maintainer lost both keys while travelling",
                 "--witness", "auditor@acme.example", "--format", "json"))
    g = ok(s.cli("engineer", "access", "request", ACCT, "--drill", d["id"], "--ticket", "DRILL-1", "--reason",
                 REASON, "--format", "json"))
    assert g["status"] == "pending" and g["approvals_required"] == 2  # every rule of a real grant holds
    assert s.cli("engineer", "access", "approve", g["id"]).exit_code == 1  # not their own
    ok(s.cli("approver", "access", "approve", g["id"], "--comment", "drill, on a call", "--format", "json"))
    ok(s.cli("approver2", "access", "approve", g["id"], "--format", "json"))
    code = ok(s.cli("engineer", "access", "reveal", g["id"], "--format", "json"))
    assert code["code"] in DEPOSITED and code["remaining"] == 6  # the code it takes counts
    done = ok(s.cli("security", "drill", "finish", d["id"], "--result", "pass", "--notes", "back in", "--format",
                    "json"))
    took = datetime.fromisoformat(done["finished_at"]) - datetime.fromisoformat(done["started_at"])
    assert done["time_to_recovery_seconds"] == int(took.total_seconds())
    assert 0 <= done["time_to_code_seconds"] <= done["time_to_recovery_seconds"]
    assert [(p["name"], p["step"], p["security_team"]) for p in done["participants"]] == [
        ("userpass-security", "started", True), ("userpass-engineer", "requested", False),
        ("userpass-approver", "approved", False), ("userpass-approver2", "approved", False),
        ("userpass-engineer", "revealed", False), ("userpass-security", "finished", True)]
    again = s.cli("security", "drill", "finish", d["id"], "--result", "fail")
    assert again.exit_code == 1 and "already finished" in again.err
    report = s.cli("auditor", "drill", "report")
    assert report.exit_code == 3 and "outside_security" in report.out and "userpass-approver2" in report.out
    html = s.cli("auditor", "drill", "report", "--format", "html")
    assert html.exit_code == 3 and html.out.startswith("<!DOCTYPE html>") and d["id"] in html.out
    assert ok(s.cli("auditor", "rollout", "status", "--format", "json"))["counts"]["drill-passed"] == 2
    sweep = ok(s.cli("rotation", "rotation", "sweep", "--format", "json"))  # rotation follows as usual
    assert [r["kind"] for r in next(x for x in sweep["due"] if x["account"] == ACCT)["reasons"]] == ["revealed"]
    hooks.wait_for(len(hooks.events) + 1, timeout=2)
    drill_events = [e for e in hooks.events if e.get("grant_id") == g["id"]]
    assert drill_events and all(e["drill"] == d["id"] for e in drill_events)
    assert {e["event"] for e in drill_events} >= {"grant.requested", "grant.approved", "grant.revealed"}
    return {"drill": d["id"], "grant": g["id"]}


def drill_in_the_audit_log(s: Stack, drill: dict) -> None:
    audit = Path(s.state["audit_log"])
    summary = summarize([audit])
    reveal = next(r for r in summary.reveals if r.grant_id == drill["grant"])
    assert reveal.drill == drill["drill"]
    writes = [json.loads(line) for line in audit.read_text().splitlines() if f"grants/{drill['grant']}" in line]
    # The mount is tuned so the drill id is in clear in Vault's own record of the grant.
    assert any((w.get("request", {}).get("data") or {}).get("data", {}).get("drill") == drill["drill"] for w in writes)


def leaver(s: Stack) -> None:
    """The engineer leaves: their keys fail `keys check`, the account whose code they revealed becomes due."""
    assert ok(s.cli("rotation", "rotation", "sweep", "--format", "json"))["overdue"] == []
    ok(s.cli("security", "codes", "rotate", ACCT, "--format", "json", stdin="\n".join(new_codes(8))))
    assert ACCT not in [d["account"] for d in ok(s.cli("rotation", "rotation", "sweep", "--format", "json"))["due"]]
    pending = ok(s.cli("engineer", "access", "request", ACCT, "--reason", REASON, "--format", "json"))
    dry = ok(s.cli("security", "people", "offboard", LEAVER, "--reason", "left the company (HR-881)", "--format",
                   "json"))
    assert dry["applied"] is False and dry["revoke_grants"] == [pending["id"]]
    assert ok(s.cli("auditor", "keys", "check", "--format", "json"))["ok"] is True  # a dry run changes nothing
    applied = ok(s.cli("security", "people", "offboard", LEAVER, "--reason", "left the company (HR-881)",
                       "--apply", "--format", "json"))
    assert applied["run"]["revoked"] == [pending["id"]] and applied["run"]["rotation_due"] == [ACCT]
    assert sorted(applied["run"]["keys_marked"]) == [f"{DOCS} Engineer's YubiKey", f"{ACCT} Engineer's YubiKey"]
    assert any("remove the WebAuthn key labelled" in c for c in applied["checklist"])
    check = s.cli("rotation", "keys", "check", "--format", "json")
    assert check.exit_code == 3 and sorted(check.json()["not_ok"]) == sorted([ACCT, DOCS])
    sweep = ok(s.cli("rotation", "rotation", "sweep", "--format", "json"))  # due, not overdue: exit 0
    assert [[r["kind"] for r in d["reasons"]] for d in sweep["due"] if d["account"] == ACCT] == [["person_left"]]
    again = ok(s.cli("security", "people", "offboard", LEAVER, "--reason", "left the company (HR-881)", "--apply",
                     "--format", "json"))
    assert again["changed"] is False
    shown = ok(s.cli("auditor", "people", "show", LEAVER, "--format", "json"))
    assert len(shown["offboarded"]["runs"]) == 2 and shown["entities"]
    assert s.cli("engineer", "access", "show", pending["id"], "--format", "json").json()["status"] == "revoked"
    for account in (ACCT, DOCS):
        ok(s.cli("security", "keys", "reassign", account, "Engineer's YubiKey", "--custodian", "lead@acme.example",
                 "--reason", "handed over before leaving", "--format", "json"))
        ok(s.cli("lead", "keys", "verify", account, "Engineer's YubiKey", "--format", "json"))
    assert ok(s.cli("rotation", "keys", "check", "--format", "json"))["ok"] is True


def leaked(s: Stack, old: list[str]) -> None:
    """A code of the current set turns up in a chat: identify it, burn it, rotate."""
    rotated = s.cli("security", "codes", "identify", stdin=old[0])  # the set it was in was rotated away
    assert rotated.exit_code == 0 and "in no current code set" in rotated.out
    reveal = ok(s.cli("lead", "access", "reveal", ok(s.cli("lead", "access", "request", DOCS, "--reason", REASON,
                                                           "--format", "json"))["id"], "--format", "json"))
    found = ok(s.cli("security", "codes", "identify", "--format", "json", stdin=reveal["code"] + "\n"))
    assert (found["account"], found["status"]) == (DOCS, "consumed")
    burned = ok(s.cli("security", "codes", "burn", DOCS, "--format", "json", stdin=reveal["code"]))
    assert burned["status"] == "burned" and reveal["code"] not in json.dumps(burned)
    sweep = s.cli("rotation", "rotation", "sweep", "--format", "json")
    assert sweep.exit_code == 3 and DOCS in sweep.json()["overdue"]
    docs = next(d for d in sweep.json()["due"] if d["account"] == DOCS)
    assert any(r["kind"] == "leaked_code" and "leaked code" in r["message"] for r in docs["reasons"])
