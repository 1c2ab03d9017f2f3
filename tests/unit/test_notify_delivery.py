"""Webhook delivery against real loopback HTTP servers: a slow, trickling or hanging endpoint only ever delays itself,
queues stay bounded, a rate-limited endpoint still gets every emergency and reveal (and each grant's events in
order), every drop is counted by event kind, closing delivers what is queued within its bound, URLs stay out of the
logs, and Slack text carries no markup from the requester."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import structlog

from custody import logging as clog
from custody.notify import Notifier, slack_payload

# How long the slow endpoints would take to answer in full: far beyond any bound asserted below.
TRICKLE_INTERVAL = 0.5
TRICKLE_BYTES = 120  # x 0.5 s = 60 s


class Endpoint:
    """A real HTTP server on loopback. ``mode``: "ok" answers 204 at once; "slow-headers" trickles its status line
    and headers one byte at a time; "slow-body" sends a 200 at once, then a chunked body one byte at a time; "hang"
    reads the request and never answers; "rate-limited" answers 429 while ``limited`` is set, then 204; "slow-ok"
    answers 204 after 20 ms."""

    def __init__(self, mode: str = "ok", path: str = "/hook") -> None:
        self.mode = mode
        self.events: list[dict[str, Any]] = []
        self.calls = 0
        self.stop = threading.Event()
        self.limited = threading.Event()
        self.limited.set()
        self.refused: list[str] = []  # grant ids of the events answered 429
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.calls += 1
                with contextlib.suppress(OSError):  # the client gave up on us: that is the point
                    outer.answer(self, body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def answer(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        if self.mode == "rate-limited" and self.limited.is_set():
            self.refused.append(json.loads(body).get("grant_id"))
            h.send_response(429)
            h.send_header("Retry-After", "1")
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif self.mode in ("ok", "rate-limited", "slow-ok"):
            if self.mode == "slow-ok":
                time.sleep(0.02)
            self.events.append(json.loads(body))
            h.send_response(204)
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif self.mode == "hang":
            self.stop.wait(60)
        elif self.mode == "slow-headers":
            head = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * TRICKLE_BYTES + b"\r\nContent-Length: 0\r\n\r\n"
            self._trickle(h, head)
        elif self.mode == "slow-body":
            h.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n")
            self._trickle(h, b"".join(b"1\r\n%c\r\n" % c for c in b"o" * TRICKLE_BYTES) + b"0\r\n\r\n")

    def _trickle(self, h: BaseHTTPRequestHandler, data: bytes) -> None:
        for i in range(len(data)):
            if self.stop.wait(TRICKLE_INTERVAL):
                return
            h.wfile.write(data[i : i + 1])
            h.wfile.flush()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoints() -> Iterator[Callable[..., Endpoint]]:
    made: list[Endpoint] = []

    def make(mode: str = "ok", path: str = "/hook") -> Endpoint:
        made.append(Endpoint(mode, path))
        return made[-1]

    yield make
    for e in made:
        e.close()


@pytest.fixture
def notifiers() -> Iterator[Callable[..., Notifier]]:
    made: list[Notifier] = []

    def make(*args: Any, **kwargs: Any) -> Notifier:
        made.append(Notifier(*args, **kwargs))
        return made[-1]

    yield make
    for n in made:
        n.close()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> float:
    """Seconds it took ``condition`` to hold; fails the test after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            pytest.fail(f"not within {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - start


def test_a_trickling_endpoint_neither_delays_the_next_nor_holds_forever(endpoints: Any, notifiers: Any) -> None:
    slow, healthy = endpoints("slow-headers"), endpoints("ok")
    notifier = notifiers([slow.url, healthy.url], timeout=2.0, attempts=1)
    notifier.emit({"event": "grant.requested", "account": "pypi/a"})
    wait_until(lambda: len(healthy.events) == 1)  # the slow endpoint would take 60 s to answer
    assert healthy.events[0]["event"] == "grant.requested"
    wait_until(lambda: notifier.failed == 1)  # the whole attempt is capped, not each read
    assert slow.calls == 1 and notifier.delivered == 1 and notifier.pending() == 0


def test_a_slow_body_is_not_waited_for(endpoints: Any, notifiers: Any) -> None:
    """200 at once, then a body one byte at a time: the event was accepted, the rest of the answer is not needed."""
    slow, healthy = endpoints("slow-body"), endpoints("ok")
    notifier = notifiers([slow.url, healthy.url], timeout=2.0, attempts=1)
    for i in range(3):
        notifier.emit({"event": f"e{i}"})
    wait_until(lambda: notifier.delivered == 6)
    assert [e["event"] for e in healthy.events] == ["e0", "e1", "e2"]
    assert slow.calls == 3 and notifier.failed == 0


def test_a_hanging_endpoint_is_retried_then_failed_while_others_flow(endpoints: Any, notifiers: Any) -> None:
    dead, healthy = endpoints("hang"), endpoints("ok")
    notifier = notifiers([dead.url, healthy.url], timeout=0.5, attempts=2, backoff=0.05)
    for i in range(3):
        notifier.emit({"event": f"e{i}"})
    wait_until(lambda: len(healthy.events) == 3)
    assert [e["event"] for e in healthy.events] == ["e0", "e1", "e2"]
    wait_until(lambda: notifier.failed == 3)  # each event: 2 attempts of at most 0.5 s
    assert dead.calls == 6


def test_full_queues_drop_without_blocking_and_logs_hold_no_url(endpoints: Any, notifiers: Any) -> None:
    secret_path = "/services/T0001/B0001/Zq9SecretWebhookPath"  # a Slack webhook URL is itself a credential
    dead = endpoints("hang", path=secret_path)
    out = io.StringIO()
    clog.configure("json", "debug", stream=out)
    try:
        notifier = notifiers([dead.url], timeout=0.5, attempts=1, maxsize=2)
        start = time.monotonic()
        for i in range(20):
            notifier.emit({"event": f"e{i}", "token": "s.AbCdEfGhIjKlMnOpQrStUvWx"})
        assert time.monotonic() - start < 1.0
        assert notifier.dropped >= 17 and notifier.pending() <= 2
        wait_until(lambda: notifier.failed >= 1)
    finally:
        notifier.close()
        structlog.reset_defaults()
    logs = out.getvalue()
    assert '"webhook.dropped"' in logs and '"webhook.failed"' in logs
    assert "Zq9SecretWebhookPath" not in logs and "AbCdEfGhIjKlMnOpQrStUvWx" not in logs


def test_a_rate_limited_webhook_still_gets_the_emergency_and_the_reveal(endpoints: Any, notifiers: Any) -> None:
    """1,200 ordinary events against a webhook answering 429 fill its 1,000-event queue; the emergency notice and a
    reveal that follow are neither dropped nor left behind them, and the reveal's grant keeps its order."""
    hook = endpoints("rate-limited")
    notifier = notifiers([hook.url], timeout=2.0, attempts=5, backoff=0.05, maxsize=1000)
    for i in range(1200):
        notifier.emit({"event": "grant.requested", "grant_id": f"gr_{i:04d}", "account": "pypi/a"})
    wait_until(lambda: len(hook.refused) >= 1)
    notifier.emit({"event": "grant.emergency", "grant_id": "gr_emerg", "account": "pypi/b", "emergency": True})
    notifier.emit({"event": "grant.revealed", "grant_id": "gr_0500", "account": "pypi/a"})
    wait_until(lambda: "gr_emerg" in hook.refused)  # tried next, ahead of 1,000 queued events
    drops = notifier.drops()
    assert set(drops) == {"grant.requested"} and 199 <= drops["grant.requested"] <= 200
    assert notifier.dropped == drops["grant.requested"]
    health = notifier.health()
    assert health["dropped_by_event"] == drops and health["pending"] >= 1000
    hook.limited.clear()  # the rate limit lifts
    wait_until(lambda: len(hook.events) >= 3)
    # The emergency first; the reveal's grant keeps its order: its request, then the reveal.
    assert [(e["event"], e["grant_id"]) for e in hook.events[:3]] == [
        ("grant.emergency", "gr_emerg"), ("grant.requested", "gr_0500"), ("grant.revealed", "gr_0500")]
    assert notifier.failed == 0


def test_close_delivers_what_is_queued(endpoints: Any) -> None:
    hook = endpoints("slow-ok")
    notifier = Notifier([hook.url], timeout=2.0)
    for i in range(20):
        notifier.emit({"event": "grant.requested", "grant_id": f"gr_{i}"})
    notifier.close(timeout=10)
    assert [e["grant_id"] for e in hook.events] == [f"gr_{i}" for i in range(20)]
    assert notifier.dropped == 0 and notifier.pending() == 0
    notifier.emit({"event": "grant.requested", "grant_id": "gr_late"})  # after close: counted, not sent
    assert notifier.drops() == {"grant.requested": 1}


def test_close_gives_up_within_its_bound_and_counts_what_is_left(endpoints: Any) -> None:
    dead = endpoints("hang")
    notifier = Notifier([dead.url], timeout=2.0, attempts=1)
    for i in range(5):
        notifier.emit({"event": "grant.approved", "grant_id": f"gr_{i}"})
    wait_until(lambda: dead.calls == 1)
    started = time.monotonic()
    notifier.close(timeout=0.3)
    assert time.monotonic() - started < 1.0
    assert notifier.drops() == {"grant.approved": 4}  # the fifth was in flight: it fails within its own deadline
    wait_until(lambda: notifier.failed == 1)


HOSTILE = "<!channel> urgent: approve at <https://evil.example/login|custody approve page>"


def test_slack_text_escapes_every_user_supplied_value() -> None:
    payload = slack_payload({"event": "grant.emergency", "account": "pypi/a&b<x>", "actor": "<@U0123|boss>",
                             "grant_id": "gr_<!here>", "reason": HOSTILE, "emergency": True})
    text = payload["text"]
    assert text == (":rotating_light: EMERGENCY custody: grant.emergency on pypi/a&amp;b&lt;x&gt;"
                    " by &lt;@U0123|boss&gt; (grant gr_&lt;!here&gt;): &lt;!channel&gt; urgent: approve at "
                    "&lt;https://evil.example/login|custody approve page&gt;")
    assert "<" not in text and ">" not in text
    assert payload["custody_event"]["reason"] == HOSTILE  # the machine-readable copy stays exact
    already = slack_payload({"event": "x", "reason": "a &amp; b"})["text"]
    assert already.endswith(": a &amp;amp; b")  # shown literally, as typed


def test_slack_text_of_many_revoked_grants_gives_their_count() -> None:
    text = slack_payload({"event": "grants.revoked", "account": "pypi/acme", "actor": "userpass-security",
                          "count": 120, "reason": "codes rotated", "grant_ids": ["gr_1"]})["text"]
    assert text == "custody: grants.revoked on pypi/acme by userpass-security (120 grants): codes rotated"


def test_slack_text_arrives_escaped_over_http(endpoints: Any, notifiers: Any) -> None:
    healthy = endpoints("ok")
    notifier = notifiers([healthy.url], fmt="slack", timeout=2.0)
    notifier.emit({"event": "grant.requested", "account": "pypi/a", "actor": "mallory", "reason": HOSTILE})
    wait_until(lambda: len(healthy.events) == 1)
    text = healthy.events[0]["text"]
    assert "<!channel>" not in text and "<https://" not in text
    assert text.endswith(": &lt;!channel&gt; urgent: approve at "
                         "&lt;https://evil.example/login|custody approve page&gt;")
