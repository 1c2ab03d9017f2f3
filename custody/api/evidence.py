"""The evidence pack: ``POST /v1/custody/evidence/build`` (update on ``custody/evidence/build``) answers a DSSE
envelope, signed with the service's transit key unless ``sign`` is false; ``GET /v1/custody/evidence/keys`` (read
on ``custody/evidence/keys``) the public keys that verify it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field

from custody.api.common import WRITE, Caller, JSONObject, VaultRouter, envelope
from custody.usecases.evidence import Evidence


class BuildIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: str = Field(max_length=80)
    logs: list[str] = Field(default_factory=list, max_length=64)
    inventory: str | None = Field(None, max_length=48 * 1024)
    inventory_name: str = Field("inventory.json", max_length=200)
    sign: bool = True


def router(evidence: Evidence) -> APIRouter:
    r = VaultRouter()

    @r.api_route("/v1/custody/evidence/build", methods=WRITE)
    def build(request: Request, body: Annotated[BuildIn, Body()], caller: Caller) -> JSONObject:
        pack = evidence.build(caller.token, body.period, body.logs, body.inventory, body.inventory_name, body.sign)
        return envelope(request, {"envelope": pack})

    @r.get("/v1/custody/evidence/keys")
    def keys(request: Request, caller: Caller) -> JSONObject:
        return envelope(request, {"keys": evidence.public_keys(caller.token)})

    return r
