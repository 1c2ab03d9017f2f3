"""How custody's records are laid out in KV, and their (de)serialisation.

Field names here are part of the audit contract: the KV mount leaves the non-secret ones (``NON_HMAC_KEYS``)
readable in Vault's audit log, so an auditor can follow every grant from Vault's own evidence. Secret fields
(``code``, ``codes``) are never in that list.

| KV path                             | record                                                     |
|-------------------------------------|------------------------------------------------------------|
| ``accounts/<platform>/<user>``      | an account                                                 |
| ``account-names/<platform>/<name>`` | the claim on a username, case-folded: which account has it |
| ``codes/<platform>/<user>``         | the code set (its custom_metadata: the summary the sweep reads) |
| ``grants/<id>``                     | a grant                                                    |
| ``index/requester/<entity>/<id>``   | grant ``id`` is one of this requester's (a listing's index) |
| ``index/account/<p>/<u>/<id>``      | grant ``id`` is one of this account's                      |
| ``index/built``                     | every grant older than this marker is in the index         |
| ``holdings/<entity>``               | the grants a requester may still hold open (their limits)  |
| ``cubbyhole/reveals/<id>``          | one code, for the instant it takes Vault to wrap it (in the |
|                                     | service token's own cubbyhole, not in the KV mount)        |
| ``denied/<yyyymmdd>/<slot>``        | refused API calls of the day, counted (``repo.denials``)   |
| ``rotating/<platform>/<user>``      | the marker of a rotation in progress                       |
| ``rotations/<platform>/<user>/<n>`` | the evidence of rotation n                                 |
| ``rotations/<p>/<u>/<n>/revoked/<k>``| page k of the grants rotation n revoked, past the first 100 |
| ``replacements/<p>/<u>/<g>``        | the evidence of a ``--replace`` that made generation g     |
| ``keys/<platform>/<user>``          | the account's WebAuthn key roster                          |
| ``waves/<name>``                    | an enrolment wave                                          |
| ``drills/<id>``                     | a recovery drill                                           |
| ``people/<email>``                  | a person custody offboarded, and each offboarding run      |
| ``prints/<platform>/<user>``        | the keyed fingerprints of the account's current code set   |
| ``keyring/prints``                  | the key of those fingerprints                              |
| ``marks/<platform>/<user>``         | reasons to rotate the set cannot show (leaked code, leaver) |
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from custody.domain.accounts import changes
from custody.domain.events import Event
from custody.domain.grants import Held, Holdings
from custody.domain.models import Account, Attempt, CodeSet, Decision, Grant, Principal, StoredCode, iso
from custody.domain.rotation import Evidence, OpenRotation

NON_HMAC_KEYS = (
    "event", "actor", "actor_entity", "at",
    "account", "owner", "tier", "approvals_required",
    "total", "remaining", "generation", "deposited_by", "deposited_at", "destroyed_versions",
    "grant_id", "requester", "requester_entity", "reason", "ticket", "status", "approvals", "approver",
    "approver_entity", "comment", "emergency", "created_at", "expires_at", "revealed_at", "code_fp",
    "reviewed_by", "reviewed_at", "revoked_reason", "denied_by", "path", "capability", "fp", "consumed_at",
    "rotation", "count", "previous_versions", "previous_generation", "new_version", "new_set", "started_at",
    "completed_at", "revoked_grants", "custom_metadata",
    "ownership", "human_owner", "changed",
    # keys, waves, drills, people, leaked codes and rotation marks
    "drill", "requester_email", "burned_at", "roster", "removed", "label", "custodian", "serial", "model",
    "location", "added_at", "added_by", "verified_at", "verified_by", "left_at", "removed_by", "removed_at",
    "wave", "accounts", "window_start", "window_end", "created_by", "scenario", "witness", "started_by",
    "finished_at", "finished_by", "result", "participants", "name", "entity", "step", "security_team",
    "email", "offboarded_at", "offboarded_by", "runs", "revoked", "keys_marked", "rotation_due", "marks", "kind",
    "message", "since", "source",
)
SECRET_KEYS = ("code", "codes")

ACCOUNTS, GRANTS, ROTATING = "accounts/", "grants/", "rotating/"
KEYS, WAVES, DRILLS, PEOPLE, PRINTS, MARKS = "keys/", "waves/", "drills/", "people/", "prints/", "marks/"
PRINT_KEY = "keyring/prints"
INDEX_BUILT = "index/built"


def account_path(account_id: str) -> str:
    return f"accounts/{account_id}"


def account_name_path(account_id: str) -> str:
    """Where the claim on an account's name is: its username case-folded, as the platform compares usernames."""
    platform, username = account_id.split("/", 1)
    return f"account-names/{platform}/{username.casefold()}"


def codes_path(account_id: str) -> str:
    return f"codes/{account_id}"


