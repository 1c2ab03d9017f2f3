"""How custody's records are laid out in KV, and their (de)serialisation.

Field names here are part of the audit contract: the KV mount leaves the non-secret ones (``NON_HMAC_KEYS``)
readable in Vault's audit log, so an auditor can follow every grant from Vault's own evidence. Secret fields
(``code``, ``codes``) are never in that list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from custody.domain.models import Account, CodeSet, Decision, Grant, Principal, StoredCode

NON_HMAC_KEYS = (
    "event", "actor", "actor_entity", "at",
    "account", "owner", "tier", "approvals_required",
    "total", "remaining", "generation", "deposited_by", "deposited_at", "destroyed_versions",
    "grant_id", "requester", "requester_entity", "reason", "ticket", "status", "approvals", "approver",
    "approver_entity", "comment", "emergency", "created_at", "expires_at", "revealed_at", "code_fp",
    "reviewed_by", "reviewed_at", "revoked_reason", "denied_by", "path", "capability", "fp", "consumed_at",
    "rotation", "count", "previous_versions", "previous_generation", "new_version", "new_set", "started_at",
    "completed_at", "revoked_grants", "custom_metadata",
)
SECRET_KEYS = ("code", "codes")


def account_path(account_id: str) -> str:
    return f"accounts/{account_id}"


def codes_path(account_id: str) -> str:
    return f"codes/{account_id}"


def grant_path(grant_id: str) -> str:
    return f"grants/{grant_id}"


def reveal_path(grant_id: str) -> str:
    return f"reveals/{grant_id}"


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def stamp(event: str, actor: Principal, at: datetime) -> dict[str, Any]:
    return {"event": event, "actor": actor.display_name, "actor_entity": actor.id, "at": at.isoformat()}


def account_to_record(account: Account) -> dict[str, Any]:
    return account.model_dump(mode="json") | {"account": account.id}


def account_from_record(data: dict[str, Any]) -> Account:
    return Account.model_validate(data)


def codeset_to_record(cs: CodeSet) -> dict[str, Any]:
    return {
        "account": cs.account,
        "codes": [c.model_dump(mode="json") for c in cs.codes],
        "total": cs.total,
        "remaining": cs.remaining,
        "deposited_by": cs.deposited_by,
        "deposited_at": cs.deposited_at.isoformat(),
        "generation": cs.generation,
    }


def codeset_from_record(data: dict[str, Any]) -> CodeSet:
    return CodeSet(
        account=data["account"],
        codes=tuple(StoredCode.model_validate(c) for c in data.get("codes", [])),
        deposited_by=data["deposited_by"],
        deposited_at=data["deposited_at"],
        generation=int(data.get("generation", 1)),
    )


def _decision(d: Decision | None, who: str = "approver") -> dict[str, Any] | None:
    if d is None:
        return None
    return {who: d.by, f"{who}_entity": d.by_id, "at": d.at.isoformat(), "comment": d.comment}


def grant_to_record(g: Grant) -> dict[str, Any]:
    return {
        "grant_id": g.id,
        "account": g.account,
        "requester": g.requester,
        "requester_entity": g.requester_id,
        "reason": g.reason,
        "ticket": g.ticket,
        "status": g.status.value,
        "approvals_required": g.approvals_required,
        "approvals": [_decision(a) for a in g.approvals],
        "denial": _decision(g.denial, "denied_by"),
        "emergency": g.emergency,
        "created_at": _ts(g.created_at),
        "expires_at": _ts(g.expires_at),
        "codes_generation": g.codes_generation,
        "revealed_at": _ts(g.revealed_at),
        "code_fp": g.code_fp,
        "review": _decision(g.review, "reviewed_by"),
        "reviewed_by": g.review.by if g.review else None,
        "revoked_reason": g.revoked_reason,
    }


def _undecision(d: dict[str, Any] | None, who: str = "approver") -> Decision | None:
    if not d:
        return None
    return Decision(by=d[who], by_id=d[f"{who}_entity"], at=d["at"], comment=d.get("comment") or "")


def grant_from_record(data: dict[str, Any], version: int) -> Grant:
    return Grant(
        id=data["grant_id"],
        account=data["account"],
        requester=data["requester"],
        requester_id=data["requester_entity"],
        reason=data["reason"],
        ticket=data.get("ticket"),
        status=data["status"],
        approvals_required=data["approvals_required"],
        approvals=tuple(d for a in data.get("approvals") or [] if (d := _undecision(a))),
        denial=_undecision(data.get("denial"), "denied_by"),
        emergency=bool(data.get("emergency")),
        created_at=data["created_at"],
        expires_at=data["expires_at"],
        codes_generation=int(data.get("codes_generation") or 0),
        revealed_at=data.get("revealed_at"),
        code_fp=data.get("code_fp"),
        review=_undecision(data.get("review"), "reviewed_by"),
        revoked_reason=data.get("revoked_reason"),
        version=version,
    )
