"""Health, for load balancers and probes (no token): is Vault serving, and are notifications flowing?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from custody.notify import Notifier


class VaultHealth(Protocol):
    def health(self) -> dict[str, Any]:
        """``reachable``, ``sealed``, ``initialized``, ``standby``, ``serving`` (and ``problem``, ``nodes``)."""
        ...


@dataclass(frozen=True)
class Health:
    vault: VaultHealth
    notifier: Notifier

    def check(self) -> tuple[bool, dict[str, Any]]:
        """Whether the server can serve requests, and what it knows about Vault and its webhooks."""
        vault = self.vault.health()
        n = self.notifier
        healthy = bool(vault["reachable"]) and not vault["sealed"] and vault.get("serving", True) is not False
        return healthy, {"status": "ok" if healthy else "degraded", "vault": vault,
                         "webhooks": {"pending": n.pending(), "failed": n.failed, "dropped": n.dropped}}
