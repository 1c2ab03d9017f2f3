"""The hand-over of a reveal: the one place a code is written outside its set, for the instant it takes Vault to read
it back into a wrapping token. It is staged in the service token's own cubbyhole (``cubbyhole/reveals/<grant>``),
which no other token can read (not root's: each token has its own), wrapped from there, and deleted. A leftover of a
reveal cut short dies with the token that wrote it (an hour at most). The audit log ties the wrapping token to the
grant id in the path; the wrapped answer's data is the reveal record itself, so ``bao unwrap -field=code`` works.
The delete is started the moment the wrapped read returns, so the reveal's last write need not wait for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from custody.domain.events import Event
from custody.domain.models import Grant, StoredCode
from custody.errors import CustodyError, NotFound, StoreError
from custody.fanout import Ahead, ahead
from custody.logging import get_logger
from custody.repo.kv import KV, WrapInfo
from custody.repo.records import reveal_path, reveal_record

log = get_logger("custody.repo.reveals")


@dataclass(frozen=True)
class HandOver:
    """A code read back wrapped (``wrap``), and the delete of its staged copy, under way."""

    wrap: WrapInfo
    deleting: Ahead[None]

    def deleted(self) -> None:
        """Wait until the staged copy is deleted (or its delete failed, which is logged)."""
        self.deleting.result()


@dataclass(frozen=True)
class RevealsRepo:
    kv: KV

    def hand_over(self, grant: Grant, code: StoredCode, ttl: timedelta) -> HandOver:
        """Stage ``code`` for ``grant``, read it back wrapped, and delete it, whatever happens: at once when the
        wrapped read fails, and otherwise on another thread, started as the wrapped read returns (the caller
        records the hand-over meanwhile, and waits with ``HandOver.deleted`` before it answers)."""
        path, record = reveal_path(grant.id), reveal_record(grant, code)
        for _ in range(2):  # the service's token may be renewed between two calls: its new cubbyhole is empty
            self.kv.stage(path, record)
            try:
                wrap = self.kv.wrap_staged(path, ttl)
            except NotFound:
                self.kv.unstage(path)
                continue
            except BaseException:
                self.kv.unstage(path)
                raise
            return HandOver(wrap, ahead(lambda: self._delete(grant, path)))
        raise StoreError(f"Vault lost the code staged for grant {grant.id} twice", hint="retry the reveal")

    def _delete(self, grant: Grant, path: str) -> None:
        """The staged copy of a code already wrapped, deleted. If Vault refuses, the code is handed out all the
        same (its token is valid and recorded): the copy, which only the service's token can read, dies with that
        token, as that of a reveal cut short does."""
        try:
            self.kv.unstage(path)
        except CustodyError as exc:
            log.error(Event.code_staged_left, grant_id=grant.id, error=exc.message)

    def revoke(self, accessor: str) -> bool:
        """Revoke a wrapping token a reveal handed out; False if it is no longer valid (unwrapped, expired)."""
        return self.kv.revoke_wrapping(accessor)
