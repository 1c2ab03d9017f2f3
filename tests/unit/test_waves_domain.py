"""Enrolment waves: names, windows, one wave per account, and stages computed from facts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from custody.domain import waves as rules
from custody.domain.waves import Facts, Stage
from custody.errors import Conflict, ValidationError

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def wave(name: str = "wave-1", accounts: tuple[str, ...] = ("pypi/a", "pypi/b"), window: str | None = None,
         existing: tuple[rules.Wave, ...] = ()) -> rules.Wave:
    return rules.new_wave(name, accounts, window, existing, "userpass-security", T0)


@pytest.mark.parametrize(("facts", "stage", "missing"), [
    (Facts(True, False, False, False), Stage.registered, 3),
    (Facts(True, True, False, False), Stage.codes_deposited, 2),
    (Facts(True, True, True, False), Stage.keys_ok, 1),
    (Facts(True, True, True, True), Stage.drill_passed, 0),
    (Facts(True, True, False, True), Stage.codes_deposited, 1),  # a drill does not make up for missing keys
    (Facts(False, False, False, False), None, 4),
])
def test_a_stage_needs_every_stage_before_it(facts: Facts, stage: Stage | None, missing: int) -> None:
    reached, lacks = rules.stage(facts)
    assert reached is stage and len(lacks) == missing


def test_status_counts_per_wave_and_overall_and_says_when_a_wave_is_late() -> None:
    w1 = wave(window="2026-03-01/2026-03-10")
    w2 = wave("wave-2", ("pypi/c",), existing=(w1,))
    facts = {"pypi/a": Facts(True, True, True, True), "pypi/b": Facts(True, True, False, False),
             "pypi/c": Facts(True, True, True, True)}
    s = rules.status([w1, w2], facts, datetime(2026, 3, 11, tzinfo=UTC))
    first, second = s["waves"]  # type: ignore[misc]
    assert first["counts"]["drill-passed"] == 1 and first["counts"]["codes-deposited"] == 1
    assert first["late"] is True and first["complete"] is False and second["complete"] is True
    assert first["accounts"][1]["missing"] == ["keys check passing", "a passing drill in the last 365 days"]
    assert s["counts"] == {"registered": 0, "codes-deposited": 1, "keys-ok": 0, "drill-passed": 2,
                           "not-registered": 0}
    assert first["window_end"] == "2026-03-10T23:59:59+00:00"


def test_bad_waves_are_refused() -> None:
    w1 = wave()
    with pytest.raises(Conflict, match="wave wave-1 already exists"):
        wave(existing=(w1,))
    with pytest.raises(Conflict, match="pypi/b already in wave wave-1"):
        wave("wave-2", ("pypi/b", "pypi/z"), existing=(w1,))
    for name in ("Wave 1", "", "../x", "x" * 64):
        with pytest.raises(ValidationError, match="not a wave name"):
            wave(name)
    for window in ("2026-03-01", "2026-03-10/2026-03-01", "soon/later"):
        with pytest.raises(ValidationError):
            wave(window=window)
    with pytest.raises(ValidationError, match="at least one account"):
        wave(accounts=())
    with pytest.raises(ValidationError, match="at most 500"):
        wave(accounts=tuple(f"pypi/a{i}" for i in range(501)))
