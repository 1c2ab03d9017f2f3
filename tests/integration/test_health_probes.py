"""Health without a token: liveness asks nothing of Vault; readiness asks Vault at most once a second, whoever
and however many ask, so unauthenticated callers cannot write to Vault's audit log at will."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.helpers import Stack

pytestmark = pytest.mark.integration


def audit_lines_since(path: Path, offset: int) -> list[dict[str, object]]:
    with path.open("rb") as f:
        f.seek(offset)
        return [json.loads(line) for line in f.read().splitlines()]


def health_checks(entries: list[dict[str, object]]) -> list[dict[str, object]]:
    """Requests the health check makes: the service reading its mount's config."""
    return [e for e in entries if e["type"] == "request"
            and str(e["request"]["path"]).endswith("/config")]  # type: ignore[index]


def test_liveness_asks_nothing_of_vault(stack: Stack) -> None:
    audit_log = Path(stack.state["audit_log"])
    offset = audit_log.stat().st_size
    for _ in range(20):
        live = httpx.get(f"{stack.custody_addr}/v1/custody/health/live", timeout=10)
        assert live.status_code == 200, live.text
        assert live.json()["data"]["status"] == "ok"
    assert audit_lines_since(audit_log, offset) == []  # not one line in Vault's audit log


def test_readiness_asks_vault_at_most_once_a_second(stack: Stack) -> None:
    audit_log = Path(stack.state["audit_log"])
    offset = audit_log.stat().st_size
    start = time.monotonic()

    def ready(_: int) -> int:
        return httpx.get(f"{stack.custody_addr}/v1/custody/health", timeout=10).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(ready, range(200)))
    elapsed = time.monotonic() - start
    assert statuses == [200] * 200
    entries = audit_lines_since(audit_log, offset)
    checks = health_checks(entries)
    assert 1 <= len(checks) <= int(elapsed) + 2, (len(checks), elapsed)  # was one per call: 200
    assert len(entries) == 2 * len(checks)  # a request and its response each: nothing else reached Vault's log


def test_the_answer_shows_webhook_counts_by_event_kind(stack: Stack) -> None:
    for path in ("health", "health/live"):
        webhooks = httpx.get(f"{stack.custody_addr}/v1/custody/{path}", timeout=10).json()["data"]["webhooks"]
        assert {"pending", "delivered", "failed", "dropped", "failed_by_event", "dropped_by_event"} <= set(webhooks)
