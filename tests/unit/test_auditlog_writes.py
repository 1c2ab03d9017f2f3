"""The service's grant and code-set writes are read straight into the summary's state (``Extractor.plain_write``;
a grant write is folded in C, custody/auditlog/_fold.c, where it was built); every other entry goes through facts
(``Extractor.fact``, ``Partial.add_fact``). Every way must give the same state for any line, so these tests read
lines three ways: as the reader does, with the fold in Python, and with the shortcut turned off, which sends every
entry through facts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody.auditlog import partial as partial_mod
from custody.auditlog.entry import Entry, Request
from custody.auditlog.extract import Extractor
from custody.auditlog.partial import Partial
from tests.auditkit import SCENARIO, mutate, times_shaped_like_vault

LINES = SCENARIO.read_bytes().splitlines()
WRITES = [ln for ln in LINES if b'"path":"custody-kv/data/grants/' in ln or b'"path":"custody-kv/data/codes/' in ln]


class ThroughFacts(Extractor):
    """An extractor that never takes the shortcut: every entry becomes a fact first."""

    def plain_write(self, e: Entry, req: Request) -> str:
        return ""


def state(p: Partial) -> dict[str, Any]:
    accounts = {name: a.__getstate__() for name, a in p.accounts.items()}
    return {
        "counts": (p.lines_total, p.lines_invalid, p.occurrences, p.first, p.last, p.duplicates),
        "grants": p.grants,
        "accounts": accounts,
        "keys": (p.keys, p.other_keys, p.hmaced),
        "facts": (p.facts.mem, p.facts.both),
    }


def read(lines: list[bytes], ex: Extractor, fold_in_c: bool = True) -> dict[str, Any]:
    p = Partial()
    with pytest.MonkeyPatch.context() as mp:
        if not fold_in_c:
            mp.setattr(partial_mod, "_fold", None)
        for line in lines:
            p.add_line(line, ex)
    return state(p)


def every_way(lines: list[bytes]) -> tuple[dict[str, Any], ...]:
    """The state as the reader makes it, with the fold in Python, and through facts."""
    return read(lines, Extractor()), read(lines, Extractor(), fold_in_c=False), read(lines, ThroughFacts())


def test_the_fold_in_c_is_built() -> None:
    # A machine with a C compiler builds it at install (setup.py); without it the fold runs in Python.
    assert partial_mod._fold is not None, "custody/auditlog/_fold.c was not compiled: reinstall (make install)"


def test_the_scenario_log_reads_the_same_every_way() -> None:
    fast, python, slow = every_way(LINES)
    assert fast == python == slow
    assert len(fast["grants"]) >= 5 and fast["accounts"]  # the scenario has grants and code sets to compare


def test_the_fold_in_c_refuses_what_is_not_its_state() -> None:
    fold = partial_mod._fold
    if fold is None:
        pytest.skip("the fold in C was not built")
    ex, p = Extractor(), Partial()
    short = ex.fold_state[:-1]
    for bad in [(), (p.grants, p.hmaced, ex.fold_state), (p.grants, p.hmaced, short, None, "grants/g", "t")]:
        with pytest.raises(TypeError):
            fold.grant(*bad)
    assert not p.grants and not p.hmaced


class Counting(Extractor):
    """An extractor that notes the kind of each write it takes the shortcut for."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: list[str] = []

    def plain_write(self, e: Entry, req: Request) -> str:
        rel = super().plain_write(e, req)
        if rel:
            self.taken.append(rel.split("/", 1)[0])
        return rel


def test_the_shortcut_is_taken_for_the_service_s_writes() -> None:
    """Not a dead path: the scenario's successful grant and code-set writes take it, and nothing but the service's
    successful writes of records does."""
    ex, p = Counting(), Partial()
    for line in LINES:
        p.add_line(line, ex)
    responses = [
        ln
        for ln in WRITES
        if b'"type":"response"' in ln
        and b'"display_name":"approle"' in ln
        and b'"error"' not in ln
        and (b'"operation":"update"' in ln or b'"operation":"create"' in ln)
    ]
    assert ex.taken.count("grants") + ex.taken.count("codes") == len(responses) >= 10
    assert set(ex.taken) <= {"grants", "codes", "accounts", "denied", "rotations", "reveals"}


