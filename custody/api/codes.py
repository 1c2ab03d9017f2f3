"""Code sets: deposit (``POST .../accounts/<p>/<u>/codes``) and status (``GET`` the same, ``LIST /v1/custody/codes``).
Rotation, which also takes codes, is ``custody.api.rotation``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from custody.api.common import LIST, WRITE, Caller, JSONObject, VaultRouter, envelope
from custody.usecases.codes import Codes


class CodesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    codes: str | list[str] = Field(max_length=20000)
    replace: bool = False


def router(codes: Codes) -> APIRouter:
    r = VaultRouter()

    @r.api_route("/v1/custody/accounts/{platform}/{username}/codes", methods=WRITE)
    def deposit(request: Request, platform: str, username: str, body: Annotated[CodesIn, Body()],
                caller: Caller) -> JSONObject:
        text = body.codes if isinstance(body.codes, str) else "\n".join(body.codes)
        return envelope(request, codes.deposit(caller.token, f"{platform}/{username}", text, replace=body.replace))

    @r.get("/v1/custody/accounts/{platform}/{username}/codes")
    def code_status(request: Request, platform: str, username: str, caller: Caller) -> JSONObject:
        return envelope(request, codes.status(caller.token, f"{platform}/{username}")[0])

    @r.api_route("/v1/custody/codes", methods=LIST)
    def all_status(request: Request, caller: Caller,
                   list_: Annotated[bool, Query(alias="list")] = False) -> JSONObject:
        rows = codes.status(caller.token)
        return envelope(request, {"keys": [row["account"] for row in rows], "accounts": rows})

    return r
