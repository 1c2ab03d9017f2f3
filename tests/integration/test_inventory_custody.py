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
