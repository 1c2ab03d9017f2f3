"""``GET /v1/custody/audit/summary``: the audit summary for the auditor role (read on ``custody/audit/summary``)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from custody.api.common import Caller, VaultRouter, envelope
from custody.usecases.audit import Audit, AuditFormat

MEDIA = {"markdown": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8",
         "html": "text/html; charset=utf-8"}


def router(audit: Audit) -> APIRouter:
    r = VaultRouter()

    @r.get("/v1/custody/audit/summary", response_model=None)
    def audit_summary(request: Request, caller: Caller,
                      since: Annotated[str | None, Query(max_length=40)] = None,
                      until: Annotated[str | None, Query(max_length=40)] = None,
                      format: Annotated[AuditFormat, Query()] = "json") -> Response:
        text = audit.summary(caller.token, since, until, format)
        if format == "json":
            return JSONResponse(envelope(request, json.loads(text)))
        return Response(text, media_type=MEDIA[format], headers={"X-Request-Id": request.state.request_id})

    return r
