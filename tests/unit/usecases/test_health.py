"""Health: liveness never asks Vault; readiness asks it at most once a second, one check at a time, whatever the
number of callers; both show the webhooks' figures by event kind."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from custody.notify import Notifier
from custody.usecases.health import Health


class CountingVault:
    """Vault's health as the store reports it, counting the checks (each is an audited request in Vault)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.checks = 0
        self.delay = delay
        self.sealed = False
        self._lock = threading.Lock()

    def health(self) -> dict[str, Any]:
        with self._lock:
            self.checks += 1
        time.sleep(self.delay)
        return {"reachable": True, "sealed": self.sealed, "initialized": True, "standby": False,
                "serving": not self.sealed}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_liveness_asks_nothing_of_vault() -> None:
    vault = CountingVault()
    health = Health(vault, Notifier([]))
    for _ in range(100):
        assert health.live()["status"] == "ok"
    assert vault.checks == 0


def test_readiness_asks_vault_at_most_once_an_interval() -> None:
    vault, clock = CountingVault(), Clock()
    health = Health(vault, Notifier([]), clock=clock)
    for _ in range(100):
        assert health.ready()[0]
    assert vault.checks == 1
    vault.sealed = True
    clock.now += 0.5
    healthy, report = health.ready()
    assert healthy and report["vault"]["checked_seconds_ago"] == 0.5 and vault.checks == 1
    clock.now += 0.5
    healthy, report = health.ready()
    assert not healthy and report["status"] == "degraded" and vault.checks == 2


def test_concurrent_callers_share_one_check() -> None:
    vault = CountingVault(delay=0.5)
    health = Health(vault, Notifier([]))
    with ThreadPoolExecutor(max_workers=20) as pool:  # the very first callers wait for the first answer
        assert all(ok for ok, _ in pool.map(lambda _: health.ready(), range(20)))
    assert vault.checks == 1
    time.sleep(1.0)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:  # once there is an answer, nobody waits for the next check
        results = list(pool.map(lambda _: (health.ready(), time.monotonic() - started), range(20)))
    assert vault.checks == 2 and all(ok for (ok, _), _ in results)
    assert sorted(elapsed for _, elapsed in results)[-2] < 0.4  # only the caller that checks waits for Vault


def test_the_answers_show_webhook_figures_by_event_kind() -> None:
    health = Health(CountingVault(), Notifier([]))
    want = {"pending", "delivered", "failed", "dropped", "failed_by_event", "dropped_by_event"}
    assert set(health.live()["webhooks"]) == want and set(health.ready()[1]["webhooks"]) == want
