"""``/v1/custody/accounts``: list, show, register and change accounts (the ``custody/accounts/...`` paths in
policies/). ``PATCH`` changes an account (Vault's ``bao patch``), checked against ``update`` on its path."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from custody.api.common import LIST, WRITE, Caller, JSONObject, envelope
from custody.domain.accounts import AccountChange
from custody.domain.models import Account
from custody.usecases.accounts import Accounts, Updated


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: str = Field(max_length=320)
    tier: str = Field("standard", max_length=16)
    approvals: int | None = Field(None, ge=0, le=5)
    notes: str = Field("", max_length=2000)
    ownership: str | None = Field(None, max_length=16)
    human_owner: str | None = Field(None, max_length=320)


class AccountPatch(BaseModel):
    """What to change; a field left out (or null) stays as it is."""

    model_config = ConfigDict(extra="forbid")
    owner: str | None = Field(None, max_length=320)
    tier: str | None = Field(None, max_length=16)
    approvals: int | None = Field(None, ge=0, le=5)
    notes: str | None = Field(None, max_length=2000)
    ownership: str | None = Field(None, max_length=16)
    human_owner: str | None = Field(None, max_length=320)


def account_json(a: Account) -> JSONObject:
    return a.model_dump(mode="json", exclude={"id"}) | {"id": a.id, "platform": a.platform, "username": a.username}


def updated_json(u: Updated) -> JSONObject:
    return {"account": account_json(u.account), "changes": [c.as_dict() for c in u.changes],
            "revoked_grants": list(u.revoked_grants)}


def router(accounts: Accounts) -> APIRouter:
    r = APIRouter()

    @r.api_route("/v1/custody/accounts", methods=LIST)
    def list_accounts(request: Request, caller: Caller,
                      list_: Annotated[bool, Query(alias="list")] = False) -> JSONObject:
        found = accounts.all(caller.token)
        return envelope(request, {"keys": [a.id for a in found], "accounts": [account_json(a) for a in found]})

    @r.get("/v1/custody/accounts/{platform}/{username}")
    def show_account(request: Request, platform: str, username: str, caller: Caller) -> JSONObject:
        return envelope(request, account_json(accounts.get(caller.token, f"{platform}/{username}")))

    @r.api_route("/v1/custody/accounts/{platform}/{username}", methods=WRITE)
    def add_account(request: Request, platform: str, username: str, body: Annotated[AccountIn, Body()],
                    caller: Caller) -> JSONObject:
        account = accounts.add(caller.token, f"{platform}/{username}", body.owner, body.tier, body.approvals,
                               body.notes, body.ownership, body.human_owner)
        return envelope(request, account_json(account))

    @r.patch("/v1/custody/accounts/{platform}/{username}")
    def update_account(request: Request, platform: str, username: str, body: Annotated[AccountPatch, Body()],
                       caller: Caller) -> JSONObject:
        change = AccountChange(**body.model_dump())
        return envelope(request, updated_json(accounts.update(caller.token, f"{platform}/{username}", change)))

    return r
