"""The scratch entry of a reveal (``reveals/<grant>``): the one place a code is written outside its set, for the
instant it takes Vault to read it back into a wrapping token. The audit log ties that wrapping token to the grant
id in the path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from custody.domain.models import Grant, StoredCode
from custody.errors import CasConflict
from custody.repo.kv import KV, WrapInfo
from custody.repo.records import reveal_path, reveal_record


@dataclass(frozen=True)
class RevealsRepo:
    kv: KV

    def hand_over(self, grant: Grant, code: StoredCode, ttl: timedelta) -> WrapInfo:
        """Stage ``code`` for ``grant``, read it back wrapped, and delete it, whatever happens."""
        path, record = reveal_path(grant.id), reveal_record(grant, code)
        try:
            self.kv.write(path, record, cas=0)
        except CasConflict:  # a leftover of an attempt whose answer was lost: same grant, same code
            self.kv.delete_all(path)
            self.kv.write(path, record, cas=0)
        try:
            return self.kv.wrapped_read(path, ttl)
        finally:
            self.kv.delete_all(path)

    def clear(self, grant_id: str) -> None:
        """Remove what an interrupted reveal of ``grant_id`` may have left."""
        self.kv.delete_all(reveal_path(grant_id))
