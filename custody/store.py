"""The Vault/OpenBao adapter: the only module that talks to Vault.

It does four things: identify callers (``auth/token/lookup-self``), ask Vault what their policies allow
(``sys/capabilities-self``), keep custody's state in a KV v2 mount with check-and-set on every write (the
``custody.repo.kv.KV`` port), and hand out codes through response wrapping. hvac and HTTP errors never leave this
module: they become ``StoreError`` and friends, with messages that never hold a token or a secret value.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode, urljoin, urlsplit

import certifi
import hvac
import hvac.exceptions
import hvac.utils
import orjson
import urllib3
import urllib3.exceptions

from custody.domain.models import Principal
from custody.errors import AuthError, CasConflict, CustodyError, NotFound, PreconditionFailed, StoreError
from custody.logging import get_logger
from custody.repo.kv import KVEntry, WrapInfo

log = get_logger("custody.store")

_ENTITY_ID = re.compile(r"[A-Za-z0-9-]{1,64}")  # Vault's entity ids are UUIDs
# Errors worth retrying: the active node changed, the node is sealed or standby, or the network blipped.
_RETRY_STATUS = {429, 500, 502, 503}
_RETRY_ERRORS = (hvac.exceptions.InternalServerError, hvac.exceptions.BadGateway,
                 hvac.exceptions.RateLimitExceeded)


def _translate(exc: Exception, what: str) -> CustodyError:
    """hvac/urllib3 errors -> custody errors, without the response text (it could echo secrets)."""
    if isinstance(exc, CustodyError):  # already said in custody's words
        return exc
    # Retrying will not make a certificate trusted. Other TLS errors of the store's own connections (a connection
    # closed mid-handshake or mid-answer: SSLEOFError, SSLZeroReturnError) are Vault being unreachable, below.
    if isinstance(exc, urllib3.exceptions.SSLError | ssl.SSLCertVerificationError):
        err = StoreError(f"TLS to Vault failed: its certificate is not trusted ({what})",
                         hint="set CUSTODY_VAULT_CACERT to the CA bundle that signed Vault's certificate")
        err.retryable = False
        return err
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError):  # refused, reset, timed out, name unknown
        return StoreError(f"Vault is unreachable ({what})", hint="check VAULT_ADDR and that Vault is running")
    if isinstance(exc, hvac.exceptions.VaultDown):
        return StoreError(f"Vault is sealed or down ({what})", hint="unseal Vault, then retry")
    if isinstance(exc, hvac.exceptions.VaultNotInitialized):
        return StoreError(f"Vault is not initialized ({what})")
    if isinstance(exc, hvac.exceptions.InvalidPath):
        return NotFound(f"not found ({what})")
    if isinstance(exc, hvac.exceptions.Forbidden):
        return StoreError(f"the custody service's Vault token was refused ({what})",
                          hint="check the custody-service policy and AppRole")
    if isinstance(exc, hvac.exceptions.VaultError):
        errors = "; ".join(str(e) for e in (exc.errors or []))[:200]
        if "check-and-set" in errors:
            return CasConflict(f"concurrent update ({what})", hint="retry")
        err = StoreError(f"Vault refused {what}: {errors or type(exc).__name__}")
        # hvac's exceptions carry no status code: the class is the status (500, 502, 429 here).
        err.retryable = isinstance(exc, _RETRY_ERRORS) or getattr(exc, "status_code", 0) in _RETRY_STATUS
        if err.retryable:
            err.hint = ("retry in a moment; if it persists, read Vault's server log (a Vault whose audit device "
                        "cannot write refuses every request)")
        return err
    return StoreError(f"unexpected error talking to Vault ({what}): {type(exc).__name__}")


def _invalid_token() -> AuthError:
    return AuthError("your Vault token is invalid or expired", hint="run `bao login` again")


# Follow a standby's redirect to the active node (307/308 keep the method and body); never retry by itself:
# retries are Store._call's, with backoff and failover.
_REDIRECTS = urllib3.util.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=3,
                                raise_on_redirect=True, raise_on_status=False)
_REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
_PLAIN_TARGET = re.compile(r"[A-Za-z0-9/._~!$&'()*+,;=:@%?-]*")  # a request target sent as it is
_MAX_HEAD = 64 * 1024  # a response's status line and headers, at most
_IDLE_CONNECTIONS = 64  # kept open per Vault address


class _Answer(NamedTuple):
    status: int
    content_type: str
    data: bytes
    location: str | None


class _Connection:
    """One keep-alive HTTP/1.1 connection to Vault, and what it has read past the last answer (nothing, with a
    server that speaks HTTP/1.1 without pipelining)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def dropped(self) -> bool:
        """Whether the server closed it while it was idle (or sent something unasked): not to be reused."""
        try:
            return bool(select.select([self.sock], [], [], 0)[0]) or self.buf != b""
        except (OSError, ValueError):
            return True

    def _recv(self, size: int) -> bytes:
        """Up to ``size`` more bytes of the answer; the answer cut short if the server closed the connection."""
        chunk = self.sock.recv(size)
        if not chunk:
            raise urllib3.exceptions.ProtocolError("Vault closed the connection before its answer was complete")
        return chunk

    def fill(self) -> None:
        self.buf += self._recv(65536)

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes. A body longer than what was read is received in pieces and joined once: appending
        each piece to the buffer would copy it again for every piece (quadratic in the body's size)."""
        if len(self.buf) < n:
            parts, have = [self.buf], len(self.buf)
            while have < n:
                chunk = self._recv(max(65536, min(n - have, 1 << 20)))
                parts.append(chunk)
                have += len(chunk)
            self.buf = b"".join(parts)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            if len(self.buf) > _MAX_HEAD:
                raise urllib3.exceptions.ProtocolError("Vault sent a line too long")
            self.fill()
        out, self.buf = self.buf[:end], self.buf[end + 2:]
        return out

    def read_answer(self, method: str) -> tuple[int, dict[str, str], bytes, bool]:
        """Status, headers (lower-case names), body, and whether the connection may be used again."""
        while True:
            while (end := self.buf.find(b"\r\n\r\n")) < 0:
                if len(self.buf) > _MAX_HEAD:
                    raise urllib3.exceptions.ProtocolError("Vault's answer has headers too long")
                self.fill()
            head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4:]
            status_line, *lines = head.split("\r\n")
            version, _, rest = status_line.partition(" ")
            code = rest[:3]
            if not version.startswith("HTTP/1.") or not code.isdigit():
                raise urllib3.exceptions.ProtocolError("the server did not answer in HTTP/1.1")
            status = int(code)
            if status >= 200 or status == 101:
                break  # (a 1xx before the answer is skipped)
        fields: dict[str, str] = {}
        for item in lines:
            name, _, value = item.partition(":")
            key = name.strip().lower()
            fields[key] = f"{fields[key]}, {value.strip()}" if key in fields else value.strip()
        keep = version == "HTTP/1.1" and "close" not in fields.get("connection", "").lower()
        if method == "HEAD" or status in (204, 304) or status < 200:
            return status, fields, b"", keep
        if "chunked" in fields.get("transfer-encoding", "").lower():
            return status, fields, self._chunks(), keep
        length = fields.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise urllib3.exceptions.ProtocolError("Vault sent a bad Content-Length")
            return status, fields, self.take(int(length)), keep
        return status, fields, self._to_the_end(), False

    def _chunks(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size_text = self.line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise urllib3.exceptions.ProtocolError("Vault sent a bad chunk") from None
            if size == 0:
                while self.line():  # trailer fields, up to the empty line
                    pass
                return b"".join(parts)
            parts.append(self.take(size))
            self.take(2)

    def _to_the_end(self) -> bytes:
        parts = [self.buf]
        while chunk := self.sock.recv(65536):
            parts.append(chunk)
        self.buf = b""
        return b"".join(parts)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class _Transport:
    """One Vault address, spoken to over keep-alive connections of its own; hvac maps every error status to its
    exceptions.

    HTTP/1.1 is written and read here, directly on the socket: a Vault call is a request line, a few headers and a
    small JSON body, answered with a Content-Length or chunked body. A general client costs several times more CPU
    per call (requests, about 200 µs more than urllib3 for session and cookie merging and hooks; urllib3, about
    400 µs more than this for its pool and retry machinery and http.client's header parsing by the email package),
    and a reveal makes ten calls. The request goes out in one write (headers and body), so Vault never waits for a
    body sent apart. Redirects (a standby naming the active node) are rare, and go through urllib3, which knows
    them. Proxy variables and ~/.netrc are not consulted: custody talks to the address it was given, directly.
    """

    def __init__(self, base_uri: str, pool: urllib3.PoolManager, timeout: float, tls: ssl.SSLContext) -> None:
        self.base_uri = base_uri
        self._pool = pool
        url = urlsplit(base_uri)
        self._https = url.scheme == "https"
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port or (443 if self._https else 80)
        self._host_header = url.netloc.rpartition("@")[2].encode("latin-1")
        self._tls = tls  # the Store's, made with the same CA rules as its urllib3 pool
        self._idle: list[_Connection] = []  # append and pop are atomic: no lock
        self._prefix = url.path.rstrip("/")
        self._seconds = timeout

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None, json: Any = None,
                params: dict[str, Any] | None = None, wrap_ttl: str | None = None,
                time_left: float | None = None) -> dict[str, Any]:
        """One HTTP call; the JSON answer (``{}`` when there is none), or an hvac exception for an error status.
        ``time_left`` shortens the timeout when the caller's deadline is nearer."""
        head = {"X-Vault-Request": "true", **(headers or {})}
        if wrap_ttl:
            head["X-Vault-Wrap-TTL"] = wrap_ttl
        body = None
        if json is not None:
            body = orjson.dumps(json)
            head["Content-Type"] = "application/json"
        target = url + (f"?{urlencode(params)}" if params else "")
        full = self.base_uri + target
        seconds = self._seconds if time_left is None else min(time_left, self._seconds)
        try:
            answer = self._exchange(method, self._prefix + target, head, body, seconds)
            if answer.location:
                timeout = urllib3.util.Timeout(connect=seconds, read=seconds)
                resp = self._pool.urlopen(method, urljoin(full, answer.location), body=body, headers=head,
                                          timeout=timeout, retries=_REDIRECTS)
                answer = _Answer(resp.status, resp.headers.get("Content-Type") or "", resp.data, None)
        except urllib3.exceptions.MaxRetryError as exc:
            raise (exc.reason or exc) from None
        return self._json(method, full, answer)

    def _exchange(self, method: str, target: str, head: dict[str, str], body: bytes | None,
                  seconds: float) -> _Answer:
        if _PLAIN_TARGET.fullmatch(target) is None:
            target = quote(target, safe="/:@!$&'()*+,;=?%~")
        lines = [f"{method} {target} HTTP/1.1".encode("latin-1"), b"Host: " + self._host_header,
                 b"User-Agent: custody", b"Accept-Encoding: identity"]
        for name, value in head.items():
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name} holds a line break")
            lines.append(f"{name}: {value}".encode("latin-1"))
        lines.append(b"Content-Length: %d" % len(body or b""))
        data = b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")
        conn = self._connection(seconds)
        try:
            conn.sock.settimeout(seconds)
            conn.sock.sendall(data)
            status, fields, payload, keep = conn.read_answer(method)
        except BaseException:
            conn.close()
            raise
        if keep and len(self._idle) < _IDLE_CONNECTIONS:
            self._idle.append(conn)
        else:
            conn.close()
        location = fields.get("location") if status in _REDIRECT_STATUS else None
        return _Answer(status, fields.get("content-type", ""), payload, location or None)

    def _connection(self, seconds: float) -> _Connection:
        """An idle connection still open, or a new one."""
        while True:
            try:
                conn = self._idle.pop()
            except IndexError:
                break
            if not conn.dropped():
                return conn
            conn.close()
        sock = socket.create_connection((self._host, self._port), timeout=seconds)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._https:
                sock = self._tls.wrap_socket(sock, server_hostname=self._host)
        except BaseException:
            sock.close()
            raise
        return _Connection(sock)

    def _json(self, method: str, full: str, answer: _Answer) -> dict[str, Any]:
        data = answer.data
        parsed: Any = None
        if data and "json" in answer.content_type:
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                parsed = None
        if answer.status >= 400:
            errors = parsed.get("errors") if isinstance(parsed, dict) else None
            text = data.decode("utf-8", "replace")
            hvac.utils.raise_for_error(method, full, answer.status, None if errors else text, errors=errors,
                                       text=text, json=parsed)
        if answer.status == 200 and not isinstance(parsed, dict):
            # Not Vault (a web page, a proxy's answer): taking it for "no data" would report records missing.
            err = StoreError(f"the server at {self.base_uri} did not answer like Vault (HTTP 200 without JSON)",
                             hint="check CUSTODY_VAULT_ADDR points at Vault/OpenBao itself")
            err.retryable = False
            raise err
        return parsed if isinstance(parsed, dict) else {}


