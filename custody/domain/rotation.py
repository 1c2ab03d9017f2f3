"""When an account's recovery codes are due for rotation, since when, and whether that is overdue. Pure: no I/O.

An account is **due** for any of these reasons, each with the instant it started to apply:

- ``no_codes``: nothing is deposited (since the account was registered);
- ``max_age``: the set is older than ``max_age`` (since ``deposited_at + max_age``);
- ``low_remaining``: at most ``min_remaining`` codes are left (since the reveal that crossed the threshold);
- ``revealed``: a code was handed out since the last rotation (since the first such reveal);
- ``interrupted``: a rotation was started and not finished (since it started, once it has been open longer than
  ``INTERRUPTED_AFTER``; a younger one is probably still running);
- ``leaked_code``: one of its codes was reported leaked and burned (``custody codes burn``), since then;
- ``person_left``: someone who revealed one of its codes in the last year was offboarded, since then.

The last two are *marks* written on the account (``RotationMark``): each names the generation of the set it was
made against, and stops applying once a rotation has replaced that set.

It is **overdue** once it has been due for longer than the grace period. An interrupted rotation and a leaked
code get no grace: old code versions may still be readable in Vault, or a usable code is known outside custody, so
each is overdue as soon as it applies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from custody.domain.models import CodeSet, Principal, fingerprint
from custody.domain.reasons import check_visible
from custody.errors import Conflict, ValidationError

INTERRUPTED_AFTER = timedelta(minutes=15)
REVOKED_REASON = "codes rotated"  # what a grant revoked by a rotation says
REPLACED_REASON = "codes replaced"  # ...and by a `codes deposit --replace`


class DueKind(StrEnum):
    no_codes = "no_codes"
    max_age = "max_age"
    low_remaining = "low_remaining"
    revealed = "revealed"
    interrupted = "interrupted"
    leaked_code = "leaked_code"
    person_left = "person_left"


NO_GRACE = frozenset({DueKind.interrupted, DueKind.leaked_code})


@dataclass(frozen=True)
class RotationPolicy:
    max_age: timedelta = timedelta(days=365)
    min_remaining: int = 3
    grace: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        if self.max_age <= timedelta(0):
            raise ValueError("max_age must be positive")
        if self.min_remaining < 0:
            raise ValueError("min_remaining must be zero or more")
        if self.grace < timedelta(0):
            raise ValueError("grace must not be negative")


@dataclass(frozen=True)
class CodesFacts:
    """What due detection needs to know about a code set, whether read from the set or from its summary."""

    total: int
    remaining: int
    deposited_at: datetime
    generation: int
    consumed_times: tuple[datetime, ...] = ()  # when each consumed code was handed out (or burned), oldest first
    burned: int = 0  # unused codes reported leaked and burned: used up, never handed out


def codeset_facts(cs: CodeSet) -> CodesFacts:
    times = sorted(t for c in cs.codes if (t := c.consumed_at or c.burned_at) is not None)
    # A code without its secret (never the case today) counts as used but has no time: use the deposit time.
    times += [cs.deposited_at] * (cs.consumed - len(times))
    return CodesFacts(total=cs.total, remaining=cs.remaining, deposited_at=cs.deposited_at,
                      generation=cs.generation, consumed_times=tuple(sorted(times)),
                      # A code handed out and then burned was revealed all the same: it counts as revealed.
                      burned=sum(1 for c in cs.codes if c.burned_at is not None and c.consumed_at is None))


@dataclass(frozen=True)
class OpenRotation:
    """A rotation that was started and not yet completed (its marker is still in KV)."""

    number: int
    started_at: datetime
    actor: str

    def as_dict(self) -> dict[str, str | int]:
        return {"rotation": self.number, "started_at": self.started_at.isoformat(), "actor": self.actor}


@dataclass(frozen=True)
class RotationMark:
    """A reason to rotate that the code set cannot show: a leaked code, a person who left. ``source`` names what
    made it (``leak:<fp>``, ``person:<email>``), so that making it again changes nothing."""

    kind: DueKind
    message: str
    since: datetime
    generation: int  # the generation of the set it was made against: a later rotation ends it
    source: str

    def applies(self, facts: CodesFacts | None) -> bool:
        return facts is None or self.generation >= facts.generation


@dataclass(frozen=True)
class DueReason:
    kind: DueKind
    message: str
    since: datetime

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind.value, "message": self.message, "since": self.since.isoformat()}


@dataclass(frozen=True)
class Assessment:
    reasons: tuple[DueReason, ...]
    next_due_at: datetime | None  # earliest instant a reason applies (in the past when due); None: unforeseeable
    overdue_at: datetime | None
    overdue: bool
    interrupted: OpenRotation | None = None
    facts: CodesFacts | None = field(default=None, repr=False)

    @property
    def due(self) -> bool:
        return bool(self.reasons)


def assess(
    facts: CodesFacts | None,
    policy: RotationPolicy,
    now: datetime,
    account_created_at: datetime,
    open_rotation: OpenRotation | None = None,
    marks: Iterable[RotationMark] = (),
) -> Assessment:
    """Due reasons, next due date and overdue state of one account at ``now``."""
    reasons: list[DueReason] = [DueReason(m.kind, m.message, m.since) for m in marks if m.applies(facts)]
    upcoming: list[datetime] = []
    interrupted = None
    if open_rotation is not None:
        since = open_rotation.started_at + INTERRUPTED_AFTER
        if now >= since:
            interrupted = open_rotation
            reasons.append(DueReason(
                DueKind.interrupted,
                f"rotation #{open_rotation.number} started by {open_rotation.actor} was not completed",
                since))
        else:
            upcoming.append(since)
    if facts is None:
        reasons.append(DueReason(DueKind.no_codes, "no codes deposited", account_created_at))
    else:
        aged_at = facts.deposited_at + policy.max_age
        if now >= aged_at:
            reasons.append(DueReason(DueKind.max_age, f"codes older than {_days(policy.max_age)}", aged_at))
        else:
            upcoming.append(aged_at)
        low = low_since(facts, policy.min_remaining)
        if low is not None:
            reasons.append(DueReason(
                DueKind.low_remaining,
                f"{facts.remaining} codes remaining (threshold {policy.min_remaining})", low))
        consumed = facts.total - facts.remaining - facts.burned  # burned codes are a reason of their own
        if consumed > 0:
            first = facts.consumed_times[0] if facts.consumed_times else facts.deposited_at
            reasons.append(DueReason(DueKind.revealed, f"{consumed} code(s) revealed since the last rotation",
                                     first))
    if reasons:
        due_since = min(r.since for r in reasons)
        # An interrupted rotation may have left old codes readable, a leaked code is known outside: no grace.
        overdue_at = min((r.since if r.kind in NO_GRACE else r.since + policy.grace) for r in reasons)
        urgent = any(r.kind in NO_GRACE for r in reasons)
        overdue = urgent or now > overdue_at  # due for *longer* than the grace period
        return Assessment(tuple(reasons), due_since, overdue_at, overdue, interrupted, facts)
    nxt = min(upcoming) if upcoming else None
    return Assessment((), nxt, nxt + policy.grace if nxt else None, False, interrupted, facts)


def low_since(facts: CodesFacts, min_remaining: int) -> datetime | None:
    """When the remaining count first fell to ``min_remaining`` or below, or None if it has not."""
    if facts.remaining > min_remaining:
        return None
    needed = facts.total - min_remaining  # consumptions it took to reach the threshold
    if needed <= 0 or not facts.consumed_times:
        return facts.deposited_at  # a small set is low from the moment it was deposited
    return facts.consumed_times[min(needed, len(facts.consumed_times)) - 1]


def _days(delta: timedelta) -> str:
    return f"{delta.days} days" if delta.days and delta == timedelta(days=delta.days) else str(delta)


# ---- the per-account summary kept in KV custom_metadata of codes/<account> ------------------------------------
#
# A sweep over thousands of accounts should read neither secrets nor whole code sets. The writer of a code set
# leaves a summary of it in the key's custom_metadata: the data version it describes (V), total and remaining at V,
# when each code consumed by then was handed out, deposit time and generation. Reveals do not touch the summary:
# each one writes exactly one new version, so the projection below derives remaining = remaining(V) - (current - V)
# and each later reveal's time from Vault's own version timestamps. A write that is not a reveal can only make the
# projection *understate* what is left (never overstate it). Writers mark the summary ``stale`` before a new
# generation and ``fresh`` after; a stale, missing or inconsistent summary sends the reader to the code set itself.

SUMMARY_FORMAT = "1"
MAX_SUMMARY_TIMES = 40  # custom_metadata values are limited to 512 characters


@dataclass(frozen=True)
class Summary:
    state: str  # "fresh" or "stale"
    version: int = 0
    total: int = 0
    remaining: int = 0
    deposited_at: datetime | None = None
    generation: int = 0
    consumed_times: tuple[datetime, ...] = ()
    stale_since: datetime | None = None
    burned: int = 0


def summary_of(facts: CodesFacts, version: int) -> Summary:
    return Summary("fresh", version, facts.total, facts.remaining, facts.deposited_at, facts.generation,
                   facts.consumed_times, burned=facts.burned)


def summary_to_metadata(summary: Summary) -> dict[str, str] | None:
    """Flat string map for KV custom_metadata; None when the summary does not fit (read the set instead)."""
    if summary.state == "stale":
        return {"custody_summary": SUMMARY_FORMAT, "state": "stale",
                "stale_since": _iso(summary.stale_since) or "-"}
    if len(summary.consumed_times) > MAX_SUMMARY_TIMES or summary.deposited_at is None:
        return None
    return {
        "custody_summary": SUMMARY_FORMAT,
        "state": "fresh",
        "version": str(summary.version),
        "total": str(summary.total),
        "remaining": str(summary.remaining),
        "deposited_at": _iso(summary.deposited_at),
        "generation": str(summary.generation),
        # Vault refuses empty values: "-" is "none".
        "consumed": ",".join(str(int(t.timestamp())) for t in summary.consumed_times) or "-",
        "burned": str(summary.burned),
    }


def summary_from_metadata(custom: Mapping[str, Any] | None) -> Summary | None:
    """The summary in ``custom``, or None if there is none or it is unreadable."""
    if not custom or custom.get("custody_summary") != SUMMARY_FORMAT:
        return None
    try:
        if custom.get("state") == "stale":
            return Summary("stale", stale_since=_parse(custom.get("stale_since")))
        if custom.get("state") != "fresh":
            return None
        consumed = str(custom.get("consumed") or "-")
        times = tuple(datetime.fromtimestamp(int(t), UTC) for t in consumed.split(",") if t and t != "-")
        return Summary("fresh", int(custom["version"]), int(custom["total"]), int(custom["remaining"]),
                       _parse(custom["deposited_at"]), int(custom["generation"]), times,
                       burned=int(custom.get("burned") or 0))
    except (KeyError, ValueError, TypeError):
        return None


def project(summary: Summary, current_version: int, versions: Mapping[str, Any]) -> CodesFacts | None:
    """The code set's facts now, from a fresh summary and the key's metadata; None if that cannot be trusted."""
    if summary.state != "fresh" or summary.deposited_at is None or current_version < summary.version:
        return None
    later = current_version - summary.version  # each later version is one reveal
    remaining = summary.remaining - later
    if remaining < 0 or summary.remaining > summary.total:
        return None
    times = list(summary.consumed_times)
    for v in range(summary.version + 1, current_version + 1):
        created = _parse((versions.get(str(v)) or {}).get("created_time"))
        if created is None:
            return None  # pruned or unreadable: read the set
        times.append(created)
    return CodesFacts(summary.total, remaining, summary.deposited_at, summary.generation, tuple(sorted(times)),
                      summary.burned)


def version_gone(info: Mapping[str, Any] | None, now: datetime) -> bool:
    """Whether a KV version's data is gone: destroyed, or deleted (a deletion time that has come, which
    ``delete_version_after`` sets ahead of time)."""
    if not info:
        return False
    if info.get("destroyed"):
        return True
    deleted = _parse(info.get("deletion_time"))
    return deleted is not None and deleted <= now


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _parse(value: object) -> datetime | None:
    if not value or not isinstance(value, str) or value == "-":
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def destroyable_versions(versions: Mapping[str, Any], below: int) -> list[int]:
    """Version numbers under ``below`` whose data still exists (not yet destroyed)."""
    return sorted(int(v) for v, meta in versions.items()
                  if v.isdigit() and int(v) < below and not (meta or {}).get("destroyed"))


def set_digest(fingerprints: Iterable[str]) -> str:
    """A name for a whole code set, built from the codes' fingerprints (never from the codes)."""
    return "set-" + hashlib.sha256("\n".join(sorted(fingerprints)).encode()).hexdigest()[:16]


