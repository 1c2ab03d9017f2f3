"""Property tests of the audit reader: garbage never crashes it, and split inputs merge to the whole."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody.auditlog import read_lines, summarize_partial
from custody.auditlog.model import Summary
from custody.auditlog.partial import Partial
from tests.auditkit import SCENARIO, mutate, times_shaped_like_vault

LINES = SCENARIO.read_bytes().splitlines(keepends=True)
CUSTODY = [ln for ln in LINES if b"custody-kv" in ln or b"sys/wrapping/unwrap" in ln]

# Per-test settings, not a profile: loading a profile would change every other hypothesis test in the session.
RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def comparable(s: Summary) -> dict[str, Any]:
    d = s.model_dump(mode="json")
    d["input"].pop("files")
    return d


# Bytes that look like the pieces of audit lines, so that generated garbage reaches the parser and extractor.
FRAGMENTS = st.sampled_from(
    [
        b"custody-kv/",
        b"custody-kv/data/grants/g-1",
        b"sys/wrapping/unwrap",
        b'{"time":"2025-01-01T00:00:00Z","type":"response",',
        b'"type":"request"',
        b'"request":{"id":"r","path":"custody-kv/data/reveals/g","operation":"read"}',
        b'"auth":{"display_name":"approle","metadata":{"role_name":"custody-service"}}',
        b'"response":{"wrap_info":{"token":"hmac-sha256:x","ttl":"?"}}',
        b'"error":"permission denied"',
        b"{",
        b"}",
        b"\n",
        b"\x00\xff",
        b"null",
    ]
)
GARBAGE_LINE = st.one_of(
    st.binary(max_size=200),
    st.lists(FRAGMENTS, max_size=12).map(b"".join),
)

JSON_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@RELAXED
@given(st.lists(GARBAGE_LINE, max_size=40))
def test_garbage_never_crashes(lines: list[bytes]) -> None:
    part = read_lines(lines)
    s = summarize_partial(part)
    assert s.input.lines_invalid <= s.input.lines_total
    assert s.totals.anomalies == len(s.anomalies)


KEY_PATHS = st.sampled_from(
    [
        ["time"],
        ["type"],
        ["auth"],
        ["auth", "display_name"],
        ["auth", "metadata"],
        ["auth", "entity_id"],
        ["request"],
        ["request", "id"],
        ["request", "path"],
        ["request", "operation"],
        ["request", "data"],
        ["request", "data", "data"],
        ["request", "data", "data", "approvals"],
        ["request", "data", "data", "emergency"],
        ["request", "data", "data", "remaining"],
        ["request", "data", "token"],
        ["response"],
        ["response", "wrap_info"],
        ["response", "wrap_info", "ttl"],
        ["error"],
    ]
)


# Times and TTLs that look like Vault's but are not real (or overflow datetime arithmetic): they reach the
# correlator's date arithmetic only when the line is a hand-out, or the last entry of the log.
HOSTILE_TIME = st.one_of(
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2026-13-45T99:99:99.5Z",
            "9999-99-99T99:99:99.999999999Z",
            "2026-02-30T07:01:05.401134417Z",
            "2026-11-25T24:00:00.000000000Z",
            "\uff12\uff10\uff12\uff16-11-25T07:01:05.401134417Z",
            "0001-01-01T00:00:00.000000000Z",
            "9999-12-31T23:59:59.999999999Z",
        ]
    ),
    st.text(min_size=30, max_size=30).map(lambda t: t[:10] + "T" + t[11:19] + "." + t[20:29] + "Z"),
    times_shaped_like_vault(st.text("0123456789", min_size=1, max_size=9)),
)
HOSTILE_TTL = st.sampled_from([10**18, 2**63 - 1, -(2**63), -1, 0, 10**10, "9" * 30]) | st.integers(-(2**63), 2**63 - 1)
HOSTILE_EDIT = st.one_of(
    st.tuples(st.just(["time"]), HOSTILE_TIME),
    st.tuples(st.just(["response", "wrap_info", "ttl"]), HOSTILE_TTL),
)
CUSTODY_RESPONSES = [i for i, ln in enumerate(LINES) if ln in CUSTODY and b'"type":"response"' in ln]


@RELAXED
@given(st.lists(st.tuples(st.sampled_from(CUSTODY), KEY_PATHS, JSON_VALUE | HOSTILE_TIME), min_size=1, max_size=20))
def test_real_entries_with_hostile_values_never_crash(edits: list[tuple[bytes, list[str], Any]]) -> None:
    lines = [mutate(line, path, value) for line, path, value in edits]
    s = summarize_partial(read_lines(lines))
    for fmt in ("json", "markdown", "csv", "html"):
        from custody.auditlog import render

        assert render(s, fmt)


@RELAXED
@given(st.lists(st.tuples(st.sampled_from(CUSTODY_RESPONSES), HOSTILE_EDIT), min_size=1, max_size=6))
def test_hostile_times_and_ttls_in_a_whole_log_never_crash(edits: list[tuple[int, tuple[list[str], Any]]]) -> None:
    """The edited lines sit among all the others: hand-outs, their unwraps and the log's end all take part."""
    lines = list(LINES)
    for i, (path, value) in edits:
        lines[i] = mutate(lines[i], path, value)
    s = summarize_partial(read_lines(lines))
    assert s.input.lines_invalid <= len({i for i, _ in edits})
    for r in s.reveals:
        assert r.wrap_ttl_seconds >= 0
    from custody.auditlog import render

    for fmt in ("json", "markdown", "csv", "html"):
        assert render(s, fmt)


@st.composite
def splits(draw: st.DrawFn) -> list[list[bytes]]:
    """The scenario's lines cut into contiguous pieces (a rotated set), some lines repeated (cluster nodes)."""
    n = len(LINES)
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=6)))
    bounds = [0, *cuts, n]
    parts = [LINES[a:b] for a, b in itertools.pairwise(bounds)]
    repeats = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, 30)), max_size=3))
    for start, length in repeats:
        parts.append(LINES[start : start + length])
    return draw(st.permutations(parts))


WHOLE = summarize_partial(read_lines(LINES))


@given(splits())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_merged_parts_equal_the_whole(parts: list[list[bytes]]) -> None:
    total = Partial()
    for part in parts:
        total.merge(read_lines(part))
    merged = summarize_partial(total)
    whole_again = comparable(WHOLE)
    got = comparable(merged)
    # lines read twice are counted twice, and their entries are reported as duplicates; nothing else changes
    extra = sum(len(p) for p in parts) - len(LINES)
    assert got["input"]["lines_total"] == whole_again["input"]["lines_total"] + extra
    for d in (got, whole_again):
        for key in ("lines_total", "lines_custody", "entries_duplicate"):
            d["input"].pop(key)
    assert got == whole_again


@given(splits())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_merge_order_does_not_matter(parts: list[list[bytes]]) -> None:
    a, b = Partial(), Partial()
    partials = [read_lines(p) for p in parts]
    for p in partials:
        a.merge(p)
    for p in reversed([read_lines(p) for p in parts]):
        b.merge(p)
    assert comparable(summarize_partial(a)) == comparable(summarize_partial(b))
    assert a.duplicates == b.duplicates
