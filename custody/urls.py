"""Addresses of Vault and of the custody server, checked and compared with the standard library alone, and the
path segments of the custody API a client builds from what a user typed.

Both the server's settings and the command line read addresses from the environment; neither needs an HTTP
library (or pydantic) just to tell whether ``VAULT_ADDR`` is a URL, so a command that never talks to a server
never imports one.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import quote, urlsplit

from custody.errors import ValidationError

# A DNS name or an IPv4 address (ASCII letters, digits, dots, hyphens; underscores as container names use them).
_HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?")
_DEFAULT_PORT = {"http": 80, "https": 443}


class Origin(NamedTuple):
    """Where requests to an address go: scheme, host (lower case, IPv6 without brackets) and port."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def origin(addr: str) -> Origin | None:
    """The origin of an ``http(s)://host[:port][/path]`` address, or None if it is not one.

    Refused: other schemes, a missing or malformed host, a port out of range, credentials, a query or a fragment
    (none belongs in a server address), whitespace and non-ASCII characters anywhere.
    """
    if not addr or not addr.isascii() or any(c.isspace() or not c.isprintable() for c in addr):
        return None
    try:
        parts = urlsplit(addr)
        port = parts.port
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number or out of range
        return None
    if parts.scheme not in _DEFAULT_PORT or parts.username is not None or parts.query or parts.fragment:
        return None
    host = parts.hostname or ""
    if not _valid_host(host, bracketed=parts.netloc.rsplit("@", 1)[-1].startswith("[")):
        return None
    if port is None and parts.netloc.endswith(":"):
        return None  # "http://host:" names no port
    if port is not None and not 0 < port < 65536:
        return None
    return Origin(parts.scheme, host.lower(), port or _DEFAULT_PORT[parts.scheme])


def _valid_host(host: str, bracketed: bool) -> bool:
    if bracketed:
        import ipaddress

        try:
            return ipaddress.ip_address(host).version == 6
        except ValueError:
            return False
    return _HOSTNAME.fullmatch(host) is not None


def valid_addr(addr: str) -> bool:
    """An http(s) URL with a host (and, if any, a port in range)."""
    return origin(addr) is not None


def same_server(a: str, b: str) -> bool:
    """Whether two addresses send requests to the same place (``http://H`` and ``http://h:80/`` do)."""
    first, second = origin(a), origin(b)
    return first is not None and first == second


def segment(value: str) -> str:
    """One URL path segment, percent-encoded: ``/``, ``?``, ``#``, ``%`` and dots cannot change where it goes."""
    if value in ("", ".", ".."):
        raise ValidationError(f"not a valid path segment: {value!r}")
    return quote(value, safe="")


def account_path(account: str) -> str:
    """ACCOUNT as URL path segments (``pypi/acme``), validated so that it can never leave /v1/custody/."""
    from custody.domain.platforms import parse_account_id

    parse_account_id(account)  # the server's own rules: <platform>/<username>, a known platform, a valid username
    platform, username = account.split("/", 1)
    return f"{segment(platform)}/{segment(username)}"
