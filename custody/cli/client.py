"""HTTP client of the custody API (and of Vault for the one unwrap a reveal needs)."""

from __future__ import annotations

from typing import Any

import httpx

from custody import errors
from custody.config import client_token, custody_addr

_BY_STATUS: dict[int, type[errors.CustodyError]] = {
    400: errors.ValidationError,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    409: errors.Conflict,
    412: errors.PreconditionFailed,
    413: errors.ValidationError,
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
                            hint="check CUSTODY_ADDR points at the custody server")
    err.retryable = False
    return err


def _raise(resp: httpx.Response, addr: str) -> None:
    body = _object(resp)
    if body is None or not isinstance(body.get("errors"), list):
        raise _not_custody(resp, addr)
    messages = [str(m) for m in body["errors"]]
    message = messages[0] if messages else f"HTTP {resp.status_code}"
    hint = next((m.removeprefix("hint: ") for m in messages[1:] if m.startswith("hint: ")), None)
    cls = _BY_STATUS.get(resp.status_code, errors.StoreError if resp.status_code >= 500 else errors.CustodyError)
    if "exhausted" in message or "no codes left" in message:
        cls = errors.Exhausted
    raise cls(message, hint)


class Client:
    def __init__(self, addr: str | None = None, token: str | None = None, timeout: float = 30.0) -> None:
        self.addr = (addr or custody_addr()).rstrip("/")
        self._token = token if token is not None else client_token()
        self._http = httpx.Client(base_url=self.addr, timeout=timeout)

    def __repr__(self) -> str:
        return f"Client(addr={self.addr!r})"

    @property
    def token(self) -> str:
        if not self._token:
            raise errors.AuthError("no Vault token", hint="set VAULT_TOKEN (or BAO_TOKEN), or run `bao login`")
        return self._token

    def call(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        try:
            resp = self._http.request(method, f"/v1/custody/{path}", json=json, params=params,
                                      headers={"X-Vault-Token": self.token})
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
        """Unwrap with the caller's own token, so Vault's audit log names who took the code."""
        try:
            resp = httpx.post(f"{vault_addr.rstrip('/')}/v1/sys/wrapping/unwrap", json={"token": wrapping_token},
                              headers={"X-Vault-Token": self.token}, timeout=30)
        except httpx.HTTPError as exc:
            raise errors.StoreError(f"Vault at {vault_addr} is unreachable ({type(exc).__name__})",
                                    hint="set CUSTODY_VAULT_ADDR to the Vault address") from None
        if resp.status_code >= 400:
            raise errors.PreconditionFailed(
                "the wrapping token could not be unwrapped (expired, already used, or not yours)",
                hint="if you did not unwrap it, someone else may have: tell the security team now",
            )
        answer = _object(resp)
        if answer is None:
            raise errors.StoreError(f"the server at {vault_addr} did not answer like Vault",
                                    hint="set CUSTODY_VAULT_ADDR to the Vault address")
        body = answer.get("data") or {}
        return dict(body.get("data") or body)
