"""Enrolment waves: the accounts enrolled together, and how far each has come. Pure: no I/O.

An account's stage is computed from facts custody holds, never from what someone reports:

    registered --> codes-deposited --> keys-ok --> drill-passed

- ``registered``: custody has the account;
- ``codes-deposited``: its recovery codes are in custody, with at least one left to hand out;
- ``keys-ok``: ``keys check`` passes (two verified keys on separate tokens, no custodian who left);
- ``drill-passed``: a recovery drill of it passed within the last year.

Each stage needs the ones before it: an account whose drill passed but whose keys are not ok is at
``codes-deposited``, and ``missing`` says what holds it back.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from custody.domain.models import Model, iso
from custody.errors import Conflict, ValidationError

MAX_ACCOUNTS = 500  # per wave: a record must stay small (Vault limits a JSON body's strings)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class Stage(StrEnum):
    registered = "registered"
    codes_deposited = "codes-deposited"
    keys_ok = "keys-ok"
    drill_passed = "drill-passed"


ORDER = tuple(Stage)


class Wave(Model):
    name: str
    accounts: tuple[str, ...]
    window_start: datetime | None = None
    window_end: datetime | None = None
    created_at: datetime
    created_by: str


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValidationError(f"not a wave name: {name[:70]!r}",
                              hint="1-63 lower-case letters, digits, '.', '_' or '-', e.g. wave-1")
    return name


def parse_window(text: str | None) -> tuple[datetime | None, datetime | None]:
    """``START/END`` (ISO dates or times, UTC unless they say otherwise) -> the two instants; none without text."""
    if not text:
        return None, None
    start, sep, end = text.partition("/")
    if not sep:
        raise ValidationError(f"not a window: {text[:60]!r}", hint="START/END, e.g. 2026-01-05/2026-01-30")
    first, last = _instant(start), _instant(end, end_of_day=True)
    if last <= first:
        raise ValidationError("the window ends before it starts", hint="START/END, with END after START")
    return first, last


def _instant(text: str, end_of_day: bool = False) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"not a date or time: {text[:40]!r}", hint="e.g. 2026-01-05 or 2026-01-05T09:00") \
            from None
    if end_of_day and len(text.strip()) == 10:  # a date: the whole day
        moment = moment.replace(hour=23, minute=59, second=59)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def new_wave(name: str, accounts: Sequence[str], window: str | None, existing: Iterable[Wave], by: str,
             now: datetime) -> Wave:
    """A wave of ``accounts`` (each in no other wave), or a specific error."""
    check_name(name)
    chosen = tuple(dict.fromkeys(accounts))
    if not chosen:
        raise ValidationError("a wave needs at least one account", hint="--accounts pypi/a pypi/b ...")
    if len(chosen) > MAX_ACCOUNTS:
        raise ValidationError(f"{len(chosen)} accounts in one wave; at most {MAX_ACCOUNTS}",
                              hint="split it into several waves")
    start, end = parse_window(window)
    for other in existing:
        if other.name == name:
            raise Conflict(f"wave {name} already exists", hint="choose another name")
        if taken := sorted(set(other.accounts) & set(chosen)):
            raise Conflict(f"{', '.join(taken[:5])} already in wave {other.name}",
                           hint="an account is enrolled in one wave")
    return Wave(name=name, accounts=chosen, window_start=start, window_end=end, created_at=now, created_by=by)


@dataclass(frozen=True)
class Facts:
    """What custody holds about one account, for its stage."""

    registered: bool
    codes: bool
    keys_ok: bool
    drill_passed: bool


NOTHING = Facts(False, False, False, False)
NOT_REGISTERED = "not-registered"


def stage(f: Facts) -> tuple[Stage | None, list[str]]:
    """The account's stage (None: not registered) and what it still lacks."""
    reached: Stage | None = None
    missing: list[str] = []
    for s, held, lack in ((Stage.registered, f.registered, "registered in custody"),
                          (Stage.codes_deposited, f.codes, "recovery codes deposited"),
                          (Stage.keys_ok, f.keys_ok, "keys check passing"),
                          (Stage.drill_passed, f.drill_passed, "a passing drill in the last 365 days")):
        if held and not missing:
            reached = s
        elif not held:
            missing.append(lack)
    return reached, missing


def status(waves: Sequence[Wave], facts: Mapping[str, Facts], now: datetime) -> dict[str, object]:
    """What ``custody rollout status`` answers: each wave's accounts with their stage, counts per wave and overall."""
    every = [a for w in waves for a in w.accounts]
    overall = Counter(stage_name(facts, a) for a in every)
    return {"at": now.isoformat(), "stages": [s.value for s in ORDER],
            "waves": [wave_status(w, facts, now) for w in waves], "counts": _counts(overall),
            "accounts": len(every)}


def stage_name(facts: Mapping[str, Facts], account: str) -> str:
    reached, _ = stage(facts.get(account, NOTHING))
    return reached.value if reached else NOT_REGISTERED


def _counts(counts: Counter[str]) -> dict[str, int]:
    return {k: counts[k] for k in (*(s.value for s in ORDER), NOT_REGISTERED)}


def wave_status(w: Wave, facts: Mapping[str, Facts], now: datetime) -> dict[str, object]:
    rows = []
    for account in w.accounts:
        reached, missing = stage(facts.get(account, NOTHING))
        rows.append({"account": account, "stage": reached.value if reached else NOT_REGISTERED,
                     "missing": missing})
    counts = Counter(str(r["stage"]) for r in rows)
    done = counts[Stage.drill_passed.value]
    late = w.window_end is not None and now > w.window_end and done < len(rows)
    return {"name": w.name, "window_start": iso(w.window_start), "window_end": iso(w.window_end),
            "created_at": iso(w.created_at), "created_by": w.created_by, "accounts": rows,
            "counts": _counts(counts), "complete": done == len(rows), "late": late}
