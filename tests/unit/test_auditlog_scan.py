"""The audit reader's line walk in C (custody/auditlog/_scan.c) says what the walk in Python says, on any bytes.

The Python walk (``reader.line_stats_py``, ``reader._scan_lines_py`` and ``Prefilter.skip``) is the reference the
rest of the audit tests were written against; the C walk replaces it where it was built. Lines here are real
OpenBao audit lines (tests/fixtures/audit/), cut, spliced and sprinkled with the byte strings the walk looks for.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody.auditlog import reader, render, summarize
from custody.auditlog.extract import Extractor
from custody.auditlog.partial import Partial
from custody.auditlog.reader import Prefilter, line_stats_py, marked_py

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "audit"
REAL = [
    line
    for name in ("scenario.log", "evasion.log")
    for line in (FIXTURES / name).read_bytes().splitlines()
]
# a read of the service's: what teaches a pre-filter the service's auth object
SERVICE = next(
    ln for ln in REAL if b'"type":"response"' in ln[:60] and Prefilter("custody-kv", "custody-service").skip(ln)
)
# What the walk and the pre-filter look for: each may appear anywhere, in any line, hostile or not.
PIECES = [
    b"{", b"}", b"\n", b'"', b"custody-kv", b'"path":"sys/wrapping/', b'"path":"cubbyhole/', b'"path":"sys/r',
    b'"type":"request"', b'"type":"response"', b'"error":', b'"operation":"', b'"operation":"read"', b"update",
    b'"operation":"create","path":"custody-kv/data/reveals/g', b',"request":{', b'{"time":"', b"reveals",
    b'","type":"response","auth":{', b"\xff\xfe", b"x" * 50,
]
CSCAN = reader._scan
needs_c = pytest.mark.skipif(CSCAN is None, reason="the C walk was not built")


def test_the_c_walk_is_built() -> None:
    # A machine with a C compiler builds it at install (setup.py); without it custody works, slower.
    assert CSCAN is not None, "custody/auditlog/_scan.c was not compiled: reinstall with a C compiler (make install)"


@st.composite
def chunks(draw: st.DrawFn) -> bytes:
    """Lines made of real audit lines, their pieces and the needles, joined by newlines (maybe not the last)."""
    parts = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            parts.append(draw(st.sampled_from(REAL)))
        elif kind == 1:  # a real line cut and spliced with needles
            line = draw(st.sampled_from(REAL))
            a = draw(st.integers(0, len(line)))
            b = draw(st.integers(a, len(line)))
            parts.append(line[:a] + b"".join(draw(st.lists(st.sampled_from(PIECES), max_size=4))) + line[b:])
        elif kind == 2:
            parts.append(b"".join(draw(st.lists(st.sampled_from(PIECES), max_size=8))))
        else:
            parts.append(draw(st.binary(max_size=40)))
    data = b"\n".join(parts)
    return data + b"\n" if draw(st.booleans()) else data


@needs_c
@settings(max_examples=300, deadline=None)
@given(chunks(), st.data())
def test_line_stats_agree(data: bytes, pick: st.DataObject) -> None:
    if not data:
        return
    buf = bytearray(data)
    n = pick.draw(st.integers(1, len(buf)))
    assert CSCAN is not None
    assert CSCAN.line_stats(buf, n) == line_stats_py(buf, n)


@needs_c
@settings(max_examples=300, deadline=None)
@given(chunks())
def test_marked_lines_agree(data: bytes) -> None:
    if not data:
        return
    buf = bytearray(data)
    rules = Prefilter("custody-kv", "custody-service")
    expected = marked_py(buf, len(buf), rules.markers)
    assert rules.marked(buf, len(buf)) == expected
    assert CSCAN is not None  # and the search a machine without SSE2 makes, one memmem pass per needle:
    assert CSCAN.mark(buf, len(buf), rules._plain, reader._PATH, rules._path_ends, False) == expected


@needs_c
def test_a_marker_is_found_at_every_offset_of_a_block_and_of_the_end() -> None:
    """The C search compares 16 positions at once, then the last bytes one by one: a marker anywhere in either."""
    rules = Prefilter("custody-kv", "custody-service")
    for marker in rules.markers:
        for size in (len(marker), 40, 47):
            for at in range(size - len(marker) + 1):
                line = bytearray(b"x" * size)
                line[at : at + len(marker)] = marker
                for buf in (bytearray(b"{" + line), bytearray(b"{a}\n{" + line + b"}\n{b}")):
                    want = marked_py(buf, len(buf), rules.markers)
                    assert rules.marked(buf, len(buf)) == want != [], (marker, size, at)


@needs_c
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000), st.data())
def test_ascii_agrees_with_isascii_up_to_n(data: bytes, pick: st.DataObject) -> None:
    assert CSCAN is not None
    n = pick.draw(st.integers(0, len(data)))
    assert CSCAN.ascii(bytearray(data), n) is data[:n].isascii()
    if n >= 1024:  # a byte past 127 in any kilobyte, at any place in it
        at = pick.draw(st.integers(0, n - 1))
        edited = bytearray(b"a" * n) + data[n:]
        edited[at] = 0x80
        assert CSCAN.ascii(edited, n) is False


@needs_c
def test_the_walk_finds_what_it_looks_for_at_every_offset_of_a_line() -> None:
    """The walk's search compares 16 positions at once, then the last ones one by one: what it looks for in a line
    (the mount name, an error, an operation...) found at every offset, as the Python walk finds it."""
    request = next(ln for ln in REAL if b'"type":"request"' in ln[:60] and b"custody-kv" in ln and b'"error"' not in ln)
    other = next(ln for ln in REAL if b"custody-kv" not in ln and b'"path":"sys/' not in ln and b"cubbyhole" not in ln)
    cases = [(request, b'"error":'), (other, b"custody-kv"), (other, b'"path":"sys/wrapping/unwrap"'), (SERVICE, b"x")]
    for line, needle in cases:
        for at in range(len(line) + 1):
            buf = bytearray(line[:at] + needle + line[at:] + b"\n")
            c_rules, py_rules = Prefilter("custody-kv", "custody-service"), Prefilter("custody-kv", "custody-service")
            assert c_rules.skip(SERVICE) == py_rules.skip(SERVICE)
            got = _decoded(reader._scan_lines, buf, c_rules)
            assert got == _decoded(reader._scan_lines_py, buf, py_rules), (needle, at)


def _decoded(walk: object, buf: bytearray, rules: Prefilter) -> tuple[list[tuple[int, int]], int, int, int]:
    """The lines ``walk`` (C or Python) has decoded, in order, with the counts it returned and the invalid count."""
    got: list[tuple[int, int]] = []
    part = Partial()
    ex = Extractor("custody-kv", "custody-service")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reader, "_decode", lambda ls, le, *_: got.append((ls, le)))
        with memoryview(buf) as view:
            lines, custody = walk(buf, len(buf), view, buf.isascii(), rules, ex, part)  # type: ignore[operator]
    return got, lines, custody, part.lines_invalid


@needs_c
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks(), st.booleans())
def test_the_c_walk_decodes_the_lines_the_python_walk_decodes(data: bytes, warm: bool) -> None:
    if not data:
        return
    buf = bytearray(data)
    # Warm: both pre-filters have learnt the service's auth object, so the C walk takes skip's decision itself for
    # the lines that carry it; cold: it asks skip for every one.
    c_rules, py_rules = Prefilter("custody-kv", "custody-service"), Prefilter("custody-kv", "custody-service")
    if warm:
        assert c_rules.skip(SERVICE) == py_rules.skip(SERVICE)
    assert _decoded(reader._scan_lines, buf, c_rules) == _decoded(reader._scan_lines_py, buf, py_rules)


@needs_c
def test_a_warm_walk_decides_for_the_service_itself() -> None:
    """The point of the C walk: the service's own lines are judged without a call to Python per line."""
    rules = Prefilter("custody-kv", "custody-service")
    assert rules.skip(SERVICE)
    start, end = reader._auth_span(SERVICE, 0, len(SERVICE))
    service = [ln for ln in REAL if SERVICE[start:end] in ln]  # the lines of the same token
    buf = bytearray(b"\n".join(service) + b"\n")
    _, _, custody, takes = rules.walk(buf, len(buf))
    assert custody >= 20
    asked = [t for t in takes if t[2] == 0]
    assert len(asked) < len(takes) / 4, "the walk asked Prefilter.skip about most of the service's lines"


