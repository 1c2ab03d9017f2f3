"""HTTP clients: of the custody API, and of the caller's own Vault for the lookup and unwrap a reveal needs.

Imported only by the commands that talk to a server (through ``custody.cli.common.client``): httpx is most of a
client command's start-up time, and ``custody --help`` does not need it.
"""

from __future__ import annotations

import ssl
import sys
from typing import Any

# httpx's __init__ imports its own command-line tool (httpx._main), which imports rich, pygments and more when they
# are installed: about 100 ms that custody never uses. httpx catches the ImportError of that one import and installs
# a stub in its place, so a None entry in sys.modules (the documented way to make an import fail) skips it.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpx  # noqa: E402

from custody import errors  # noqa: E402
from custody.cli.settings import VaultAddr, client_token, custody_addr, valid_token  # noqa: E402
from custody.urls import origin, valid_addr  # noqa: E402

API_PREFIX = "/v1/custody/"

_BY_STATUS: dict[int, type[errors.CustodyError]] = {
    400: errors.ValidationError,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    409: errors.Conflict,
    412: errors.PreconditionFailed,
    413: errors.ValidationError,
    429: errors.TooMany,
}


def _object(resp: httpx.Response) -> dict[str, Any] | None:
    """The answer's JSON object, or None when the body is not one (a web page, a proxy's error, a bare list)."""
    try:
        body = resp.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _not_custody(resp: httpx.Response, addr: str) -> errors.StoreError:
    kind = resp.headers.get("content-type", "no content type").split(";")[0]
    err = errors.StoreError(f"the server at {addr} did not answer like custody (HTTP {resp.status_code}, {kind})",
                            hint="check CUSTODY_ADDR points at the custody server (not at Vault itself)")
    err.retryable = False
    return err


def _raise(resp: httpx.Response, addr: str) -> None:
    body = _object(resp)
    if body is None or not isinstance(body.get("errors"), list):
        raise _not_custody(resp, addr)
    messages = [str(m) for m in body["errors"]]
    message = messages[0] if messages else f"HTTP {resp.status_code}"
    if resp.status_code in (404, 405) and "no handler for route" in message:
        # Vault's own answer for a path no engine serves: CUSTODY_ADDR names Vault, not custody in front of it.
        raise _not_custody(resp, addr)
    hint = next((m.removeprefix("hint: ") for m in messages[1:] if m.startswith("hint: ")), None)
    cls = _BY_STATUS.get(resp.status_code, errors.StoreError if resp.status_code >= 500 else errors.CustodyError)
    if "exhausted" in message or "no codes left" in message:
        cls = errors.Exhausted
    raise cls(message, hint)


def _checked(token: str | None) -> str:
    if not token:
        raise errors.AuthError("no Vault token", hint="set VAULT_TOKEN (or BAO_TOKEN), or run `bao login`")
    if not valid_token(token):
        raise errors.AuthError("the Vault token is not a valid Vault token",
                               hint="it holds characters no Vault token has (spaces, control or non-ASCII)")
    return token


def tls(addr: str, cafile: str | None = None, source: str = "") -> ssl.SSLContext | bool:
    """TLS settings of a client that only ever talks to ``addr``.

    https: Vault's CA bundle ``cafile`` if given, else what httpx trusts (SSL_CERT_FILE, SSL_CERT_DIR, certifi).
    http: a context that trusts no certificate at all. It is never used (requests go to ``addr`` only and
    redirects are not followed), and would fail closed if it were; it spares loading a CA bundle (~30 ms).
    """
    found = origin(addr)
    if found is not None and found.scheme == "http":
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not cafile:
        return True
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise errors.ValidationError(f"cannot use {source} {cafile[:120]}: {getattr(exc, 'strerror', None) or exc}",
                                     hint=f"{source} names a PEM file of CA certificates") from None


