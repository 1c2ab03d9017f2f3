"""Every bad input of keys, waves, drills, people and leaked codes, through the real CLI on a real OpenBao: a clear
error (exit 1, a hint), and nothing changed in Vault (the records' versions stay as they were)."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import REASON, Stack, new_codes, uniq

pytestmark = pytest.mark.integration


def version(stack: Stack, path: str) -> int:
    """The current version of custody's record at ``path`` (0: none), read as root straight from Vault."""
    resp = httpx.get(f"{stack.vault_addr}/v1/custody-kv/metadata/{path}",
                     headers={"X-Vault-Token": stack.token("root")})
    return 0 if resp.status_code == 404 else int(resp.json()["data"]["current_version"])


def refused(stack: Stack, who: str, *args: str, says: str, stdin: str = "", paths: tuple[str, ...] = ()) -> str:
    """Run a command that must fail with ``says``, and check that none of ``paths`` changed; its stderr."""
    before = [version(stack, p) for p in paths]
    r = stack.cli(who, *args, stdin=stdin)
    assert r.exit_code == 1 and says in r.err, (r.exit_code, r.out, r.err)
    assert "hint:" in r.err and r.out == ""
    assert [version(stack, p) for p in paths] == before
    return r.err


@pytest.fixture
def keyed(stack: Stack, account: str) -> str:
    """``account`` with one key, labelled "Primary", on a token of its own."""
    r = stack.cli("security", "keys", "add", account, "--label", "Primary", "--custodian", "engineer@acme.example",
                  "--serial", f"SN-{account}")
    assert r.exit_code == 0, r.err
    return account


def test_keys_of_an_unknown_account(stack: Stack) -> None:
    refused(stack, "security", "keys", "add", "pypi/never-registered", "--label", "k", "--custodian",
            "a@acme.example", "--serial", "1", says="unknown account pypi/never-registered",
            paths=("keys/pypi/never-registered",))


def test_a_duplicate_label(stack: Stack, keyed: str) -> None:
    refused(stack, "security", "keys", "add", keyed, "--label", "Primary", "--custodian", "b@acme.example",
            "--serial", "other", says="already has a key labelled 'Primary'", paths=(f"keys/{keyed}",))


def test_a_label_over_64_characters(stack: Stack, keyed: str) -> None:
    err = refused(stack, "security", "keys", "add", keyed, "--label", "L" * 65, "--custodian", "b@acme.example",
                  "--serial", "other", says="PyPI allows at most 64", paths=(f"keys/{keyed}",))
    assert "65 characters" in err
    assert stack.cli("security", "keys", "add", keyed, "--label", "L" * 64, "--custodian", "b@acme.example",
                     "--serial", "other").exit_code == 0


def test_a_serial_already_on_another_account(stack: Stack, keyed: str) -> None:
    other = f"pypi/{uniq()}"
    assert stack.cli("security", "accounts", "add", other, "--owner", "o@acme.example").exit_code == 0
    err = refused(stack, "security", "keys", "add", other, "--label", "Borrowed", "--custodian", "b@acme.example",
                  "--serial", f"sn-{keyed}", says=f"already registered on {keyed}", paths=(f"keys/{other}",))
    assert "one physical token on two accounts" in err and "--shared-token" in err
    shared = stack.cli("security", "keys", "add", other, "--label", "Borrowed", "--custodian", "b@acme.example",
                       "--serial", f"sn-{keyed}", "--shared-token")
    assert shared.exit_code == 0, shared.err
    rows = stack.cli("auditor", "keys", "check", "--format", "json").json()["accounts"]
    warned = [p for a in rows if a["account"] in (keyed, other) for p in a["problems"] if p["kind"] == "shared_token"]
    assert len(warned) == 2


def test_a_key_that_is_not_yours_and_a_label_that_is_not_there(stack: Stack, keyed: str) -> None:
    refused(stack, "approver", "keys", "verify", keyed, "Primary", says="only the key's custodian",
            paths=(f"keys/{keyed}",))
    refused(stack, "security", "keys", "remove", keyed, "Nope", "--reason", "lost on the train",
            says="has no key labelled 'Nope'", paths=(f"keys/{keyed}",))
    refused(stack, "engineer", "keys", "remove", keyed, "Primary", "--reason", "lost on the train",
            says="permission denied: update on custody/accounts", paths=(f"keys/{keyed}",))


