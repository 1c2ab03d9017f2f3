"""Vault round trips at once: listings read one record per key, and a reveal starts a read it will need while the
call before it is still on its way. Each read is a network round trip."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
READ_CONCURRENCY = 16
# Threads for calls started ahead (``ahead``), shared by every request; made only as they are needed. A call
# waits for a thread only when this many are in flight at once.
AHEAD_THREADS = 64
_ahead = ThreadPoolExecutor(max_workers=AHEAD_THREADS, thread_name_prefix="custody-ahead")


def concurrently(fn: Callable[[T], R], items: Iterable[T], workers: int = READ_CONCURRENCY,
                 name: str = "custody-read") -> list[R]:
    """``[fn(x) for x in items]``, in order, with up to ``workers`` calls in flight (a few items: one at a time)."""
    todo = list(items)
    if len(todo) < 4:
        return [fn(x) for x in todo]
    with ThreadPoolExecutor(max_workers=min(workers, len(todo)), thread_name_prefix=name) as pool:
        return list(pool.map(fn, todo))


class Ahead(Generic[T]):
    """A call started before its result is needed: ``result()`` waits for it, then returns what it returned or
    raises what it raised, there and then."""

    def __init__(self, future: Future[T]) -> None:
        self._future = future

    def result(self) -> T:
        return self._future.result()

    def done(self) -> bool:
        return self._future.done()


def ahead(fn: Callable[[], T]) -> Ahead[T]:
    """Start ``fn`` on another thread now, while this one goes on with what comes before ``fn`` is needed.

    Code written one call after another keeps its meaning when a call is started ahead and its ``result()`` asked
    where the call used to be: the same results, and the same errors in the same order, since an error is raised
    only where the result is asked. What changes is that ``fn`` runs even when an earlier step fails and its result
    is never asked. So start ahead only what may run in vain: a read, never a write whose effect depends on the
    steps before it. ``fn`` runs in a copy of this thread's context (the request id its log lines carry).
    """
    return Ahead(_ahead.submit(contextvars.copy_context().run, fn))
