"""The CLI checks what a custody server hands out before it unwraps anything.

A rogue (or compromised) "custody" server, here a throwaway HTTP server, answers ``access reveal`` with a real
wrapping token made on the session's OpenBao: of another path, of another grant, living too long, or unknown; or
it names another Vault than the caller's. Each is refused, the wrapping token stays unspent, and the caller's token
never reaches the Vault the server named.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from tests.helpers import Stack, local_http, send_json, uniq

pytestmark = pytest.mark.integration

GRANT = "gr_abcdefghijklmnop"
OTHER_GRANT = "gr_qrstuvwxyzabcdef"
CODE = "0123456789abcdef"


class _Rogue(BaseHTTPRequestHandler):
    """Answers every request with ``answer``; remembers each request's method, path and token."""

    answer: dict[str, Any] = {}
    seen: list[tuple[str, str, str | None]] = []

    def _reply(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.seen.append((self.command, self.path, self.headers.get("x-vault-token")))
        send_json(self, self.answer)

    do_GET = do_POST = _reply

    def log_message(self, *_args: object) -> None:
        pass


class _RogueCustody(_Rogue):
    seen: list[tuple[str, str, str | None]] = []


class _OtherVault(_Rogue):
    seen: list[tuple[str, str, str | None]] = []


@pytest.fixture(scope="module")
def rogue() -> Iterator[str]:
    with local_http(_RogueCustody) as addr:
        yield addr


@pytest.fixture(scope="module")
def other_vault() -> Iterator[str]:
    with local_http(_OtherVault) as addr:
        yield addr


@pytest.fixture(scope="module")
def mounts(stack: Stack) -> dict[str, str]:
    """A KV v2 and a KV v1 mount of the test's own (custody's mount is the service's alone)."""
    admin = stack.admin()
    names = {"kv2": uniq("rogue-kv2"), "kv1": uniq("rogue-kv1")}
    admin.call("POST", f"sys/mounts/{names['kv2']}", {"type": "kv", "options": {"version": "2"}})
    admin.call("POST", f"sys/mounts/{names['kv1']}", {"type": "kv", "options": {"version": "1"}})
    return names


def _vault(stack: Stack, method: str, path: str, body: Any = None, wrap_ttl: str | None = None) -> dict[str, Any]:
    headers = {"X-Vault-Token": stack.token("root"), **({"X-Vault-Wrap-TTL": wrap_ttl} if wrap_ttl else {})}
    resp = httpx.request(method, f"{stack.vault_addr}/v1/{path}", json=body, headers=headers, timeout=10)
    resp.raise_for_status()
    return resp.json() if resp.content else {}


def _wrapped_read(stack: Stack, path: str, ttl: str = "120s") -> str:
    """A wrapping token of a read of ``path`` (written first, as custody writes reveals/<grant>)."""
    stack.admin().call("POST", path, {"data": {"code": CODE}} if "/data/" in path else {"code": CODE})
    return str(_vault(stack, "GET", path, wrap_ttl=ttl)["wrap_info"]["token"])


def _unspent(stack: Stack, token: str) -> bool:
    resp = httpx.post(f"{stack.vault_addr}/v1/sys/wrapping/lookup", json={"token": token}, timeout=10)
    return resp.status_code == 200


def _hand_out(token: str, vault_addr: str = "") -> None:
    _RogueCustody.answer = {"data": {"grant": GRANT, "account": "pypi/acme", "remaining": 7, "vault_addr": vault_addr},
                            "wrap_info": {"token": token, "accessor": "x", "ttl": 120}}
    _RogueCustody.seen, _OtherVault.seen = [], []


def _reveal(stack: Stack, rogue: str) -> tuple[int, str, str]:
    r = stack.cli("engineer", "access", "reveal", GRANT, "--format", "json", custody_addr=rogue)
    return r.exit_code, r.out, r.err


def test_a_token_wrapping_something_else_is_refused_unspent(stack: Stack, rogue: str) -> None:
    token = str(_vault(stack, "POST", "sys/wrapping/wrap", {"code": CODE}, wrap_ttl="120s")["wrap_info"]["token"])
    _hand_out(token)
    code, out, err = _reveal(stack, rogue)
    assert code == 1 and out == ""
    assert f"does not hold grant {GRANT}'s code (it wraps sys/wrapping/wrap)" in err and "hint:" in err
    assert _unspent(stack, token)


def test_a_token_of_another_grant_is_refused_unspent(stack: Stack, rogue: str, mounts: dict[str, str]) -> None:
    token = _wrapped_read(stack, f"{mounts['kv2']}/data/reveals/{OTHER_GRANT}")
    _hand_out(token)
    code, out, err = _reveal(stack, rogue)
    assert code == 1 and out == ""
    assert f"it wraps {mounts['kv2']}/data/reveals/{OTHER_GRANT}" in err
    assert _unspent(stack, token)


def test_a_long_lived_token_is_refused_unspent(stack: Stack, rogue: str, mounts: dict[str, str]) -> None:
    token = _wrapped_read(stack, f"{mounts['kv2']}/data/reveals/{GRANT}", ttl="2h")
    _hand_out(token)
    code, out, err = _reveal(stack, rogue)
    assert code == 1 and out == ""
    assert "lives 7200 seconds" in err and "at most 3600" in err
    assert _unspent(stack, token)


def test_an_unknown_token_is_refused(stack: Stack, rogue: str) -> None:
    _hand_out("s.notawrappingtokenatall0000")
    code, out, err = _reveal(stack, rogue)
    assert code == 1 and out == ""
    assert f"not valid in your Vault at {stack.vault_addr} (VAULT_ADDR)" in err


def test_another_vault_gets_nothing(stack: Stack, rogue: str, other_vault: str, mounts: dict[str, str]) -> None:
    token = _wrapped_read(stack, f"{mounts['kv2']}/data/reveals/{GRANT}")
    _hand_out(token, vault_addr=other_vault)
    code, out, err = _reveal(stack, rogue)
    assert code == 1 and out == ""
    assert f"says to unwrap the code in the Vault at {other_vault}, but your Vault is {stack.vault_addr}" in err
    assert "your token was not sent there" in err
    assert _OtherVault.seen == []  # not the wrapping token, not the caller's token: nothing at all
    assert [path for _, path, _ in _RogueCustody.seen] == [f"/v1/custody/grants/{GRANT}/reveal"]
    assert _unspent(stack, token)


@pytest.mark.parametrize("kv", ["kv1", "kv2"])
def test_a_reveal_record_of_this_grant_is_unwrapped(stack: Stack, rogue: str, mounts: dict[str, str],
                                                    kv: str) -> None:
    """The checks pass custody's own layout, KV v2 today (``data.data.code``) or a KV v1 scratch mount
    (``data.code``), and the server may name the caller's Vault in another spelling."""
    path = f"{mounts[kv]}/{'data/' if kv == 'kv2' else ''}reveals/{GRANT}"
    token = _wrapped_read(stack, path)
    _hand_out(token, vault_addr=stack.vault_addr.replace("http://", "HTTP://") + "/")
    code, out, err = _reveal(stack, rogue)
    assert code == 0, err
    assert json.loads(out) == {"grant": GRANT, "account": "pypi/acme", "code": CODE, "remaining": 7}
    assert not _unspent(stack, token)
