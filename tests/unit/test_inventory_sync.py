"""The plan of `custody inventory sync` (pure) and its refusals: one account per username whatever its case, kept
when custody holds it, the tier from --critical, the owner from --owner; bad input refused before anything is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from custody.cli.client import Client
from custody.errors import Conflict, PermissionDenied, ValidationError
from custody.inventory.custody_view import Held
from custody.inventory.pypi import Ownership
from custody.inventory.sync import Choices, Entry, plan, summary
from custody.inventory.syncing import check_inputs, create, run

PYPI = Path(__file__).resolve().parents[1] / "fixtures" / "inventory" / "pypi"


def own(project: str, owners: list[str], maintainers: list[str] | None = None) -> Ownership:
    return Ownership(project, owners, maintainers or [], None, f"{project}.json")


def held(account: str) -> Held:
    return Held(account, "standard", 8, None, None)


def test_one_account_per_username_whatever_its_case() -> None:
    projects = [own("acme-widgets", ["Alice", "bot"]), own("acme-tools", ["alice"], ["BOT", "Dave"])]
    entries = plan(projects, {"pypi/dave": held("pypi/dave")}, Choices("sec@example.com"))
    assert [(e.account, e.action, e.status, e.held_as) for e in entries] == [
        ("pypi/Alice", "create", "planned", None), ("pypi/bot", "create", "planned", None),
        ("pypi/Dave", "keep", "held", "pypi/dave")]
    assert entries[0].roles == [{"project": "acme-widgets", "role": "Owner"},
                                {"project": "acme-tools", "role": "Owner"}]
    assert entries[2].why == ["Maintainer of acme-tools", "custody holds it as pypi/dave; sync never changes an "
                              "account (use `custody accounts update`)"]
    assert (entries[2].owner, entries[2].tier) == (None, None)
    assert summary(entries) == {"found": 3, "to_create": 2, "held": 1, "refused": 0, "created": 0}


def test_owner_and_tier_and_why() -> None:
    projects = [own("acme_widgets", ["alice"], ["bob"]), own("acme-tools", ["carol"])]
    entries = {e.account: e for e in plan(projects, {}, Choices("sec@example.com", "standard",
                                                                frozenset({"acme-widgets"})))}
    # a Maintainer of a critical project can upload releases too: critical as well
    assert {a: (e.owner, e.tier) for a, e in entries.items()} == {
        "pypi/alice": ("sec@example.com", "critical"), "pypi/bob": ("sec@example.com", "critical"),
        "pypi/carol": ("sec@example.com", "standard")}
    assert entries["pypi/bob"].why == ["Maintainer of acme_widgets",
                                       "tier critical: a role on acme_widgets, named with --critical",
                                       "owner sec@example.com (--owner)"]
    assert entries["pypi/carol"].why[1] == "tier standard (--tier): no role on a project named with --critical"
    assert entries["pypi/carol"].notes == "found by custody inventory sync: Owner of acme-tools"
    no_owner = plan(projects, {}, Choices(None, "critical"))
    assert {(e.owner, e.tier, e.why[-1]) for e in no_owner} == {
        (None, "critical", "no owner yet: --apply needs --owner EMAIL")}


def test_a_name_custody_cannot_hold_is_refused_not_created() -> None:
    long_name = "a" * 60  # PyPI's JSON may carry it; custody's PyPI usernames stop at 50 characters
    (entry,) = plan([own("acme", [long_name])], {}, Choices("sec@example.com"))
    assert (entry.action, entry.status) == ("skip", "refused")
    assert entry.why[-1].startswith("custody cannot hold it: not a PyPI username")


def test_notes_fit_an_account_record() -> None:
    projects = [own(f"acme-project-{i:03}", ["alice"]) for i in range(200)]
    (entry,) = plan(projects, {}, Choices("sec@example.com"))
    assert len(entry.notes) == 2000 and entry.notes.endswith("...")


@pytest.mark.parametrize(("kw", "message", "hint"), [
    ({}, "nothing to sync from", "give --pypi FILE"),
    ({"scans": [Path("scan.json")]}, "nothing to sync from", "--online with --scan FILE"),
    ({"online": True}, "--online fetches the projects a scan names", "add --scan FILE or --repo PATH"),
    ({"pypi_files": [PYPI], "owner": "security"}, "--owner must be an email address", "PyPI does not publish"),
    ({"pypi_files": [PYPI], "apply": True}, "--apply needs --owner EMAIL", "PyPI does not publish"),
    ({"pypi_files": [PYPI], "critical": ["acme widgets"]}, "--critical 'acme widgets' is not a project name",
     "--critical acme-widgets"),
])
def test_bad_input_is_refused_before_anything_is_read(kw: dict[str, Any], message: str, hint: str) -> None:
    args: dict[str, Any] = {"scans": [], "repos": [], "pypi_files": [], "online": False, "critical": [],
                            "owner": None, "apply": False} | kw
    with pytest.raises(ValidationError, match=message) as caught:
        check_inputs(**args)
    assert hint in (caught.value.hint or "")


class Refusing(Client):
    """A custody client that must not be called: the sync has to fail before it reads custody."""

    def __init__(self) -> None:
        pass

    def call(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        raise AssertionError(f"custody was called: {method} {path}")


def test_pypi_data_without_a_project_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text(json.dumps({"not": "a PyPI document"}))
    with pytest.raises(ValidationError, match="the PyPI data given names no project"):
        run([], [], [tmp_path], False, [], "sec@example.com", "standard", True, client=Refusing())


class Scripted(Client):
    """A custody client answering account creations from a script: ``ok``, ``conflict`` or ``denied``."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.sent: list[tuple[str, str, Any]] = []

    def call(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        self.sent.append((method, path, json))
        answer = self.answers.pop(0)
        if answer == "conflict":
            raise Conflict("account pypi/Bob already exists; usernames differ only in case", hint="use pypi/Bob")
        if answer == "denied":
            raise PermissionDenied("permission denied: create on custody/accounts/pypi/carol")
        return {"data": {}}


def entries() -> list[Entry]:
    return plan([own("acme", ["alice", "bob", "carol"])], {}, Choices("sec@example.com"))


def test_apply_keeps_an_account_made_meanwhile() -> None:
    planned = entries()
    client = Scripted(["ok", "conflict", "ok"])
    create(client, planned)
    assert [(e.account, e.status) for e in planned] == [
        ("pypi/alice", "created"), ("pypi/bob", "held"), ("pypi/carol", "created")]
    assert planned[1].why[-1] == "not created: account pypi/Bob already exists; usernames differ only in case"
    assert client.sent[0] == ("POST", "accounts/pypi/alice", {
        "owner": "sec@example.com", "tier": "standard", "notes": "found by custody inventory sync: Owner of acme"})


def test_apply_stops_at_another_error_and_says_what_it_did() -> None:
    planned = entries()
    with pytest.raises(PermissionDenied) as caught:
        create(Scripted(["ok", "ok", "denied"]), planned)
    assert "2 account(s) were created before this: sync is idempotent" in (caught.value.hint or "")
    assert [e.status for e in planned] == ["created", "created", "planned"]

