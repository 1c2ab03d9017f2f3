"""What every router shares: the caller's token (a FastAPI dependency), Vault's answer envelope, the error
answers, and the request-context middleware."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custody.errors import AuthError, CustodyError, UnknownAccount
from custody.logging import get_logger, scrub

log = get_logger("custody.api")

LIST = ["GET", "LIST"]  # Vault's CLI lists with LIST; curl and browsers with GET ?list=true
WRITE = ["POST", "PUT"]
JSONObject = dict[str, object]

_TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")


# ---- the caller's token ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    """The caller's token as the request carried it: ``X-Vault-Token``, or ``Authorization: Bearer``.

    Checked when a route asks for ``.token``, after FastAPI validated the rest of the request (as Vault does: a
    malformed body is a 400 whoever sends it)."""

    x_vault_token: str | None
    authorization: str | None

    def __repr__(self) -> str:  # a bearer secret
        return "Credentials(...)"

    @property
    def token(self) -> str:
        token = (self.x_vault_token or "").strip()
        auth = self.authorization
        if not token and auth and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        if not token:
            raise AuthError("missing client token", hint="send X-Vault-Token (set VAULT_TOKEN for the CLI)")
        if _TOKEN.fullmatch(token) is None:  # refused here: Vault would answer 400, which reads as Vault being down
            raise AuthError("malformed client token", hint="a Vault token is visible ASCII without spaces")
        return token


async def credentials(
    x_vault_token: Annotated[str | None, Header(alias="X-Vault-Token", include_in_schema=True)] = None,
    authorization: Annotated[str | None, Header(alias="Authorization", include_in_schema=False)] = None,
) -> Credentials:
    return Credentials(x_vault_token, authorization)


Caller = Annotated[Credentials, Depends(credentials)]


# ---- answers ---------------------------------------------------------------------------------------------------
def envelope(request: Request, data: object, wrap_info: JSONObject | None = None) -> JSONObject:
    """Vault's answer envelope around ``data``."""
    return {"request_id": request.state.request_id, "lease_id": "", "renewable": False, "lease_duration": 0,
            "data": data, "wrap_info": wrap_info, "warnings": None, "auth": None}


def error_response(status: int, messages: list[str], request_id: str = "") -> JSONResponse:
    return JSONResponse({"errors": messages}, status_code=status,
                        headers={"X-Request-Id": request_id} if request_id else None)


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


async def _custody_error(request: Request, exc: CustodyError) -> JSONResponse:
    if exc.status >= 500:
        log.error("request.failed", error=exc.message, error_code=exc.code)
    # Messages may quote what the caller sent (a bad grant id, an account name): never echo a token or code.
    messages = [scrub(exc.message)] + ([f"hint: {exc.hint}"] if exc.hint else [])
    return error_response(exc.status, messages, _request_id(request))


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    loc = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
    return error_response(400, [f"invalid request: {loc} {first.get('msg', '')}".strip()], _request_id(request))


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    message = {404: "unsupported path", 405: "unsupported operation"}.get(exc.status_code, str(exc.detail))
    return error_response(exc.status_code, [message], _request_id(request))


async def _crash(request: Request, exc: Exception) -> JSONResponse:
    log.error("request.crashed", error_type=type(exc).__name__)
    return error_response(500, ["internal error; see the server log for the request id"], _request_id(request))


Suggest = Callable[[str, str], list[str]]  # (token, unknown account id) -> accounts the caller may have meant


def _with_suggestion(request: Request, exc: UnknownAccount, suggest: Suggest) -> CustodyError:
    """The unknown account's error, with the accounts the caller may have meant in its hint (if any)."""
    try:
        token = Credentials(request.headers.get("x-vault-token"), request.headers.get("authorization")).token
        close = suggest(token, exc.account_id)
    except CustodyError:  # no suggestion is worth a second error
        return exc
    return UnknownAccount(exc.account_id, hint=f"did you mean {' or '.join(close)}?") if close else exc


def install_error_handlers(app: FastAPI, suggest: Suggest | None = None) -> None:
    """Every error becomes Vault's ``{"errors": [...]}`` with the status the error carries. ``suggest``: what
    an unknown account's answer suggests (``custody.usecases.accounts.Accounts.suggest``)."""
    app.exception_handler(CustodyError)(_custody_error)
    app.exception_handler(RequestValidationError)(_invalid)
    app.exception_handler(StarletteHTTPException)(_http_error)
    app.exception_handler(Exception)(_crash)
    if suggest is not None:
        async def unknown_account(request: Request, exc: UnknownAccount) -> JSONResponse:
            return await _custody_error(request, await run_in_threadpool(_with_suggestion, request, exc, suggest))

        app.exception_handler(UnknownAccount)(unknown_account)


# ---- the request context ---------------------------------------------------------------------------------------
class RequestContext:
    """Each request's id (answer header, logs, envelope), the body-size rules, the content type Vault's CLI leaves
    out, a trailing slash, ``Cache-Control: no-store`` on every answer, and the access-log line.

    A path with a trailing slash (``bao list custody/accounts/``) is answered as the path without it, as Vault
    does, never redirected: a redirect would be an absolute URL built from the request's own Host header, which
    anyone can set (``Host: evil.example`` gave ``Location: http://evil.example/...``). No answer builds a URL from
    what the request says about itself.

    Plain ASGI: Starlette's ``BaseHTTPMiddleware`` ran every request through an extra task and memory streams,
    about a tenth of the server's CPU per request.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id  # what ``request.state.request_id`` reads
        _without_trailing_slash(scope)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-Id"] = request_id
                headers["Cache-Control"] = "no-store"
            await send(message)

        headers = Headers(scope=scope)
        refused = self._refusal(headers, request_id)
        if refused is not None:
            await refused(scope, receive, send_with_headers)
            return
        if scope["method"] in ("POST", "PUT", "PATCH") and \
                not headers.get("content-type", "").startswith("application/json"):
            # Like Vault, every body is JSON: the bao/vault CLI sends none (or, to patch, a JSON merge patch), and
            # `curl -d` says it is a form.
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
            scope["headers"].append((b"content-type", b"application/json"))
        start = time.perf_counter()
        await self.app(scope, receive, send_with_headers)
        log.info("http", method=scope["method"], path=scope["path"], status=status,
                 ms=round((time.perf_counter() - start) * 1000, 1))

    def _refusal(self, headers: Headers, request_id: str) -> JSONResponse | None:
        length = headers.get("content-length")
        if length and (not length.isdigit() or int(length) > self.max_body_bytes):
            return error_response(413, [f"request body larger than {self.max_body_bytes} bytes"], request_id)
        if "transfer-encoding" in headers:
            # A chunked body would be read whole before any size check: ask for its length up front. With a
            # Content-Length too, the server reads it chunked (as HTTP says it must), so that length means nothing.
            return error_response(411, ["send the request body with a Content-Length"], request_id)
        return None


def _without_trailing_slash(scope: Scope) -> None:
    """``/v1/custody/accounts/`` routed as ``/v1/custody/accounts`` (one slash; the query string is untouched).
    Vault's dialect only: pages outside ``/v1/`` keep their own paths."""
    path = scope["path"]
    if path.startswith("/v1/") and path.endswith("/"):
        scope["path"] = path[:-1]
        raw = scope.get("raw_path")
        if isinstance(raw, bytes) and raw.endswith(b"/"):
            scope["raw_path"] = raw[:-1]
