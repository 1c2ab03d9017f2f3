"""``GET /v1/custody/audit/summary``: the audit summary for the auditor role (read on ``custody/audit/summary``).

The server reads the audit-device files named by ``CUSTODY_AUDIT_LOGS`` (comma-separated paths or globs, e.g. the
same file the Vault node writes, mounted read-only), in-process and single-threaded: forking worker processes from
a threaded server is unsafe, and the local ``custody audit summary`` command is the fast path for big logs.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from custody.api.app import _token
from custody.errors import NotFound
from custody.service import Custody

MEDIA = {"markdown": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8",
         "html": "text/html; charset=utf-8"}


def audit_paths(patterns: list[str]) -> list[Path]:
    paths: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        paths.extend(Path(m) for m in matches)
    return paths


def register(app: FastAPI, custody: Custody, ok: Any, token_header: Any, auth_header: Any) -> None:
    @app.get("/v1/custody/audit/summary", response_model=None)
    def audit_summary(request: Request, x_vault_token: str | None = token_header,
                      authorization: str | None = auth_header,
                      since: str | None = Query(None, max_length=40), until: str | None = Query(None, max_length=40),
                      format: Literal["json", "markdown", "csv", "html"] = Query("json")) -> Any:
        custody.authorize(_token(x_vault_token, authorization), "audit/summary", "read")
        paths = audit_paths(list(getattr(custody.settings, "audit_logs", []) or []))
        if not paths:
            raise NotFound("this server reads no audit logs",
                           hint="set CUSTODY_AUDIT_LOGS, or run `custody audit summary --log FILE` locally")
        from custody.auditlog import render, summarize

        summary = summarize(paths, since, until, mount=getattr(custody.store, "mount", "custody-kv"), workers=1)
        text = render(summary, format)
        if format == "json":
            return ok(request, json.loads(text))
        return Response(text, media_type=MEDIA[format], headers={"X-Request-Id": request.state.request_id})