@needs_c
def test_bad_arguments_are_refused() -> None:
    assert CSCAN is not None
    with pytest.raises(ValueError, match="within the buffer"):
        CSCAN.line_stats(b"{}\n", 4)
    with pytest.raises(ValueError, match="within the buffer"):
        CSCAN.line_stats(b"{}\n", -1)
    rules = Prefilter("custody-kv", "custody-service")
    with pytest.raises(TypeError, match="bytes"):
        CSCAN.walk(b"{}\n", 3, ("custody-kv",), reader._WALK_NEEDLES, b"x", rules.staging, 100, 48)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fixed needles"):
        CSCAN.walk(b"{}\n", 3, rules.markers, reader._WALK_NEEDLES[:3], b"x", rules.staging, 100, 48)
    with pytest.raises(ValueError, match="empty"):
        CSCAN.mark(b"{}\n", 3, (b"",), b'"path":"', ())
    with pytest.raises(ValueError, match="empty"):
        Prefilter("/", "custody-service")
    assert CSCAN.line_stats(b"", 0) == (0, 0)


def _mostly_other_traffic(tmp: Path) -> Path:
    """scenario.log's lines among 30 times as many lines of other Vault traffic: read the sparse way."""
    other = [ln for ln in REAL if b"custody-kv" not in ln and b'"path":"sys/' not in ln and b"cubbyhole" not in ln]
    assert other
    out = []
    for i, line in enumerate((FIXTURES / "scenario.log").read_bytes().splitlines()):
        out.append(line)
        out.extend(other[(i + k) % len(other)] for k in range(30))
    path = tmp / "mixed.log"
    path.write_bytes(b"\n".join(out) + b"\n")
    return path


@needs_c
@pytest.mark.parametrize("name", ["scenario.log", "evasion.log", "mixed"])
def test_whole_summaries_are_the_same_with_and_without_it(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = _mostly_other_traffic(tmp_path) if name == "mixed" else FIXTURES / name
    with_c = render(summarize([path], workers=1), "json")
    monkeypatch.setattr(reader, "_scan", None)
    assert render(summarize([path], workers=1), "json") == with_c
