"""The one authorizer: the caller's identity is remembered, their policy is asked every time, a revoked token is
forgotten at once, and every refusal is recorded (or logged when it cannot be)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from structlog.testing import capture_logs

from custody.callers import CallerCache
from custody.errors import AuthError, PermissionDenied, StoreError
from custody.repo.denials import SLOTS
from tests.fakes import World, an_account, world
from tests.helpers import nobodys_grant


def test_identity_is_looked_up_once_and_policy_asked_every_time(w: World) -> None:
    an_account(w)
    w.vault.calls.clear()
    for _ in range(3):
        w.uc.accounts.get(w.token["engineer"], "pypi/acme")
    assert w.vault.calls == {"lookup": 1, "capabilities": 3}


def test_without_a_cache_every_call_looks_the_caller_up() -> None:
    w = world(callers=CallerCache(max_age=0))
    an_account(w)
    w.vault.calls.clear()
    for _ in range(3):
        w.uc.accounts.get(w.token["engineer"], "pypi/acme")
    assert w.vault.calls == {"lookup": 3, "capabilities": 3}


def test_a_revoked_token_is_refused_at_once_and_forgotten(w: World) -> None:
    an_account(w)
    token = w.token["engineer"]
    w.vault.calls.clear()
    w.uc.accounts.get(token, "pypi/acme")
    w.vault.revoke(token)
    for _ in range(2):
        with pytest.raises(AuthError, match="invalid or expired"):
            w.uc.accounts.get(token, "pypi/acme")
    assert w.vault.calls["lookup"] == 2  # forgotten after the first refusal: looked up (and refused) again


def test_sudo_alone_grants_nothing_and_deny_wins(w: World) -> None:
    an_account(w)
    sudo = w.vault.add("sudoer", rules=(("custody/accounts/+/+", {"sudo"}),))
    with pytest.raises(PermissionDenied, match="read on custody/accounts/pypi/acme"):
        w.uc.accounts.get(sudo, "pypi/acme")
    denied = w.vault.add("denied", ("custody-security",), rules=(("custody/accounts/+/+", {"deny"}),))
    with pytest.raises(PermissionDenied):
        w.uc.accounts.get(denied, "pypi/acme")
    root = w.vault.add("root", rules=(("custody/*", {"root"}),))
    assert w.uc.accounts.get(root, "pypi/acme").id == "pypi/acme"


def test_a_refusal_that_cannot_be_recorded_is_still_a_refusal(w: World) -> None:
    def vault_down(op: str, path: str) -> None:
        if path.startswith("denied/"):
            raise StoreError("Vault is unreachable (test)")

    w.kv.before.append(vault_down)
    with capture_logs() as logs, pytest.raises(PermissionDenied, match="create on custody/accounts/pypi/x"):
        w.uc.accounts.add(w.token["engineer"], "pypi/x", "o@example.com")
    assert [e["event"] for e in logs] == ["access.denied", "access.denied.unrecorded"]


def test_ten_thousand_refusals_add_a_bounded_number_of_records(w: World) -> None:
    """Refused reads of grants, from eight callers at once: every one counted, in at most SLOTS records a day."""
    token = w.token["engineer2"]

    def refuse(chunk: range) -> int:
        for n in chunk:
            with pytest.raises(PermissionDenied):
                w.uc.access.show(token, nobodys_grant(n))
        return len(chunk)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(refuse, [range(i, 10_000, 8) for i in range(8)])) == 10_000
    keys = [f"denied/{day}{key}" for day in w.kv.list_keys("denied/") for key in w.kv.list_keys(f"denied/{day}")]
    assert 1 <= len(keys) <= SLOTS
    latest = [entry.data for key in keys if (entry := w.kv.read(key)) is not None]
    assert sum(d["count"] for d in latest) == 10_000
    assert {d["actor"] for d in latest} == {"userpass-engineer2"} and {d["capability"] for d in latest} == {"read"}
    w.clock.advance(days=1)  # a new day, new records: the bound is per day
    with pytest.raises(PermissionDenied):
        w.uc.access.show(token, nobodys_grant(0))
    assert len(w.kv.list_keys("denied/")) == 2


def test_whoami_asks_vault(w: World) -> None:
    assert w.uc.authz.whoami(w.token["auditor"]).display_name == "userpass-auditor"
    assert w.uc.authz.whoami(w.token["auditor"]).display_name == "userpass-auditor"
    assert w.vault.calls["lookup"] == 2
