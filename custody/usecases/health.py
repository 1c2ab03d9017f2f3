"""Health, for load balancers and probes (no token).

Two questions, two answers:

- **live**: does this process answer? It asks nothing of Vault, so a probe that restarts the process on failure
  never restarts it for Vault's trouble, and nobody can make Vault write to its audit log by asking.
- **ready**: can it serve requests, i.e. is Vault reachable, unsealed and serving? Vault is asked at most once per
  ``interval`` (1 s), whoever and however many ask: every caller in between gets the last answer, with its age.
  The check costs Vault an audited request (``custody-kv/config``), so unauthenticated callers cannot turn it
  into audit-log lines faster than that.

Both show the webhooks' figures (``Notifier.health()``: queued, delivered, failed and dropped, those two by event
kind).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from custody.notify import Notifier


class VaultHealth(Protocol):
    def health(self) -> dict[str, Any]:
        """``reachable``, ``sealed``, ``initialized``, ``standby``, ``serving`` (and ``problem``, ``nodes``)."""
        ...


@dataclass
class Health:
    vault: VaultHealth
    notifier: Notifier
    interval: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _checking: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _last: tuple[float, dict[str, Any]] | None = field(default=None, init=False, repr=False)

    def live(self) -> dict[str, Any]:
        """This process answers (no Vault call)."""
        return {"status": "ok", "webhooks": self.notifier.health()}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Whether the server can serve requests, and what it knows about Vault and its webhooks."""
        vault = self._vault()
        healthy = bool(vault["reachable"]) and not vault["sealed"] and vault.get("serving", True) is not False
        return healthy, {"status": "ok" if healthy else "degraded", "vault": vault,
                         "webhooks": self.notifier.health()}

    def _vault(self) -> dict[str, Any]:
        """Vault's health as last checked, checked again once that is ``interval`` old. One check at a time: while
        it runs, callers get the previous answer (only the very first callers wait for one)."""
        last = self._last
        if last is not None and self.clock() - last[0] < self.interval:
            return self._aged(last)
        if last is not None and not self._checking.acquire(blocking=False):
            return self._aged(last)  # a check is under way
        if last is None:
            self._checking.acquire()
        try:
            last = self._last  # another caller may have checked while this one waited
            if last is None or self.clock() - last[0] >= self.interval:
                vault = self.vault.health()
                last = self._last = (self.clock(), vault)  # stamped when it ends: checks are an interval apart
            return self._aged(last)
        finally:
            self._checking.release()

    def _aged(self, checked: tuple[float, dict[str, Any]]) -> dict[str, Any]:
        at, vault = checked
        return vault | {"checked_seconds_ago": round(max(self.clock() - at, 0.0), 3)}
