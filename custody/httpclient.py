"""How custody makes its own HTTP calls (bootstrap's admin client, the dev stacks, webhooks): with httpx, the one
HTTP client library custody uses (``custody.store`` writes its HTTP/1.1 to Vault itself, with urllib3 only to follow
a standby's redirect and to ask each node's health).

Building a TLS context loads a CA bundle, which costs tens of milliseconds; the contexts are built once per bundle and
shared, so a client is cheap to make.
"""

from __future__ import annotations

import functools
import os
import ssl

import certifi
import httpx


@functools.lru_cache(maxsize=8)
def _context(cafile: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)


def tls_context(verify: bool | str = True) -> ssl.SSLContext:
    """The context that verifies a server's certificate against ``verify``: a CA bundle (PEM) path, or True for
    ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` when set, else the bundled public CAs. Verification cannot be off."""
    if verify is False:
        raise ValueError("TLS verification cannot be turned off")
    if verify is True:
        cafile = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    else:
        cafile = verify
    return _context(cafile)


def client(verify: bool | str = True, timeout: float = 15.0) -> httpx.Client:
    """An httpx client that talks to the address it is given, directly: proxy variables and ``~/.netrc`` are not
    consulted (as for the service's own Vault calls)."""
    return httpx.Client(verify=tls_context(verify), timeout=timeout, trust_env=False)