def grant_path(grant_id: str) -> str:
    return f"grants/{grant_id}"


def requester_index(requester_id: str) -> str:
    return f"index/requester/{requester_id}/"


def account_index(account_id: str) -> str:
    return f"index/account/{account_id}/"


def holdings_path(requester_id: str) -> str:
    return f"holdings/{requester_id}"


def reveal_path(grant_id: str) -> str:
    return f"reveals/{grant_id}"


def denial_path(at: datetime, slot: int) -> str:
    return f"denied/{at:%Y%m%d}/{slot:02d}"


def marker_path(account_id: str) -> str:
    return f"rotating/{account_id}"


def evidence_path(account_id: str, number: int) -> str:
    return f"rotations/{account_id}/{number}"


def evidence_folder(account_id: str) -> str:
    return f"rotations/{account_id}/"


def keys_path(account_id: str) -> str:
    return f"{KEYS}{account_id}"


def wave_path(name: str) -> str:
    return f"{WAVES}{name}"


def drill_path(drill_id: str) -> str:
    return f"{DRILLS}{drill_id}"


def person_path(email: str) -> str:
    return f"{PEOPLE}{email}"


def prints_path(account_id: str) -> str:
    return f"{PRINTS}{account_id}"


def marks_path(account_id: str) -> str:
    return f"{MARKS}{account_id}"


def stamp(event: Event, actor: Principal, at: datetime) -> dict[str, Any]:
    """What every write says about itself: what happened, who did it, when."""
    return {"event": event.value, "actor": actor.display_name, "actor_entity": actor.id, "at": at.isoformat()}


# ---- accounts and code sets ------------------------------------------------------------------------------------
def account_to_record(account: Account) -> dict[str, Any]:
    return account.model_dump(mode="json") | {"account": account.id}


def account_from_record(data: dict[str, Any]) -> Account:
    return Account.model_validate(data)


def account_update_record(before: Account, after: Account, who: Principal, at: datetime) -> dict[str, Any]:
    """The account after an update, stamped ``account.updated``: the new values where they always are, the names
    of the fields that changed (``changed``) and their old values (``previous``), all in clear in the audit log
    except notes, which are HMAC'd there like every free text."""
    diff = changes(before, after)
    return account_to_record(after) | stamp(Event.account_updated, who, at) | {
        "changed": [c.field for c in diff], "previous": {c.field: c.old for c in diff}}


def account_name_record(account_id: str, who: Principal, at: datetime) -> dict[str, Any]:
    return stamp(Event.account_name_claimed, who, at) | {"account": account_id}


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


def consumed_record(cs: CodeSet, grant_id: str, at: datetime) -> dict[str, Any]:
    """The code set after a reveal took one of its codes for ``grant_id``."""
    return codeset_to_record(cs) | {"event": Event.code_consumed.value, "grant_id": grant_id, "at": at.isoformat()}


def reveal_record(grant: Grant, code: StoredCode) -> dict[str, Any]:
    return {"code": code.code, "account": grant.account, "grant_id": grant.id, "event": Event.code_wrapped.value}


# ---- grants ----------------------------------------------------------------------------------------------------
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
        "created_at": iso(g.created_at),
        "expires_at": iso(g.expires_at),
        "codes_generation": g.codes_generation,
        "revealed_at": iso(g.revealed_at),
        "code_fp": g.code_fp,
        "review": _decision(g.review, "reviewed_by"),
        "reviewed_by": g.review.by if g.review else None,
        "revoked_reason": g.revoked_reason,
        "drill": g.drill,
        "requester_email": g.requester_email,
        "reveal_attempt": g.attempt.model_dump(mode="json") if g.attempt else None,
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
        drill=data.get("drill"),
        requester_email=data.get("requester_email"),
        attempt=Attempt.model_validate(data["reveal_attempt"]) if data.get("reveal_attempt") else None,
        version=version,
    )


def index_record(g: Grant) -> dict[str, Any]:
    """An index entry names its grant; the grant itself is the truth (an entry whose grant is missing is skipped)."""
    return {"grant_id": g.id, "account": g.account, "requester_entity": g.requester_id,
            "created_at": g.created_at.isoformat()}


def _held(h: Held) -> str:
    # One string per grant: Vault refuses a JSON body of more than about a thousand strings.
    return f"{h.grant_id} {int(h.since.timestamp())} {h.account}"


def _unheld(text: object) -> Held | None:
    parts = str(text).split(" ")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return Held(parts[0], parts[2], datetime.fromtimestamp(int(parts[1]), UTC))


def holdings_to_record(h: Holdings) -> dict[str, Any]:
    return {"open": [_held(x) for x in h.open], "unreviewed": [_held(x) for x in h.unreviewed]}


