"""The reveal's checks, and the address rules they rest on, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from custody.cli.settings import VaultAddr
from custody.cli.unwrap import check_named_vault, check_wrapping
from custody.domain.handout import code_of
from custody.errors import CustodyError
from custody.urls import origin, same_server, valid_addr

GRANT = "gr_abcdefghijklmnop"
MINE = VaultAddr("https://vault.example.com:8200", "VAULT_ADDR")


@pytest.mark.parametrize("path", [
    f"custody-kv/data/reveals/{GRANT}",  # custody today: KV v2
    f"custody-scratch/reveals/{GRANT}",  # a KV v1 scratch mount
    f"team/custody-kv/data/reveals/{GRANT}",  # a nested mount
])
def test_custody_reveal_paths_pass(path: str) -> None:
    check_wrapping({"creation_path": path, "creation_ttl": 300}, GRANT, MINE)


@pytest.mark.parametrize("path", [
    "sys/wrapping/wrap",  # anything wrapped by hand
    "custody-kv/data/reveals/gr_qrstuvwxyzabcdef",  # another grant's code
    f"custody-kv/data/reveals/{GRANT}/x",
    f"custody-kv/data/reveals/{GRANT}x",
    f"reveals/{GRANT}",  # no mount at all
    f"sys/raw/reveals/{GRANT}",
    f"custody-kv/data/codes/pypi/acme#reveals/{GRANT}",
    f"../reveals/{GRANT}",
    "",
])
def test_other_paths_are_refused(path: str) -> None:
    with pytest.raises(CustodyError, match="does not hold grant gr_abcdefghijklmnop's code"):
        check_wrapping({"creation_path": path, "creation_ttl": 300}, GRANT, MINE)


@pytest.mark.parametrize("ttl", [0, -1, 3601, 86400, True, "300", None, 1.5])
def test_odd_lifetimes_are_refused(ttl: Any) -> None:
    with pytest.raises(CustodyError, match="it was not unwrapped, and is not spent"):
        check_wrapping({"creation_path": f"custody-kv/data/reveals/{GRANT}", "creation_ttl": ttl}, GRANT, MINE)


def test_an_unknown_token_names_the_vault_asked() -> None:
    with pytest.raises(CustodyError, match=r"not valid in your Vault at https://vault.example.com:8200 \(VAULT_ADDR\)"):
        check_wrapping(None, GRANT, MINE)


@pytest.mark.parametrize("named", [
    "", "https://vault.example.com:8200", "https://VAULT.example.com:8200/", "HTTPS://vault.example.com:8200",
    "https://vault-1.example.com:8200, https://vault.example.com:8200",  # the nodes of one cluster
])
def test_the_callers_vault_passes(named: str) -> None:
    check_named_vault(named, MINE)


@pytest.mark.parametrize("named", [
    "https://vault.evil.example:8200", "http://vault.example.com:8200", "https://vault.example.com:8201",
    "https://vault.example.com", "not a url",
])
def test_another_vault_is_refused(named: str) -> None:
    with pytest.raises(CustodyError, match="your token was not sent there") as err:
        check_named_vault(named, MINE)
    assert err.value.hint and "CUSTODY_VAULT_ADDR" in err.value.hint


@pytest.mark.parametrize(("payload", "code"), [
    ({"code": "0123456789abcdef"}, "0123456789abcdef"),  # KV v1
    ({"data": {"code": "0123456789abcdef"}, "metadata": {"version": 1}}, "0123456789abcdef"),  # KV v2
    ({"data": {"other": "x"}}, None),
    ({"code": ""}, None),
    ({"code": 12}, None),
    ({"data": "0123456789abcdef"}, None),
    ({}, None),
])
def test_code_of(payload: dict[str, Any], code: str | None) -> None:
    assert code_of(payload) == code


@pytest.mark.parametrize("addr", [
    "http://127.0.0.1:8400", "https://vault.example.com", "http://[::1]:8200", "http://custody_api:8400/",
    "https://vault.example.com:8200/prefix", "http://localhost.",
])
def test_valid_addresses(addr: str) -> None:
    assert valid_addr(addr)


@pytest.mark.parametrize("addr", [
    "http://[::1", "http://127.0.0.1:99999", "127.0.0.1:8400", "ftp://127.0.0.1", "not a url", "http://", "",
    "http://host:", "http://:80", "http://user:pass@host", "http://host/?q=1", "http://host/#x", "http://hö.st",
    "http://a b", "http://host\n", "http://[not-ipv6]", "http://[127.0.0.1]", "http://host:0", "http://-",
])
def test_invalid_addresses(addr: str) -> None:
    assert not valid_addr(addr)


def test_origins_compare_what_requests_reach() -> None:
    assert origin("http://Host") == origin("http://host:80/") == ("http", "host", 80)
    assert str(origin("https://[::1]")) == "https://[::1]:443"
    assert same_server("https://vault:8200", "HTTPS://VAULT:8200/")
    assert not same_server("https://vault:8200", "http://vault:8200")
    assert not same_server("not a url", "not a url")


def test_a_vault_that_wants_a_token_for_the_lookup_gets_the_callers_own() -> None:
    """OpenBao looks a wrapping token up without any token; a Vault that asks for one is the caller's own Vault,
    so the lookup is asked again with the caller's token, and nothing else changes."""
    from http.server import BaseHTTPRequestHandler

    from custody.cli.client import Vault
    from tests.helpers import local_http, send_json

    seen: list[str | None] = []

    class WantsToken(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            seen.append(self.headers.get("x-vault-token"))
            if self.headers.get("x-vault-token") is None:
                send_json(self, {"errors": ["permission denied"]}, 403)
            else:
                send_json(self, {"data": {"creation_path": f"custody-kv/data/reveals/{GRANT}", "creation_ttl": 300}})

        def log_message(self, *_args: object) -> None:
            pass

    with local_http(WantsToken) as addr:
        info = Vault(VaultAddr(addr, "VAULT_ADDR"), "s.callerstoken000000000").lookup("s.wrapping")
    assert seen == [None, "s.callerstoken000000000"]
    check_wrapping(info, GRANT, MINE)
