"""Health: liveness never asks Vault; readiness asks it at most once a second, one check at a time, whatever the
number of callers; both show the webhooks' figures by event kind."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from custody.notify import Notifier
from custody.usecases.health import Health


class CountingVault:
    """Vault's health as the store reports it, counting the checks (each is an audited request in Vault); with
    ``gate`` set, a check waits for it to open (a slow Vault)."""

    def __init__(self) -> None:
        self.checks = 0
        self.sealed = False
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def health(self) -> dict[str, Any]:
        with self._lock:
            self.checks += 1
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(timeout=10)
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
    vault, clock = CountingVault(), Clock()
    health = Health(vault, Notifier([]), clock=clock)
    vault.gate = threading.Event()
    with ThreadPoolExecutor(max_workers=20) as pool:  # no answer yet: the first callers wait for the first check
        first = [pool.submit(health.ready) for _ in range(20)]
        assert vault.entered.wait(timeout=10)
        vault.gate.set()
        assert all(f.result(timeout=10)[0] for f in first)
    assert vault.checks == 1

    clock.now += 1
    vault.gate, vault.sealed = threading.Event(), True
    vault.entered.clear()
    checker = threading.Thread(target=health.ready)
    checker.start()  # the next check, held up in Vault
    assert vault.entered.wait(timeout=10)
    others = ThreadPoolExecutor(max_workers=1).submit(lambda: [health.ready() for _ in range(50)])
    answers = others.result(timeout=5)  # nobody waits for the check under way: they get the last answer
    assert all(ok for ok, _ in answers) and vault.checks == 2
    vault.gate.set()
    checker.join(timeout=10)
    assert not health.ready()[0] and vault.checks == 2  # the check's answer, now shared


def test_the_answers_show_webhook_figures_by_event_kind() -> None:
    health = Health(CountingVault(), Notifier([]))
    want = {"pending", "delivered", "failed", "dropped", "failed_by_event", "dropped_by_event"}
    assert set(health.live()["webhooks"]) == want and set(health.ready()[1]["webhooks"]) == want
