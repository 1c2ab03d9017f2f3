"""The KV port: what custody needs of a versioned key-value store with check-and-set (Vault's KV v2), and of the
scratch space a reveal hands a code over from (the service token's cubbyhole).

``custody.store.Store`` implements it against Vault; the tests' in-memory KV implements it too, with the same
check-and-set semantics, so use cases can be exercised without a server.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, Protocol, TypeVar

from custody.errors import CasConflict

T = TypeVar("T")


@dataclass(frozen=True)
class KVEntry:
    data: dict[str, Any]
    version: int


@dataclass(frozen=True)
class WrapInfo:
    token: str
    accessor: str
    ttl: int
    creation_time: str

    def __repr__(self) -> str:  # the wrapping token is a bearer secret
        return f"WrapInfo(ttl={self.ttl}, creation_time={self.creation_time!r})"


@dataclass(frozen=True)
class Versioned(Generic[T]):
    """A record as read, with the KV version a check-and-set write over it must name."""

    value: T
    version: int


class KV(Protocol):
    """A KV v2 mount. Every write names the version it was based on; a lost race raises ``CasConflict``."""

    mount: str  # the mount's name, for hints that name a real path

    def read(self, path: str, version: int | None = None) -> KVEntry | None:
        """The current (or given) version's data; None if there is none, or it was deleted or destroyed."""
        ...

    def write(self, path: str, data: dict[str, Any], cas: int) -> int:
        """Write with check-and-set: ``cas=0`` creates only, ``cas=N`` updates only version N. The new version."""
        ...

    def list_keys(self, path: str) -> list[str]:
        """The keys under a folder (sub-folders end with ``/``); empty if there are none."""
        ...

    def metadata(self, path: str) -> dict[str, Any] | None:
        """KV v2 metadata: ``current_version``, ``current_metadata_version``, ``versions``, ``custom_metadata``."""
        ...

    def current_version(self, path: str) -> int:
        """The key's current version number (0: none), whether or not that version's data still exists."""
        ...

    def write_custom_metadata(self, path: str, custom: dict[str, str], metadata_cas: int) -> None:
        """Replace the key's custom_metadata, only if its metadata is still at ``metadata_cas``."""
        ...

    def destroy_versions(self, path: str, versions: list[int]) -> None:
        """Remove these versions' data for good."""
        ...

    def delete_all(self, path: str) -> None:
        """Delete the metadata and every version for good (nothing to delete is fine)."""
        ...

    # ---- the service token's own scratch space (Vault's cubbyhole), and the wrapping tokens made from it ------
    def stage(self, path: str, data: dict[str, Any]) -> None:
        """Write ``data`` where only the service's current token can read it (``cubbyhole/<path>``)."""
        ...

    def wrap_staged(self, path: str, ttl: timedelta) -> WrapInfo:
        """Read a staged entry into a single-use wrapping token: Vault's answer holds the token, not the data
        (which the service wrote, of course); ``NotFound`` if there is none, as when the service's token was renewed
        since it was staged."""
        ...

    def unstage(self, path: str) -> None:
        """Delete a staged entry (nothing to delete is fine)."""
        ...

    def revoke_wrapping(self, accessor: str) -> bool:
        """Revoke the token with this accessor; False if Vault knows no such token (used, expired, revoked)."""
        ...


def with_cas_retry(fn: Callable[[], T], attempts: int = 20) -> T:
    """Run a read-modify-write until its check-and-set write wins (or give up cleanly)."""
    for attempt in range(attempts):
        try:
            return fn()
        except CasConflict:
            # Full jitter, so replicas that collided do not collide again in lockstep.
            time.sleep(random.uniform(0, min(0.005 * (2**attempt), 0.2)))  # noqa: S311 - timing, not crypto
    raise CasConflict("too much concurrent activity on this record", hint="retry in a moment")
