"""Streaming, parallel reading of audit-device files into a ``Partial``.
Most lines of a busy cluster's audit log have nothing to do with custody, and JSON parsing is the cost. So
files are read in large binary chunks of whole lines, the chunk is searched (in C, ``bytes.find``) for the
few byte strings every custody-relevant entry contains (the mount path, ``sys/wrapping/unwrap``), and only
the lines around a hit are parsed with orjson. Lines that are skipped unparsed are still counted, and
counted invalid when they do not even start like a JSON object.

Plain files are cut into byte ranges at line boundaries and read by a process pool (one worker per core);
gzip files are read whole by one worker each. Every worker returns a ``Partial``; partials merge into one.
Memory is one chunk per worker plus the facts kept (a few hundred bytes per custody event), whatever the
size of the logs.
"""

from __future__ import annotations

import gzip
import itertools
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from custody.auditlog.facts import Extractor, Partial

CHUNK = 8 << 20
SPLIT_MIN = 32 << 20  # plain files smaller than this are read by one worker
GZIP_MAGIC = b"\x1f\x8b"


class AuditReadError(Exception):
    """A log file cannot be read at all (missing, unreadable, corrupt gzip). Bad lines are not errors."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"cannot read audit log {path}: {why}")
        self.path = path
        self.why = why

    def diagnostics(self) -> str:
        return (
            f"{self}\n  check the path given with --log; the file audit device writes where its "
            f"`file_path` option says (see `bao audit list -detailed`)."
        )


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
    """Cut the inputs into units of work; a large plain file becomes ``workers`` ranges split at newlines."""
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
        bounds = [0]
        with p.open("rb") as f:
            for i in range(1, workers):
                f.seek(max(size * i // workers, bounds[-1]))
                f.readline()  # move to the start of the next whole line
                bounds.append(min(f.tell(), size))
        bounds.append(size)
        units.extend(Unit(str(p), a, b, False) for a, b in itertools.pairwise(bounds) if b > a)
    return units


def _chunks(f: BinaryIO, remaining: int) -> Iterator[bytes]:
    """Yield chunks of whole lines (the last one may lack its newline) from ``remaining`` bytes (-1: all)."""
    carry = b""
    while remaining != 0:
        want = CHUNK if remaining < 0 else min(CHUNK, remaining)
        block = f.read(want)
        if not block:
            break
        if remaining > 0:
            remaining -= len(block)
        cut = block.rfind(b"\n")
        if cut < 0:
            carry += block
            continue
        yield carry + block[: cut + 1] if carry else block[: cut + 1]
        carry = block[cut + 1 :]
    if carry:
        yield carry


def scan_chunk(buf: bytes, markers: tuple[bytes, ...], ex: Extractor, part: Partial) -> None:
    """Count the chunk's lines and parse only those that contain a marker."""
    size = len(buf)
    if not size:
        return
    lines = buf.count(b"\n") + (0 if buf[-1:] == b"\n" else 1)
    objects = buf.count(b"\n{") + (1 if buf[:1] == b"{" else 0)
    part.lines_total += lines
    part.lines_invalid += lines - objects  # lines that do not even start like a JSON object
    starts: set[int] = set()
    for m in markers:
        pos = buf.find(m)
        while pos >= 0:
            ls = buf.rfind(b"\n", 0, pos) + 1
            le = buf.find(b"\n", pos)
            if le < 0:
                le = size
            starts.add(ls)
            pos = buf.find(m, le)
    for ls in sorted(starts):
        if buf[ls : ls + 1] != b"{":
            continue  # already counted invalid above
        le = buf.find(b"\n", ls)
        part.add_line(buf[ls : le if le >= 0 else size], ex)


def read_unit(unit: Unit, mount: str, service_role: str) -> Partial:
    """Read one unit of work into a fresh Partial."""
    ex = Extractor(mount, service_role)
    markers = ex.markers()
    part = Partial(files={unit.path})
    path = Path(unit.path)
    try:
        if unit.gz:
            with gzip.open(path, "rb") as gzf:
                for buf in _chunks(gzf, -1):  # type: ignore[arg-type]
                    scan_chunk(buf, markers, ex, part)
        else:
            with path.open("rb") as f:
                f.seek(unit.start)
                for buf in _chunks(f, -1 if unit.end < 0 else unit.end - unit.start):
                    scan_chunk(buf, markers, ex, part)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise AuditReadError(path, str(e)) from e
    return part


def _read_unit_star(args: tuple[Unit, str, str]) -> Partial:
    return read_unit(*args)


def read_lines(
    lines: Iterable[bytes],
    mount: str = "custody-kv",
    service_role: str = "custody-service",
    name: str = "<lines>",
) -> Partial:
    """The same reading over lines in memory (tests, API uploads). Lines may or may not end in a newline."""
    ex = Extractor(mount, service_role)
    part = Partial(files={name})
    markers = ex.markers()
    for line in lines:
        scan_chunk(line if line.endswith(b"\n") else line + b"\n", markers, ex, part)
    return part


def read_paths(
    paths: list[Path],
    mount: str = "custody-kv",
    service_role: str = "custody-service",
    workers: int | None = None,
) -> Partial:
    """Read all files (any mix of plain and gzip, any order) into one Partial, in parallel when it pays."""
    for p in paths:
        if not p.is_file():
            raise AuditReadError(p, "no such file")
    n = workers if workers is not None else (os.cpu_count() or 1)
    units = plan(paths, n)
    total = Partial(files={str(p) for p in paths})
    if n <= 1 or len(units) <= 1:
        for u in units:
            total.merge(read_unit(u, mount, service_role))
        return total
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    with ctx.Pool(min(n, len(units))) as pool:
        for part in pool.imap_unordered(_read_unit_star, [(u, mount, service_role) for u in units]):
            total.merge(part)
    return total