def digest_of(codes: Iterable[str]) -> str:
    """``set_digest`` of a set given as codes."""
    return set_digest(fingerprint(c) for c in codes)


def refuse_reused(account_id: str, current: CodeSet | None, codes: list[str]) -> None:
    """Regenerating invalidates every old code: a code of the current set in the new one means a stale file."""
    reused = {c.fp for c in current.codes} & {fingerprint(c) for c in codes} if current else set()
    if reused:
        raise Conflict(
            f"{len(reused)} of these codes are already deposited for {account_id}; a rotation takes newly "
            "regenerated codes", hint="regenerate the recovery codes on the platform, then rotate with those")


def rotation_reason(reason: str | None) -> str:
    """The reason kept in the evidence and sent in notifications: what a reader sees is what is stored."""
    check_visible(reason or "", "the rotation reason")
    text = " ".join((reason or "").split())
    if len(text) > 1000:
        raise ValidationError("the rotation reason is longer than 1000 characters")
    return text or "scheduled rotation"


# ---- the evidence a rotation keeps -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Evidence:
    """What rotation ``number`` of an account did, kept in KV from its start: who, when, why, how many codes, the
    versions it replaces; once the new set is stored, the versions it destroyed and the grants it revokes; at the
    end, who completed it and the grants it did revoke (not one whose reveal finished first)."""

    account: str
    number: int
    reason: str
    count: int
    new_set: str  # set_digest of the new codes
    previous_versions: tuple[int, ...]  # versions of the old set whose data existed when it started
    previous_generation: int
    started_at: datetime
    actor: str  # who started it; who completed it, once completed
    actor_entity: str
    at: datetime
    status: str = "started"  # "started" or "completed"
    new_version: int | None = None  # set once the new codes are stored and old versions destroyed
    destroyed_versions: tuple[int, ...] = ()
    revoked_grants: tuple[str, ...] = ()
    completed_at: datetime | None = None

    @classmethod
    def start(cls, account: str, number: int, reason: str, codes: list[str], previous_versions: list[int],
              previous_generation: int, who: Principal, now: datetime) -> Evidence:
        return cls(account=account, number=number, reason=reason, count=len(codes), new_set=digest_of(codes),
                   previous_versions=tuple(previous_versions), previous_generation=previous_generation,
                   started_at=now, actor=who.display_name, actor_entity=who.id, at=now)

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    def complete(self, revoked: list[str], who: Principal, now: datetime) -> Evidence:
        return replace(self, status="completed", revoked_grants=tuple(revoked), completed_at=now,
                       actor=who.display_name, actor_entity=who.id, at=now)

