"""Code sets in KV (``codes/<platform>/<user>``), and the summary of each kept in the key's custom_metadata.

Every version of a set is one write: a deposit or a rotation writes a new generation, a reveal writes the set with
one more code consumed. The summary (see ``custody.domain.rotation``) lets the sweep read metadata instead of code
sets; writers of a new generation keep it true: stale before the write, fresh after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from custody.domain.events import Event
from custody.domain.grants import Pick, exhausted, pick_code
from custody.domain.models import CodeSet, Grant, Principal
from custody.domain.rotation import (
    CodesFacts,
    Summary,
    codeset_facts,
    destroyable_versions,
    project,
    set_digest,
    summary_from_metadata,
    summary_of,
    summary_to_metadata,
    version_gone,
)
from custody.errors import CasConflict, StoreError
from custody.logging import get_logger
from custody.repo.kv import KV, Versioned, with_cas_retry
from custody.repo.records import codes_path, codeset_from_record, codeset_to_record, consumed_record, stamp

log = get_logger("custody.repo.codes")

HEAL_STALE_AFTER = timedelta(minutes=10)  # a summary marked stale this long ago belongs to a writer that died


@dataclass(frozen=True)
class CodesRepo:
    kv: KV

    # ---- reading --------------------------------------------------------------------------------------------
    def get(self, account_id: str, version: int | None = None) -> Versioned[CodeSet] | None:
        entry = self.kv.read(codes_path(account_id), version=version)
        return Versioned(codeset_from_record(entry.data), entry.version) if entry else None

    def current(self, account_id: str) -> Versioned[CodeSet | None]:
        """The current set and its version; with no readable set, None at the key's current version (0: never
        written; more: the current version was deleted outside custody)."""
        entry = self.get(account_id)
        if entry is not None:
            return Versioned(entry.value, entry.version)
        return Versioned(None, self.kv.current_version(codes_path(account_id)))

    def vault_path(self, account_id: str) -> str:
        """Where the set is in Vault, for hints that tell an operator what to run."""
        return f"{self.kv.mount}/{codes_path(account_id)}"

    def versions(self, account_id: str) -> dict[str, Any]:
        """Each version's metadata (created_time, deletion_time, destroyed), by version number."""
        return dict((self.kv.metadata(codes_path(account_id)) or {}).get("versions") or {})

    def readable_versions(self, account_id: str) -> list[int]:
        """The versions whose data still exists (not destroyed): what a rotation will destroy."""
        return destroyable_versions(self.versions(account_id), 1 << 62)

    # ---- writing a new generation ---------------------------------------------------------------------------
    def write(self, cs: CodeSet, cas: int, event: Event, who: Principal, now: datetime,
              rotation: int | None = None) -> int:
        """Write ``cs`` over version ``cas`` (check-and-set, once) and keep the summary true. The new version."""
        record = codeset_to_record(cs) | stamp(event, who, now)
        if rotation is not None:
            record["rotation"] = rotation
        path = codes_path(cs.account)
        meta_version = self._mark_stale(path, now)
        version = self.kv.write(path, record, cas=cas)
        if meta_version is not None:
            self._publish(path, summary_of(codeset_facts(cs), version), meta_version, now)
        return version

    def update(self, account_id: str, build: Callable[[Versioned[CodeSet | None]], CodeSet], event: Event,
               who: Principal, now: datetime, rotation: int | None = None) -> int:
        """Write ``build(current)`` over the current set; a lost race builds again from a fresh read."""
        def attempt() -> int:
            current = self.current(account_id)
            return self.write(build(current), current.version, event, who, now, rotation)

        return with_cas_retry(attempt)

    def _mark_stale(self, path: str, now: datetime) -> int | None:
        """Mark the summary stale; the metadata version after that, or None if metadata cannot be written."""
        stale = summary_to_metadata(Summary("stale", stale_since=now))
        assert stale is not None

        def attempt() -> int:
            meta = self.kv.metadata(path)
            current = int(meta.get("current_metadata_version") or 0) if meta else 0
            self.kv.write_custom_metadata(path, stale, current)
            return current + 1

        try:
            return with_cas_retry(attempt)
        except CasConflict:
            raise
        except StoreError as exc:  # e.g. an older custody-service policy without update on metadata
            log.error(Event.codes_summary_unwritable, path=path, error=exc.message)
            return None

    def _publish(self, path: str, summary: Summary, meta_version: int, now: datetime) -> None:
        custom = summary_to_metadata(summary)
        if custom is None:
            return  # does not fit: readers use the set itself
        try:
            self.kv.write_custom_metadata(path, custom, meta_version)
        except CasConflict:
            # Someone else wrote the metadata since we marked it: ours may be outdated, so leave it stale.
            self._mark_stale(path, now)
        except StoreError as exc:
            log.error(Event.codes_summary_unwritable, path=path, error=exc.message)

    # ---- a reveal takes a code ------------------------------------------------------------------------------
    def take(self, grant: Grant, now: datetime, known: Versioned[CodeSet] | None = None) -> Pick:
        """Mark the code ``pick_code`` chooses consumed by ``grant`` (check-and-set; a lost race picks again from
        a fresh read, so two grants never get one code). ``known``: the set as just read, for the first attempt."""
        first = [known] if known is not None else []

        def attempt() -> Pick:
            entry = first.pop() if first else self.get(grant.account)
            if entry is None:
                raise exhausted(grant.account)
            pick = pick_code(entry.value, grant, now)
            if pick.fresh:
                self.kv.write(codes_path(grant.account), consumed_record(pick.codes, grant.id, now),
                              cas=entry.version)
            return pick

        return with_cas_retry(attempt)

    # ---- what the sweep reads -------------------------------------------------------------------------------
    def facts(self, account_id: str, now: datetime) -> tuple[CodesFacts | None, str]:
        """An account's code-set facts, from its summary when that can be trusted, else from the set itself (and
        then the summary is healed); the second item says which: ``metadata`` (no set), ``summary`` or ``codes``."""
        path = codes_path(account_id)
        meta = self.kv.metadata(path)
        if meta is None or not int(meta.get("current_version") or 0):
            return None, "metadata"
        current, versions = int(meta["current_version"]), meta.get("versions") or {}
        if version_gone(versions.get(str(current)), now):
            return None, "metadata"  # the current set was deleted or destroyed outside custody: nothing to hand out
        summary = summary_from_metadata(meta.get("custom_metadata"))
        if summary is not None and (projected := project(summary, current, versions)) is not None:
            return projected, "summary"
        entry = self.get(account_id)
        if entry is None:
            return None, "codes"
        facts = codeset_facts(entry.value)
        healable = summary is None or (summary.state == "stale" and summary.stale_since is not None
                                       and now - summary.stale_since >= HEAL_STALE_AFTER)
        if healable and entry.version == current:
            self._publish(path, summary_of(facts, entry.version), int(meta.get("current_metadata_version") or 0),
                          now)
        return facts, "codes"

    # ---- what a rotation reads and destroys -----------------------------------------------------------------
    def first_version_of(self, account_id: str, new_set: str, previous_generation: int) -> int | None:
        """The version at which the set named ``new_set`` was first written, or None if it is not the current set:
        the set must be of a generation after ``previous_generation`` (the same codes deposited before do not
        count as rotated)."""
        current = self.get(account_id)
        if current is None or not _is(current.value, new_set) or current.value.generation <= previous_generation:
            return None
        version = current.version  # later reveals keep the same codes: walk back to the first version of this set
        while version > 1:
            older = self.get(account_id, version=version - 1)
            if older is None or not _is(older.value, new_set):
                break
            version -= 1
        return version

    def destroy_before(self, account_id: str, new_version: int, since: int) -> list[int]:
        """Destroy every version before ``new_version`` and check that none is left; the versions from ``since``
        on that were destroyed (a resumed rotation reports the same list)."""
        path = codes_path(account_id)
        self.kv.destroy_versions(path, destroyable_versions(self.versions(account_id), new_version))
        versions = self.versions(account_id)
        if left := destroyable_versions(versions, new_version):
            raise StoreError(f"versions {left} of {path} survived destruction",
                             hint="run `custody codes rotate --resume` to try again")
        return sorted(int(v) for v in versions if v.isdigit() and since <= int(v) < new_version)


def _is(cs: CodeSet, digest: str) -> bool:
    return set_digest(c.fp for c in cs.codes) == digest
