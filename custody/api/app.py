"""The custody API server.

Routes mirror the ACL paths in ``policies/``: ``POST /v1/custody/accounts/pypi/acme/grants`` is allowed exactly when
the caller's Vault policies grant ``create`` on ``custody/accounts/pypi/acme/grants``. Answers use Vault's envelope,
so ``bao read``/``bao write``/``bao list`` work with ``BAO_ADDR`` pointed here.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from fastapi import Body, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custody.domain.models import Account, Grant
from custody.errors import AuthError, CustodyError
from custody.logging import get_logger, scrub
from custody.records import grant_to_record
from custody.service import Custody

log = get_logger("custody.api")

LIST = ["GET", "LIST"]
WRITE = ["POST", "PUT"]


def envelope(data: Any, request_id: str, wrap_info: dict[str, Any] | None = None,
             warnings: list[str] | None = None) -> dict[str, Any]:
    return {"request_id": request_id, "lease_id": "", "renewable": False, "lease_duration": 0, "data": data,
            "wrap_info": wrap_info, "warnings": warnings, "auth": None}


def error_response(status: int, messages: list[str], request_id: str = "") -> JSONResponse:
    return JSONResponse({"errors": messages}, status_code=status,
                        headers={"X-Request-Id": request_id} if request_id else None)


def account_json(a: Account) -> dict[str, Any]:
    return a.model_dump(mode="json", exclude={"id"}) | {"id": a.id, "platform": a.platform, "username": a.username}


def grant_json(g: Grant) -> dict[str, Any]:
    """The contract's grant shape: id, account, requester, reason, ticket, status, approvals, timestamps."""
    record = grant_to_record(g)
    record["id"] = record.pop("grant_id")
    record.pop("requester_entity")
    record["requester_id"] = g.requester_id
    return record


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: str = Field(max_length=320)
    tier: str = Field("standard", max_length=16)
    approvals: int | None = Field(None, ge=0, le=5)
    notes: str = Field("", max_length=2000)


class CodesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    codes: str | list[str] = Field(max_length=20000)
    replace: bool = False


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=4000)
    ticket: str | None = Field(None, max_length=200)
    ttl: str | int | None = None
    emergency: bool = False


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(None, max_length=2000)


