"""`custody inventory report` joined with a real custody server on a real OpenBao: which owners and maintainers
custody holds codes for, read with the caller's own token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import Stack, new_codes, uniq

pytestmark = pytest.mark.integration
REPOS = Path(__file__).resolve().parents[1] / "fixtures" / "inventory" / "repos"


def test_report_flags_owners_custody_does_not_hold(stack: Stack, tmp_path: Path) -> None:
    held, empty, absent = uniq("held"), uniq("empty"), uniq("absent")
    assert stack.cli("security", "accounts", "add", f"pypi/{held}", "--owner", "o@example.com",
                     "--tier", "critical").exit_code == 0
    assert stack.cli("security", "codes", "deposit", f"pypi/{held}", stdin="\n".join(new_codes(7))).exit_code == 0
    assert stack.cli("security", "accounts", "add", f"pypi/{empty}", "--owner", "o@example.com").exit_code == 0
    doc = {"info": {"name": "acme-widgets"}, "ownership": {"roles": [
        {"role": "Owner", "user": held}, {"role": "Owner", "user": empty}, {"role": "Maintainer", "user": absent}],
        "organization": "acme"}}
    (tmp_path / "acme-widgets.json").write_text(json.dumps(doc))

    r = stack.cli("security", "inventory", "report", "--repo", str(REPOS / "widgets"), "--pypi",
                  str(tmp_path / "acme-widgets.json"), "--format", "json")
    assert r.exit_code == 0, r.err
    report = r.json()
    assert report["summary"]["custody"] == "consulted"
    no_custody = [(f["subject"], f["determined"], f["evidence"]) for f in report["flags"] if f["flag"] == "no-custody"]
    assert no_custody == sorted([
        (f"pypi/{absent}", True, ["Maintainer of acme-widgets; custody does not hold this account"]),
        (f"pypi/{empty}", True, ["Owner of acme-widgets; custody holds the account but no recovery codes are "
                                 "deposited"])])
    rows = {a["account"]: a for a in report["accounts"]}
    assert rows[f"pypi/{held}"]["custody"] == {"held": True, "tier": "critical", "codes": 7, "ownership": None,
                                               "human_owner": None}
    assert rows[f"pypi/{held}"]["flags"] == []
    assert rows[f"pypi/{absent}"]["custody"] == {"held": False}
    # custody records no ownership class yet: the flags that need it say so instead of guessing
    personal = [f for f in report["flags"] if f["flag"] == "personal-only"]
    assert [(f["determined"], f["evidence"]) for f in personal] == [
        (False, [f"ownership not recorded for pypi/{held}, pypi/{empty}"])]
    critical = [f for f in report["flags"] if f["flag"] == "personal-owns-critical"]
    assert {(f["subject"], f["determined"]) for f in critical} == {(f"pypi/{held}", False), (f"pypi/{empty}", False)}


def test_a_token_that_may_not_list_accounts_is_a_clear_error(stack: Stack) -> None:
    r = stack.cli("engineer", "inventory", "report", "--repo", str(REPOS / "widgets"), "--format", "json")
    assert r.exit_code == 1
    assert r.out == ""
    assert "error: permission denied: list on custody/codes" in r.err
    assert "hint: ask for a policy that allows it (custody-security)" in r.err


def test_without_a_token_custody_is_not_consulted(stack: Stack) -> None:
    r = stack.cli(None, "inventory", "report", "--repo", str(REPOS / "widgets"), "--format", "json")
    assert r.exit_code == 0, r.err
    assert "custody was not consulted: no Vault token (VAULT_TOKEN, BAO_TOKEN or ~/.vault-token)" in r.json()["notes"]


def test_ownership_recorded_in_custody_decides_the_ownership_flags(stack: Stack, tmp_path: Path) -> None:
    """Step two end to end: once custody records each account's ownership class, the report's ownership flags
    are determined from it; an account without one still says "ownership not recorded"."""
    alice, bot, corp, solo, unknown = (uniq(n) for n in ("alice", "bot", "corp", "solo", "unknown"))
    for user, args in ((alice, ["--ownership", "personal"]),
                       (bot, ["--ownership", "service", "--human-owner", "jane@example.com"]),
                       (corp, ["--ownership", "corporate"]), (solo, []), (unknown, [])):
        added = stack.cli("security", "accounts", "add", f"pypi/{user}", "--owner", "o@example.com", *args)
        assert added.exit_code == 0, added.err
    # solo is decided later, with an update: the report reads what custody holds now
    assert stack.cli("security", "accounts", "update", f"pypi/{solo}", "--ownership", "personal").exit_code == 0
    docs = {"acme-widgets": [("Owner", alice), ("Owner", bot), ("Maintainer", corp)],
            "acme-solo": [("Owner", solo)], "acme-unknown": [("Owner", unknown)]}
    for project, roles in docs.items():
        (tmp_path / f"{project}.json").write_text(json.dumps({"info": {"name": project}, "ownership": {
            "roles": [{"role": r, "user": u} for r, u in roles], "organization": None}}))

    r = stack.cli("security", "inventory", "report", "--pypi", str(tmp_path), "--critical", "acme-widgets",
                  "--format", "json")
    assert r.exit_code == 0, r.err
    report = r.json()

    def flagged(name: str) -> list[tuple[str, bool, list[str]]]:
        return [(f["subject"], f["determined"], f["evidence"]) for f in report["flags"] if f["flag"] == name]

    assert flagged("personal-owns-critical") == [
        (f"pypi/{alice}", True, [f"pypi/{alice} is a personal account and an Owner of critical project acme-widgets"])]
    assert flagged("personal-only") == sorted([
        ("acme-solo", True, [f"pypi/{solo} is a personal account"]),
        ("acme-unknown", False, [f"ownership not recorded for pypi/{unknown}"])], key=lambda f: not f[1])
    # custody refuses a service account without a human owner, so the bot (which names one) is not flagged; the
    # one account whose class nobody recorded cannot be told either way
    service = flagged("service-without-human-owner")
    assert (f"pypi/{unknown}", False, [f"ownership not recorded: cannot tell whether pypi/{unknown} is a service "
                                       "account"]) in service
    assert {s for s, d, _ in service if d} == set()
    assert not any(s in (f"pypi/{u}" for u in (alice, bot, corp, solo)) for s, _, _ in service)
    rows = {a["account"]: a for a in report["accounts"]}
    assert rows[f"pypi/{bot}"]["custody"] == {"held": True, "tier": "standard", "codes": 0,
                                              "ownership": "service", "human_owner": "jane@example.com"}
    assert rows[f"pypi/{unknown}"]["custody"]["ownership"] is None

    md = stack.cli("security", "inventory", "report", "--pypi", str(tmp_path), "--critical", "acme-widgets")
    assert md.exit_code == 0, md.err
    assert f"| pypi/{bot} | Owner of acme-widgets | 0 codes, standard, service, human owner jane@example.com | " \
           "no-custody |" in md.out
    assert f"| pypi/{unknown} | Owner of acme-unknown | 0 codes, standard, ownership not recorded | no-custody |" \
           in md.out
