"""Grants: request (``POST .../accounts/<p>/<u>/grants``), list, show, approve, deny, review, reveal
(``/v1/custody/grants/...``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from custody.api.common import LIST, WRITE, Caller, JSONObject, envelope
from custody.domain.models import Grant
from custody.repo.records import grant_to_record
from custody.usecases.access import Access, Reveal


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=4000)
    ticket: str | None = Field(None, max_length=200)
    ttl: str | int | None = None
    emergency: bool = False
    drill: str | None = Field(None, max_length=40)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(None, max_length=2000)


Decision = Annotated[DecisionIn | None, Body()]


class RevealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    again: bool = False  # the last reveal's answer was lost: revoke its wrapping token, hand out a new one


def grant_json(g: Grant, review_overdue: bool) -> JSONObject:
    """The contract's grant shape (id, account, requester, reason, ticket, status, approvals, timestamps): the
    record the audit log sees, named for callers."""
    record = grant_to_record(g)
    record["id"] = record.pop("grant_id")
    record.pop("requester_entity")
    attempt = record.pop("reveal_attempt")  # its nonce and wrapping token's accessor are the service's business
    record["reveal_attempts"] = attempt["number"] if attempt else 0
    return record | {"requester_id": g.requester_id, "review_overdue": review_overdue}


def reveal_answer(request: Request, result: Reveal, vault_addr: str) -> JSONObject:
    """The reveal's answer: the code itself is only in the wrapping token, which the requester unwraps."""
    wrap = result.wrap
    data = {"grant": result.grant.id, "account": result.grant.account, "remaining": result.remaining,
            "vault_addr": vault_addr, "unwrap": "sys/wrapping/unwrap"}
    wrap_info: JSONObject = {"token": wrap.token, "accessor": wrap.accessor, "ttl": wrap.ttl,
                             "creation_time": wrap.creation_time,
                             "creation_path": f"custody/grants/{result.grant.id}/reveal"}
    return envelope(request, data, wrap_info=wrap_info)


def router(access: Access, vault_addr: str) -> APIRouter:
    r = APIRouter()

    def view(g: Grant) -> JSONObject:
        return grant_json(g, access.review_overdue(g))

    @r.api_route("/v1/custody/accounts/{platform}/{username}/grants", methods=WRITE)
    def request_access(request: Request, platform: str, username: str, body: Annotated[GrantIn, Body()],
                       caller: Caller) -> JSONObject:
        ttl = str(body.ttl) if body.ttl is not None else None
        grant = access.request(caller.token, f"{platform}/{username}", body.reason, body.ticket, ttl, body.emergency,
                               body.drill)
        return envelope(request, view(grant))

    @r.api_route("/v1/custody/grants", methods=LIST)
    def list_grants(request: Request, caller: Caller, list_: Annotated[bool, Query(alias="list")] = False,
                    status: Annotated[str | None, Query(max_length=20)] = None,
                    account: Annotated[str | None, Query(max_length=200)] = None,
                    unreviewed: Annotated[bool, Query()] = False) -> JSONObject:
        grants = access.list_grants(caller.token, status, account, unreviewed)
        return envelope(request, {"keys": [g.id for g in grants], "grants": [view(g) for g in grants]})

    @r.get("/v1/custody/grants/{grant_id}")
    def show_grant(request: Request, grant_id: str, caller: Caller) -> JSONObject:
        return envelope(request, view(access.show(caller.token, grant_id)))

    @r.api_route("/v1/custody/grants/{grant_id}/approve", methods=WRITE)
    def approve_grant(request: Request, grant_id: str, caller: Caller, body: Decision = None) -> JSONObject:
        return envelope(request, view(access.approve(caller.token, grant_id, body.comment if body else None)))

    @r.api_route("/v1/custody/grants/{grant_id}/deny", methods=WRITE)
    def deny_grant(request: Request, grant_id: str, caller: Caller, body: Decision = None) -> JSONObject:
        return envelope(request, view(access.deny(caller.token, grant_id, body.comment if body else None)))

    @r.api_route("/v1/custody/grants/{grant_id}/review", methods=WRITE)
    def review_grant(request: Request, grant_id: str, caller: Caller, body: Decision = None) -> JSONObject:
        return envelope(request, view(access.review(caller.token, grant_id, body.comment if body else None)))

    @r.api_route("/v1/custody/grants/{grant_id}/reveal", methods=WRITE)
    def reveal(request: Request, grant_id: str, caller: Caller,
               body: Annotated[RevealIn | None, Body()] = None) -> JSONObject:
        return reveal_answer(request, access.reveal(caller.token, grant_id, again=bool(body and body.again)),
                             vault_addr)

    return r
