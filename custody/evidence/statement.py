"""The in-toto Statement v1 an evidence pack carries, its period, and the canonical bytes it is signed as.

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "audit.log", "digest": {"sha256": "..."}}, ...],
     "predicateType": PREDICATE_TYPE,
     "predicate": {"period", "inputs", "accounts", "custody", "keys", "drills", "offboardings", "access",
                   "inventory", "controls"}}

The subjects are the audit-log files the pack was built from (and the inventory, when one was given), by SHA-256.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from custody.evidence.dsse import InvalidEvidence

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "urn:custody:evidence-pack:v1"
RAW_SECTIONS = ("accounts", "custody", "keys", "drills", "offboardings", "access", "inventory")
MAX_PERIOD = timedelta(days=3 * 366)


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    def __contains__(self, when: datetime | None) -> bool:
        return when is not None and self.start <= when < self.end

    def as_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    def text(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


def _when(text: str, end: bool) -> datetime:
    text = text.strip()
    try:
        if len(text) == 10:  # a date: from its first instant; an end date counts whole
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC) + (timedelta(days=1) if end else timedelta())
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidEvidence(f"not a date or time: {text!r}",
                              hint="--period START/END, e.g. 2026-01-01/2026-12-31 (dates in UTC, END included) "
                                   "or ISO 8601 times") from None


def parse_period(text: str) -> Period:
    """``START/END``: ISO 8601 dates (an END date is included whole) or times (naive means UTC)."""
    start, sep, end = text.partition("/")
    if not sep or not start.strip() or not end.strip():
        raise InvalidEvidence(f"not a period: {text!r}", hint="--period START/END, e.g. 2026-01-01/2026-12-31")
    period = Period(_when(start, end=False), _when(end, end=True))
    if period.end <= period.start:
        raise InvalidEvidence(f"the period {text!r} ends before it starts", hint="--period START/END, START first")
    if period.end - period.start > MAX_PERIOD:
        raise InvalidEvidence(f"the period {text!r} is longer than three years",
                              hint="build one pack per audit period (usually a year)")
    return period


def statement(subjects: list[dict[str, Any]], predicate: Mapping[str, Any]) -> dict[str, Any]:
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": PREDICATE_TYPE,
            "predicate": dict(predicate)}


def subject(name: str, sha256: str) -> dict[str, Any]:
    return {"name": name, "digest": {"sha256": sha256}}


def payload_bytes(stmt: Mapping[str, Any]) -> bytes:
    """The statement's canonical JSON (sorted keys, no spaces, UTF-8): the bytes that get signed."""
    return json.dumps(stmt, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def parse_statement(payload: bytes) -> dict[str, Any]:
    """The statement a verified payload holds, checked to be custody's evidence statement."""
    try:
        stmt = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise InvalidEvidence("the payload is not JSON", hint="this is not a custody evidence pack") from None
    if not isinstance(stmt, dict) or stmt.get("_type") != STATEMENT_TYPE:
        raise InvalidEvidence(f"the payload is not an in-toto Statement v1 (_type must be {STATEMENT_TYPE})")
    if stmt.get("predicateType") != PREDICATE_TYPE:
        raise InvalidEvidence(f"the statement's predicateType is {stmt.get('predicateType')!r}, not "
                              f"{PREDICATE_TYPE}", hint="this is not a custody evidence pack")
    predicate = stmt.get("predicate")
    if not isinstance(predicate, dict) or not isinstance(stmt.get("subject"), list):
        raise InvalidEvidence("the statement has no predicate object or no subject list")
    missing = [k for k in ("period", "inputs", "controls", *RAW_SECTIONS) if k not in predicate]
    if missing:
        raise InvalidEvidence(f"the predicate lacks {', '.join(missing)}", hint="this is not a custody evidence pack")
    return stmt


def check_logs(stmt: Mapping[str, Any], given: list[tuple[str, str]]) -> list[str]:
    """Each given audit log ``(name, sha256)`` must be one the pack was built from, byte for byte: the names of
    those that are; InvalidEvidence naming the first that is not."""
    inputs = stmt["predicate"]["inputs"].get("audit_logs") or []
    by_digest = {str(i.get("sha256")): str(i.get("name")) for i in inputs}
    by_name = {str(i.get("name")): str(i.get("sha256")) for i in inputs}
    checked = []
    for name, sha256 in given:
        if sha256 in by_digest:
            checked.append(name)
            continue
        base = name.rsplit("/", 1)[-1]
        if base in by_name:
            raise InvalidEvidence(f"{name} no longer matches the pack: its SHA-256 is {sha256}, the pack was built "
                                  f"from {by_name[base]}", hint="the log was changed (or truncated, or rotated "
                                  "into) after the pack was built; find the copy the pack names")
        raise InvalidEvidence(f"{name} is not one of the audit logs the pack was built from (its SHA-256 "
                              f"{sha256} matches none)", hint="the pack names " + (", ".join(sorted(by_name))
                                                                                   or "no log"))
    return checked
