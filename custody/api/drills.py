"""Recovery drills: ``LIST``/``POST /v1/custody/drills`` (list, start), ``GET /v1/custody/drills/report`` (JSON,
Markdown or HTML), ``GET /v1/custody/drills/<id>`` and ``POST /v1/custody/drills/<id>/finish``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from custody.api.common import LIST, WRITE, Caller, JSONObject, envelope
from custody.domain.drills import drill_row
from custody.reports import drills as render
from custody.usecases.drills import Drills

MEDIA = {"markdown": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8"}


class DrillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str = Field(max_length=200)
    scenario: str = Field("", max_length=4000)
    witness: str | None = Field(None, max_length=320)


class FinishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: str = Field(max_length=10)
    notes: str | None = Field(None, max_length=4000)


def router(drills: Drills) -> APIRouter:
    r = APIRouter()

    @r.api_route("/v1/custody/drills", methods=LIST)
    def list_drills(request: Request, caller: Caller,
                    list_: Annotated[bool, Query(alias="list")] = False) -> JSONObject:
        found = drills.all(caller.token)
        return envelope(request, {"keys": [d.id for d in found], "drills": [drill_row(d) for d in found]})

    @r.api_route("/v1/custody/drills", methods=WRITE)
    def start(request: Request, body: Annotated[DrillIn, Body()], caller: Caller) -> JSONObject:
        return envelope(request, drill_row(drills.start(caller.token, body.account, body.scenario, body.witness)))

    @r.get("/v1/custody/drills/report", response_model=None)
    def report(request: Request, caller: Caller,
               format: Annotated[Literal["json", "markdown", "html"], Query()] = "json") -> Response:
        found = drills.report(caller.token)
        if format == "json":
            return JSONResponse(envelope(request, found))
        text = render.markdown(found) if format == "markdown" else render.html_page(found)
        return Response(text, media_type=MEDIA[format])

    @r.get("/v1/custody/drills/{drill_id}")
    def show(request: Request, drill_id: str, caller: Caller) -> JSONObject:
        return envelope(request, drill_row(drills.show(caller.token, drill_id)))

    @r.api_route("/v1/custody/drills/{drill_id}/finish", methods=WRITE)
    def finish(request: Request, drill_id: str, body: Annotated[FinishIn, Body()], caller: Caller) -> JSONObject:
        return envelope(request, drill_row(drills.finish(caller.token, drill_id, body.result, body.notes)))

    return r
