"""Substring search over large buffers, with the C library's ``memmem`` when there is one.

CPython 3.11's ``bytes.find`` for a multi-byte needle runs at about 2 GB/s on this kind of machine; glibc's
``memmem`` runs at 6-8 GB/s. The pre-filter searches every byte of the log for a few needles, so this is most of
the cost of reading a log that is mostly not custody traffic. Without ``memmem`` (not glibc), ``bytes.find`` is
used: same results, slower.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

Find = Callable[[bytes, int, int], int]

_memmem: Callable[..., int | None] | None
try:
    # The C library is already loaded in the interpreter: its symbols are there without looking it up on disk
    # (``ctypes.util.find_library`` runs ``ldconfig``, which costs more than reading a small log).
    _libc = ctypes.CDLL(None)
    _memmem = _libc.memmem
    _memmem.restype = ctypes.c_void_p
    _memmem.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
except (OSError, AttributeError, TypeError):  # pragma: no cover - non-glibc platforms
    _memmem = None


class Searcher:
    """Finds needles in one buffer; create one per buffer and ``close()`` it before the buffer is resized."""

    def __init__(self, buf: bytearray) -> None:
        self.buf = buf
        self._anchor: ctypes.Array[ctypes.c_char] | None = None
        self.base = 0
        if _memmem is not None and len(buf):
            self._anchor = (ctypes.c_char * len(buf)).from_buffer(buf)
            self.base = ctypes.addressof(self._anchor)

    def find(self, needle: bytes, start: int, end: int) -> int:
        """Index of ``needle`` in ``buf[start:end]`` (as an index into buf), or -1."""
        if self._anchor is None or _memmem is None:
            return self.buf.find(needle, start, end)
        if end - start < len(needle):
            return -1
        hit = _memmem(self.base + start, end - start, needle, len(needle))
        return -1 if not hit else hit - self.base

    def close(self) -> None:
        self._anchor = None

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def available() -> bool:
    """Whether the fast path is in use (reported by the benchmark)."""
    return _memmem is not None
