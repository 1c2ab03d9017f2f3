"""Who a Vault token belongs to, remembered so that each request asks Vault one question instead of two.

A token's identity (its entity, display name and token policies) is fixed when Vault issues it. Whether the token
still lives, and what its policies allow now, can change at any moment; custody asks Vault that on every request
(``sys/capabilities-self``, made with the caller's own token), so a revoked token, a disabled entity or a removed
policy takes effect on the very next request. Only the ``lookup-self`` answer is remembered, for at most
``max_age`` seconds and never past the token's own expiry.

Entries are keyed by a keyed BLAKE2b digest of the token (the key is random per process), so the cache never holds a
token and its keys cannot be matched against tokens by someone who only sees them.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from custody.domain.models import Principal


class CallerCache:
    """A bounded, thread-safe map from token digest to the ``Principal`` Vault named for that token."""

    def __init__(self, max_age: float = 300.0, size: int = 4096,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self.size = size
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CallerCache(entries={len(self._entries)}, max_age={self.max_age})"

    def __len__(self) -> int:
        return len(self._entries)

    def _digest(self, token: str) -> bytes:
        return hashlib.blake2b(token.encode(), key=self._key, digest_size=32).digest()

    def get(self, token: str) -> Principal | None:
        if self.max_age <= 0:
            return None
        key = self._digest(token)
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return None
            expires, principal = hit
            if self._clock() >= expires:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return principal

    def put(self, token: str, principal: Principal, token_ttl: int) -> None:
        """Remember ``principal`` for ``token``; ``token_ttl`` is what Vault said is left of it (0: no expiry)."""
        if self.max_age <= 0:
            return
        age = self.max_age if token_ttl <= 0 else min(self.max_age, float(token_ttl))
        key = self._digest(token)
        with self._lock:
            self._entries[key] = (self._clock() + age, principal)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, token: str) -> None:
        with self._lock:
            self._entries.pop(self._digest(token), None)
