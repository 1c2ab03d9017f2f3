"""Enrolment waves: ``POST /v1/custody/rollout/waves/<name>`` and ``GET /v1/custody/rollout/status``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from custody.api.common import WRITE, Caller, JSONObject, envelope
from custody.usecases.rollout import Rollout


class WaveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accounts: list[Annotated[str, Field(max_length=200)]] = Field(max_length=500)
    window: str | None = Field(None, max_length=80)


def router(rollout: Rollout) -> APIRouter:
    r = APIRouter()

    @r.api_route("/v1/custody/rollout/waves/{name}", methods=WRITE)
    def add_wave(request: Request, name: str, body: Annotated[WaveIn, Body()], caller: Caller) -> JSONObject:
        wave = rollout.add_wave(caller.token, name, body.accounts, body.window)
        return envelope(request, wave.model_dump(mode="json"))

    @r.get("/v1/custody/rollout/status")
    def status(request: Request, caller: Caller,
               wave: Annotated[str | None, Query(max_length=80)] = None) -> JSONObject:
        return envelope(request, rollout.status(caller.token, wave))

    return r
