"""custody's own view of the accounts: who is held, with how many codes, at which tier, and (when recorded) the
account's ownership class and human owner. Read with the caller's token through the custody API, by the client the
command line gives (``custody.cli.client.Client``): the inventory never reaches into the command line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from custody.domain.models import Ownership

OWNERSHIP_CLASSES = frozenset(o.value for o in Ownership)


class API(Protocol):
    """What the inventory needs of a client of the custody API: one call, answered with Vault's envelope."""

    def call(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any: ...


@dataclass(frozen=True)
class Source:
    """Where custody's accounts are read from: a client of the custody API, or why custody is not consulted."""

    client: API | None = None
    not_consulted: str = ""


SKIPPED = Source(not_consulted="custody was not consulted (--skip-custody)")


@dataclass(frozen=True)
class Held:
    account: str
    tier: str | None
    codes: int | None  # codes deposited (total); None: no code set
    ownership: str | None  # personal|corporate|organization|service, None when not recorded
    human_owner: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"held": True, "tier": self.tier, "codes": self.codes, "ownership": self.ownership,
                "human_owner": self.human_owner}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def held(source: Source) -> tuple[dict[str, Held] | None, str | None]:
    """custody's accounts from ``source``; else None and why custody was not consulted."""
    return (read(source.client), None) if source.client is not None else (None, source.not_consulted)


def read(client: API) -> dict[str, Held]:
    """Every account custody holds, keyed by lower-case account id."""
    accounts = client.call("GET", "accounts", params={"list": "true"}).get("data") or {}
    codes = client.call("GET", "codes", params={"list": "true"}).get("data") or {}
    totals = {str(r.get("account")).lower(): r.get("total") for r in codes.get("accounts") or []
              if isinstance(r, dict)}
    out: dict[str, Held] = {}
    for a in accounts.get("accounts") or []:
        if not isinstance(a, dict) or not isinstance(a.get("id"), str):
            continue
        key = a["id"].lower()
        total = totals.get(key)
        ownership = _str(a.get("ownership"))
        out[key] = Held(a["id"], _str(a.get("tier")), total if isinstance(total, int) else None,
                        ownership if ownership in OWNERSHIP_CLASSES else None, _str(a.get("human_owner")))
    return out
