"""custody's own view of the accounts: who is held, with how many codes, at which tier, and (when recorded) the
account's ownership class and human owner. Read with the caller's token through the custody API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from custody.cli.client import Client
from custody.domain.models import Ownership

OWNERSHIP_CLASSES = frozenset(o.value for o in Ownership)


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


def read(client: Client) -> dict[str, Held]:
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
