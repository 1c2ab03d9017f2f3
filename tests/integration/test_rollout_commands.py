"""The everyday forms of the new commands on the shared stack: listings and shows with their JSON shapes, a burned
code that is never handed out, and a requester whose Vault entity has no email."""

from __future__ import annotations

import pytest

from tests.helpers import DEPOSITED, REASON, Stack, new_codes, uniq

pytestmark = pytest.mark.integration


def test_keys_list_shows_each_roster_and_remove_keeps_the_reason(stack: Stack, account: str) -> None:
    for label, serial in (("Primary", f"{account}-a"), ("Spare", f"{account}-b")):
        assert stack.cli("security", "keys", "add", account, "--label", label, "--custodian", "engineer@acme.example",
                         "--serial", serial, "--model", "Titan").exit_code == 0
    one = stack.cli("auditor", "keys", "list", account, "--format", "json").json()
    assert set(one) == {"account", "keys", "removed"} and [k["label"] for k in one["keys"]] == ["Primary", "Spare"]
    assert set(one["keys"][0]) == {"label", "custodian", "serial", "model", "location", "added_at", "added_by",
                                   "verified_at", "verified_by", "status", "left_at"}
    every = stack.cli("auditor", "keys", "list", "--format", "json").json()
    assert account in [r["account"] for r in every]
    text = stack.cli("auditor", "keys", "list", account).out
    assert "LABEL" in text and "Titan" in text and "never" in text
    gone = stack.cli("security", "keys", "remove", account, "Spare", "--reason", "the token broke", "--format", "json")
    assert gone.exit_code == 0 and gone.json()["removed"][0]["reason"] == "the token broke"
    row = next(a for a in stack.cli("auditor", "keys", "check", "--format", "json").json()["accounts"]
               if a["account"] == account)
    assert [p["kind"] for p in row["problems"]] == ["one_key", "unverified"] and row["custodians"] == [
        "engineer@acme.example"]


def test_drill_list_and_show(stack: Stack, account: str) -> None:
    d = stack.cli("security", "drill", "start", account, "--scenario", "lost both keys abroad", "--format", "json")
    assert d.exit_code == 0, d.err
    drill = d.json()
    assert set(drill) == {"id", "account", "scenario", "witness", "status", "result", "notes", "started_at",
                          "started_by", "finished_at", "finished_by", "time_to_recovery_seconds",
                          "time_to_code_seconds", "grants", "participants", "outside_security"}
    listed = stack.cli("auditor", "drill", "list", "--format", "json").json()
    assert drill["id"] in [x["id"] for x in listed]
    shown = stack.cli("auditor", "drill", "show", drill["id"])
    assert shown.exit_code == 0 and f"drill {drill['id']}  [open]" in shown.out and "next: `custody access" in shown.out


def test_a_burned_code_is_never_handed_out(stack: Stack) -> None:
    account = f"pypi/{uniq()}"
    assert stack.cli("security", "accounts", "add", account, "--owner", "o@acme.example").exit_code == 0
    first, second = new_codes(2)
    assert stack.cli("security", "codes", "deposit", account, stdin=f"{first}\n{second}\n").exit_code == 0
    found = stack.cli("security", "codes", "identify", "--format", "json", stdin=first.upper())
    assert found.json()["status"] == "unused" and found.json()["account"] == account
    assert stack.cli("security", "codes", "burn", account, stdin=first).exit_code == 0
    g = stack.cli("engineer2", "access", "request", account, "--reason", REASON, "--format", "json").json()
    out = stack.cli("engineer2", "access", "reveal", g["id"], "--format", "json").json()
    assert out["code"] == second and out["remaining"] == 0
    again = stack.cli("engineer2", "access", "request", account, "--reason", REASON)
    assert again.exit_code == 1 and "no codes left" in again.err
    status = stack.cli("security", "codes", "status", account, "--format", "json").json()
    assert (status["remaining"], status["overdue"]) == (0, True) and any("leaked code" in r
                                                                          for r in status["due_reasons"])


def test_a_requester_without_an_email_still_gets_a_code_and_is_known_by_nobody(stack: Stack, account: str) -> None:
    name = uniq("noemail")
    stack.make_user(name, "custody-requesters", email=None)
    g = stack.cli(name, "access", "request", account, "--reason", REASON, "--format", "json")
    assert g.exit_code == 0, g.err
    assert g.json()["requester_email"] is None
    out = stack.cli(name, "access", "reveal", g.json()["id"], "--format", "json")
    assert out.exit_code == 0 and out.json()["code"] in DEPOSITED
    emailed = stack.cli("engineer2", "access", "request", account, "--reason", REASON, "--format", "json").json()
    assert emailed["requester_email"] == "engineer2@acme.example"  # read from the entity by the service
