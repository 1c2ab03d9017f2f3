"""The facts the summary lists one by one, keyed by request id: in memory while they are few, in a private
temporary SQLite file past ``MEMORY_FACTS``.

Anyone who can call Vault can add such facts (a refused read of the custody mount is one), so their number is the
log's to decide. Kept in a dict they would take memory in proportion; past the bound they move to a database file
that SQLite deletes when it is closed, with a bounded page cache, so that the summary of any log fits in the same
memory. Either way a request id holds one fact, chosen by the same rule (``winner_key``): the response entry over
the request entry, then a fixed order of content, so the result never depends on the order of reading.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import msgspec

from custody.auditlog.facts import Fact, Handout, Touch, UnwrapAttempt, Write

if TYPE_CHECKING:
    import sqlite3

MEMORY_FACTS = 50_000  # facts kept in memory before they move to disk (about 20 MB of them)
CACHE_KB = 16_384  # SQLite's page cache once spilled
# Kinds in the order of their type names: the tie-break between two different facts of one request id.
KINDS: dict[type, int] = {Handout: 1, Touch: 2, UnwrapAttempt: 3, Write: 4}
_BY_TIME = attrgetter("time", "request_id")  # the order facts are listed in: oldest first, then request id
TYPES: dict[int, type] = {v: k for k, v in KINDS.items()}
_encode = msgspec.json.Encoder().encode
_DECODERS: dict[int, msgspec.json.Decoder[Any]] = {k: msgspec.json.Decoder(t) for k, t in TYPES.items()}


def winner_key(f: Fact) -> tuple[int, int, bytes]:
    """The larger key wins: response over request entry, then the kind, then the content."""
    return f.rank, KINDS[type(f)], _encode(f)


class FactStore:
    """Facts by request id, and the ids seen both as a request and as a response entry (for ``duplicates``)."""

    def __init__(self, may_spill: bool = True) -> None:
        self.may_spill = may_spill  # False for a reader's per-chunk store, which is sent to the parent whole
        self.mem: dict[str, Fact] = {}
        self.both: set[str] = set()
        self.db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    # --- adding ---------------------------------------------------------------------------------------------
    def add(self, f: Fact) -> None:
        if self.db is not None:
            self._insert([(f, 1 << f.rank)])
            return
        rid = f.request_id
        old = self.mem.get(rid)
        if old is None:
            self.mem[rid] = f
            if len(self.mem) > MEMORY_FACTS and self.may_spill:
                self._spill()
            return
        if old.rank != f.rank:
            self.both.add(rid)
        if winner_key(f) > winner_key(old):
            self.mem[rid] = f

    def merge(self, other: FactStore) -> None:
        """Fold ``other`` in: the same as adding each of its facts (and its request/response pairs)."""
        if other.db is not None:
            rows: Iterable[tuple[Fact, int]] = other._rows()
        else:
            rows = [(f, 6 if rid in other.both else 1 << f.rank) for rid, f in other.mem.items()]
        if self.db is not None:
            self._insert(rows)
            return
        for f, ranks in rows:
            self.add(f)
            if ranks == 6:
                self.both.add(f.request_id)
                if self.db is not None:
                    self._insert([(f, 6)])

    def _spill(self) -> None:
        import sqlite3

        db = sqlite3.connect("", check_same_thread=False)  # "": a private temporary file, deleted on close
        db.execute(f"PRAGMA cache_size=-{CACHE_KB}")
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA temp_store=FILE")
        db.execute(
            "CREATE TABLE f(rid TEXT PRIMARY KEY, ranks INT, rank INT, kind INT, time TEXT, wrap TEXT, body BLOB)"
            " WITHOUT ROWID"
        )
        self.db = db
        rows = [(f, 6 if rid in self.both else 1 << f.rank) for rid, f in self.mem.items()]
        self.mem, self.both = {}, set()
        self._insert(rows)

    def _insert(self, rows: Iterable[tuple[Fact, int]]) -> None:
        assert self.db is not None
        values = (
            (f.request_id, ranks, f.rank, KINDS[type(f)], f.time, f.wrap if type(f) is UnwrapAttempt else "",
             _encode(f))
            for f, ranks in rows
        )
        with self._lock:
            self.db.executemany(
                "INSERT INTO f VALUES(?,?,?,?,?,?,?) ON CONFLICT(rid) DO UPDATE SET ranks = f.ranks | excluded.ranks,"
                " rank = iif(W, excluded.rank, f.rank), kind = iif(W, excluded.kind, f.kind),"
                " time = iif(W, excluded.time, f.time), wrap = iif(W, excluded.wrap, f.wrap),"
                " body = iif(W, excluded.body, f.body)".replace(
                    "W", "(excluded.rank, excluded.kind, excluded.body) > (f.rank, f.kind, f.body)"
                ),
                values,
            )

    def _rows(self) -> Iterator[tuple[Fact, int]]:
        assert self.db is not None
        for kind, ranks, body in self.db.execute("SELECT kind, ranks, body FROM f"):
            yield _DECODERS[kind].decode(body), ranks

    # --- reading --------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        if self.db is None:
            return len(self.mem)
        return int(self.db.execute("SELECT count(*) FROM f").fetchone()[0])

    def count_both(self) -> int:
        if self.db is None:
            return len(self.both)
        return int(self.db.execute("SELECT count(*) FROM f WHERE ranks = 6").fetchone()[0])

    def __bool__(self) -> bool:
        return self.db is not None or bool(self.mem)

    @property
    def spilled(self) -> bool:
        return self.db is not None

    def items(self) -> Iterator[tuple[str, Fact]]:
        if self.db is None:
            yield from self.mem.items()
            return
        for f, _ in self._rows():
            yield f.request_id, f

    def __eq__(self, other: object) -> bool:
        """Equal to another store, or to a dict, holding the same facts by request id."""
        if isinstance(other, FactStore | dict):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def of_kind(self, cls: type[Any]) -> Iterator[Any]:
        """Every fact of one type, oldest first (time, then request id)."""
        if self.db is None:
            yield from sorted([f for f in self.mem.values() if type(f) is cls], key=_BY_TIME)
            return
        dec = _DECODERS[KINDS[cls]]
        cur = self.db.execute("SELECT body FROM f WHERE kind = ? ORDER BY time, rid", (KINDS[cls],))
        for (body,) in cur:
            yield dec.decode(body)

    def unwraps(self, wanted: set[str]) -> dict[str, list[UnwrapAttempt]]:
        """The unwrap attempts on the given wrapping tokens (the others concern no custody code)."""
        out: dict[str, list[UnwrapAttempt]] = {}
        if self.db is None:
            for f in self.mem.values():
                if type(f) is UnwrapAttempt and f.wrap in wanted:
                    out.setdefault(f.wrap, []).append(f)
            return out
        self.db.execute("CREATE INDEX IF NOT EXISTS f_wrap ON f(wrap) WHERE kind = 3")
        dec = _DECODERS[KINDS[UnwrapAttempt]]
        for wrap in wanted:
            for (body,) in self.db.execute("SELECT body FROM f WHERE kind = 3 AND wrap = ?", (wrap,)):
                out.setdefault(wrap, []).append(dec.decode(body))
        return out

    def clear(self) -> None:
        self.mem.clear()
        self.both.clear()
        if self.db is not None:
            self.db.close()
            self.db = None

    # --- between processes: a worker's store is one chunk's facts, never spilled ------------------------------
    def __getstate__(self) -> tuple[dict[str, Fact], set[str], bool]:
        if self.db is not None:
            raise TypeError("a spilled FactStore stays in its process")
        return self.mem, self.both, self.may_spill

    def __setstate__(self, state: tuple[dict[str, Fact], set[str], bool]) -> None:
        self.mem, self.both, self.may_spill = state
        self.db = None
        self._lock = threading.Lock()


