"""Keyed fingerprints of code sets in KV (``prints/<platform>/<user>``) and their key (``keyring/prints``).

The key is 32 random bytes made by the first service that needs it (check-and-set: replicas that race agree on
one), kept in the service's KV mount, which no person can read. A set's prints are rebuilt whenever a new set is
written (deposit, replacement, rotation), and by ``codes identify`` when it finds them missing or behind the set.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from custody.domain.events import Event
from custody.domain.leaks import Prints, keyed, prints_of
from custody.domain.models import CodeSet, Principal
from custody.errors import CasConflict, CustodyError
from custody.logging import get_logger
from custody.repo.kv import KV, with_cas_retry
from custody.repo.records import PRINT_KEY, codes_path, codeset_from_record, prints_path, stamp

log = get_logger("custody.repo.prints")


@dataclass(frozen=True)
class PrintsRepo:
    kv: KV
    _key: list[bytes] = field(default_factory=list, repr=False, compare=False)  # the key, once read

    def key(self, who: Principal, now: datetime) -> bytes:
        if self._key:
            return self._key[0]
        entry = self.kv.read(PRINT_KEY)
        if entry is None:
            fresh = base64.b64encode(secrets.token_bytes(32)).decode()
            with contextlib.suppress(CasConflict):  # another replica made it first: use theirs
                self.kv.write(PRINT_KEY, {"key": fresh} | stamp(Event.codes_print_key_created, who, now), cas=0)
            entry = self.kv.read(PRINT_KEY)
            if entry is None:  # pragma: no cover - written just above
                raise CustodyError("the fingerprint key could not be kept")
        self._key[:] = [base64.b64decode(entry.data["key"])]
        return self._key[0]

    def print_of(self, code: str, who: Principal, now: datetime) -> str:
        return keyed(self.key(who, now), code)

    def get(self, account_id: str) -> Prints | None:
        entry = self.kv.read(prints_path(account_id))
        if entry is None:
            return None
        return Prints(account_id, int(entry.data.get("generation") or 0),
                      {str(p["print"]): str(p["fp"]) for p in entry.data.get("prints") or []},
                      str(entry.data.get("key_id") or ""))

    def rebuild(self, account_id: str, who: Principal, now: datetime) -> Prints | None:
        """The prints of the account's current set, written beside it (None: it has no set)."""
        entry = self.kv.read(codes_path(account_id))
        if entry is None:
            return None
        return self.keep(codeset_from_record(entry.data), who, now)

    def keep(self, cs: CodeSet, who: Principal, now: datetime) -> Prints:
        prints = prints_of(cs, self.key(who, now))
        record = {"account": cs.account, "generation": cs.generation, "key_id": prints.key_id,
                  "prints": [{"print": p, "fp": fp} for p, fp in prints.prints.items()]}
        path = prints_path(cs.account)

        def attempt() -> None:  # last writer wins: every writer writes the prints of the set as it is now
            self.kv.write(path, record | stamp(Event.codes_prints_rebuilt, who, now),
                          cas=self.kv.current_version(path))

        with_cas_retry(attempt)
        return prints

    def refresh(self, account_id: str, who: Principal, now: datetime) -> None:
        """``rebuild``, for the writers of a new set: a failure is logged, never theirs (``codes identify``
        rebuilds prints it finds behind their set)."""
        try:
            self.rebuild(account_id, who, now)
        except CustodyError as exc:
            log.error(Event.codes_prints_unwritable, account=account_id, error=exc.message)