class RequestContext:
    """Each request's id (answer header, logs, envelope), the body-size rules, the content type Vault's CLI leaves
    out, ``Cache-Control: no-store`` on every answer, and the access-log line.

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
        length = headers.get("content-length")
        if length and (not length.isdigit() or int(length) > self.max_body_bytes):
            refused = error_response(413, [f"request body larger than {self.max_body_bytes} bytes"], request_id)
            await refused(scope, receive, send_with_headers)
            return
        if "transfer-encoding" in headers:
            # A chunked body would be read whole before any size check: ask for its length up front. With a
            # Content-Length too, the server reads it chunked (as HTTP says it must), so that length means nothing.
            refused = error_response(411, ["send the request body with a Content-Length"], request_id)
            await refused(scope, receive, send_with_headers)
            return
        if scope["method"] in ("POST", "PUT") and not headers.get("content-type", "").startswith("application/json"):
            # Like Vault, every body is JSON: the bao/vault CLI sends none, and `curl -d` says it is a form.
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
            scope["headers"].append((b"content-type", b"application/json"))
        start = time.perf_counter()
        await self.app(scope, receive, send_with_headers)
        log.info("http", method=scope["method"], path=scope["path"], status=status,
                 ms=round((time.perf_counter() - start) * 1000, 1))


def _token(x_vault_token: str | None, authorization: str | None) -> str:
    token = (x_vault_token or "").strip()
    if not token and authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    if not token:
        raise AuthError("missing client token", hint="send X-Vault-Token (set VAULT_TOKEN for the CLI)")
    if _TOKEN.fullmatch(token) is None:  # refused here: Vault would answer 400, which reads as Vault being down
        raise AuthError("malformed client token", hint="a Vault token is visible ASCII without spaces")
    return token


_TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")


def create_app(custody: Custody, max_body_bytes: int = 64 * 1024, vault_addr: str = "") -> FastAPI:
    app = FastAPI(
        title="custody",
        version="1",
        description="Break-glass custody of account recovery codes, in Vault's HTTP dialect.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/v1/custody/openapi.json",
    )
    app.state.custody = custody

    app.add_middleware(RequestContext, max_body_bytes=max_body_bytes)

    @app.exception_handler(CustodyError)
    async def custody_error(request: Request, exc: CustodyError) -> JSONResponse:
        rid = getattr(request.state, "request_id", "")
        if exc.status >= 500:
            log.error("request.failed", error=exc.message, error_code=exc.code)
        # Messages may quote what the caller sent (a bad grant id, an account name): never echo a token or code.
        messages = [scrub(exc.message)] + ([f"hint: {exc.hint}"] if exc.hint else [])
        return error_response(exc.status, messages, rid)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return error_response(400, [f"invalid request: {loc} {first.get('msg', '')}".strip()],
                              getattr(request.state, "request_id", ""))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = {404: "unsupported path", 405: "unsupported operation"}.get(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, [message], getattr(request.state, "request_id", ""))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("request.crashed", error_type=type(exc).__name__)
        return error_response(500, ["internal error; see the server log for the request id"],
                              getattr(request.state, "request_id", ""))

    def view(grant: Grant) -> dict[str, Any]:
        return grant_json(grant) | {"review_overdue": custody.review_overdue(grant)}

    def ok(request: Request, data: Any, **kw: Any) -> dict[str, Any]:
        return envelope(data, request.state.request_id, **kw)

    Tok = Header(None, alias="X-Vault-Token", include_in_schema=True)
    Auth = Header(None, alias="Authorization", include_in_schema=False)

    # ---- health (no token: load balancers and probes) ----------------------------------------------------
    @app.get("/v1/custody/health")
    def health(request: Request) -> JSONResponse:
        vault = custody.store.health()
        notifier = custody.notifier
        healthy = bool(vault["reachable"]) and not vault["sealed"] and vault.get("serving", True) is not False
        body = ok(request, {"status": "ok" if healthy else "degraded", "vault": vault,
                            "webhooks": {"pending": notifier.pending(), "failed": notifier.failed,
                                         "dropped": notifier.dropped}})
        return JSONResponse(body, status_code=200 if healthy else 503)

    # ---- accounts ----------------------------------------------------------------------------------------
    @app.api_route("/v1/custody/accounts", methods=LIST)
    def list_accounts(request: Request, x_vault_token: str | None = Tok, authorization: str | None = Auth,
                      list_: bool = Query(False, alias="list")) -> dict[str, Any]:
        accounts = custody.list_accounts(_token(x_vault_token, authorization))
        return ok(request, {"keys": [a.id for a in accounts], "accounts": [account_json(a) for a in accounts]})

    @app.get("/v1/custody/accounts/{platform}/{username}")
    def show_account(request: Request, platform: str, username: str, x_vault_token: str | None = Tok,
                     authorization: str | None = Auth) -> dict[str, Any]:
        account = custody.get_account(_token(x_vault_token, authorization), f"{platform}/{username}")
        return ok(request, account_json(account))

    @app.api_route("/v1/custody/accounts/{platform}/{username}", methods=WRITE)
    def add_account(request: Request, platform: str, username: str, body: AccountIn = Body(...),
                    x_vault_token: str | None = Tok, authorization: str | None = Auth) -> dict[str, Any]:
        account = custody.add_account(_token(x_vault_token, authorization), f"{platform}/{username}",
                                      body.owner, body.tier, body.approvals, body.notes)
        return ok(request, account_json(account))

    # ---- codes -------------------------------------------------------------------------------------------
    @app.api_route("/v1/custody/accounts/{platform}/{username}/codes", methods=WRITE)
    def deposit(request: Request, platform: str, username: str, body: CodesIn = Body(...),
                x_vault_token: str | None = Tok, authorization: str | None = Auth) -> dict[str, Any]:
        text = body.codes if isinstance(body.codes, str) else "\n".join(body.codes)
        status = custody.deposit(_token(x_vault_token, authorization), f"{platform}/{username}", text,
                                 replace=body.replace)
        return ok(request, status)

    @app.get("/v1/custody/accounts/{platform}/{username}/codes")
    def code_status(request: Request, platform: str, username: str, x_vault_token: str | None = Tok,
                    authorization: str | None = Auth) -> dict[str, Any]:
        rows = custody.code_status(_token(x_vault_token, authorization), f"{platform}/{username}")
        return ok(request, rows[0])

    @app.api_route("/v1/custody/codes", methods=LIST)
    def all_status(request: Request, x_vault_token: str | None = Tok, authorization: str | None = Auth,
                   list_: bool = Query(False, alias="list")) -> dict[str, Any]:
        rows = custody.code_status(_token(x_vault_token, authorization))
        return ok(request, {"keys": [r["account"] for r in rows], "accounts": rows})

    # ---- grants ------------------------------------------------------------------------------------------
    @app.api_route("/v1/custody/accounts/{platform}/{username}/grants", methods=WRITE)
    def request_access(request: Request, platform: str, username: str, body: GrantIn = Body(...),
                       x_vault_token: str | None = Tok, authorization: str | None = Auth) -> dict[str, Any]:
        ttl = str(body.ttl) if body.ttl is not None else None
        grant = custody.request_access(_token(x_vault_token, authorization), f"{platform}/{username}",
                                       body.reason, body.ticket, ttl, body.emergency)
        return ok(request, view(grant))

    @app.api_route("/v1/custody/grants", methods=LIST)
    def list_grants(request: Request, x_vault_token: str | None = Tok, authorization: str | None = Auth,
                    list_: bool = Query(False, alias="list"), status: str | None = Query(None, max_length=20),
                    account: str | None = Query(None, max_length=200),
                    unreviewed: bool = Query(False)) -> dict[str, Any]:
        grants = custody.list_grants(_token(x_vault_token, authorization), status, account, unreviewed)
        return ok(request, {"keys": [g.id for g in grants], "grants": [view(g) for g in grants]})

    @app.get("/v1/custody/grants/{grant_id}")
    def show_grant(request: Request, grant_id: str, x_vault_token: str | None = Tok,
                   authorization: str | None = Auth) -> dict[str, Any]:
        return ok(request, view(custody.show_grant(_token(x_vault_token, authorization), grant_id)))

    def decision(action: str) -> Callable[..., dict[str, Any]]:
        def handler(request: Request, grant_id: str, body: DecisionIn | None = Body(None),
                    x_vault_token: str | None = Tok, authorization: str | None = Auth) -> dict[str, Any]:
            method = getattr(custody, action)
            grant = method(_token(x_vault_token, authorization), grant_id, body.comment if body else None)
            return ok(request, view(grant))

        handler.__name__ = f"{action}_grant"
        return handler

    for action in ("approve", "deny", "review"):
        app.api_route(f"/v1/custody/grants/{{grant_id}}/{action}", methods=WRITE,
                      name=f"{action}_grant")(decision(action))

    @app.api_route("/v1/custody/grants/{grant_id}/reveal", methods=WRITE)
    def reveal(request: Request, grant_id: str, x_vault_token: str | None = Tok,
               authorization: str | None = Auth) -> dict[str, Any]:
        result = custody.reveal(_token(x_vault_token, authorization), grant_id)
        wrap = result.wrap
        data = {"grant": result.grant.id, "account": result.grant.account, "remaining": result.remaining,
                "vault_addr": vault_addr, "unwrap": "sys/wrapping/unwrap"}
        wrap_info = {"token": wrap.token, "accessor": wrap.accessor, "ttl": wrap.ttl,
                     "creation_time": wrap.creation_time, "creation_path": f"custody/grants/{grant_id}/reveal"}
        return ok(request, data, wrap_info=wrap_info)

    @app.get("/v1/custody/whoami")
    def whoami(request: Request, x_vault_token: str | None = Tok,
               authorization: str | None = Auth) -> dict[str, Any]:
        who = custody.whoami(_token(x_vault_token, authorization))
        return ok(request, who.model_dump(mode="json"))

    from custody.api import routes_extra

    routes_extra.register(app, custody, ok, Tok, Auth)
    return app
