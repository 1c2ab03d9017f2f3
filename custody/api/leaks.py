"""Leaked codes: ``POST /v1/custody/codes/identify`` and ``POST /v1/custody/accounts/<p>/<u>/codes/burn``, the code
in the body (never in a path or a query, which logs and proxies keep). Answers never hold it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field

from custody.api.common import WRITE, Caller, JSONObject, envelope
from custody.usecases.leaks import Leaks


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=4000, repr=False)  # a recovery code


def router(leaks: Leaks) -> APIRouter:
    r = APIRouter()

    @r.api_route("/v1/custody/codes/identify", methods=WRITE)
    def identify(request: Request, body: Annotated[CodeIn, Body()], caller: Caller) -> JSONObject:
        return envelope(request, leaks.identify(caller.token, body.code))

    @r.api_route("/v1/custody/accounts/{platform}/{username}/codes/burn", methods=WRITE)
    def burn(request: Request, platform: str, username: str, body: Annotated[CodeIn, Body()],
             caller: Caller) -> JSONObject:
        return envelope(request, leaks.burn(caller.token, f"{platform}/{username}", body.code))

    return r
