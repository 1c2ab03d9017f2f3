"""Rotation routes. Like every route, each is a path in ``policies/``:

- ``POST /v1/custody/accounts/<platform>/<user>/rotate``: update on the same path (custody-security)
- ``GET|POST /v1/custody/rotation/sweep``: read on ``custody/rotation/sweep`` (custody-rotation, custody-security)
"""

from __future__ import annotations

from typing import Any

from fastapi import Body, FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from custody.api.app import WRITE, _token
from custody.rotation import Rotation
from custody.service import Custody


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    codes: str | list[str] | None = Field(None, max_length=20000)
    reason: str | None = Field(None, max_length=1000)
    resume: bool = False


class SweepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_age: str | None = Field(None, max_length=20)
    min_remaining: int | None = Field(None, ge=0, le=64)
    grace: str | None = Field(None, max_length=20)


def register(app: FastAPI, custody: Custody, ok: Any, token_header: Any, auth_header: Any) -> None:
    rotation = Rotation(custody)

    @app.api_route("/v1/custody/accounts/{platform}/{username}/rotate", methods=WRITE)
    def rotate(request: Request, platform: str, username: str, body: RotateIn = Body(...),
               x_vault_token: str | None = token_header, authorization: str | None = auth_header) -> dict[str, Any]:
        text = body.codes if isinstance(body.codes, str) or body.codes is None else "\n".join(body.codes)
        result = rotation.rotate(_token(x_vault_token, authorization), f"{platform}/{username}", text,
                                 reason=body.reason, resume=body.resume)
        return dict(ok(request, result))

    @app.get("/v1/custody/rotation/sweep")
    def sweep_read(request: Request, x_vault_token: str | None = token_header,
                   authorization: str | None = auth_header,
                   max_age: str | None = Query(None, max_length=20),
                   min_remaining: int | None = Query(None, ge=0, le=64),
                   grace: str | None = Query(None, max_length=20)) -> dict[str, Any]:
        result = rotation.sweep(_token(x_vault_token, authorization), max_age, min_remaining, grace)
        return dict(ok(request, result))

    @app.api_route("/v1/custody/rotation/sweep", methods=WRITE)
    def sweep_write(request: Request, body: SweepIn | None = Body(None),
                    x_vault_token: str | None = token_header,
                    authorization: str | None = auth_header) -> dict[str, Any]:
        b = body or SweepIn()
        token = _token(x_vault_token, authorization)
        result = rotation.sweep(token, b.max_age, b.min_remaining, b.grace)
        # The write form of the sweep also records the expiry of grants past their time (GET only reports).
        who = custody.authorize(token, "rotation/sweep", "update")
        return dict(ok(request, result | {"expired_grants": custody.expire_stale(who)}))
