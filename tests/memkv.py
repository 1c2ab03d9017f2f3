"""An in-memory KV v2 mount with Vault's semantics, for fast unit tests of the use cases.

What it keeps of OpenBao (each checked against a real one: ``tests/unit/test_memkv.py`` runs the same script on
both): check-and-set on every write (``cas=0`` creates only, ``cas=N`` updates only version N, whatever became of
version N's data), versions that can be soft-deleted or destroyed, metadata with ``current_metadata_version`` and
``custom_metadata`` written with ``metadata_cas`` (a data write leaves the metadata version alone), listings with
sub-folders ending in ``/``, the refusal of a body with more than 1,000 strings; and the service token's cubbyhole
with response wrapping: ``wrap_staged`` hands out a single-use token that ``unwrap`` turns back into the data, once,
unless ``revoke_wrapping`` revoked it by its accessor first.

Tests reach between a use case's calls with hooks, given each operation's name and path: ``before`` runs before
every operation (raising there is Vault failing it), ``after`` after each one that succeeded (raising there is the
operation done and its answer lost). A hook may make competing calls of its own; hooks do not see those, and
``calls`` does not record them.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson

from custody.domain.models import utcnow
from custody.errors import CasConflict, NotFound, StoreError
from custody.repo.kv import KV, KVEntry, WrapInfo

T = TypeVar("T")
Hook = Callable[[str, str], None]  # (operation, path)
WRITES = frozenset({"write", "write_custom_metadata", "destroy_versions", "delete_all", "stage", "unstage",
                    "revoke_wrapping"})


MAX_STRINGS = 1000  # OpenBao refuses a JSON body holding more strings than this (object keys count)


def _strings(value: object) -> int:
    if isinstance(value, str):
        return 1
    if isinstance(value, dict):
        return sum(1 + _strings(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(_strings(v) for v in value)
    return 0


def _vault_time(at: datetime | None) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z") if at else ""


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    """What a round trip through Vault's JSON leaves of ``data``."""
    copied: dict[str, Any] = orjson.loads(orjson.dumps(data))
    return copied


@dataclass
class _Version:
    data: dict[str, Any] | None
    created: datetime
    deleted_at: datetime | None = None
    destroyed: bool = False


@dataclass
class _Key:
    created: datetime
    versions: dict[int, _Version] = field(default_factory=dict)
    current: int = 0
    meta_version: int = 0
    custom: dict[str, str] | None = None


