"""The hand-over of a reveal: the one place a code is written outside its set, for the instant it takes Vault to read
it back into a wrapping token. It is staged in the service token's own cubbyhole (``cubbyhole/reveals/<grant>``),
which no other token can read (not root's: each token has its own), wrapped from there, and deleted. A leftover of a
reveal cut short dies with the token that wrote it (an hour at most). The audit log ties the wrapping token to the
grant id in the path; the wrapped answer's data is the reveal record itself, so ``bao unwrap -field=code`` works.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from custody.domain.models import Grant, StoredCode
from custody.errors import NotFound, StoreError
from custody.repo.kv import KV, WrapInfo
from custody.repo.records import reveal_path, reveal_record


@dataclass(frozen=True)
class RevealsRepo:
    kv: KV

    def hand_over(self, grant: Grant, code: StoredCode, ttl: timedelta) -> WrapInfo:
        """Stage ``code`` for ``grant``, read it back wrapped, and delete it, whatever happens."""
        path, record = reveal_path(grant.id), reveal_record(grant, code)
        for _ in range(2):  # the service's token may be renewed between two calls: its new cubbyhole is empty
            self.kv.stage(path, record)
            try:
                return self.kv.wrap_staged(path, ttl)
            except NotFound:
                continue
            finally:
                self.kv.unstage(path)
        raise StoreError(f"Vault lost the code staged for grant {grant.id} twice", hint="retry the reveal")

    def revoke(self, accessor: str) -> bool:
        """Revoke a wrapping token a reveal handed out; False if it is no longer valid (unwrapped, expired)."""
        return self.kv.revoke_wrapping(accessor)
