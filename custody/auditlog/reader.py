"""Streaming, parallel reading of audit-device files into a ``Partial``.

Most lines of a busy cluster's audit log have nothing to do with custody, and decoding JSON is the cost. So
files are read in large binary chunks of whole lines, the chunk is searched (glibc ``memmem``) for the few byte
strings every custody-relevant entry contains (the mount path, ``sys/wrapping/``...), or, where most lines are
custody traffic, each line is searched in turn; the ``Prefilter`` drops, still undecoded, the lines known not to
matter, and only the rest are decoded (``entry``: the fields the summary reads, in place in the chunk). Lines
that are skipped undecoded are still counted, and counted invalid when they do not even start like a JSON object.

Plain files are cut at line boundaries into pieces of about ``PIECE`` bytes; gzip files are one piece each.
This process and one forked worker per other core claim the pieces as they go, so that they finish together
however the load of the machine falls on them. Workers stream what they reduced to this process chunk by chunk,
which merges it into the one ``Partial``. Memory is one chunk per reader plus the reduced state
(``partial.Partial``: grant timelines, account state and the entries the summary lists, these on disk past a
bound), whatever the number of lines.
"""
from __future__ import annotations

import codecs
import gc
import itertools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, cast

from custody.auditlog._fastsearch import Searcher
from custody.auditlog.extract import Extractor
from custody.auditlog.partial import Partial
from custody.auditlog.spill import FactStore
from custody.errors import CustodyError

try:  # the line walk in C (setup.py builds it); where it could not be built, the same walk in Python
    from custody.auditlog import _scan
except ImportError:  # pragma: no cover - an install without a C compiler
    _scan = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.sharedctypes import Synchronized

CHUNK = 8 << 20
NEAR = 8192  # bytes searched with bytes.find after a hit before falling back to memmem
SMALL = 2048  # a range this short is searched with bytes.find: cheaper than a memmem call through ctypes
GAP_BYTES = 8192  # search only between marked lines when that skips this many bytes per extra search call
DENSE = 0.75  # the share of custody lines above which a chunk's lines are walked one by one
SAMPLES, SAMPLE = 4, 8192  # the samples of a chunk that share is judged from: how many, how many bytes each
SPLIT_MIN = 32 << 20  # plain files smaller than this are read by one worker
PIECE = 8 << 20  # larger ones are cut into pieces of about this size
PIPE_SIZE = 1 << 20  # bytes a worker's pipe holds (Linux's default maximum for an unprivileged process)
INBOX_MAX = 8  # messages from the workers received but not yet folded in (each about one chunk's state)
GZIP_MAGIC = b"\x1f\x8b"


class AuditReadError(CustodyError):
    """A log file cannot be read at all (missing, unreadable, corrupt gzip). Bad lines are not errors."""

    code = "audit_log_unreadable"

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(
            f"cannot read audit log {path}: {why}",
            "check the path given with --log; the file audit device writes where its `file_path` option says "
            "(see `bao audit list -detailed`)",
        )
        self.path = path
        self.why = why


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while facts pile up.

    Facts are tuples and dicts with no reference cycles, but each full collection walks all of them: with
    hundreds of thousands of facts the collector alone made reading three times slower.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class Unit(NamedTuple):
    """A piece of work: bytes [start, end) of a plain file (end -1: to EOF), or a whole gzip file."""

    path: str
    start: int
    end: int
    gz: bool


def is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == GZIP_MAGIC


