"""Many Vault reads at once: listings read one record per key, and each read is a network round trip."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
READ_CONCURRENCY = 16


def concurrently(fn: Callable[[T], R], items: Iterable[T], workers: int = READ_CONCURRENCY,
                 name: str = "custody-read") -> list[R]:
    """``[fn(x) for x in items]``, in order, with up to ``workers`` calls in flight (a few items: one at a time)."""
    todo = list(items)
    if len(todo) < 4:
        return [fn(x) for x in todo]
    with ThreadPoolExecutor(max_workers=min(workers, len(todo)), thread_name_prefix=name) as pool:
        return list(pool.map(fn, todo))
