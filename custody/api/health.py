"""``GET /v1/custody/health`` (readiness), ``GET /v1/custody/health/live`` (liveness), no token for either: load
balancers and probes; and ``GET /v1/custody/whoami``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from custody.api.common import Caller, JSONObject, envelope
from custody.usecases.authz import Authorizer
from custody.usecases.health import Health


def router(checks: Health, authz: Authorizer) -> APIRouter:
    r = APIRouter()

    @r.get("/v1/custody/health")
    def ready(request: Request) -> JSONResponse:
        healthy, report = checks.ready()
        return JSONResponse(envelope(request, report), status_code=200 if healthy else 503)

    @r.get("/v1/custody/health/live")
    async def live(request: Request) -> JSONObject:
        # On the event loop, not in the thread pool: it answers even while every worker thread waits on Vault.
        return envelope(request, checks.live())

    @r.get("/v1/custody/whoami")
    def whoami(request: Request, caller: Caller) -> JSONObject:
        return envelope(request, authz.whoami(caller.token).model_dump(mode="json"))

    return r