class MemKV:
    """A KV v2 mount in memory. Thread-safe, like the real one."""

    def __init__(self, clock: Callable[[], datetime] = utcnow, mount: str = "custody-kv") -> None:
        self.mount = mount
        self.clock = clock
        self.before: list[Hook] = []
        self.after: list[Hook] = []
        self.calls: list[tuple[str, str]] = []  # every operation made, hooks' own excepted
        self._keys: dict[str, _Key] = {}
        self._wrapped: dict[str, dict[str, Any]] = {}  # wrapping token -> what it wraps
        self._accessors: dict[str, str] = {}  # a wrapping token's accessor -> the token
        self._cubbyhole: dict[str, dict[str, Any]] = {}  # the service token's cubbyhole
        self._lock = threading.RLock()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"MemKV(keys={len(self._keys)})"

    # ---- the KV port ----------------------------------------------------------------------------------------
    def read(self, path: str, version: int | None = None) -> KVEntry | None:
        return self._op("read", path, lambda: self._read(path, version))

    def write(self, path: str, data: dict[str, Any], cas: int) -> int:
        def op() -> int:
            if _strings({"data": data, "options": {"cas": cas}}) > MAX_STRINGS:
                raise StoreError(f"Vault refused write {path}: refused JSON input due to high complexity: exceeded "
                                 "maximum number of strings")
            key = self._keys.get(path)
            if cas != (key.current if key else 0):
                raise CasConflict(f"concurrent update (write {path})", hint="retry")
            if key is None:
                key = self._keys[path] = _Key(created=self.clock())
            key.current += 1
            key.versions[key.current] = _Version(_copy(data), self.clock())
            return key.current

        return self._op("write", path, op)

    def list_keys(self, path: str) -> list[str]:
        def op() -> list[str]:
            prefix = path.rstrip("/") + "/"
            found = set()
            for name in self._keys:
                if name.startswith(prefix):
                    head, sep, _ = name[len(prefix):].partition("/")
                    found.add(head + sep)
            return sorted(found)

        return self._op("list_keys", path, op)

    def metadata(self, path: str) -> dict[str, Any] | None:
        def op() -> dict[str, Any] | None:
            key = self._keys.get(path)
            if key is None:
                return None
            versions = {str(n): {"created_time": _vault_time(v.created), "deletion_time": _vault_time(v.deleted_at),
                                 "destroyed": v.destroyed} for n, v in key.versions.items()}
            return {"created_time": _vault_time(key.created), "current_version": key.current,
                    "current_metadata_version": key.meta_version, "oldest_version": 0,
                    "custom_metadata": dict(key.custom) if key.custom is not None else None, "versions": versions}

        return self._op("metadata", path, op)

    def current_version(self, path: str) -> int:
        def op() -> int:
            key = self._keys.get(path)
            return key.current if key else 0

        return self._op("current_version", path, op)

    def write_custom_metadata(self, path: str, custom: dict[str, str], metadata_cas: int) -> None:
        def op() -> None:
            if not all(isinstance(v, str) and v for v in custom.values()):
                raise StoreError(f"Vault refused metadata {path}: custom_metadata values must be non-empty strings")
            key = self._keys.get(path)
            if key is None:
                if metadata_cas != 0:
                    raise StoreError(f"Vault refused metadata {path}: metadata_cas must be 0 when creating new "
                                     "metadata")
                key = self._keys[path] = _Key(created=self.clock())
            elif metadata_cas != key.meta_version:
                raise CasConflict(f"concurrent update (metadata {path})", hint="retry")
            key.custom = dict(custom)
            key.meta_version += 1

        self._op("write_custom_metadata", path, op)

    def destroy_versions(self, path: str, versions: list[int]) -> None:
        def op() -> None:
            key = self._keys.get(path)
            for number in versions:
                if key is not None and number in key.versions:
                    key.versions[number].data = None
                    key.versions[number].destroyed = True

        self._op("destroy_versions", path, op)

    def delete_all(self, path: str) -> None:
        def op() -> None:
            self._keys.pop(path, None)

        self._op("delete_all", path, op)

    # ---- the service token's cubbyhole, and wrapping ---------------------------------------------------------
    def stage(self, path: str, data: dict[str, Any]) -> None:
        def op() -> None:
            self._cubbyhole[path] = _copy(data)

        self._op("stage", path, op)

    def wrap_staged(self, path: str, ttl: timedelta) -> WrapInfo:
        def op() -> WrapInfo:
            data = self._cubbyhole.get(path)
            if data is None:
                raise NotFound(f"not found (wrap {path})")
            token, accessor = f"hvs.wrap{uuid.uuid4().hex}", uuid.uuid4().hex[:24]
            self._wrapped[token] = _copy(data)
            self._accessors[accessor] = token
            return WrapInfo(token=token, accessor=accessor, ttl=int(ttl.total_seconds()),
                            creation_time=_vault_time(self.clock()))

        return self._op("wrap_staged", path, op)

    def unstage(self, path: str) -> None:
        def op() -> None:
            self._cubbyhole.pop(path, None)

        self._op("unstage", path, op)

    def revoke_wrapping(self, accessor: str) -> bool:
        def op() -> bool:
            token = self._accessors.pop(accessor, None)
            return token is not None and self._wrapped.pop(token, None) is not None

        return self._op("revoke_wrapping", accessor, op)

    # ---- for tests ------------------------------------------------------------------------------------------
    def unwrap(self, token: str) -> dict[str, Any]:
        """What ``sys/wrapping/unwrap`` gives the first time; a wrapping token works once, and not once revoked."""
        with self._lock:
            if token not in self._wrapped:
                raise KeyError("wrapping token unknown, already used or revoked")
            return self._wrapped.pop(token)

    def renew_token(self) -> None:
        """The service logs in again: its new token's cubbyhole is empty (the old one's dies with it)."""
        with self._lock:
            self._cubbyhole.clear()

    def soft_delete(self, path: str) -> None:
        """``bao kv delete``: the current version's data is gone, its version number stays."""
        with self._lock:
            key = self._keys[path]
            key.versions[key.current].deleted_at = self.clock()

    def after_once(self, op: str, path: str, fn: Callable[[], object]) -> None:
        """Once the next ``op`` on ``path`` succeeded, run ``fn`` (a competing write, or raising: its answer lost)."""
        def hook(name: str, where: str) -> None:
            if (name, where) == (op, path):
                self.after.remove(hook)
                fn()

        self.after.append(hook)

    def writes(self) -> list[tuple[str, str]]:
        """The changing operations made so far, in order."""
        return [c for c in self.calls if c[0] in WRITES]

    def _read(self, path: str, version: int | None) -> KVEntry | None:
        key = self._keys.get(path)
        if key is None:
            return None
        number = version or key.current
        v = key.versions.get(number)
        if v is None or v.data is None or v.destroyed or (v.deleted_at and v.deleted_at <= self.clock()):
            return None
        return KVEntry(data=_copy(v.data), version=number)

    def _op(self, name: str, path: str, fn: Callable[[], T]) -> T:
        inside_hook = getattr(self._local, "hooked", False)
        if not inside_hook:
            self._run(self.before, name, path)
            self.calls.append((name, path))
        with self._lock:
            result = fn()
        if not inside_hook:
            self._run(self.after, name, path)
        return result

    def _run(self, hooks: list[Hook], name: str, path: str) -> None:
        self._local.hooked = True
        try:
            for hook in list(hooks):
                hook(name, path)
        finally:
            self._local.hooked = False


def _satisfies_the_port(kv: MemKV) -> KV:  # mypy checks MemKV against the KV Protocol here
    return kv
