"""People: ``GET /v1/custody/people/<email>`` and ``POST /v1/custody/people/<email>/offboard``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field

from custody.api.common import WRITE, Caller, JSONObject, envelope
from custody.usecases.people import People


class OffboardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=4000)
    apply: bool = False


def router(people: People) -> APIRouter:
    r = APIRouter()

    @r.get("/v1/custody/people/{email}")
    def show(request: Request, email: str, caller: Caller) -> JSONObject:
        return envelope(request, people.show(caller.token, email))

    @r.api_route("/v1/custody/people/{email}/offboard", methods=WRITE)
    def offboard(request: Request, email: str, body: Annotated[OffboardIn, Body()], caller: Caller) -> JSONObject:
        return envelope(request, people.offboard(caller.token, email, body.reason, body.apply))

    return r