def test_a_wave_of_an_unknown_account_or_twice(stack: Stack, account: str) -> None:
    name = uniq("wave")
    refused(stack, "security", "rollout", "wave", "add", name, "--accounts", account, "pypi/never-registered",
            says="unknown account pypi/never-registered", paths=(f"waves/{name}",))
    assert stack.cli("security", "rollout", "wave", "add", name, "--accounts", account).exit_code == 0
    refused(stack, "security", "rollout", "wave", "add", name, "--accounts", account, says="already exists",
            paths=(f"waves/{name}",))
    refused(stack, "security", "rollout", "wave", "add", uniq("wave"), "--accounts", account,
            says=f"already in wave {name}")
    refused(stack, "auditor", "rollout", "status", "--wave", uniq("wave"), says="unknown wave")


def test_an_unknown_drill(stack: Stack, account: str) -> None:
    refused(stack, "security", "drill", "finish", "dr_aaaaaaaaaaaa", "--result", "pass", says="unknown drill",
            paths=("drills/dr_aaaaaaaaaaaa",))
    refused(stack, "auditor", "drill", "show", "dr_aaaaaaaaaaaa", says="unknown drill dr_aaaaaaaaaaaa")
    refused(stack, "security", "drill", "start", "pypi/never-registered", "--scenario", "lost both keys abroad",
            says="unknown account pypi/never-registered")
    refused(stack, "engineer2", "access", "request", account, "--drill", "dr_aaaaaaaaaaaa", "--reason", REASON,
            says="unknown drill")
    refused(stack, "auditor", "drill", "show", "../grants", says="not a drill id")
    grants = stack.cli("security", "access", "list", "--account", account, "--format", "json").json()
    assert grants == []  # no grant was made for the refused request


def test_finishing_a_drill_twice_and_joining_a_finished_one(stack: Stack, account: str) -> None:
    d = stack.cli("security", "drill", "start", account, "--scenario", "lost both keys abroad", "--format", "json")
    drill = d.json()["id"]
    finished = stack.cli("security", "drill", "finish", drill, "--result", "fail", "--notes", "nobody picked up")
    assert finished.exit_code == 0
    err = refused(stack, "security", "drill", "finish", drill, "--result", "pass", says="already finished",
                  paths=(f"drills/{drill}",))
    assert "(fail)" in err
    refused(stack, "engineer2", "access", "request", account, "--drill", drill, "--reason", REASON,
            says="is finished")


def test_offboarding_someone_unknown(stack: Stack) -> None:
    email = f"{uniq('nobody')}@acme.example"
    refused(stack, "security", "people", "offboard", email, "--reason", "left the company", "--apply",
            says="knows nobody with the email", paths=(f"people/{email}",))
    refused(stack, "security", "people", "show", email, says="knows nobody")
    refused(stack, "security", "people", "offboard", "not-an-email", "--reason", "left the company",
            says="not an email address")


@pytest.mark.parametrize(("stdin", "says"), [
    ("", "no code given"),
    ("this is not a code\n", "not a recovery code"),
    ("0123456789abcdef\nfedcba9876543210\n", "one code at a time"),
])
def test_identify_something_that_is_not_one_code(stack: Stack, stdin: str, says: str) -> None:
    refused(stack, "security", "codes", "identify", says=says, stdin=stdin)


def test_burn_something_that_is_not_a_code_of_the_account(stack: Stack, account: str) -> None:
    path = f"codes/{account}"
    refused(stack, "security", "codes", "burn", account, says="not a code", stdin="hello\n",
            paths=(path, f"marks/{account}"))
    refused(stack, "security", "codes", "burn", account, says="not in", stdin=new_codes(1)[0],
            paths=(path, f"marks/{account}"))
    refused(stack, "security", "codes", "burn", "pypi/never-registered", says="unknown account",
            stdin=new_codes(1)[0])
    refused(stack, "auditor", "codes", "identify", says="permission denied: update on custody/codes/identify",
            stdin=new_codes(1)[0])
