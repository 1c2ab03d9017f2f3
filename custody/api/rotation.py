"""Rotation routes. Like every route, each is a path in ``policies/``:

- ``POST /v1/custody/accounts/<platform>/<user>/rotate``: update on the same path (custody-security)
- ``GET /v1/custody/rotation/sweep``: read on ``custody/rotation/sweep`` (custody-rotation, custody-security)
- ``POST /v1/custody/rotation/sweep``: read and update on it: the sweep, and grant expiries written down
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from custody.api.common import WRITE, Caller, JSONObject, VaultRouter, envelope
from custody.usecases.rotation import Rotation
from custody.usecases.sweep import Sweep


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


def router(rotation: Rotation, sweep: Sweep) -> APIRouter:
    r = VaultRouter()

    @r.api_route("/v1/custody/accounts/{platform}/{username}/rotate", methods=WRITE)
    def rotate(request: Request, platform: str, username: str, body: Annotated[RotateIn, Body()],
               caller: Caller) -> JSONObject:
        text = body.codes if isinstance(body.codes, str) or body.codes is None else "\n".join(body.codes)
        result = rotation.rotate(caller.token, f"{platform}/{username}", text, reason=body.reason, resume=body.resume)
        return envelope(request, result)

    @r.get("/v1/custody/rotation/sweep")
    def sweep_read(request: Request, caller: Caller,
                   max_age: Annotated[str | None, Query(max_length=20)] = None,
                   min_remaining: Annotated[int | None, Query(ge=0, le=64)] = None,
                   grace: Annotated[str | None, Query(max_length=20)] = None) -> JSONObject:
        return envelope(request, sweep.sweep(caller.token, max_age, min_remaining, grace))

    @r.api_route("/v1/custody/rotation/sweep", methods=WRITE)
    def sweep_write(request: Request, caller: Caller, body: Annotated[SweepIn | None, Body()] = None) -> JSONObject:
        b = body or SweepIn()
        return envelope(request, sweep.sweep_and_expire(caller.token, b.max_age, b.min_remaining, b.grace))

    return r
