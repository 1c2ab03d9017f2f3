"""How ``custody serve`` holds its connections: uvicorn over h11, with the defences a server facing any Vault user
needs against connections that never make a request.

uvicorn closes a keep-alive connection that stays idle, but has no deadline for reading a request: a socket that
sends only a request line (or one byte every few seconds) holds a file descriptor for ever, and enough of them
exhaust the process's descriptors, so legitimate connections wait in the backlog while the event loop reports every
failed ``accept``. This module adds, through uvicorn's own hook for the HTTP protocol class:

- a **read deadline**: a request's line, headers and body must arrive within ``header_read_timeout`` seconds of
  the connection opening, or of the first byte of its next request on a kept-alive connection;
- a **cap on open connections**, kept below the process's file limit (and a listen backlog small enough that a
  burst of arrivals, accepted before any reaches the cap, still fits): a new connection over the cap closes the
  connection that has been idle (no request in progress) the longest, or is itself closed when every connection is
  busy, so held-open sockets can never keep a real request out;
- **rate-limited reports**: what was shed, and errors the event loop reports (``accept`` out of descriptors), are
  logged at most once per interval with a count, never once per event.

h11 is the parser, not httptools, because httptools refuses Vault's ``LIST`` method (which ``bao list`` sends).
"""

from __future__ import annotations

import asyncio
import resource
import socket
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from custody.logging import get_logger
from custody.throttle import Throttle

log = get_logger("custody.serving")

# File descriptors kept free of client connections: Vault connection pools (up to 64 per Vault address), log and
# audit-log files, webhook connections, the event loop's own.
OPEN_FILES_RESERVE = 256
# asyncio accepts up to a listen backlog's worth of connections per turn of the event loop, and a connection reaches
# the cap check two turns later, and an evicted one lets go of its descriptor a turn after that: about three backlogs
# of descriptors are in flight in a burst. A backlog of a quarter of the reserve keeps them, and the process's own
# (about 30), within it.
LISTEN_BACKLOG = OPEN_FILES_RESERVE // 4
REPORT_EVERY = 10.0  # seconds between two log lines about the same kind of thing


def open_files_limit(wanted: int, exact: bool = False) -> int:
    """Raise this process's soft limit on open files to at least ``wanted`` or, with ``exact``, set it to
    ``wanted``; never past the hard limit. Returns the soft limit in force afterwards (the old one when the system
    refuses the change)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    unlimited = soft == resource.RLIM_INFINITY
    if (exact and soft != target) or (not exact and not unlimited and soft < target):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft, unlimited = target, False
        except (OSError, ValueError):  # a sandbox that forbids it: work within what there is
            pass
    return wanted if unlimited else soft


def connection_cap(max_connections: int, files: int) -> int:
    """How many client connections fit under a file limit of ``files``, keeping the reserve free."""
    return max(1, min(max_connections, files - OPEN_FILES_RESERVE))


@dataclass
class Guard:
    """What every connection of one server shares: the cap, the read deadline, and the connections open now,
    in the order they last became idle (the longest idle first)."""

    cap: int
    read_timeout: float
    open: OrderedDict[GuardedH11Protocol, None] = field(default_factory=OrderedDict)
    shed: dict[str, int] = field(default_factory=lambda: {"idle closed": 0, "refused": 0, "read timeout": 0})
    _report: Throttle = field(default_factory=lambda: Throttle(REPORT_EVERY))

    def admit(self, conn: GuardedH11Protocol) -> bool:
        """Count a new connection in; when over the cap, close the longest-idle one, or refuse this one (False)."""
        self.open[conn] = None
        if len(self.open) <= self.cap:
            return True
        victim = next((c for c in self.open if c is not conn and c.idle()), None)
        if victim is None:
            self.note("refused")
            return False
        self.note("idle closed")
        self.forget(victim)  # now, not when its close completes: the next arrival must find another
        victim.close()
        return True

    def idle_again(self, conn: GuardedH11Protocol) -> None:
        if conn in self.open:
            self.open.move_to_end(conn)

    def forget(self, conn: GuardedH11Protocol) -> None:
        self.open.pop(conn, None)

    def note(self, what: str) -> None:
        self.shed[what] += 1
        if (held := self._report(what)) is not None:
            log.warning("connections.shed", reason=what, count=held + 1, total=self.shed[what], open=len(self.open),
                        cap=self.cap)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a read deadline and a place under the server's connection cap."""

    guard: Guard  # set on the subclass ``protocol_class`` makes for each server

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        if self.guard.admit(self):
            self._arm()  # the first request's deadline runs from the connection's opening
        else:
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.guard.forget(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._reading():
            self._arm()  # (already running, unless this is the first byte of a request on a kept-alive connection)
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # arms uvicorn's keep-alive timer; may start a pipelined request
        # Idle between requests is the keep-alive timer's; a request already begun (a body not read, the start of
        # the next one) keeps its read deadline.
        begun = self.conn.their_state is h11.SEND_BODY or bool(self.conn.trailing_data[0])
        if self._reading() and begun and not self.transport.is_closing():
            self._arm()
        self.guard.idle_again(self)

    def idle(self) -> bool:
        """No request in progress (none yet, or the last one answered): closing loses nothing."""
        return not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete)

    def close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def _reading(self) -> bool:
        """A request's line, headers or body are still to come."""
        return self.conn.their_state in (h11.IDLE, h11.SEND_BODY)

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.guard.read_timeout, self._read_timeout)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _read_timeout(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.guard.note("read timeout")
            self.close()


def protocol_class(guard: Guard) -> type[GuardedH11Protocol]:
    """The protocol class for one server (uvicorn builds one instance per connection)."""
    return type("CustodyH11Protocol", (GuardedH11Protocol,), {"guard": guard})


class LoopErrors:
    """The event loop's exception handler: what the loop cannot hand to anyone (``accept`` out of descriptors, a
    callback that raised) is logged at most once per interval per kind, with how many were held back."""

    def __init__(self, interval: float = REPORT_EVERY) -> None:
        self._report = Throttle(interval)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message") or "event loop error")
        exc = context.get("exception")
        key = (message, type(exc).__name__, getattr(exc, "errno", None))
        if (held := self._report(key)) is None:
            return
        if isinstance(exc, OSError) and "accept" in message:
            log.error("server.accept_failed", error=exc.strerror or type(exc).__name__, errno=exc.errno,
                      held_back=held)
        else:
            log.error("server.loop_error", message=message, error=type(exc).__name__ if exc else None,
                      held_back=held)
            loop.default_exception_handler(context)


class Server(uvicorn.Server):
    """uvicorn's server with the loop's errors rate-limited, and ``after_shutdown`` run once the last request is
    answered (before a signal that stopped the server is passed on)."""

    def __init__(self, config: uvicorn.Config, after_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._after_shutdown = after_shutdown

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().set_exception_handler(LoopErrors())
        await super().startup(sockets=sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets=sockets)
        await asyncio.to_thread(self._after_shutdown)
