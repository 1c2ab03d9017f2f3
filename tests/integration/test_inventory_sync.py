"""`custody inventory sync` against a real custody on a real OpenBao: a dry run writes nothing, --apply creates what
the plan said through the API with the caller's token, running it again creates nothing, an account custody holds
under another case is the same account, and bad input changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Stack, uniq

pytestmark = pytest.mark.integration
REPOS = Path(__file__).resolve().parents[1] / "fixtures" / "inventory" / "repos"


def pypi_docs(folder: Path, docs: dict[str, list[tuple[str, str]]]) -> Path:
    folder.mkdir(exist_ok=True)
    for project, roles in docs.items():
        (folder / f"{project}.json").write_text(json.dumps({"info": {"name": project}, "ownership": {
            "roles": [{"role": r, "user": u} for r, u in roles], "organization": None}}))
    return folder


def sync(stack: Stack, who: str, *args: str) -> Any:
    r = stack.cli(who, "inventory", "sync", *args, "--format", "json")
    assert r.exit_code == 0, r.err
    return r.json()


def held(stack: Stack, account: str) -> bool:
    r = stack.cli("security", "accounts", "show", account, "--format", "json")
    return r.exit_code == 0


def test_dry_run_then_apply_then_nothing_more(stack: Stack, tmp_path: Path) -> None:
    owner, maint, other, known = uniq("Owner"), uniq("maint"), uniq("other"), uniq("known")
    widgets, tools = uniq("a-widgets"), uniq("b-tools")  # in this order: the first spelling of `owner` is kept
    assert stack.cli("security", "accounts", "add", f"pypi/{known.upper()}", "--owner", "k@example.com").exit_code == 0
    docs = pypi_docs(tmp_path / "pypi", {widgets: [("Owner", owner), ("Maintainer", maint), ("Owner", known)],
                                         tools: [("Owner", other), ("Maintainer", owner.lower())]})
    args = ("--pypi", str(docs), "--critical", widgets, "--owner", "PyPI-Owners@Example.com")

    plan = sync(stack, "security", *args)
    assert plan["apply"] is False and plan["owner"] == "pypi-owners@example.com"
    rows = {a["account"]: a for a in plan["accounts"]}
    assert set(rows) == {f"pypi/{u}" for u in (owner, maint, other, known)}  # `owner` once, whatever its case
    assert {a: (r["action"], r["status"], r["tier"]) for a, r in rows.items()} == {
        f"pypi/{owner}": ("create", "planned", "critical"), f"pypi/{maint}": ("create", "planned", "critical"),
        f"pypi/{other}": ("create", "planned", "standard"), f"pypi/{known}": ("keep", "held", None)}
    assert rows[f"pypi/{known}"]["held_as"] == f"pypi/{known.upper()}"
    assert rows[f"pypi/{owner}"]["roles"] == [{"project": widgets, "role": "Owner"},
                                              {"project": tools, "role": "Maintainer"}]
    assert plan["summary"] == {"found": 4, "to_create": 3, "held": 1, "refused": 0, "created": 0}
    assert not any(held(stack, f"pypi/{u}") for u in (owner, maint, other))  # a dry run writes nothing

    done = sync(stack, "security", *args, "--apply")
    assert done["summary"] == {"found": 4, "to_create": 3, "held": 1, "refused": 0, "created": 3}
    shown = stack.cli("auditor", "accounts", "show", f"pypi/{maint}", "--format", "json").json()
    assert (shown["owner"], shown["tier"], shown["approvals_required"], shown["ownership"]) == (
        "pypi-owners@example.com", "critical", 2, None)
    assert shown["notes"] == f"found by custody inventory sync: Maintainer of {widgets}"
    assert shown["created_by"] == "userpass-security"  # written with the caller's token
    kept = stack.cli("auditor", "accounts", "show", f"pypi/{known.upper()}", "--format", "json").json()
    assert (kept["owner"], kept["tier"], kept["notes"]) == ("k@example.com", "standard", "")  # never changed

    again = sync(stack, "security", *args, "--apply")
    assert again["summary"] == {"found": 4, "to_create": 0, "held": 4, "refused": 0, "created": 0}


def test_the_dry_run_reads_as_a_plan(stack: Stack, tmp_path: Path) -> None:
    user = uniq("plain")
    docs = pypi_docs(tmp_path / "pypi", {uniq("proj"): [("Owner", user)]})
    r = stack.cli("security", "inventory", "sync", "--pypi", str(docs))
    assert r.exit_code == 0, r.err
    assert r.out.startswith("# Inventory sync (dry run): 1 accounts to create in custody; 0 held already, "
                            "0 refused, of 1 found\n")
    assert f"| pypi/{user} | create | planned |  | standard |" in r.out
    assert "no owner yet: --apply needs --owner EMAIL" in r.out
    assert r.out.endswith("Nothing was written: run again with --apply to create the accounts marked create.\n")
    assert not held(stack, f"pypi/{user}")


def test_a_scan_names_the_projects_to_fetch(stack: Stack, tmp_path: Path) -> None:
    r = stack.cli("security", "inventory", "sync", "--repo", str(REPOS / "widgets"), "--pypi",
                  str(Path(__file__).resolve().parents[1] / "fixtures" / "inventory" / "pypi" / "acme-widgets.json"),
                  "--format", "json")
    assert r.exit_code == 0, r.err
    assert {a["account"] for a in r.json()["accounts"]} >= {"pypi/alice-acme", "pypi/acme-release-bot",
                                                            "pypi/bob-dev"}


@pytest.mark.parametrize(("who", "args", "message"), [
    ("security", (), "error: nothing to sync from"),
    ("security", ("--repo", str(REPOS / "widgets")), "error: nothing to sync from"),
    ("security", ("--online",), "error: --online fetches the projects a scan names"),
    ("security", ("--apply",), "error: --apply needs --owner EMAIL"),
    ("security", ("--owner", "nobody"), "error: --owner must be an email address"),
    ("security", ("--critical", "a b"), "error: --critical 'a b' is not a project name"),
    ("engineer", ("--owner", "o@example.com", "--apply"), "error: permission denied: list on custody/codes"),
    ("approver", ("--owner", "o@example.com", "--apply"), "error: permission denied"),
])
def test_bad_input_changes_nothing(stack: Stack, tmp_path: Path, who: str, args: tuple[str, ...],
                                   message: str) -> None:
    user = uniq("untouched")
    docs = pypi_docs(tmp_path / "pypi", {uniq("proj"): [("Owner", user)]})
    pypi = ("--pypi", str(docs)) if "nothing to sync from" not in message and "--online" not in args else ()
    r = stack.cli(who, "inventory", "sync", *pypi, *args)
    assert r.exit_code == 1 and message in r.err, r.err
    assert r.out == ""
    assert not held(stack, f"pypi/{user}")
