"""Webhook notifications: every request, decision, reveal and emergency, posted off the request path.

Events go into a bounded in-memory queue drained by one daemon thread that retries each delivery with exponential
backoff. A slow or dead endpoint can delay notifications, never a custody request. Events never carry a code or a
token: they are built from grant fields only, and pass through the same scrubber as the logs.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import httpx

from custody.logging import get_logger, scrub

log = get_logger("custody.notify")


def slack_payload(event: dict[str, Any]) -> dict[str, Any]:
    """A Slack-compatible message (``text`` plus the raw event as a block of fields)."""
    who = event.get("actor", "someone")
    text = f"custody: {event.get('event')} on {event.get('account', '?')} by {who}"
    if event.get("grant_id"):
        text += f" (grant {event['grant_id']})"
    if event.get("reason"):
        text += f": {event['reason']}"
    if event.get("emergency"):
        text = ":rotating_light: EMERGENCY " + text
    return {"text": text, "custody_event": event}


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
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=maxsize)
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._thread: threading.Thread | None = None
        if self.urls:
            self._thread = threading.Thread(target=self._run, name="custody-webhooks", daemon=True)
            self._thread.start()

    def emit(self, event: dict[str, Any]) -> None:
        """Queue an event; never blocks. When the queue is full the event is dropped and counted."""
        if not self.urls:
            return
        try:
            self._queue.put_nowait(scrub(event))
        except queue.Full:
            self.dropped += 1
            log.warning("webhook.dropped", kind=event.get("event"))

    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while True:
                event = self._queue.get()
                body = slack_payload(event) if self.fmt == "slack" else event
                for url in self.urls:
                    try:
                        self._deliver(client, url, body)
                    except Exception as exc:  # the notifier thread must outlive any one bad delivery
                        self.failed += 1
                        log.error("webhook.error", error_type=type(exc).__name__)
                self._queue.task_done()

    def _deliver(self, client: httpx.Client, url: str, body: dict[str, Any]) -> None:
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                resp = client.post(url, json=body)
                if resp.status_code < 300:
                    self.delivered += 1
                    return
                error = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            log.warning("webhook.retry", attempt=attempt, error=error, kind=body.get("event"))
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
        self.failed += 1
        log.error("webhook.failed", kind=body.get("event"), attempts=self.attempts)
