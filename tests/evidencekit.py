"""What the evidence tests share: a transit engine that signs in memory (for use-case unit tests only; the
integration tests sign with OpenBao's), and a predicate with every raw section, to vary one rule at a time."""

from __future__ import annotations

import copy
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.errors import NotFound


class MemTransit:
    """Vault's transit engine for one ed25519 key, in memory; ``missing`` makes it answer as if no key existed."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.missing = False
        self.signed: list[bytes] = []

    def transit_sign(self, mount: str, key: str, data: bytes) -> tuple[int, bytes]:
        if self.missing:
            raise NotFound(f"not found (sign an evidence pack at {mount}/sign/{key})")
        self.signed.append(data)
        return 1, self.key.sign(data)

    def transit_public_keys(self, mount: str, key: str) -> dict[int, bytes]:
        if self.missing:
            raise NotFound("not found (read the evidence signing key)")
        return {1: self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)}


REVEAL: dict[str, Any] = {
    "time": "2026-03-01T10:00:00Z", "request_id": "r1", "account": "pypi/acme", "grant_id": "gr_aaaaaaaaaaaaaaaa",
    "requester": {"entity_id": "e-alice", "display_name": "alice"}, "reason": "lost both keys on a trip abroad",
    "ticket": "SEC-1", "emergency": False,
    "approvers": [{"approver": "bob", "approver_entity": "e-bob", "at": "2026-03-01T09:59:00Z", "comment": "ok"}],
    "grant_status_at_handout": "approved", "wrap_ttl_seconds": 300, "unwrap_status": "unwrapped", "unwraps": [],
    "review": None, "drill": "",
}

PREDICATE: dict[str, Any] = {
    "period": {"start": "2026-01-01T00:00:00+00:00", "end": "2027-01-01T00:00:00+00:00"},
    "inputs": {"audit_logs": [{"name": "audit.log", "sha256": "0" * 64, "size": 1}], "inventory": None},
    "accounts": [{"account": "pypi/acme", "owner": "o@example.com", "tier": "standard", "approvals_required": 1,
                  "ownership": "corporate", "human_owner": None}],
    "custody": [{"account": "pypi/acme", "status": {"total": 8, "remaining": 7, "overdue": False,
                                                    "interrupted_rotation": None},
                 "rotations": [{"number": 1, "status": "completed"}]}],
    "keys": {"rosters": [], "check": {"ok": True, "accounts": [{"account": "pypi/acme", "ok": True, "problems": []}]}},
    "drills": {"drills": [{"id": "dr_aaaaaaaaaaaa", "result": "pass", "flags": []}], "accounts_without_pass": []},
    "offboardings": [{"email": "leaver@example.com", "now": {"revoke_grants": [], "keys": [], "owned": []}}],
    "access": {"reveals": [REVEAL], "anomalies": [], "principals": [], "not_listed": {"anomalies": []}},
    "inventory": None,
}


def predicate(**changes: Any) -> dict[str, Any]:
    """A copy of PREDICATE, every control passing, with top-level sections replaced."""
    return copy.deepcopy(PREDICATE) | changes


def reveal(**changes: Any) -> dict[str, Any]:
    return copy.deepcopy(REVEAL) | changes
