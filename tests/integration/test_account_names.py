"""Account names as people type them: one account per name whatever its case, however many create it at once,
and an unknown name answered with the spelling the caller may have meant (only names the caller may list)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.helpers import REASON, Stack, uniq

pytestmark = pytest.mark.integration


def spellings(name: str, n: int = 8) -> list[str]:
    """``n`` spellings of one name that differ only in case: its first letters upper or lower, as bits of 0..n-1."""
    return ["".join(c.upper() if i < 5 and bits >> i & 1 else c for i, c in enumerate(name)) for bits in range(n)]


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_creations_that_differ_in_case_make_one_account(stack: Stack, round_: int) -> None:
    names = spellings(uniq("racey"))  # racey-..., Racey-..., rAcey-...
    assert len(set(names)) == 8
    start = threading.Barrier(len(names))

    def create(name: str) -> int:
        start.wait()
        return httpx.post(f"{stack.custody_addr}/v1/custody/accounts/pypi/{name}", json={"owner": "o@example.com"},
                          headers={"X-Vault-Token": stack.token("security")}, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        statuses = list(pool.map(create, names))
    assert sorted(statuses) == [200] + [409] * 7, statuses
    listed = stack.client("security").call("GET", "accounts", params={"list": "true"})["data"]["keys"]
    assert len([k for k in listed if k.casefold() in {f"pypi/{n}".casefold() for n in names}]) == 1


def test_an_unknown_account_suggests_the_spelling_that_exists(stack: Stack) -> None:
    name = uniq("CaseX")
    assert stack.cli("security", "accounts", "add", f"pypi/{name}", "--owner", "o@example.com").exit_code == 0
    shown = stack.cli("security", "accounts", "show", f"pypi/{name.lower()}")
    assert shown.exit_code == 1 and f"unknown account pypi/{name.lower()}" in shown.err, shown.err
    assert f"did you mean pypi/{name}?" in shown.err, shown.err
    typo = f"pypi/{name[:-2]}{name[-1]}{name[-2]}"  # two letters swapped
    asked = stack.cli("engineer", "access", "request", typo, "--reason", REASON)
    assert asked.exit_code == 1 and f"did you mean pypi/{name}?" in asked.err, asked.err


def test_no_suggestion_names_an_account_the_caller_cannot_list(stack: Stack) -> None:
    name = uniq("Secret")
    assert stack.cli("security", "accounts", "add", f"pypi/{name}", "--owner", "o@example.com").exit_code == 0
    admin = stack.admin()
    admin.call("PUT", "sys/policies/acl/custody-test-no-list",
               {"policy": 'path "custody/accounts/+/+" { capabilities = ["read"] }'})
    user = uniq("nolist")
    admin.call("POST", f"auth/userpass/users/{user}",
               {"password": "pw-" + user, "token_policies": "custody-test-no-list"})
    token = admin.call("POST", f"auth/userpass/login/{user}", {"password": "pw-" + user})["auth"]["client_token"]
    r = httpx.get(f"{stack.custody_addr}/v1/custody/accounts/pypi/{name.lower()}", headers={"X-Vault-Token": token},
                  timeout=30)
    assert r.status_code == 404 and name not in r.text and "did you mean" not in r.text, r.text