class Store:
    """Vault access for the service. Thread-safe; one instance per process."""

    def __init__(
        self,
        addr: str,
        mount: str = "custody-kv",
        verify: bool | str = True,
        timeout: float = 10.0,
        retries: int = 6,
        retry_base: float = 0.1,
        deadline: float = 20.0,
    ) -> None:
        # ``addr`` may list several nodes of one cluster ("http://a:8200,http://b:8200"): a call that finds its node
        # gone or not active moves on to the next one. One address behaves exactly as before.
        self.addrs = [a.strip().rstrip("/") for a in addr.split(",") if a.strip()] or [addr.rstrip("/")]
        self.addr = self.addrs[0]
        self.mount = mount
        self.retries = retries
        self.retry_base = retry_base
        # One call, retries included, gives up after ``deadline`` seconds: a Vault that accepts connections but
        # never answers must not hold a request for retries x timeout (the CLI gives up at 30 s).
        self.deadline = deadline
        # A CA bundle named the way requests and curl read it is honoured when no CA was configured.
        if verify is True:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        tls: dict[str, Any] = {"cert_reqs": "CERT_NONE"} if verify is False else {
            "cert_reqs": "CERT_REQUIRED", "ca_certs": certifi.where() if verify is True else verify}
        self._pool = urllib3.PoolManager(num_pools=8, maxsize=64, **tls)
        context = ssl.create_default_context(cafile=tls.get("ca_certs"))
        if verify is False:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        self._adapters = [_Transport(a, self._pool, timeout, context) for a in self.addrs]
        self._http = self._adapters[0]
        self._token: str | None = None
        self._token_expires = 0.0
        self._login: Callable[[], tuple[str, int]] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Store(addr={self.addr!r}, mount={self.mount!r})"

    # ---- the service's own identity -------------------------------------------------------------------------
    def use_approle(self, role_id: str, secret_id: str | Callable[[], str], mount: str = "approle") -> None:
        """Log in with AppRole now, and again whenever the token nears its end.

        ``secret_id`` may be a function (e.g. one that reads a file): it is called at every login, so a secret_id
        rotated on disk is picked up at the next login without a restart.
        """

        def login() -> tuple[str, int]:
            current = secret_id() if callable(secret_id) else secret_id
            resp = self._http.request(
                "POST", f"/v1/auth/{mount}/login", json={"role_id": role_id, "secret_id": current},
                headers={"X-Vault-Token": ""},
            )
            auth = resp["auth"]
            return auth["client_token"], int(auth.get("lease_duration") or 3600)

        self._login = login
        self._refresh(force=True)

    def use_token(self, token: str) -> None:
        """For tools and tests that run with a given token (never the server's production path)."""
        self._token, self._token_expires, self._login = token, float("inf"), None

    def _refresh(self, force: bool = False) -> str:
        with self._lock:
            if self._login and (force or time.monotonic() > self._token_expires):
                try:
                    token, ttl = self._login()
                except CustodyError:
                    raise
                except Exception as exc:
                    raise _translate(exc, "AppRole login") from None
                self._token, self._token_expires = token, time.monotonic() + max(ttl * 0.8, 5)
                log.info("vault.login", method="approle", ttl=ttl)
            if not self._token:
                raise StoreError("the custody service has no Vault token", hint="configure the AppRole")
            return self._token

    # ---- low level ------------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, token: str | None = None, what: str, **kw: Any) -> Any:
        """One Vault call with bounded retries on transient errors (5xx, standby, sealed during failover)."""
        delay = self.retry_base
        give_up = time.monotonic() + self.deadline
        for attempt in range(self.retries + 1):
            tok = token if token is not None else self._refresh()
            try:
                left = max(give_up - time.monotonic(), 0.1)
                return self._http.request(method, f"/v1/{path}", headers={"X-Vault-Token": tok}, time_left=left,
                                          **kw)
            except hvac.exceptions.Forbidden as exc:
                if token is not None:  # a caller's own token, refused: revoked, expired or never valid
                    raise _invalid_token() from None
                if self._login and attempt == 0 and "permission denied" in str(exc):
                    self._refresh(force=True)  # our token may have expired early (revoked, restart)
                    continue
                raise _translate(exc, what) from None
            except Exception as exc:
                err = _translate(exc, what)
                # A lost check-and-set race stays lost on a retry: the caller re-reads (with_cas_retry).
                if (not err.retryable or isinstance(err, CasConflict) or attempt == self.retries
                        or time.monotonic() + delay >= give_up):
                    raise err from None
                self._failover(attempt)
                log.warning("vault.retry", what=what, attempt=attempt + 1, error=err.message, addr=self.addr)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        raise StoreError(f"Vault did not answer ({what})")  # pragma: no cover - loop always returns or raises

    def _failover(self, attempt: int) -> None:
        """After a transient error, try the next node (if several are configured) before backing off."""
        if len(self._adapters) > 1:
            with self._lock:
                i = (self._adapters.index(self._http) + 1) % len(self._adapters)
                self._http, self.addr = self._adapters[i], self.addrs[i]

    # ---- callers ----------------------------------------------------------------------------------------------
    def lookup_caller(self, token: str) -> Principal:
        return self.lookup(token)[0]

    def lookup(self, token: str) -> tuple[Principal, int]:
        """The caller Vault names for ``token``, and the seconds the token has left (0: it does not expire)."""
        if not token:
            raise AuthError("no Vault token given", hint="set VAULT_TOKEN or run `bao login`")
        try:
            data = self._call("GET", "auth/token/lookup-self", token=token, what="token lookup")["data"]
        except NotFound:
            raise _invalid_token() from None
        try:
            ttl = int(data.get("ttl") or 0)
        except (TypeError, ValueError):
            ttl = 0
        return Principal.from_lookup(data), ttl

    def capabilities(self, token: str, path: str) -> set[str]:
        """What the caller's policies allow on ``path``, asked with the caller's own token."""
        return self.capabilities_many(token, [path])[path]

    def capabilities_many(self, token: str, paths: list[str]) -> dict[str, set[str]]:
        """What the caller's policies allow on each path, in one call asked with the caller's own token (so a
        revoked or expired token is refused here, on every request; a page asks about all it could offer)."""
        if not paths:
            return {}
        asked = sorted(set(paths))
        data = self._call("POST", "sys/capabilities-self", token=token, json={"paths": asked},
                          what="capability check")
        body = data.get("data") or data
        # one path: Vault also answers it as ``capabilities``
        alone = (body.get("capabilities") or []) if len(asked) == 1 else []
        return {p: {str(c) for c in (body.get(p) or alone)} for p in paths}

    # ---- people signing in, and unwrapping with their own token (the web console) ----------------------------
    def login(self, mount: str, username: str, password: str) -> tuple[str, int]:
        """A person's token from a password auth method (``auth/<mount>/login/<username>``: userpass, LDAP), and
        its TTL. Sent without any token: the service's own is never part of someone else's sign-in."""
        return self._person("POST", f"auth/{mount}/login/{username}", {"password": password}, None, mount)

    def oidc_auth_url(self, mount: str, role: str, redirect_uri: str, client_nonce: str) -> str:
        """Where to send a person to sign in with the OIDC provider that ``auth/<mount>`` trusts ("" if Vault
        refuses the redirect URI: it is not among the role's ``allowed_redirect_uris``)."""
        body = {"role": role, "redirect_uri": redirect_uri, "client_nonce": client_nonce}
        try:
            resp = self._call("POST", f"auth/{mount}/oidc/auth_url", token="", json=body, what="OIDC sign-in")
        except StoreError as exc:
            raise self._refused_signin(exc, mount) from None
        return str((resp.get("data") or {}).get("auth_url") or "")

    def oidc_callback(self, mount: str, state: str, code: str, client_nonce: str) -> tuple[str, int]:
        """The person's token once the provider sent them back with ``state`` and ``code``, and its TTL."""
        params = {"state": state, "code": code, "client_nonce": client_nonce}
        return self._person("GET", f"auth/{mount}/oidc/callback", None, params, mount)

    def _person(self, method: str, path: str, body: dict[str, Any] | None, params: dict[str, str] | None,
                mount: str) -> tuple[str, int]:
        try:
            resp = self._call(method, path, token="", json=body, params=params, what=f"sign-in ({mount})")
        except StoreError as exc:
            raise self._refused_signin(exc, mount) from None
        except (AuthError, NotFound):
            raise AuthError("Vault refused the sign-in", hint="check the name and password, or the sign-in method")\
                from None
        auth = resp.get("auth") or {}
        token = auth.get("client_token")
        if not isinstance(token, str) or not token:
            raise AuthError("Vault signed nobody in", hint="this auth method needs more than a password (MFA?)")
        return token, int(auth.get("lease_duration") or 0)

    @staticmethod
    def _refused_signin(exc: StoreError, mount: str) -> CustodyError:
        if exc.retryable:
            return exc
        # Vault's own words ("invalid username or password", "ldap operation failed") tell an attacker nothing
        # the plain refusal does not; they go to the log, not to the page.
        log.info("vault.signin_refused", mount=mount, error=exc.message)
        return AuthError("Vault refused the sign-in", hint="check the name and password, or the sign-in method")

    def revoke_self(self, token: str) -> None:
        """Revoke a person's token with itself (``auth/token/revoke-self``): signing out."""
        with contextlib.suppress(AuthError):  # already revoked or expired: signed out either way
            self._call("POST", "auth/token/revoke-self", token=token, what="sign-out")

    def unwrap(self, token: str, wrapping_token: str) -> dict[str, Any]:
        """Unwrap ``wrapping_token`` with a person's own ``token`` (so Vault's audit log names who took what it
        held); the wrapped answer's ``data``."""
        try:
            resp = self._call("POST", "sys/wrapping/unwrap", token=token, json={"token": wrapping_token},
                              what="unwrap")
        except StoreError as exc:
            if exc.retryable:
                raise
            raise PreconditionFailed("the wrapping token could not be unwrapped (expired, or already used)",
                                     hint="if you did not unwrap it, someone else may have: tell the security team"
                                     ) from None
        data = resp.get("data")
        return data if isinstance(data, dict) else {}

    def entity_email(self, entity_id: str) -> str | None:
        """The ``email`` metadata of a Vault entity, read with the service's token (its policy reads
        ``identity/entity/id/+``, nothing else of the identity store)."""
        if not _ENTITY_ID.fullmatch(entity_id):
            return None
        try:
            data = self._call("GET", f"identity/entity/id/{entity_id}", what="entity lookup").get("data") or {}
        except NotFound:
            return None
        email = (data.get("metadata") or {}).get("email")
        return str(email) if email else None

    # ---- KV v2 ------------------------------------------------------------------------------------------------
    def read(self, path: str, version: int | None = None) -> KVEntry | None:
        params = {"version": version} if version else None
        try:
            resp = self._call("GET", f"{self.mount}/data/{path}", params=params, what=f"read {path}")
        except NotFound:
            return None
        body = resp.get("data") or {}
        if body.get("data") is None:  # deleted or destroyed version
            return None
        return KVEntry(data=body["data"], version=int(body["metadata"]["version"]))

    def write(self, path: str, data: dict[str, Any], cas: int) -> int:
        """Write with check-and-set: ``cas=0`` creates only, ``cas=N`` updates only version N."""
        resp = self._call("POST", f"{self.mount}/data/{path}", json={"data": data, "options": {"cas": cas}},
                          what=f"write {path}")
        return int(resp["data"]["version"])

    def list_keys(self, path: str) -> list[str]:
        try:
            resp = self._call("LIST", f"{self.mount}/metadata/{path}", what=f"list {path}")
        except NotFound:
            return []
        return [str(k) for k in resp.get("data", {}).get("keys", [])]

    def metadata(self, path: str) -> dict[str, Any] | None:
        try:
            return dict(self._call("GET", f"{self.mount}/metadata/{path}", what=f"metadata {path}")["data"])
        except NotFound:
            return None

    def current_version(self, path: str) -> int:
        """The key's current version number (0: none), whether or not that version's data still exists."""
        meta = self.metadata(path)
        return int(meta.get("current_version") or 0) if meta else 0

    def write_custom_metadata(self, path: str, custom: dict[str, str], metadata_cas: int) -> None:
        """Replace a key's custom_metadata, only if its metadata is still at ``metadata_cas`` (OpenBao)."""
        self._call("POST", f"{self.mount}/metadata/{path}",
                   json={"custom_metadata": custom, "metadata_cas": metadata_cas}, what=f"metadata {path}")

    def destroy_versions(self, path: str, versions: list[int]) -> None:
        if versions:
            self._call("POST", f"{self.mount}/destroy/{path}", json={"versions": versions},
                       what=f"destroy {path}")

    def delete_all(self, path: str) -> None:
        """Delete the metadata and every version for good."""
        self._call("DELETE", f"{self.mount}/metadata/{path}", what=f"delete {path}")

    # ---- the service token's cubbyhole, and wrapping ---------------------------------------------------------
    def stage(self, path: str, data: dict[str, Any]) -> None:
        self._call("POST", f"cubbyhole/{path}", json=data, what=f"stage {path}")

    def wrap_staged(self, path: str, ttl: timedelta) -> WrapInfo:
        """Read a cubbyhole entry into a single-use wrapping token. Vault's answer holds the token, not the data, so
        this read adds no copy of it here; a reveal's code is in this process anyway (it read the code set and
        staged the entry: docs/threat-model.md, "What the service sees and keeps")."""
        resp = self._call("GET", f"cubbyhole/{path}", wrap_ttl=f"{int(ttl.total_seconds())}s", what=f"wrap {path}")
        info = resp.get("wrap_info") or {}
        if not info.get("token"):
            raise NotFound(f"nothing staged to wrap ({path})")
        return WrapInfo(token=info["token"], accessor=info.get("accessor", ""), ttl=int(info.get("ttl", 0)),
                        creation_time=str(info.get("creation_time", "")))

    def unstage(self, path: str) -> None:
        self._call("DELETE", f"cubbyhole/{path}", what=f"unstage {path}")

    def revoke_wrapping(self, accessor: str) -> bool:
        """``auth/token/revoke-accessor``: Vault answers 204, or 200 with a warning when it knows no such token."""
        resp = self._call("POST", "auth/token/revoke-accessor", json={"accessor": accessor},
                          what="revoke a wrapping token")
        return not any("no token found" in str(w).lower() for w in resp.get("warnings") or [])

    # ---- transit (the evidence pack's signing key) ------------------------------------------------------------
    def transit_sign(self, mount: str, key: str, data: bytes) -> tuple[int, bytes]:
        """Sign ``data`` with transit key ``key`` (ed25519: the signature is over the bytes themselves); the key
        version used and the raw signature."""
        resp = self._call("POST", f"{mount}/sign/{key}", json={"input": base64.b64encode(data).decode()},
                          what="sign an evidence pack")
        text = str((resp.get("data") or {}).get("signature") or "")
        prefix, _, rest = text.partition(":")
        version, _, sig = rest.partition(":")
        if prefix != "vault" or not version.startswith("v") or not version[1:].isdigit() or not sig:
            raise StoreError("Vault answered a transit signature custody cannot read")
        return int(version[1:]), base64.b64decode(sig)

    def transit_public_keys(self, mount: str, key: str) -> dict[int, bytes]:
        """Every version of transit key ``key``'s public half, raw."""
        resp = self._call("GET", f"{mount}/keys/{key}", what="read the evidence signing key")
        data = resp.get("data") or {}
        if data.get("type") != "ed25519":
            raise StoreError(f"the transit key {mount}/keys/{key} is not an ed25519 key",
                             hint="evidence packs are signed with ed25519; see docs/evidence.md")
        return {int(v): base64.b64decode(k["public_key"]) for v, k in (data.get("keys") or {}).items()}

    # ---- health -----------------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Each node's ``sys/health``, and whether Vault serves an audited request with the service's token.

        The second matters because a node can be up and unsealed yet refuse every request: OpenBao fails a request
        that no audit device could log (disk full, log unwritable). ``serving`` is false then.
        """
        nodes = [self._node_health(a) for a in self.addrs]
        best = next((n for n in nodes if n["reachable"] and not n["sealed"]), nodes[0])
        out = {k: best[k] for k in ("reachable", "sealed", "initialized", "standby")}
        out["serving"] = bool(best["reachable"] and not best["sealed"] and self._serving(best["addr"]))
        if best["reachable"] and not best["sealed"] and not out["serving"]:
            out["problem"] = "Vault refuses requests: is its audit device able to write?"
        if len(nodes) > 1:
            out["nodes"] = nodes
        return out

    def _node_health(self, addr: str) -> dict[str, Any]:
        try:
            resp = self._pool.request("GET", f"{addr}/v1/sys/health?standbyok=true&perfstandbyok=true", timeout=3.0,
                                      retries=False)
            body = orjson.loads(resp.data)
            return {"addr": addr, "reachable": True, "sealed": bool(body.get("sealed")),
                    "initialized": bool(body.get("initialized")), "standby": bool(body.get("standby"))}
        except Exception:
            return {"addr": addr, "reachable": False, "sealed": None, "initialized": None, "standby": None}

    def _serving(self, addr: str) -> bool:
        if self._token is None and self._login is None:
            return True  # no identity to test with (tools); sys/health is all we can say
        try:
            token = self._refresh()
            # The mount's config: a read the service's policy allows (its token has no `default` policy, so no
            # lookup-self), and audited like every request.
            resp = self._pool.request("GET", f"{addr}/v1/{self.mount}/config", timeout=3.0, retries=False,
                                      headers={"X-Vault-Token": token})
            return resp.status == 200
        except Exception:
            return False
