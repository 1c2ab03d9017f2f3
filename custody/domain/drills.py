"""Recovery drills: a timed rehearsal of break-glass access on one account. Pure: no I/O.

A drill is started (the clock starts), one or more break-glass grants name it (``custody access request --drill``)
and go through every rule a real grant does, and it is finished with a result (the clock stops). Time to
recovery is finish minus start. Everyone who acted in it is a participant, recorded as they act with whether
they held the ``custody-security`` policy at that moment.

``report`` flags what a drill programme must look at: drills over the target time, failed drills, drills with a
participant outside the security team, drills left open past the target, and accounts with no passing drill in
``PASS_WITHIN``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import Field

from custody.domain.ids import DRILL_ID, new_drill_id
from custody.domain.models import Model, Principal, iso
from custody.domain.reasons import hidden_characters
from custody.errors import Conflict, NotFound, PreconditionFailed, ValidationError

PASS_WITHIN = timedelta(days=365)
SECURITY_POLICY = "custody-security"
MAX_PARTICIPANTS = 100  # steps kept per drill: a record must stay small (Vault limits a JSON body's strings)


def check_drill_id(drill_id: str) -> str:
    if DRILL_ID.fullmatch(drill_id) is None:
        raise ValidationError(f"not a drill id: {drill_id[:40]!r}",
                              hint="drill ids look like dr_ and 12 letters or digits 2-7 (see `custody drill list`)")
    return drill_id


class Result(StrEnum):
    passed = "pass"
    failed = "fail"


class Step(StrEnum):
    started = "started"
    requested = "requested"
    approved = "approved"
    denied = "denied"
    reviewed = "reviewed"
    revealed = "revealed"
    finished = "finished"


class Participant(Model):
    """One step someone took in a drill, and whether they held the security team's policy when they took it."""

    name: str
    entity: str
    step: Step
    at: datetime
    security_team: bool
    grant_id: str | None = None


class Drill(Model):
    id: str
    account: str
    scenario: str
    witness: str | None = None
    started_at: datetime
    started_by: str
    finished_at: datetime | None = None
    finished_by: str | None = None
    result: Result | None = None
    notes: str = ""
    participants: tuple[Participant, ...] = Field(default=())

    @property
    def open(self) -> bool:
        return self.finished_at is None

    @property
    def time_to_recovery(self) -> timedelta | None:
        return self.finished_at - self.started_at if self.finished_at else None

    @property
    def grants(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.grant_id for p in self.participants if p.grant_id))

    def first(self, step: Step) -> Participant | None:
        return next((p for p in self.participants if p.step is step), None)


def _text(value: str | None, what: str, least: int, most: int) -> str:
    text = " ".join((value or "").split())
    if hidden_characters(value or ""):
        raise ValidationError(f"the {what} contains control, invisible or direction-override characters",
                              hint="one line of plain text")
    if not least <= len(text) <= most:
        raise ValidationError(f"the {what} must be {least}-{most} characters", hint=f"describe the {what}")
    return text


def participant(who: Principal, step: Step, now: datetime, grant_id: str | None = None) -> Participant:
    return Participant(name=who.display_name, entity=who.id, step=step, at=now,
                       security_team=SECURITY_POLICY in who.policies, grant_id=grant_id)


def start(account: str, scenario: str | None, witness: str | None, who: Principal, now: datetime) -> Drill:
    return Drill(id=new_drill_id(), account=account, scenario=_text(scenario, "scenario", 10, 1000),
                 witness=witness, started_at=now, started_by=who.display_name,
                 participants=(participant(who, Step.started, now),))


def finish(drill: Drill, result: str, notes: str | None, who: Principal, now: datetime) -> Drill:
    if not drill.open:
        raise Conflict(f"drill {drill.id} was already finished at {drill.finished_at:%Y-%m-%d %H:%M:%S} UTC "
                       f"({drill.result.value if drill.result else '?'})",
                       hint="a drill is finished once; start a new one to run it again")
    try:
        outcome = Result(result)
    except ValueError:
        raise ValidationError(f"unknown result {result!r}", hint="use --result pass or --result fail") from None
    return note(drill.model_copy(update={"finished_at": now, "finished_by": who.display_name, "result": outcome,
                                         "notes": _text(notes, "notes", 0, 2000)}),
                participant(who, Step.finished, now))


def join(drill: Drill, account: str) -> None:
    """Raise unless a break-glass request on ``account`` may name ``drill``."""
    if drill.account != account:
        raise PreconditionFailed(f"drill {drill.id} is a drill of {drill.account}, not of {account}",
                                 hint="name the drill of the account you request")
    if not drill.open:
        raise PreconditionFailed(f"drill {drill.id} is finished", hint="start a new drill (`custody drill start`)")


