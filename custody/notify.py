"""Webhook notifications: every request, decision, reveal and emergency, posted off the request path.

Every webhook URL has its own bounded in-memory queue drained by its own daemon thread, which retries each delivery
with exponential backoff; a full queue drops the event (counted per event kind and logged), so ``emit`` never blocks
and memory never grows without bound.

Emergency and reveal events are urgent: they wait in a lane of their own, ahead of ordinary events, so a flood of
ordinary events (say, while the endpoint answers 429) can neither drop nor hold them back. An urgent event takes the
earlier events of its own grant along (a reveal's request and approvals), so each grant's story still arrives in
order; an ordinary event waiting out a retry gives way to an urgent one. ``close`` delivers what is queued within a
bounded wait (the server calls it when it shuts down); what is left then is counted as dropped.

One delivery attempt has a wall-clock budget (``timeout``) covering connect, send and the answer's
status line and headers; the answer's body is never read. So a slow, trickling or dead endpoint can only delay its own
notifications: never another endpoint's, never a custody request.

Events never carry a code or a token: they are built from grant fields only, and pass through the same scrubber as the
logs. Webhook URLs are never logged (a Slack webhook URL is itself a secret); log lines name a webhook by its position
in the configured list.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from custody.domain.events import Event
from custody.logging import get_logger, scrub
from custody.throttle import Throttle

log = get_logger("custody.notify")


def slack_escape(value: Any) -> str:
    """``value`` as Slack message text that shows literally: no mention (``<!channel>``), no disguised link."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Decisions the requester waits for: their messages name the requester, so the chat can tell them.
DECISION_EVENTS = frozenset({Event.grant_approved.value, Event.grant_denied.value})


def slack_payload(event: dict[str, Any]) -> dict[str, Any]:
    """A Slack-compatible message (``text`` plus the raw event as a block of fields).

    Every value taken from the event is escaped (it may come from a requester: reason, ticket, names...); only
    custody's own markup (the emergency emoji) is left for Slack to interpret.
    """
    esc = slack_escape
    who = esc(event.get("actor", "someone"))
    text = f"custody: {esc(event.get('event'))} on {esc(event.get('account', '?'))} by {who}"
    if event.get("grant_id"):
        text += f" (grant {esc(event['grant_id'])})"
    elif event.get("event") == Event.grants_revoked.value:
        text += f" ({esc(event.get('count', '?'))} grants)"
    if event.get("event") in DECISION_EVENTS and event.get("requester"):
        text += f", requested by {esc(event['requester'])}"
    if event.get("reason"):
        text += f": {esc(event['reason'])}"
    if event.get("url"):  # custody's own link to the grant's page (a URL it built: nothing from the request)
        text += f" <{event['url']}|open the grant>"
    if event.get("emergency"):
        text = ":rotating_light: EMERGENCY " + text
    if event.get("drill"):  # a rehearsal: said first, so nobody takes it for an incident
        text = f"[DRILL {esc(event['drill'])}] " + text
    return {"text": text, "custody_event": event}


