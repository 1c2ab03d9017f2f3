"""Webhook notifications: every request, decision, reveal and emergency, posted off the request path.

Every webhook URL has its own bounded in-memory queue drained by its own daemon thread, which retries each delivery
with exponential backoff; a full queue drops the event (counted and logged), so ``emit`` never blocks and memory never
grows without bound. One delivery attempt has a wall-clock budget (``timeout``) covering connect, send and the answer's
status line and headers; the answer's body is never read. So a slow, trickling or dead endpoint can only delay its own
notifications: never another endpoint's, never a custody request.

Events never carry a code or a token: they are built from grant fields only, and pass through the same scrubber as the
logs. Webhook URLs are never logged (a Slack webhook URL is itself a secret); log lines name a webhook by its position
in the configured list.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
from typing import Any

import httpx

from custody.logging import get_logger, scrub

log = get_logger("custody.notify")


def slack_escape(value: Any) -> str:
    """``value`` as Slack message text that shows literally: no mention (``<!channel>``), no disguised link."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
    if event.get("reason"):
        text += f": {esc(event['reason'])}"
    if event.get("emergency"):
        text = ":rotating_light: EMERGENCY " + text
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


class _Endpoint:
    """One webhook URL with its own queue, thread and HTTP client."""

    def __init__(self, owner: Notifier, index: int, url: str, maxsize: int) -> None:
        self.owner = owner
        self.index = index
        self.url = url
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=maxsize)
        self.delivered = 0  # written by this endpoint's thread only
        self.failed = 0  # written by this endpoint's thread only
        self.dropped = 0  # written under the owner's lock
        self.thread = threading.Thread(target=self._run, name=f"custody-webhook-{index}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        timeout = httpx.Timeout(self.owner.timeout)
        # No keep-alive: every attempt opens its own connection, so the deadline always knows the socket to cut.
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=timeout, limits=limits) as client:
            while not self.owner._stop.is_set():
                body = self.queue.get()
                if body is None:
                    break
                try:
                    self._deliver(client, body)
                except Exception as exc:  # the webhook thread must outlive any one bad delivery
                    self.failed += 1
                    log.error("webhook.error", webhook=self.index, error_type=type(exc).__name__)

    def _deliver(self, client: httpx.Client, body: dict[str, Any]) -> None:
        owner = self.owner
        kind = (body.get("custody_event") or body).get("event")
        delay = owner.backoff
        for attempt in range(1, owner.attempts + 1):
            error = self._attempt(client, body)
            if error is None:
                self.delivered += 1
                return
            log.warning("webhook.retry", webhook=self.index, attempt=attempt, error=error, kind=kind)
            if attempt < owner.attempts and owner._stop.wait(delay):
                break  # closing: give up on this event
            delay = min(delay * 2, 30.0)
        self.failed += 1
        log.error("webhook.failed", webhook=self.index, kind=kind, attempts=owner.attempts)

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


class Notifier:
    def __init__(
        self,
        urls: list[str],
        fmt: str = "json",
        timeout: float = 5.0,
        attempts: int = 5,
        backoff: float = 0.5,
        maxsize: int = 1000,
    ) -> None:
        self.urls = list(urls)
        self.fmt = fmt
        self.timeout = timeout  # the wall-clock budget of one delivery attempt
        self.attempts = attempts
        self.backoff = backoff
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._endpoints = [_Endpoint(self, i, url, maxsize) for i, url in enumerate(self.urls)]

    @property
    def delivered(self) -> int:
        return sum(ep.delivered for ep in self._endpoints)

    @property
    def failed(self) -> int:
        return sum(ep.failed for ep in self._endpoints)

    @property
    def dropped(self) -> int:
        return sum(ep.dropped for ep in self._endpoints)

    def emit(self, event: dict[str, Any]) -> None:
        """Queue an event for every webhook; never blocks. Where a webhook's queue is full the event is dropped for
        that webhook only, counted and logged."""
        if not self._endpoints or self._stop.is_set():
            return
        clean = scrub(event)
        body = slack_payload(clean) if self.fmt == "slack" else clean
        for ep in self._endpoints:
            try:
                ep.queue.put_nowait(body)
            except queue.Full:
                with self._lock:
                    ep.dropped += 1
                log.warning("webhook.dropped", webhook=ep.index, kind=clean.get("event"))

    def pending(self) -> int:
        return sum(ep.queue.qsize() for ep in self._endpoints)

    def close(self, timeout: float = 1.0) -> None:
        """Stop the webhook threads (an attempt in flight ends within its deadline); queued events are not sent."""
        self._stop.set()
        for ep in self._endpoints:
            with contextlib.suppress(queue.Full):
                ep.queue.put_nowait(None)  # wakes an idle thread; a busy one sees the stop flag next
        for ep in self._endpoints:
            ep.thread.join(timeout)
