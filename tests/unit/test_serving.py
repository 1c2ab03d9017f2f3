"""The pieces of `custody serve`'s connection defences that need no socket: the connection cap under a file limit,
which connection the cap closes, and reports that are rate-limited yet count everything."""

from __future__ import annotations

import errno
from typing import Any

import pytest
from structlog.testing import capture_logs

from custody.serving import OPEN_FILES_RESERVE, Guard, LoopErrors, connection_cap, open_files_limit
from custody.throttle import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_throttle_reports_once_per_interval_and_counts_what_it_held_back() -> None:
    clock = Clock()
    throttle = Throttle(10.0, clock=clock)
    assert throttle("accept") == 0  # the first is reported at once
    assert [throttle("accept") for _ in range(999)] == [None] * 999
    assert throttle("other", weight=5) == 0  # each key on its own
    clock.now += 10.0
    assert throttle("accept") == 999  # the next report carries the count
    assert throttle("accept") is None
    clock.now += 10.0
    assert throttle("accept") == 1
    assert throttle("other") == 0
    assert throttle("other", weight=5) is None  # held back, with its weight
    clock.now += 10.0
    assert throttle("other") == 5


def test_accept_errors_are_logged_once_per_interval() -> None:
    """The event loop reports each failed accept; 10,000 of them make one line, not 10,000."""
    handler = LoopErrors(interval=60.0)
    context = {"message": "socket.accept() out of system resource",
               "exception": OSError(errno.EMFILE, "Too many open files")}
    with capture_logs() as logs:
        for _ in range(10_000):
            handler(None, context)  # type: ignore[arg-type]  # the loop is only used for other errors
    assert logs == [{"event": "server.accept_failed", "error": "Too many open files", "errno": errno.EMFILE,
                     "held_back": 0, "log_level": "error"}]


def test_the_cap_leaves_the_reserve_free() -> None:
    assert connection_cap(1000, 1024) == 1024 - OPEN_FILES_RESERVE
    assert connection_cap(1000, 65536) == 1000
    assert connection_cap(1000, 10) == 1  # never zero: the server still answers, one connection at a time


def test_the_file_limit_is_raised_as_far_as_allowed() -> None:
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        assert open_files_limit(soft) == soft  # enough already: unchanged
        ceiling = hard if hard != resource.RLIM_INFINITY else soft + 1
        assert open_files_limit(ceiling + 1000) == ceiling  # never past the hard limit
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (ceiling, hard)
        assert open_files_limit(512) == ceiling  # raising only: more than enough is left alone
        assert open_files_limit(512, exact=True) == 512  # a limit the deployment sets, lower or higher
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (512, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Conn:
    def __init__(self, name: str, idle: bool = True) -> None:
        self.name, self.busy, self.closed = name, not idle, False

    def idle(self) -> bool:
        return not self.busy and not self.closed

    def close(self) -> None:
        self.closed = True

    def __repr__(self) -> str:
        return self.name


def admit(guard: Guard, conn: Any) -> bool:
    return guard.admit(conn)


def test_over_the_cap_the_longest_idle_connection_makes_room() -> None:
    guard = Guard(cap=3, read_timeout=10.0)
    a, b, c = Conn("a"), Conn("b", idle=False), Conn("c")
    assert all(admit(guard, x) for x in (a, b, c))
    guard.idle_again(a)  # a answered a request: now c has been idle the longest
    d = Conn("d")
    with capture_logs() as logs:
        assert admit(guard, d)
    assert c.closed and not a.closed and not b.closed  # b is busy, a idled more recently
    assert list(guard.open) == [b, a, d]
    assert guard.shed == {"idle closed": 1, "refused": 0, "read timeout": 0}
    assert logs[0]["event"] == "connections.shed" and logs[0]["reason"] == "idle closed"


def test_when_every_connection_is_busy_a_new_one_is_refused() -> None:
    guard = Guard(cap=2, read_timeout=10.0)
    busy = [Conn("a", idle=False), Conn("b", idle=False)]
    for conn in busy:
        admit(guard, conn)
    extra = Conn("e")
    assert not admit(guard, extra)
    guard.forget(extra)  # as its connection_lost does
    assert not any(c.closed for c in busy) and list(guard.open) == busy
    assert guard.shed["refused"] == 1