def plan(paths: Iterable[Path], workers: int) -> list[Unit]:
    """Cut the inputs into units of work; a large plain file becomes pieces of about ``PIECE`` bytes (at least
    ``workers`` of them) split at newlines."""
    units: list[Unit] = []
    for p in paths:
        try:
            if is_gzip(p):
                units.append(Unit(str(p), 0, -1, True))
                continue
            size = p.stat().st_size
        except OSError as e:
            raise AuditReadError(p, e.strerror or str(e)) from e
        if workers <= 1 or size < SPLIT_MIN:
            units.append(Unit(str(p), 0, -1, False))
            continue
        # Pieces claimed by the readers as they go (``read_paths``): whoever is free takes the next, so that the
        # readers finish together however the machine's other work slows one of them down.
        pieces = max(workers, -(-size // PIECE))
        bounds = [0]
        with p.open("rb") as f:
            for i in range(1, pieces):
                f.seek(max(size * i // pieces, bounds[-1]))
                f.readline()  # move to the start of the next whole line
                bounds.append(min(f.tell(), size))
        bounds.append(size)
        units.extend(Unit(str(p), a, b, False) for a, b in itertools.pairwise(bounds) if b > a)
    return units


def _chunks(f: BinaryIO, limit: int, buf: bytearray) -> Iterator[tuple[bytearray, int]]:
    """Yield (buffer, n): ``buffer[:n]`` holds whole lines, from ``limit`` bytes of ``f`` (-1: to EOF).

    One buffer (``buf``, grown for a line longer than it) is reused for every chunk and unit a reader reads (no
    allocation, no page faults per chunk); the partial line at its end is moved to the front before the next read.
    The caller must not keep the buffer across iterations.
    """
    filled = 0
    remaining = limit
    while True:
        want = len(buf) - filled if remaining < 0 else min(len(buf) - filled, remaining)
        got = 0
        if want > 0:
            with memoryview(buf) as mv:
                got = f.readinto(mv[filled : filled + want])  # type: ignore[attr-defined]
        if remaining > 0:
            remaining -= got
        filled += got
        eof = got == 0 or remaining == 0
        if filled == 0:
            return
        n = filled if eof else buf.rfind(b"\n", 0, filled) + 1
        if n == 0:  # a single line longer than the buffer: make room for it
            buf.extend(bytes(len(buf)))
            continue
        yield buf, n
        if eof:
            return
        tail = filled - n
        buf[:tail] = buf[n:filled]
        filled = tail


def scan_chunk(buf: bytearray, n: int, rules: Prefilter, ex: Extractor, part: Partial) -> None:
    """Count the lines of ``buf[:n]`` and parse only those the pre-filter keeps.

    Where custody lines are sparse, each marker is searched through the whole chunk at memmem speed and only the
    lines around a hit are looked at; where most lines are custody traffic, that finds every line anyway, so the
    lines are walked one by one instead (``DENSE``, judged from samples of the chunk). Both take the same lines.
    """
    if n <= 0:
        return
    # Lines are decoded in place (a view of the chunk, no copy). A decoder skips what it does not read without
    # checking its UTF-8, which a JSON parser must: the lines decoded are checked, unless the chunk is all ASCII
    # (the usual case), which is cheaper to learn than to check each of many lines.
    with memoryview(buf) as view:
        if _dense(buf, n, rules.markers):
            lines, custody = _scan_lines(buf, n, view, is_ascii(buf, n), rules, ex, part)
        else:
            lines, custody = _scan_markers(buf, n, view, False, rules, ex, part)
    part.lines_total += lines
    part.lines_custody += custody


def _dense(buf: bytearray, n: int, markers: tuple[bytes, ...]) -> bool:
    """Whether more than ``DENSE`` of the lines of ``buf[:n]`` hold one of ``markers``, judged from a few samples.

    Every marker counts: custody traffic is not only lines naming the mount (an unwrap of a hand-out does not), and
    a chunk taken for sparse has each of its custody lines judged in Python instead of in the walk."""
    lines = hits = 0
    for k in range(SAMPLES):
        pos = buf.find(b"\n", n * k // SAMPLES, n) + 1
        end = min(pos + SAMPLE, n)
        while 0 < pos < end:
            le = buf.find(b"\n", pos, n)
            if le < 0:
                break
            lines += 1
            hits += any(buf.find(m, pos, le) >= 0 for m in markers)
            pos = le + 1
    return hits > lines * DENSE


def _scan_markers(
    buf: bytearray, n: int, view: memoryview, ascii: bool, rules: Prefilter, ex: Extractor, part: Partial
) -> tuple[int, int]:
    """Sparse custody lines: find the markers, then look at the lines that hold one."""
    lines, bad = line_stats(buf, n)
    part.lines_invalid += bad
    custody = 0
    for ls, le in rules.marked(buf, n):
        if buf[ls] == 0x7B:  # the others are already counted invalid
            custody += 1
            _take(buf, ls, le, None, view, ascii, rules, ex, part)
    return lines, custody


def marked_py(buf: bytearray, n: int, markers: tuple[bytes, ...]) -> list[tuple[int, int]]:
    """The lines of ``buf[:n]`` holding one of ``markers``, as (start, end) in order (``Prefilter.marked``)."""
    spans: dict[int, int] = {}  # line start -> line end, for lines holding a marker
    first, *others = markers
    with Searcher(buf) as search:
        _mark(buf, first, 0, n, search, spans)
        if others:
            # The other markers only matter in lines the first one did not mark. Where custody lines are dense,
            # searching just the gaps between them saves whole passes over the chunk; where they are sparse, the
            # gaps are many and one pass per marker costs less than a call per gap.
            gaps = _gaps(spans, n)
            saved = n - sum(b - a for a, b in gaps)
            ranges = gaps if saved > GAP_BYTES * len(gaps) else [(0, n)]
            for m in others:
                for a, b in ranges:
                    _mark(buf, m, a, b, search, spans)
    return [(ls, spans[ls]) for ls in sorted(spans)]


def compiled() -> bool:
    """Whether the line walk in C is in use (reported by the benchmark)."""
    return _scan is not None


def is_ascii(buf: bytearray, n: int) -> bool:
    """Whether ``buf[:n]`` is all ASCII (in C: four times cheaper than ``bytes.isascii``, and blind to what lies
    past ``n``; in Python, the whole buffer is looked at, which can only say no more often)."""
    if _scan is not None:
        return _scan.ascii(buf, n)
    return buf.isascii()


def line_stats(buf: bytearray, n: int) -> tuple[int, int]:
    """The lines of ``buf[:n]`` (n > 0; a last line without a newline counts), and how many of them do not start
    like a JSON object (``{``)."""
    if _scan is not None:
        return _scan.line_stats(buf, n)
    return line_stats_py(buf, n)


def line_stats_py(buf: bytearray, n: int) -> tuple[int, int]:
    """``line_stats`` in Python: one memchr-driven pass (bytes.count of one byte is not vectorised in CPython 3.11,
    find is)."""
    lines = 0
    bad = 0 if buf[0] == 0x7B else 1
    pos = buf.find(b"\n", 0, n)
    while pos >= 0:
        lines += 1
        pos += 1
        if pos < n and buf[pos] != 0x7B:
            bad += 1
        pos = buf.find(b"\n", pos, n)
    if buf[n - 1] != 0x0A:
        lines += 1
    return lines, bad


def _scan_lines(
    buf: bytearray, n: int, view: memoryview, ascii: bool, rules: Prefilter, ex: Extractor, part: Partial
) -> tuple[int, int]:
    """Dense custody lines: walk every line and look for the markers in it (in C where it was built)."""
    if _scan is None:
        return _scan_lines_py(buf, n, view, ascii, rules, ex, part)
    lines, bad, custody, takes = rules.walk(buf, n)
    for ls, le, verdict in takes:
        if verdict:  # the pre-filter's answer is known: parse it
            _decode(ls, le, view, ascii, ex, part)
        else:  # not a request entry (those the walk decides): whether it holds an error does not matter
            _take(buf, ls, le, False, view, ascii, rules, ex, part)
    part.lines_invalid += bad
    return lines, custody


def _scan_lines_py(
    buf: bytearray, n: int, view: memoryview, ascii: bool, rules: Prefilter, ex: Extractor, part: Partial
) -> tuple[int, int]:
    """``_scan_lines`` in Python (``Prefilter.walk`` says the same in C)."""
    first, *others = rules.markers
    errors = _positions(buf, n, _ERROR)  # few lines hold one: one pass, not a search per line
    ei, ne = 0, len(errors)
    find = buf.find
    lines = bad = custody = 0
    ls = 0
    while ls < n:
        le = find(b"\n", ls, n)
        if le < 0:
            le = n
        lines += 1
        if buf[ls] != 0x7B:
            bad += 1
        elif find(first, ls, le) >= 0 or any(find(m, ls, le) >= 0 for m in others):
            custody += 1
            while ei < ne and errors[ei] < ls:
                ei += 1
            error = ei < ne and errors[ei] < le
            # the pre-filter's first rule, here for the half of custody lines it drops: a request entry without
            # an error says less than its response entry
            if error or find(REQUEST_TYPE, ls, ls + REQUEST_SPAN if ls + REQUEST_SPAN < le else le) < 0:
                _take(buf, ls, le, error, view, ascii, rules, ex, part)
        ls = le + 1
    part.lines_invalid += bad
    return lines, custody


def _take(
    buf: bytearray,
    ls: int,
    le: int,
    error: bool | None,
    view: memoryview,
    ascii: bool,
    rules: Prefilter,
    ex: Extractor,
    part: Partial,
) -> None:
    """A custody line ``buf[ls:le]``: dropped if the pre-filter says so, else decoded and added to ``part``."""
    if not rules.skip(buf, ls, le, error):
        _decode(ls, le, view, ascii, ex, part)


def _decode(ls: int, le: int, view: memoryview, ascii: bool, ex: Extractor, part: Partial) -> None:
    """A line the pre-filter kept: decoded and added to ``part`` (counted invalid if it is not UTF-8)."""
    line = view[ls:le]
    if not ascii and not _utf8(line):
        part.lines_invalid += 1
        return
    part.add_line(line, ex)
    del line  # the view must not outlive the chunk: its buffer is refilled and may grow


def _positions(buf: bytearray, n: int, needle: bytes) -> list[int]:
    """Every position of ``needle`` in ``buf[:n]``, in order."""
    out = []
    with Searcher(buf) as search:
        pos = search.find(needle, 0, n)
        while pos >= 0:
            out.append(pos)
            pos = search.find(needle, pos + 1, n)
    return out


def _utf8(line: memoryview) -> bool:
    try:
        codecs.utf_8_decode(line, "strict", True)
    except UnicodeDecodeError:
        return False
    return True


def _mark(buf: bytearray, m: bytes, a: int, b: int, search: Searcher, spans: dict[int, int]) -> None:
    """Add to ``spans`` every line of ``buf[a:b]`` (whole lines) that holds ``m``."""
    pos = search.find(m, a, b) if b - a > SMALL else buf.find(m, a, b)
    while pos >= 0:
        le = buf.find(b"\n", pos, b)
        if le < 0:
            le = b
        spans[buf.rfind(b"\n", 0, pos) + 1] = le
        # Hits cluster where custody traffic is dense: look just ahead with bytes.find (no ctypes call),
        # then hand the long stretches to memmem.
        near = min(le + NEAR, b)
        pos = buf.find(m, le, near)
        if pos < 0 and near < b:
            pos = search.find(m, max(le, near - len(m) + 1), b)


def _gaps(spans: dict[int, int], n: int) -> list[tuple[int, int]]:
    """The byte ranges of ``[0, n)`` outside the lines in ``spans`` (each range is whole lines)."""
    gaps = []
    prev = 0
    for ls in sorted(spans):
        if ls > prev:
            gaps.append((prev, ls))
        prev = max(prev, spans[ls] + 1)
    if prev < n:
        gaps.append((prev, n))
    return gaps


class Prefilter:
    """Byte-level decisions taken before paying for JSON parsing.

    A line is a candidate when it contains the mount name, or its request path starts with ``sys/wrapping/``
    (unwrap, rewrap), ``cubbyhole/`` (``cubbyhole/response``, the old way to unwrap; ``cubbyhole/reveals/``, where
    the service stages a code to wrap it), ``sys/raw`` (raw storage) or ``sys/remount`` (moving a mount: its from
    and to are HMAC'd, so the mount name is not in the line). Of the candidates, some are known not to matter
    without parsing them all: a *request* entry without an error (its response entry says the same and more; only
    failed calls, such as an unwrap of a spent token, have no response entry), and the service's own reads, deletes
    and lists other than the wrapped read of ``reveals/``, and its
    writes of ``reveals/`` (staging the code it is about to hand out).

    Whether a line is the service's is decided on the entry's structure, never on substrings found anywhere in it
    (token metadata is logged in clear, and anyone who can create tokens can put ``display_name`` and
    ``role_name`` there): the top-level ``auth`` object is cut out and parsed on its own, and must have
    ``display_name`` ``approle`` and ``metadata.role_name`` the service role, as ``Extractor.is_service`` requires.
    The byte checks before it are only necessary conditions: a line that fails any of them is parsed in full.
    """

    def __init__(self, mount: str, service_role: str) -> None:
        name = mount.strip("/").encode()
        if not name:
            raise ValueError("the custody mount's name is empty")
        # The other markers are anchored on the request path: a long needle is searched three times faster than
        # a short one, and every pass over the log counts (`"path":"sys/r` is one pass for sys/raw and
        # sys/remount; the few other sys/r... calls it brings are parsed for nothing). Vault refuses the other
        # spellings of these paths (`sys//raw`, `sys/%2Fwrapping/unwrap` are unsupported paths); one it accepts,
        # `sys/raw//logical/`, starts the same way.
        self.markers = (name, b'"path":"sys/wrapping/', b'"path":"cubbyhole/', b'"path":"sys/r')
        self._plain = tuple(m for m in self.markers if not m.startswith(_PATH))
        self._path_ends = tuple(m[len(_PATH) :] for m in self.markers if m.startswith(_PATH))
        self.service_role = service_role
        self.staging = _PATH + name + b"/data/reveals/"
        self._ex = Extractor(mount, service_role)
        self._last_auth = b"\x00"  # the last auth object found to be the service's (never a JSON object)

    def skip(self, line: bytes | bytearray, ls: int = 0, le: int = -1, error: bool | None = None) -> bool:
        """Whether the line ``line[ls:le]`` (the whole of ``line`` by default) can be dropped unparsed; ``error``
        says whether it holds ``"error":``, when the caller already knows."""
        if le < 0:
            le = len(line)
        if line.find(REQUEST_TYPE, ls, min(ls + REQUEST_SPAN, le)) >= 0:
            return not (line.find(_ERROR, ls, le) >= 0 if error is None else error)
        start = _auth_start(line, ls, le)
        last = self._last_auth
        if start >= 0 and line.startswith(last, start, le) and line.startswith(_AFTER_AUTH, start + len(last), le):
            # The service's own auth object, byte for byte, and nothing in it or before it looks like the keys
            # below (``_service_auth``): the first operation is the request's, after it.
            return self._by_operation(line, line.find(_OPERATION, start + len(last), le), le)
        i = line.find(_OPERATION, ls, le)
        if not self._by_operation(line, i, le):
            return False
        span_start, end = _auth_span(line, ls, le)
        if end < 0 or i < end:
            return False  # not shaped as expected, or the operation found was not the request's (after auth)
        return self._is_service(bytes(line[span_start:end]))

    def marked(self, buf: bytearray, n: int) -> list[tuple[int, int]]:
        """The lines of ``buf[:n]`` that hold a marker, as (start, end) in order: in C, one pass for all markers
        (the request-path ones as their shared start, then what follows it); else ``marked_py``."""
        if _scan is None:
            return marked_py(buf, n, self.markers)
        return _scan.mark(buf, n, self._plain, _PATH, self._path_ends)

    def walk(self, buf: bytearray, n: int) -> tuple[int, int, int, list[tuple[int, int, int]]]:
        """The C walk of ``buf[:n]`` (``_scan.walk``), with what this pre-filter knows so far: the line, bad line
        and custody line counts, and the custody lines it keeps as (start, end, verdict), verdict 1 where the walk
        took ``skip``'s decision itself (a request entry; a line of the service's known auth object; a write or
        an unwrap, which ``skip`` keeps whoever made it), 0 where ``skip`` must be asked."""
        return _scan.walk(buf, n, self.markers, _WALK_NEEDLES, self._last_auth, self.staging, REQUEST_SPAN, TIME_END)

    def _by_operation(self, line: bytes | bytearray, i: int, le: int) -> bool:
        """Whether the operation at ``i`` (-1: none) is one the service's entries may be dropped for: anything but
        a write (other than the staging of a code) and a read that may be a hand-out."""
        if i < 0:
            return False
        i += len(_OPERATION)
        q = line.find(b'"', i, le)
        op = line[i : q if q >= 0 else le - 1]
        if op == b"update" or op == b"create":
            # a write is parsed, unless it is the staging of a code: the request's path (the first after the
            # operation: only fixed fields and the namespace come between) is <mount>/data/reveals/...
            p = line.find(_PATH, i, le)
            return p >= 0 and line.startswith(self.staging, p, le)
        return not (op == b"read" and line.find(_REVEALS, i, le) >= 0)  # what may be a hand-out is parsed

    def _is_service(self, raw: bytes) -> bool:
        """Whether ``raw`` is one JSON object with the service's display name and role (see ``Extractor``)."""
        # (valid UTF-8 too, which decoding does not check in the fields it skips)
        ok = (raw.isascii() or _utf8(memoryview(raw))) and self._ex.is_service(self._ex.auth_of(raw))
        if ok and _AFTER_AUTH not in raw and _OPERATION not in raw:
            self._last_auth = raw  # see ``skip``
        return ok


# Vault writes a response entry as {"time":"...","type":"response","auth":{...},"request":{...},...}.
REQUEST_TYPE = b'"type":"request"'
REQUEST_SPAN = 100  # the type is looked for in a line's first bytes
TIME_END = 48  # the time string ends before this byte of a line
_HEAD = b'{"time":"'
_AUTH_KEY = b'","type":"response","auth":{'
_AFTER_AUTH = b',"request":{'
_OPERATION = b'"operation":"'
_ERROR = b'"error":'
_PATH = b'"path":"'
_REVEALS = b"reveals"
_NO_SPAN = (-1, -1)
# What ``Prefilter.walk`` hands the C walk, in the order _scan.c names them.
_WALK_NEEDLES = (
    REQUEST_TYPE, _ERROR, _HEAD, _AUTH_KEY, _AFTER_AUTH, _OPERATION, _PATH, b'"', _REVEALS, b"update", b"create",
    b"read",
)


def _auth_start(line: bytes | bytearray, ls: int, le: int) -> int:
    """Where the top-level ``auth`` object of the response entry ``line[ls:le]`` starts, or -1.

    Cheap necessary conditions only: the line starts as Vault writes a response entry (a time string, the type,
    then ``auth``: so the ``auth`` found is the top-level one; a time holds no quote)."""
    if not line.startswith(_HEAD, ls, le):
        return -1
    q = line.find(b'"', ls + len(_HEAD), min(ls + TIME_END, le))
    if q < 0 or not line.startswith(_AUTH_KEY, q, le):
        return -1
    return q + len(_AUTH_KEY) - 1


def _auth_span(line: bytes | bytearray, ls: int, le: int) -> tuple[int, int]:
    """Where the top-level ``auth`` object of the response entry ``line[ls:le]`` may be, or (-1, -1).

    It starts as ``_auth_start`` says and seems to end before ``"request"``. The caller parses ``line[start:end]``,
    which succeeds only if it is exactly one JSON object: the auth object itself, however the guess was made.
    """
    start = _auth_start(line, ls, le)
    if start < 0:
        return _NO_SPAN
    end = line.find(b"}" + _AFTER_AUTH, start, le)
    return _NO_SPAN if end < 0 else (start, end + 1)


class _Reader:
    """One process's reading: its extractor, pre-filter and buffer, kept from unit to unit."""

    def __init__(self, mount: str, service_role: str) -> None:
        self.ex = Extractor(mount, service_role)
        self.rules = Prefilter(mount, service_role)
        self.buf = bytearray(CHUNK)

    def read(
        self,
        unit: Unit,
        part: Partial,
        after_chunk: Callable[[], None] | None = None,
    ) -> None:
        """Read one unit into ``part``; ``after_chunk`` runs after every chunk."""
        path = Path(unit.path)
        part.files.add(unit.path)
        try:
            if unit.gz:
                import gzip

                with gzip.open(path, "rb") as gzf:
                    self._scan(_chunks(gzf, -1, self.buf), part, after_chunk)  # type: ignore[arg-type]
            else:
                with path.open("rb", buffering=0) as f:
                    f.seek(unit.start)
                    limit = -1 if unit.end < 0 else unit.end - unit.start
                    self._scan(_chunks(f, limit, self.buf), part, after_chunk)
        except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
            raise AuditReadError(path, str(e)) from e

    def _scan(
        self,
        chunks: Iterator[tuple[bytearray, int]],
        part: Partial,
        after: Callable[[], None] | None,
    ) -> None:
        for buf, n in chunks:
            self.buf = buf  # grown, if a line was longer than it
            scan_chunk(buf, n, self.rules, self.ex, part)
            if after is not None:
                after()


def _claim(counter: Synchronized[int]) -> int:
    """The index of the next unit to read (past the last: none left), from a counter all readers share."""
    with counter.get_lock():
        i = int(counter.value)
        counter.value = i + 1
    return i


def _worker(units: list[Unit], counter: Synchronized[int], mount: str, service_role: str, conn: Connection) -> None:
    """A child process: read the units it claims and stream what it reduced to the parent chunk by chunk.

    Sending as it goes keeps the child small (one chunk's state at a time) instead of holding all its state plus
    its pickled copy at the end, while the parent holds the same state unpickled. Merging the pieces is exact
    (``Partial.merge``): a grant whose writes straddle two chunks is joined again in the parent.
    """
    # Handed on chunk by chunk, it holds one chunk's facts: never moved to disk, always sendable.
    part = Partial(facts=FactStore(may_spill=False))

    def flush() -> None:
        if part.has_state():
            conn.send(("state", part.take_state()))

    unit = None
    try:
        with paused_gc():
            reader = _Reader(mount, service_role)
            while (i := _claim(counter)) < len(units):
                unit = units[i]
                reader.read(unit, part, flush)
        conn.send(("done", part))
    except AuditReadError as e:
        conn.send(("error", str(e.path), e.why))
    except Exception as e:  # anything else: said, never a silent loss of what this worker read
        conn.send(("error", unit.path if unit else "?", f"the reading process failed: {type(e).__name__}: {e}"))
    finally:
        conn.send(("exit", None))
        conn.close()


def _absorb(total: Partial, msg: tuple[Any, ...]) -> None:
    """Fold one message from a worker into ``total``."""
    kind = msg[0]
    if kind == "state" or kind == "done":
        total.merge(msg[1])
    elif kind == "error":
        raise AuditReadError(Path(msg[1]), msg[2])


class _Inbox:
    """What the workers send: received by a thread of this process as soon as it is sent (so that a worker never
    waits on a full pipe), folded into the one ``Partial`` by the reading thread between two of its own chunks
    (so that neither thread waits for the other to finish a chunk). At most ``INBOX_MAX`` messages wait to be folded:
    past that the receiving thread waits, and the workers with it, which keeps memory bounded."""

    def __init__(self, conns: list[Connection]) -> None:
        self._cond = threading.Condition()
        self._msgs: list[tuple[Any, ...]] = []
        self._bound = INBOX_MAX
        self._done = False
        self._failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._receive, args=(conns,), name="auditlog-receiver", daemon=True)
        self._thread.start()

    def _receive(self, conns: list[Connection]) -> None:
        import multiprocessing.connection

        pending = list(conns)
        try:
            while pending:
                for ready in multiprocessing.connection.wait(pending):
                    conn = cast("Connection", ready)
                    try:
                        msg = conn.recv()
                    except EOFError:  # the worker died before it said it was done
                        msg = ("error", "?", "a reading process ended before it had sent all it read")
                    if msg[0] == "exit":
                        pending.remove(conn)
                        continue
                    with self._cond:
                        while len(self._msgs) >= self._bound:
                            self._cond.wait()
                        self._msgs.append(msg)
                        self._cond.notify_all()
        except BaseException as e:  # handed to the reading thread, raised there
            self._failure.append(e)
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _take(self, wait: bool) -> tuple[list[tuple[Any, ...]], bool]:
        with self._cond:
            while wait and not self._msgs and not self._done:
                self._cond.wait()
            msgs, self._msgs = self._msgs, []
            self._cond.notify_all()
            return msgs, self._done

    def fold(self, total: Partial) -> None:
        """Fold what has arrived into ``total``, without waiting for more."""
        for msg in self._take(wait=False)[0]:
            _absorb(total, msg)

    def finish(self, total: Partial) -> None:
        """Fold everything into ``total`` until every worker has said it is done."""
        done = False
        while not done:
            msgs, done = self._take(wait=True)
            for msg in msgs:
                _absorb(total, msg)
        self._thread.join()
        if self._failure:
            raise self._failure[0]


def read_lines(
    lines: Iterable[bytes],
    mount: str = "custody-kv",
    service_role: str = "custody-service",
    name: str = "<lines>",
) -> Partial:
    """The same reading over lines in memory (tests, API uploads). Lines may or may not end in a newline."""
    ex = Extractor(mount, service_role)
    rules = Prefilter(mount, service_role)
    part = Partial(files={name})
    for line in lines:
        buf = bytearray(line)
        if not buf.endswith(b"\n"):
            buf += b"\n"
        scan_chunk(buf, len(buf), rules, ex, part)
    return part


def read_paths(
    paths: list[Path],
    mount: str = "custody-kv",
    service_role: str = "custody-service",
    workers: int | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> Partial:
    """Read all files (any mix of plain and gzip, any order) into one Partial, in parallel when it pays.

    ``meanwhile`` runs in this process once the workers have started (before reading here), for work that can
    overlap with theirs.

    Everything read goes into that one Partial chunk by chunk, whichever process read it, so that only it grows
    (and its ``FactStore`` moves to disk past its bound) while every reader holds one chunk's state at a time.
    """
    for p in paths:
        if not p.is_file():
            raise AuditReadError(p, "no such file")
    n = workers if workers is not None else (os.cpu_count() or 1)
    units = plan(paths, n)
    total = Partial(files={str(p) for p in paths})
    with paused_gc():
        if n <= 1 or len(units) <= 1:
            if meanwhile is not None:
                meanwhile()
            reader = _Reader(mount, service_role)
            for u in units:
                reader.read(u, total)
            return total
        _read_parallel(units, min(n, len(units)), mount, service_role, total, meanwhile)
    return total


def _widen(conn: Connection) -> None:
    """Let a worker's pipe hold a whole message (a chunk's state is about 100 KB on custody traffic, 1 MB on a
    hostile log), so that it sends and reads on at once. With Linux's default 64 KB, the worker waited in send()
    for the receiving thread, which waits for the interpreter lock for each piece it reads: a tenth of the
    worker's time on custody-only logs. Where the size cannot be set, the pipe stays as it is."""
    try:
        import fcntl

        fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (ImportError, AttributeError, OSError):  # not Linux, or above /proc/sys/fs/pipe-max-size
        pass


def _read_parallel(
    units: list[Unit],
    procs: int,
    mount: str,
    service_role: str,
    total: Partial,
    meanwhile: Callable[[], None] | None,
) -> None:
    """Read ``units`` with ``procs`` processes (this one and ``procs - 1`` forked workers) into ``total``.

    Each process claims the next unit from a shared counter when it is free. This one reads straight into
    ``total`` and, between two of its chunks, folds in what the workers streamed (``_Inbox``).
    """
    import multiprocessing

    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    counter = ctx.Value("q", 0)
    conns: list[Connection] = []
    children = []
    for _ in range(procs - 1):
        receiver, sender = ctx.Pipe(duplex=False)
        _widen(sender)
        child = ctx.Process(target=_worker, args=(units, counter, mount, service_role, sender), daemon=True)
        child.start()
        sender.close()
        conns.append(receiver)
        children.append(child)
    inbox = _Inbox(conns)
    try:
        if meanwhile is not None:
            meanwhile()
        reader = _Reader(mount, service_role)
        while (i := _claim(counter)) < len(units):
            reader.read(units[i], total, lambda: inbox.fold(total))
        inbox.finish(total)
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
            child.join()
