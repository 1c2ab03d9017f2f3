"""A stopping server delivers the webhook events it has queued (within a bounded wait) instead of losing them when
the process exits, even while the webhook is rate-limiting it.

A real `custody serve` (started as the dev stack starts one, against the session's OpenBao) notifies a local HTTP
endpoint that answers 429 to its first requests and is slow after that; the server gets SIGTERM right after the
requests that made the events have been answered.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import httpx
import pytest

from custody import devkit
from tests.helpers import Stack, local_http, uniq

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class RateLimited(BaseHTTPRequestHandler):
    """429 to the first two requests, then 204 after 100 ms each, recording the events."""

    events: ClassVar[list[dict[str, Any]]] = []
    calls: ClassVar[int] = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            type(self).calls += 1
            limited = self.calls <= 2
        if limited:
            self.send_response(429)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        time.sleep(0.1)
        with self.lock:
            self.events.append(body)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_sigterm_delivers_the_queued_webhook_events(stack: Stack, tmp_path: Any) -> None:
    with local_http(RateLimited) as hook:
        port = devkit.free_port()
        role_id = stack.admin().call("GET", "auth/approle/role/custody-service/role-id")["data"]["role_id"]
        env = devkit.child_env(stack.dir) | {
            "CUSTODY_VAULT_ADDR": stack.vault_addr, "CUSTODY_ROLE_ID": role_id,
            "CUSTODY_SECRET_ID_FILE": str(stack.dir / "service-secret-id"), "CUSTODY_LISTEN_PORT": str(port),
            "CUSTODY_WEBHOOKS": f"{hook}/hook", "CUSTODY_WEBHOOK_FLUSH_TIMEOUT": "10",
        }
        log = tmp_path / "custody.log"
        pid = devkit.start_server(env, log)
        try:
            addr = f"http://127.0.0.1:{port}"
            devkit.wait_http(f"{addr}/v1/custody/health", 20)
            accounts = [f"pypi/{uniq('flush')}" for _ in range(5)]
            for account in accounts:
                resp = httpx.post(f"{addr}/v1/custody/accounts/{account}", json={"owner": "o@example.com"},
                                  headers={"X-Vault-Token": stack.token("security")}, timeout=10)
                assert resp.status_code == 200, resp.text
            os.kill(pid, signal.SIGTERM)  # the events are still queued: the webhook is answering 429
            devkit.until(lambda: not devkit.alive(pid), 20, "the server to exit")
        finally:
            devkit.stop(pid)
    assert sorted(e["account"] for e in RateLimited.events if e["event"] == "account.created") == sorted(accounts)
    text = log.read_text()
    assert "webhook.dropped" not in text and "webhook.failed" not in text
