"""Drill timing, who took part, and what the report flags, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custody.domain import drills as rules
from custody.domain.drills import Step
from custody.domain.models import Principal
from custody.errors import Conflict, PreconditionFailed, ValidationError

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
TARGET = timedelta(minutes=15)
SEC = Principal(id="e-sec", display_name="userpass-sec", entity_id="e-sec", policies=("custody-security",))
BOTH = Principal(id="e-lead", display_name="userpass-lead", entity_id="e-lead",
                 policies=("custody-security", "custody-requester"))
ENG = Principal(id="e-eng", display_name="userpass-eng", entity_id="e-eng", policies=("custody-requester",))


def drill(minutes: float | None, result: str = "pass", *, who: Principal = BOTH, account: str = "pypi/acme",
          start: datetime = T0) -> rules.Drill:
    d = rules.start(account, "maintainer lost both keys", None, SEC, start)
    d = rules.note(d, rules.participant(who, Step.requested, start + timedelta(minutes=1), "gr_aaaaaaaaaaaaaaaa"))
    d = rules.note(d, rules.participant(who, Step.revealed, start + timedelta(minutes=2), "gr_aaaaaaaaaaaaaaaa"))
    if minutes is None:
        return d
    return rules.finish(d, result, "notes", SEC, start + timedelta(minutes=minutes))


def flags(d: rules.Drill, now: datetime) -> list[str]:
    return [f.value for f, _ in rules.flags_of(d, now, TARGET)]


def test_time_to_recovery_is_finish_minus_start_and_time_to_code_the_first_reveal() -> None:
    d = drill(7)
    assert d.time_to_recovery == timedelta(minutes=7) and d.result is rules.Result.passed
    row = rules.drill_row(d)
    assert (row["time_to_recovery_seconds"], row["time_to_code_seconds"], row["grants"]) == (
        420, 120, ["gr_aaaaaaaaaaaaaaaa"])
    assert [p["step"] for p in row["participants"]] == ["started", "requested", "revealed", "finished"]
    assert flags(d, T0 + timedelta(hours=1)) == []


def test_the_report_flags_slow_failed_outsiders_and_unfinished_drills() -> None:
    now = T0 + timedelta(hours=2)
    assert flags(drill(16), now) == ["over_target"]
    assert flags(drill(5, "fail"), now) == ["failed"]
    assert flags(drill(5, who=ENG), now) == ["outside_security"]
    assert flags(drill(None), now) == ["unfinished"]
    assert flags(drill(None), T0 + timedelta(minutes=10)) == []  # still running, within the target
    assert rules.outsiders(drill(5, who=ENG)) == ["userpass-eng"]


def test_every_account_needs_a_passing_drill_within_a_year() -> None:
    now = T0 + timedelta(days=400)
    drills = [drill(5, account="pypi/a", start=now - timedelta(days=10)),
              drill(5, account="pypi/b", start=now - timedelta(days=366)),
              drill(5, "fail", account="pypi/c", start=now - timedelta(days=1))]
    r = rules.report(drills, ["pypi/a", "pypi/b", "pypi/c", "pypi/d"], now, TARGET)
    assert [a["account"] for a in r["accounts_without_pass"]] == ["pypi/b", "pypi/c", "pypi/d"]
    assert r["ok"] is False and r["flagged"] == [drills[2].id]
    assert r["counts"] == {"drills": 3, "passed": 2, "failed": 1, "open": 0, "flagged": 1, "accounts_without_pass": 3}
    assert rules.report(drills[:1], ["pypi/a"], now, TARGET)["ok"] is True


def test_finishing_twice_and_a_bad_result_are_refused() -> None:
    d = drill(5)
    with pytest.raises(Conflict, match="already finished at 2026-03-01 09:05:00 UTC"):
        rules.finish(d, "pass", None, SEC, T0 + timedelta(minutes=9))
    with pytest.raises(ValidationError, match="unknown result 'maybe'"):
        rules.finish(drill(None), "maybe", None, SEC, T0)


def test_only_an_open_drill_of_the_same_account_is_joined() -> None:
    rules.join(drill(None), "pypi/acme")
    with pytest.raises(PreconditionFailed, match="is a drill of pypi/acme, not of pypi/other"):
        rules.join(drill(None), "pypi/other")
    with pytest.raises(PreconditionFailed, match="is finished"):
        rules.join(drill(5), "pypi/acme")


def test_a_scenario_is_a_line_of_text_and_ids_are_checked() -> None:
    for bad in ("short", "x" * 1001, "a scenario with a \x1b[2J escape"):
        with pytest.raises(ValidationError):
            rules.start("pypi/acme", bad, None, SEC, T0)
    with pytest.raises(ValidationError, match="not a drill id"):
        rules.check_drill_id("dr_../../grants")
    assert rules.check_drill_id(rules.new_drill_id())


def test_steps_are_bounded_and_the_start_is_kept() -> None:
    d = drill(None)
    for i in range(rules.MAX_PARTICIPANTS + 10):
        d = rules.note(d, rules.participant(ENG, Step.approved, T0 + timedelta(seconds=i)))
    assert len(d.participants) == rules.MAX_PARTICIPANTS and d.participants[0].step is Step.started