class Client:
    """The custody API at ``addr`` (default CUSTODY_ADDR), called with the caller's Vault token."""

    def __init__(self, addr: str | None = None, token: str | None = None, timeout: float = 30.0) -> None:
        self.addr = (addr or custody_addr()).rstrip("/")
        if not valid_addr(self.addr):
            raise errors.ValidationError(f"not a valid custody URL: {self.addr[:80]!r}",
                                         hint="the custody server's address looks like http(s)://host:port")
        self._token = token if token is not None else client_token()
        self._http = httpx.Client(base_url=self.addr, timeout=timeout, verify=tls(self.addr))

    def __repr__(self) -> str:
        return f"Client(addr={self.addr!r})"

    @property
    def token(self) -> str:
        return _checked(self._token)

    def call(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        """``path`` is relative to /v1/custody/; segments taken from user input must go through ``segment``."""
        token = self.token
        try:
            request = self._http.build_request(method, API_PREFIX + path, json=json, params=params,
                                               headers={"X-Vault-Token": token})
        except (httpx.InvalidURL, ValueError) as exc:
            raise errors.ValidationError(f"cannot build a request for {path[:80]!r} ({type(exc).__name__})") from None
        # Defence in depth: whatever httpx made of the path (it resolves dot segments), it stays under the API.
        base = httpx.URL(self.addr + "/")
        if (request.url.scheme, request.url.host, request.url.port) != (base.scheme, base.host, base.port) or \
                not request.url.path.startswith(base.path.rstrip("/") + API_PREFIX):
            raise errors.ValidationError(f"refusing to send a request outside {API_PREFIX}: {path[:80]!r}")
        try:
            resp = self._http.send(request)
        except httpx.HTTPError as exc:
            raise errors.StoreError(
                f"custody server at {self.addr} is unreachable ({type(exc).__name__})",
                hint="set CUSTODY_ADDR, or start one with `custody dev up`",
            ) from None
        if resp.status_code >= 400:
            _raise(resp, self.addr)
        body = _object(resp)
        if body is None:
            raise _not_custody(resp, self.addr)
        return body

    def unwrap(self, vault_addr: str, wrapping_token: str) -> dict[str, Any]:
        """Unwrap a reveal's token in the Vault at ``vault_addr`` with this client's token, unchecked; returns the
        reveal record (``{"code": ...}``). ``access reveal`` checks the token first: ``custody.cli.unwrap``."""
        addr = vault_addr.rstrip("/")
        if not valid_addr(addr):
            raise errors.ValidationError(f"not a valid Vault address: {vault_addr[:80]!r}",
                                         hint="set CUSTODY_VAULT_ADDR to the Vault address, http(s)://host:port")
        payload = Vault(VaultAddr(addr, "the address given"), self.token).unwrap(wrapping_token)
        inner = payload.get("data")
        return dict(inner) if isinstance(inner, dict) else payload


class Vault:
    """The caller's own Vault: the wrapping calls of a reveal, nothing else.

    The caller's token is sent only by :meth:`unwrap`, so Vault's audit log names who took the code.
    """

    def __init__(self, vault: VaultAddr, token: str | None, timeout: float = 30.0) -> None:
        self.vault = vault
        self._token = token
        self._http = httpx.Client(base_url=vault.addr, timeout=timeout,
                                  verify=tls(vault.addr, vault.cacert, vault.cacert_source))

    def __repr__(self) -> str:
        return f"Vault(addr={self.vault.addr!r})"

    def lookup(self, wrapping_token: str) -> dict[str, Any] | None:
        """The wrapping token's creation path, time and TTL; None if this Vault does not know the token.

        Looking a wrapping token up does not spend it, and OpenBao needs no token of the caller's for it: none is
        sent, unless this Vault asks for one (it is the caller's own Vault, so their token may go there).
        """
        resp = self._post("sys/wrapping/lookup", {"token": wrapping_token}, None)
        if resp.status_code in (401, 403):
            resp = self._post("sys/wrapping/lookup", {"token": wrapping_token}, _checked(self._token))
        if resp.status_code == 400:
            return None  # "wrapping token is not valid or does not exist"
        if resp.status_code >= 400:
            raise errors.StoreError(f"Vault at {self.vault.addr} refused to look up the wrapping token "
                                    f"(HTTP {resp.status_code})", hint=self._where())
        data = self._answer(resp).get("data")
        return data if isinstance(data, dict) else {}

    def unwrap(self, wrapping_token: str) -> dict[str, Any]:
        """The wrapped answer's ``data``, unwrapped with the caller's own token."""
        resp = self._post("sys/wrapping/unwrap", {"token": wrapping_token}, _checked(self._token))
        if resp.status_code >= 400:
            raise errors.PreconditionFailed(
                "the wrapping token could not be unwrapped (expired, already used, or not yours)",
                hint="if you did not unwrap it, someone else may have: tell the security team now",
            )
        data = self._answer(resp).get("data")
        return data if isinstance(data, dict) else {}

    def _post(self, path: str, body: dict[str, Any], token: str | None) -> httpx.Response:
        headers = {"X-Vault-Token": token} if token else {}
        try:
            return self._http.post(f"/v1/{path}", json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise errors.StoreError(f"Vault at {self.vault.addr} is unreachable ({type(exc).__name__})",
                                    hint=self._where()) from None

    def _answer(self, resp: httpx.Response) -> dict[str, Any]:
        answer = _object(resp)
        if answer is None:
            raise errors.StoreError(f"the server at {self.vault.addr} did not answer like Vault", hint=self._where())
        return answer

    def _where(self) -> str:
        return f"your Vault's address comes from {self.vault.source}; set CUSTODY_VAULT_ADDR to change it"
