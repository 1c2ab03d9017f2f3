"""The WebAuthn key roster: ``/v1/custody/accounts/<p>/<u>/keys`` (add, list), its ``remove``, ``reassign`` and
``verify`` (labels go in the body: a PyPI label may hold any character, a path segment may not), ``LIST
/v1/custody/keys`` and ``GET /v1/custody/keys/check``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from custody.api.common import LIST, WRITE, Caller, JSONObject, envelope
from custody.usecases.keys import Keys, roster_json

Label = Annotated[str, Field(max_length=200)]  # the rule (64, as on PyPI) is the domain's, with its own message


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Label
    custodian: str = Field(max_length=320)
    serial: str = Field(max_length=200)
    model: str | None = Field(None, max_length=200)
    location: str | None = Field(None, max_length=400)
    shared_token: bool = False


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Label


class RemoveIn(LabelIn):
    reason: str = Field("", max_length=4000)


class ReassignIn(RemoveIn):
    custodian: str = Field(max_length=320)


def router(keys: Keys) -> APIRouter:
    r = APIRouter()
    base = "/v1/custody/accounts/{platform}/{username}/keys"

    @r.api_route(base, methods=WRITE)
    def add_key(request: Request, platform: str, username: str, body: Annotated[KeyIn, Body()],
                caller: Caller) -> JSONObject:
        roster = keys.add(caller.token, f"{platform}/{username}", body.label, body.custodian, body.serial,
                          body.model, body.location, body.shared_token)
        return envelope(request, roster_json(roster))

    @r.get(base)
    def account_keys(request: Request, platform: str, username: str, caller: Caller) -> JSONObject:
        return envelope(request, roster_json(keys.roster(caller.token, f"{platform}/{username}")))

    @r.api_route(base + "/remove", methods=WRITE)
    def remove_key(request: Request, platform: str, username: str, body: Annotated[RemoveIn, Body()],
                   caller: Caller) -> JSONObject:
        roster = keys.remove(caller.token, f"{platform}/{username}", body.label, body.reason)
        return envelope(request, roster_json(roster))

    @r.api_route(base + "/reassign", methods=WRITE)
    def reassign_key(request: Request, platform: str, username: str, body: Annotated[ReassignIn, Body()],
                     caller: Caller) -> JSONObject:
        roster = keys.reassign(caller.token, f"{platform}/{username}", body.label, body.custodian, body.reason)
        return envelope(request, roster_json(roster))

    @r.api_route(base + "/verify", methods=WRITE)
    def verify_key(request: Request, platform: str, username: str, body: Annotated[LabelIn, Body()],
                   caller: Caller) -> JSONObject:
        return envelope(request, roster_json(keys.verify(caller.token, f"{platform}/{username}", body.label)))

    @r.api_route("/v1/custody/keys", methods=LIST)
    def all_keys(request: Request, caller: Caller, list_: Annotated[bool, Query(alias="list")] = False) -> JSONObject:
        rosters = keys.all(caller.token)
        return envelope(request, {"keys": [r.account for r in rosters], "rosters": [roster_json(r) for r in rosters]})

    @r.get("/v1/custody/keys/check")
    def check(request: Request, caller: Caller) -> JSONObject:
        return envelope(request, keys.check(caller.token))

    return r