# What decides whether a write takes the shortcut, and what it reads from the record.
EDITS = st.one_of(
    st.tuples(
        st.just(["request", "path"]),
        st.sampled_from(
            [
                "custody-kv/data/grants//g-1",
                "custody-kv/data/grants/g-1/",
                "/custody-kv/data/grants/g-1",
                "custody-kv//data/codes/pypi/acme",
                "custody-kv/data/codes/pypi/acme/",
                "custody-kv/data/grants",
                "custody-kv/data/grants/",
                "custody-kv/data/codes",
                "custody-kv/data/reveals/g-1",
                "custody-kv/data/accounts/pypi/acme",
                "other-kv/data/grants/g-1",
                "custody-kv/data/codes/pypi",
            ]
        ),
    ),
    st.tuples(st.just(["request", "operation"]), st.sampled_from(["update", "create", "read", "delete", "patch"])),
    st.tuples(st.just(["request", "id"]), st.sampled_from(["", "r-1", "r-2"])),
    st.tuples(st.just(["type"]), st.sampled_from(["request", "response"])),
    st.tuples(st.just(["error"]), st.sampled_from(["", "permission denied", "check-and-set mismatch"])),
    st.tuples(st.just(["auth", "display_name"]), st.sampled_from(["approle", "userpass-mallory"])),
    st.tuples(st.just(["auth", "metadata", "role_name"]), st.sampled_from(["custody-service", "other"])),
    st.tuples(st.just(["request", "data"]), st.sampled_from([None, {}, {"data": None}, {"data": 1}])),
    st.tuples(
        st.just(["request", "data", "data", "event"]),
        st.sampled_from(["grant.approved", "grant.revealed", "codes.deposited", "codes.rotated", "hmac-sha256:ab"]),
    ),
    st.tuples(
        st.just(["request", "data", "data", "remaining"]),
        st.sampled_from([3, -1, 0, "7", "x", "\u00b2", 2**63 - 1, -(2**63), 1.5, None]),
    ),
    st.tuples(
        st.just(["request", "data", "data", "reveal_attempt"]),
        st.sampled_from([None, {"number": 2, "accessor": "hmac-sha256:cd"}, {"number": "\u00b2"}, {"number": []}]),
    ),
    st.tuples(st.just(["request", "data", "data", "account"]), st.sampled_from(["", "pypi/acme", "pypi/other"])),
    st.tuples(st.just(["request", "data", "data", "grant_id"]), st.sampled_from(["", "g-1", "g-2"])),
    st.tuples(st.just(["request", "data", "data", "approvals"]), st.sampled_from([[], None, "x", [{"approver": 1}]])),
    st.tuples(st.just(["time"]), st.sampled_from(["2026-11-25T07:01:05.225927688Z", "2026-11-25T07:01:05Z", "x"])),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(WRITES), st.lists(EDITS, max_size=3)), min_size=1, max_size=12))
def test_edited_writes_read_the_same_both_ways(edits: list[tuple[bytes, list[tuple[list[str], Any]]]]) -> None:
    lines = []
    for line, changes in edits:
        for path, value in changes:
            line = mutate(line, path, value)
        lines.append(line)
    # twice: a line read again is a repeat, which every way must recognise alike
    fast, python, slow = every_way(lines + lines[::-1])
    assert fast == python == slow


VAULT_TIMES = times_shaped_like_vault(st.integers(0, 10**9 - 1).map("{:09d}".format))
ANY_TIMES = st.one_of(
    VAULT_TIMES,
    VAULT_TIMES.flatmap(lambda t: st.tuples(st.just(t), st.integers(0, 29), st.characters()).map(
        lambda x: x[0][: x[1]] + x[2] + x[0][x[1] + 1 :]
    )),
    st.text(max_size=40),
    st.sampled_from(["2026-11-25T07:01:05Z", "2026-11-25T07:01:05.5Z", "2026-11-25T07:01:05.401134417+01:00"]),
)


@settings(max_examples=2000, deadline=None)
@given(ANY_TIMES)
def test_the_c_judge_of_vault_s_times_agrees_with_norm_time(value: str) -> None:
    """The fold's ``vault_time`` says yes only to what ``norm_time`` keeps as it is, and to every time in Vault's
    own form that it keeps; anything else is left to ``norm_time``."""
    from custody.auditlog.timeparse import norm_time

    fold = partial_mod._fold
    if fold is None:
        pytest.skip("the fold in C was not built")
    got = fold.vault_time(value)
    kept = norm_time(value) == value
    if got is not None:
        assert got is value and kept
    elif kept and len(value) == 30 and value[19] == "." and value.endswith("Z"):
        raise AssertionError(f"{value!r} is Vault's form and a real time, and was left to norm_time")


def test_the_c_judge_of_vault_s_times_knows_the_calendar() -> None:
    """Every month's last day, leap years, the ends of the years kept and of the day, against ``norm_time``."""
    from custody.auditlog.timeparse import norm_time

    fold = partial_mod._fold
    if fold is None:
        pytest.skip("the fold in C was not built")
    years = (1900, 1969, 1970, 1999, 2000, 2023, 2024, 2100, 2400, 8999, 9000, 9001, 9999)
    clocks = ("00:00:00", "23:59:59", "24:00:00", "23:60:00", "23:59:60", "09:05:07")
    for year in years:
        for month in range(14):
            for day in range(33):
                for clock in clocks:
                    value = f"{year:04d}-{month:02d}-{day:02d}T{clock}.123456789Z"
                    want = value if norm_time(value) == value else None
                    assert fold.vault_time(value) == want, value