def note(drill: Drill, step: Participant) -> Drill:
    """The drill with one more step recorded (the oldest dropped past MAX_PARTICIPANTS, the start kept)."""
    steps = (*drill.participants, step)
    if len(steps) > MAX_PARTICIPANTS:
        steps = (steps[0], *steps[-(MAX_PARTICIPANTS - 1):])
    return drill.model_copy(update={"participants": steps})


def unknown(drill_id: str) -> NotFound:
    return NotFound(f"unknown drill {drill_id}", hint="see `custody drill list`")


# ---- the report ------------------------------------------------------------------------------------------------
class Flag(StrEnum):
    over_target = "over_target"
    failed = "failed"
    outside_security = "outside_security"
    unfinished = "unfinished"
    no_pass = "no_passing_drill"


def outsiders(drill: Drill) -> list[str]:
    """Participants who did not hold the security team's policy when they acted."""
    return sorted({p.name for p in drill.participants if not p.security_team})


def flags_of(drill: Drill, now: datetime, target: timedelta) -> list[tuple[Flag, str]]:
    found: list[tuple[Flag, str]] = []
    ttr = drill.time_to_recovery
    if ttr is not None and ttr > target:
        found.append((Flag.over_target, f"took {minutes(ttr)}, over the target of {minutes(target)}"))
    if ttr is None and now - drill.started_at > target:
        found.append((Flag.unfinished, f"started {minutes(now - drill.started_at)} ago and not finished"))
    if drill.result is Result.failed:
        found.append((Flag.failed, "failed" + (f": {drill.notes}" if drill.notes else "")))
    if out := outsiders(drill):
        found.append((Flag.outside_security, f"participants outside the security team: {', '.join(out)}"))
    return found


def last_pass(drills: Iterable[Drill], account: str) -> datetime | None:
    passes = [d.finished_at for d in drills
              if d.account == account and d.result is Result.passed and d.finished_at is not None]
    return max(passes, default=None)


def report(drills: Sequence[Drill], accounts: Sequence[str], now: datetime, target: timedelta) -> dict[str, object]:
    """What ``custody drill report`` answers; ``ok`` is False when anything is flagged."""
    rows = [drill_row(d) | {"flags": [{"kind": f.value, "message": m} for f, m in flags_of(d, now, target)]}
            for d in sorted(drills, key=lambda d: d.started_at)]
    stale = []
    for account in accounts:
        passed = last_pass(drills, account)
        if passed is None or now - passed > PASS_WITHIN:
            stale.append({"account": account, "last_pass": iso(passed),
                          "message": "no passing drill in the last 365 days" if passed else "never drilled "
                          "successfully"})
    flagged = [r for r in rows if r["flags"]]
    times = sorted(t.total_seconds() for d in drills if (t := d.time_to_recovery) is not None)
    return {
        "at": now.isoformat(), "target_seconds": int(target.total_seconds()), "target": minutes(target),
        "drills": rows, "flagged": [r["id"] for r in flagged],
        "accounts_without_pass": stale,
        "counts": {"drills": len(rows), "passed": sum(1 for d in drills if d.result is Result.passed),
                   "failed": sum(1 for d in drills if d.result is Result.failed),
                   "open": sum(1 for d in drills if d.open), "flagged": len(flagged),
                   "accounts_without_pass": len(stale)},
        "median_time_to_recovery_seconds": int(times[len(times) // 2]) if times else None,
        "ok": not flagged and not stale,
    }


def drill_row(d: Drill) -> dict[str, object]:
    """A drill as the API answers it: its record, and the times derived from it."""
    ttr = d.time_to_recovery
    revealed = d.first(Step.revealed)
    return {
        "id": d.id, "account": d.account, "scenario": d.scenario, "witness": d.witness,
        "status": "open" if d.open else "finished", "result": d.result.value if d.result else None,
        "notes": d.notes, "started_at": iso(d.started_at), "started_by": d.started_by,
        "finished_at": iso(d.finished_at), "finished_by": d.finished_by,
        "time_to_recovery_seconds": int(ttr.total_seconds()) if ttr is not None else None,
        "time_to_code_seconds": int((revealed.at - d.started_at).total_seconds()) if revealed else None,
        "grants": list(d.grants),
        "participants": [p.model_dump(mode="json") for p in d.participants],
        "outside_security": outsiders(d),
    }


def minutes(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds < 7200 else f"{seconds // 3600}h{seconds // 60 % 60:02d}m"