class _Deadline:
    """A wall-clock budget for one HTTP exchange: when it runs out, the connection's socket is shut down, which
    wakes whatever read or write is blocked on it (a per-operation timeout alone lets a peer that trickles one byte
    at a time hold a delivery forever). The socket is learnt from httpx's ``trace`` extension."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._lock = threading.Lock()
        self._done = False
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, name: str, info: dict[str, Any]) -> None:
        if not name.endswith((".connect_tcp.complete", ".start_tls.complete")):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        with self._lock:
            self._sock = sock if isinstance(sock, socket.socket) else None
            if self.expired:
                self._cut()

    def cancel(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            self._cut()

    def _cut(self) -> None:
        if self._sock is not None:
            # The plain socket's shutdown, also for a TLS socket: it only touches the file descriptor.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)


# Events that must reach people however busy the webhook is: an emergency grant (approved without approvals) and
# every reveal. Any event of an emergency grant (its review, its revocation) is urgent too.
URGENT_EVENTS = frozenset({Event.grant_emergency.value, Event.grant_revealed.value})


def is_urgent(event: Mapping[str, Any]) -> bool:
    return event.get("event") in URGENT_EVENTS or event.get("emergency") is True


@dataclass
class _Item:
    body: dict[str, Any]
    kind: str
    grant: str | None
    urgent: bool
    attempts: int = 0


class _Lanes:
    """An endpoint's queue: an urgent lane served first, and an ordinary lane; each holds at most ``maxsize``
    events it was given (an urgent event may bring its grant's earlier events along, beyond that)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.urgent: deque[_Item] = deque()
        self.ordinary: deque[_Item] = deque()
        self.cond = threading.Condition()
        self.current: _Item | None = None  # the event the worker is delivering
        self.closed = False  # take no more; get() ends once both lanes are empty
        self.stopped = False  # get() and pause() end at once

    def __len__(self) -> int:
        return len(self.urgent) + len(self.ordinary)

    def put(self, item: _Item) -> bool:
        """Queue ``item``; False (nothing queued) when its lane is full or the queue is closed."""
        with self.cond:
            lane = self.urgent if item.urgent else self.ordinary
            if self.closed or len(lane) >= self.maxsize:
                return False
            if item.urgent and item.grant:  # its grant's earlier events go first, in order
                earlier = [i for i in self.ordinary if i.grant == item.grant]
                for i in earlier:
                    self.ordinary.remove(i)
                    i.urgent = True
                self.urgent.extend(earlier)
                if self.current is not None and self.current.grant == item.grant:
                    self.current.urgent = True  # being delivered: the rest waits for it, as it should
            lane.append(item)
            self.cond.notify_all()
            return True

    def give_way(self, item: _Item) -> None:
        """Put an ordinary event back at the head of its lane (an urgent one goes first)."""
        with self.cond:
            self.ordinary.appendleft(item)

    def get(self) -> _Item | None:
        """The next event to deliver (it is ``current`` until the next call), or None when the worker is done."""
        with self.cond:
            self.current = None
            while True:
                if self.stopped:
                    return None
                if self.urgent or self.ordinary:
                    self.current = (self.urgent or self.ordinary).popleft()
                    return self.current
                if self.closed:
                    return None
                self.cond.wait()

    def pause(self, seconds: float, item: _Item) -> Literal["elapsed", "urgent", "stopped"]:
        """Wait out a retry delay; an ordinary ``item`` stops waiting as soon as an urgent event is queued."""
        with self.cond:
            self.cond.wait_for(lambda: self.stopped or (not item.urgent and bool(self.urgent)), timeout=seconds)
            return "stopped" if self.stopped else "urgent" if not item.urgent and self.urgent else "elapsed"

    def close(self, stop: bool = False) -> list[_Item]:
        """No more events; with ``stop``, also end the worker now and return what was still queued."""
        with self.cond:
            self.closed = True
            left: list[_Item] = []
            if stop:
                self.stopped = True
                left = [*self.urgent, *self.ordinary]
                self.urgent.clear()
                self.ordinary.clear()
            self.cond.notify_all()
            return left


class _Endpoint:
    """One webhook URL with its own queue, thread and HTTP client."""

    def __init__(self, owner: Notifier, index: int, url: str, maxsize: int) -> None:
        self.owner = owner
        self.index = index
        self.url = url
        self.lanes = _Lanes(maxsize)
        self.delivered = 0  # written by this endpoint's thread only
        self.failed: Counter[str] = Counter()  # by event kind, under the owner's lock
        self.dropped: Counter[str] = Counter()  # by event kind, under the owner's lock
        self.thread = threading.Thread(target=self._run, name=f"custody-webhook-{index}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        timeout = httpx.Timeout(self.owner.timeout)
        # No keep-alive: every attempt opens its own connection, so the deadline always knows the socket to cut.
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=timeout, limits=limits) as client:
            while (item := self.lanes.get()) is not None:
                try:
                    self._deliver(client, item)
                except Exception as exc:  # the webhook thread must outlive any one bad delivery
                    self.owner.count(self.failed, [item])
                    log.error("webhook.error", webhook=self.index, error_type=type(exc).__name__)

    def _deliver(self, client: httpx.Client, item: _Item) -> None:
        owner = self.owner
        while item.attempts < owner.attempts:
            item.attempts += 1
            error = self._attempt(client, item.body)
            if error is None:
                self.delivered += 1
                return
            log.warning("webhook.retry", webhook=self.index, attempt=item.attempts, error=error, kind=item.kind)
            if item.attempts == owner.attempts:
                break
            waited = self.lanes.pause(min(owner.backoff * 2 ** (item.attempts - 1), 30.0), item)
            if waited == "urgent":  # try again after the urgent event, keeping the attempts made
                self.lanes.give_way(item)
                return
            if waited == "stopped":
                break  # closing: give up on this event
        owner.count(self.failed, [item])
        log.error("webhook.failed", webhook=self.index, kind=item.kind, attempts=item.attempts)

    def _attempt(self, client: httpx.Client, body: dict[str, Any]) -> str | None:
        """One POST within the deadline: None when the endpoint accepted it, else a short reason (never the URL)."""
        deadline = _Deadline(self.owner.timeout)
        try:
            # Streamed and never read: the status says whether the event was accepted; the body is not needed.
            with client.stream("POST", self.url, json=body, extensions={"trace": deadline.trace}) as resp:
                status = resp.status_code
        except httpx.HTTPError as exc:
            return "Timeout" if deadline.expired else type(exc).__name__
        finally:
            deadline.cancel()
        return None if status < 300 else f"HTTP {status}"


# Every notifier still open, so the server can flush them all when it shuts down (see ``close_all``).
_OPEN: weakref.WeakSet[Notifier] = weakref.WeakSet()


class Notifier:
    def __init__(
        self,
        urls: list[str],
        fmt: str = "json",
        timeout: float = 5.0,
        attempts: int = 5,
        backoff: float = 0.5,
        maxsize: int = 1000,
        console_url: str | None = None,
    ) -> None:
        self.urls = list(urls)
        # The web console's address: events of a grant carry a link to its page (``url``).
        self.console_url = console_url.rstrip("/") if console_url else None
        self.fmt = fmt
        self.timeout = timeout  # the wall-clock budget of one delivery attempt
        self.attempts = attempts
        self.backoff = backoff
        self._lock = threading.Lock()
        self._closed = False
        self._drop_log = Throttle(10.0)  # a flood of drops: one line per webhook and kind every 10 s
        self._endpoints = [_Endpoint(self, i, url, maxsize) for i, url in enumerate(self.urls)]
        if self._endpoints:
            _OPEN.add(self)

    @property
    def delivered(self) -> int:
        return sum(ep.delivered for ep in self._endpoints)

    @property
    def failed(self) -> int:
        """Events given up on after every attempt (over all webhooks)."""
        return sum(self.failures().values())

    @property
    def dropped(self) -> int:
        """Events never attempted: a full queue, or still queued when ``close`` ran out of time."""
        return sum(self.drops().values())

    def drops(self) -> dict[str, int]:
        """Dropped events by event kind, over all webhooks."""
        with self._lock:
            return dict(sum((ep.dropped for ep in self._endpoints), Counter()))

    def failures(self) -> dict[str, int]:
        """Events given up on, by event kind, over all webhooks."""
        with self._lock:
            return dict(sum((ep.failed for ep in self._endpoints), Counter()))

    def health(self) -> dict[str, Any]:
        """What the health endpoint shows: events queued, delivered, given up on and dropped (those two also by
        event kind)."""
        failed, dropped = self.failures(), self.drops()
        return {"pending": self.pending(), "delivered": self.delivered, "failed": sum(failed.values()),
                "dropped": sum(dropped.values()), "failed_by_event": failed, "dropped_by_event": dropped}

    def count(self, counter: Counter[str], items: list[_Item]) -> None:
        with self._lock:
            counter.update(item.kind for item in items)

    def emit(self, event: dict[str, Any]) -> None:
        """Queue an event for every webhook; never blocks. Where a webhook's queue is full the event is dropped for
        that webhook only, counted and logged."""
        if not self._endpoints:
            return
        clean = scrub(event)
        if self.console_url and clean.get("grant_id"):
            clean["url"] = f"{self.console_url}/grants/{clean['grant_id']}"
        body = slack_payload(clean) if self.fmt == "slack" else clean
        kind = str(clean.get("event"))
        grant = clean.get("grant_id")
        for ep in self._endpoints:
            item = _Item(body, kind, str(grant) if grant else None, is_urgent(clean))
            if not ep.lanes.put(item):
                self._drop(ep, [item], "closed" if self._closed else "queue full")

    def _drop(self, ep: _Endpoint, items: list[_Item], why: str) -> None:
        self.count(ep.dropped, items)
        for kind, count in Counter(i.kind for i in items).items():
            if (held := self._drop_log((ep.index, kind, why), count)) is not None:
                log.warning("webhook.dropped", webhook=ep.index, kind=kind, count=count + held, why=why)

    def pending(self) -> int:
        return sum(len(ep.lanes) for ep in self._endpoints)

    def close(self, timeout: float = 1.0) -> None:
        """Take no more events, deliver what is queued for at most ``timeout`` seconds, then stop the webhook
        threads; events still queued then are counted as dropped (an attempt in flight ends within its own
        deadline)."""
        self._closed = True
        _OPEN.discard(self)
        for ep in self._endpoints:
            ep.lanes.close()
        deadline = time.monotonic() + timeout
        for ep in self._endpoints:
            ep.thread.join(max(0.0, deadline - time.monotonic()))
        for ep in self._endpoints:
            if left := ep.lanes.close(stop=True):
                self._drop(ep, left, "unsent at shutdown")


def close_all(timeout: float) -> None:
    """Flush and close every open notifier, all within ``timeout`` seconds in total (at server shutdown)."""
    deadline = time.monotonic() + timeout
    for notifier in list(_OPEN):
        notifier.close(max(0.0, deadline - time.monotonic()))