def holdings_from_record(data: dict[str, Any]) -> Holdings:
    def parse(key: str) -> tuple[Held, ...]:
        return tuple(x for x in map(_unheld, data.get(key) or []) if x is not None)

    return Holdings(open=parse("open"), unreviewed=parse("unreviewed"))


# ---- rotations -------------------------------------------------------------------------------------------------
def marker_record(account_id: str, number: int, reason: str, who: Principal, now: datetime) -> dict[str, Any]:
    return stamp(Event.rotation_started, who, now) | {"account": account_id, "rotation": number,
                                                       "started_at": now.isoformat(), "reason": reason}


def open_rotation_from_record(data: dict[str, Any]) -> OpenRotation:
    return OpenRotation(number=int(data["rotation"]), started_at=datetime.fromisoformat(data["started_at"]),
                        actor=str(data.get("actor") or "unknown"))


# A record names at most this many grant ids itself, and each further page this many more: Vault refuses a JSON body
# of more than about a thousand strings, and the grants a rotation revokes are as many as other people opened.
INLINE_GRANT_IDS = 100
PAGE_GRANT_IDS = 500


def split_grant_ids(ids: tuple[str, ...] | list[str]) -> tuple[list[str], list[list[str]]]:
    """The ids a record names itself, and the pages of the rest."""
    rest = list(ids[INLINE_GRANT_IDS:])
    return list(ids[:INLINE_GRANT_IDS]), [rest[i:i + PAGE_GRANT_IDS] for i in range(0, len(rest), PAGE_GRANT_IDS)]


def revoked_page_path(record_path: str, page: int) -> str:
    return f"{record_path}/revoked/{page}"


def replacement_path(account_id: str, generation: int) -> str:
    return f"replacements/{account_id}/{generation}"


def revoked_fields(ids: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """How a record names the grants it revoked: the first ones, how many in all, on how many further pages."""
    first, pages = split_grant_ids(ids)
    return {"revoked_grants": first, "revoked_count": len(ids), "revoked_pages": len(pages)}


def page_record(account_id: str, page: int, ids: list[str], event: Event, at: datetime) -> dict[str, Any]:
    return {"event": event.value, "account": account_id, "page": page, "revoked_grants": ids, "at": at.isoformat()}


def evidence_to_record(ev: Evidence) -> dict[str, Any]:
    """Started: who, why, what it replaces. Once the new set is stored: also what it destroys and revokes (the
    first grants here, the rest on pages). Completed: stamped by whoever completed it, with the grants it did
    revoke."""
    event = Event.rotation_completed if ev.completed else Event.rotation_started
    record: dict[str, Any] = {
        "event": event.value, "actor": ev.actor, "actor_entity": ev.actor_entity, "at": ev.at.isoformat(),
        "account": ev.account, "rotation": ev.number, "status": ev.status, "reason": ev.reason, "count": ev.count,
        "new_set": ev.new_set, "previous_versions": list(ev.previous_versions),
        "previous_generation": ev.previous_generation, "started_at": ev.started_at.isoformat(),
    }
    if ev.new_version is not None:
        record |= {"new_version": ev.new_version, "destroyed_versions": list(ev.destroyed_versions),
                   **revoked_fields(ev.revoked_grants)}
    if ev.completed_at is not None:
        record["completed_at"] = ev.completed_at.isoformat()
    return record


def evidence_from_record(data: dict[str, Any], more_revoked: list[str] | None = None) -> Evidence:
    """The evidence in ``data``; ``more_revoked``: the grant ids on its pages, in order."""
    new_version = data.get("new_version")
    completed_at = data.get("completed_at")
    return Evidence(
        account=str(data["account"]), number=int(data["rotation"]), reason=str(data.get("reason") or ""),
        count=int(data.get("count") or 0), new_set=str(data["new_set"]),
        previous_versions=tuple(int(v) for v in data.get("previous_versions") or []),
        previous_generation=int(data.get("previous_generation") or 0),
        started_at=datetime.fromisoformat(data["started_at"]), actor=str(data.get("actor") or "unknown"),
        actor_entity=str(data.get("actor_entity") or ""), at=datetime.fromisoformat(data["at"]),
        status=str(data.get("status") or "started"),
        new_version=int(new_version) if new_version is not None else None,
        destroyed_versions=tuple(int(v) for v in data.get("destroyed_versions") or []),
        revoked_grants=tuple(str(g) for g in [*(data.get("revoked_grants") or []), *(more_revoked or [])]),
        completed_at=datetime.fromisoformat(completed_at) if completed_at else None,
    )


def denial_record(who: Principal, path: str, capability: str, at: datetime, count: int) -> dict[str, Any]:
    """One refusal (what the audit log shows of the write), and how many its record has counted that day."""
    return stamp(Event.access_denied, who, at) | {"path": path, "capability": capability, "count": count}
