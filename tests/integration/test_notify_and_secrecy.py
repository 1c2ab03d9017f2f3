"""Webhooks carry every event and never a code; no log of the stack holds a code or a token."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from custody.config import PolicySettings
from custody.notify import Notifier, slack_payload
from tests.helpers import DEPOSITED, REASON, SESSION_LIMITS, Clock, Stack, in_process

pytestmark = pytest.mark.integration


class Receiver:
    """A real HTTP endpoint on loopback that records what it is sent (and can fail or hang on demand)."""

    def __init__(self, fail_first: int = 0, hang: float = 0.0) -> None:
        self.events: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.calls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.calls += 1
                if outer.hang:
                    time.sleep(outer.hang)
                if outer.calls <= fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.raw.append(body)
                outer.events.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.hang = hang
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < n and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        self.server.shutdown()


def test_webhooks_get_every_step_without_codes(stack: Stack, clock: Clock, critical_account: str) -> None:
    receiver = Receiver(fail_first=1)
    try:
        notifier = Notifier([receiver.url], backoff=0.05)
        svc = in_process(stack.service_store(), settings=PolicySettings(**SESSION_LIMITS), notifier=notifier,
                         clock=clock)
        g = svc.access.request(stack.token("engineer"), critical_account, REASON, ticket="SEC-5")
        svc.access.approve(stack.token("approver"), g.id, "ok")
        svc.access.approve(stack.token("approver2"), g.id)
        svc.access.reveal(stack.token("engineer"), g.id)
        e = svc.access.request(stack.token("engineer"), critical_account, REASON, emergency=True)
        receiver.wait_for(5)
        names = [ev["event"] for ev in receiver.events]
        assert names == ["grant.requested", "grant.approved", "grant.approved", "grant.revealed", "grant.emergency"]
        assert receiver.events[0]["reason"] == REASON and receiver.events[0]["ticket"] == "SEC-5"
        assert receiver.events[-1]["grant_id"] == e.id and receiver.events[-1]["emergency"] is True
        assert receiver.calls == 6  # the first delivery failed and was retried
        blob = b"".join(receiver.raw).decode()
        assert not any(code in blob for code in DEPOSITED)
        assert stack.token("engineer") not in blob
    finally:
        receiver.close()


def test_hanging_webhook_never_blocks_requests(stack: Stack, clock: Clock, account: str) -> None:
    receiver = Receiver(hang=5)
    try:
        notifier = Notifier([receiver.url], timeout=0.5, attempts=1)
        svc = in_process(stack.service_store(), settings=PolicySettings(**SESSION_LIMITS), notifier=notifier,
                         clock=clock)
        start = time.monotonic()
        for _ in range(3):
            svc.access.request(stack.token("engineer"), account, REASON)
        assert time.monotonic() - start < 3
    finally:
        receiver.close()


def test_slack_payload_shape() -> None:
    payload = slack_payload({"event": "grant.emergency", "account": "pypi/a", "actor": "u", "grant_id": "gr_x",
                             "reason": "r", "emergency": True})
    assert payload["text"].startswith(":rotating_light: EMERGENCY custody: grant.emergency on pypi/a by u")


def test_logs_hold_no_codes_or_tokens(stack: Stack, account: str) -> None:
    """After a full flow, scan every log the stack wrote (server, OpenBao, audit device)."""
    g = stack.cli("engineer", "access", "request", account, "--reason", REASON, "--format", "json").json()
    revealed = stack.cli("engineer", "access", "reveal", g["id"], "--format", "json").json()["code"]
    logs = stack.logs()
    assert set(logs) >= {"custody.log", "bao.log", "audit.log"}
    assert '"grant.revealed"' in logs["custody.log"]  # the server did log the reveal...
    for name, text in logs.items():
        assert revealed not in text, name  # ...but never the code
        for code in DEPOSITED:
            assert code not in text, name
        for who in ("engineer", "security", "approver", "root"):
            if name == "bao.log" and who == "root":
                continue  # a -dev OpenBao prints its own root token in its start banner (0600 file, dev only)
            assert stack.token(who) not in text, (name, who)
    secret_id = (stack.dir / "service-secret-id").read_text().strip()
    assert all(secret_id not in text for text in logs.values())
