"""``GET /v1/custody/health`` (no token: load balancers and probes) and ``GET /v1/custody/whoami``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from custody.api.common import Caller, JSONObject, envelope
from custody.usecases.authz import Authorizer
from custody.usecases.health import Health


def router(checks: Health, authz: Authorizer) -> APIRouter:
    r = APIRouter()

    @r.get("/v1/custody/health")
    def health(request: Request) -> JSONResponse:
        healthy, report = checks.check()
        return JSONResponse(envelope(request, report), status_code=200 if healthy else 503)

    @r.get("/v1/custody/whoami")
    def whoami(request: Request, caller: Caller) -> JSONObject:
        return envelope(request, authz.whoami(caller.token).model_dump(mode="json"))

    return r
