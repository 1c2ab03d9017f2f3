"""Rotation: take in a regenerated code set and destroy the old one for good; sweep for accounts that are due.

PyPI has no API to regenerate recovery codes, so a rotation is a person regenerating them in a browser and then
running ``custody codes rotate``. custody takes in the new set, destroys every earlier version of the old one in KV
v2 (so no one can read the old codes back from Vault, custody included), revokes the account's open grants, and
keeps evidence of all of it. The write order makes a crash at any point visible and resumable:

1. ``rotating/<account>``          an open-rotation marker, created with cas=0: the lock, and what the sweep sees
2. ``rotations/<account>/<n>``     evidence, ``started``: who, when, why, how many codes, versions it will replace
3. ``codes/<account>``             the new set, a new generation, check-and-set on the current version
4. destroy                         every earlier version of ``codes/<account>``
5. grants                          pending/approved grants of the account revoked ("codes rotated")
6. ``rotations/<account>/<n>``     evidence ``completed``: destroyed versions, revoked grants
7. ``rotating/<account>``          deleted

Until step 7 the account shows an interrupted rotation in ``codes status`` and in the sweep; running ``rotate``
again (with the same codes, or ``--resume`` once they are stored) finishes the same rotation. The new set is
never lost (it is written before anything is destroyed) and old versions never survive unnoticed (the marker is
removed only after their destruction was checked).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from custody.domain.grants import revocable
from custody.domain.grants import revoke as revoke_grant
from custody.domain.models import Account, CodeSet, Grant, GrantStatus, Principal
from custody.domain.platforms import parse_account_id, parse_codes
from custody.domain.rotation import (
    INTERRUPTED_AFTER,
    Assessment,
    CodesFacts,
    OpenRotation,
    RotationPolicy,
    Summary,
    assess,
    codeset_facts,
    destroyable_versions,
    project,
    set_digest,
    summary_from_metadata,
    summary_of,
    summary_to_metadata,
    version_gone,
)
from custody.durations import format_duration, parse_duration
from custody.errors import CasConflict, Conflict, NotFound, PreconditionFailed, StoreError, ValidationError
from custody.logging import get_logger
from custody.records import codes_path, codeset_from_record, codeset_to_record, stamp
from custody.store import Store, with_cas_retry

if TYPE_CHECKING:
    from custody.service import Custody

log = get_logger("custody.rotation")

REVOKED_REASON = "codes rotated"
HEAL_STALE_AFTER = timedelta(minutes=10)  # a summary marked stale this long ago belongs to a writer that died
STEPS = ("marked", "evidence", "stored", "destroyed", "revoked", "completed")


def marker_path(account_id: str) -> str:
    return f"rotating/{account_id}"


def evidence_path(account_id: str, number: int) -> str:
    return f"rotations/{account_id}/{number}"


# ---- the code-set summary (see custody.domain.rotation) --------------------------------------------------------
def write_codes(store: Store, account_id: str, record: dict[str, Any], cs: CodeSet, cas: int, now: datetime) -> int:
    """Write a new generation of ``codes/<account>`` and keep its summary true: stale before, fresh after."""
    path = codes_path(account_id)
    meta_version = _mark_stale(store, path, now)
    version = store.write(path, record, cas=cas)
    if meta_version is not None:
        _publish(store, path, summary_of(codeset_facts(cs), version), meta_version, now)
    return version


def _mark_stale(store: Store, path: str, now: datetime) -> int | None:
    """Mark the summary stale; return the metadata version after that, or None if metadata cannot be written."""
    stale = summary_to_metadata(Summary("stale", stale_since=now))
    assert stale is not None

    def attempt() -> int:
        meta = store.metadata(path)
        current = int(meta.get("current_metadata_version") or 0) if meta else 0
        store.write_custom_metadata(path, stale, current)
        return current + 1

    try:
        return with_cas_retry(attempt)
    except CasConflict:
        raise
    except StoreError as exc:  # e.g. an older custody-service policy without update on metadata
        log.error("codes.summary.unwritable", path=path, error=exc.message)
        return None


def _publish(store: Store, path: str, summary: Summary, meta_version: int, now: datetime) -> None:
    custom = summary_to_metadata(summary)
    if custom is None:
        return  # does not fit: readers use the set itself
    try:
        store.write_custom_metadata(path, custom, meta_version)
    except CasConflict:
        # Someone else wrote the metadata since we marked it: ours may be outdated, so leave it stale.
        _mark_stale(store, path, now)
    except StoreError as exc:
        log.error("codes.summary.unwritable", path=path, error=exc.message)


def _to_open(data: dict[str, Any]) -> OpenRotation:
    return OpenRotation(number=int(data["rotation"]), started_at=datetime.fromisoformat(data["started_at"]),
                        actor=str(data.get("actor") or "unknown"))


class Rotation:
    """Rotate and sweep, on top of the ``Custody`` service (its store, authorization, clock and notifier)."""

    def __init__(self, custody: Custody, workers: int = 16,
                 after_step: Callable[[str], None] | None = None) -> None:
        self.custody = custody
        self.workers = workers
        self._after_step = after_step  # fault injection for tests: called after each numbered write

    @property
    def store(self) -> Store:
        return self.custody.store

    def policy(self, max_age: str | timedelta | None = None, min_remaining: int | None = None,
               grace: str | timedelta | None = None) -> RotationPolicy:
        s = self.custody.settings
        try:
            return RotationPolicy(
                max_age=parse_duration(max_age) if max_age is not None else s.rotation_max_age,
                min_remaining=s.rotation_min_remaining if min_remaining is None else min_remaining,
                grace=parse_duration(grace) if grace is not None else s.rotation_grace,
            )
        except ValueError as exc:
            raise ValidationError(str(exc), hint="e.g. --max-age 365d --min-remaining 3") from None

    def _step(self, name: str) -> None:
        if self._after_step is not None:
            self._after_step(name)

    # ---- reading ----------------------------------------------------------------------------------------
    def open_rotation(self, account_id: str) -> OpenRotation | None:
        entry = self.store.read(marker_path(account_id))
        return _to_open(entry.data) if entry else None

    def open_rotations(self) -> dict[str, OpenRotation]:
        """Every open rotation, from a listing (a handful of calls, however many accounts there are)."""
        found: dict[str, OpenRotation] = {}
        for platform in self.store.list_keys("rotating/"):
            for user in self.store.list_keys(f"rotating/{platform}"):
                account_id = f"{platform.rstrip('/')}/{user}"
                if (rot := self.open_rotation(account_id)) is not None:
                    found[account_id] = rot
        return found

    def facts(self, account_id: str, now: datetime) -> tuple[CodesFacts | None, str]:
        """An account's code-set facts, from its summary when that can be trusted, else from the set itself."""
        path = codes_path(account_id)
        meta = self.store.metadata(path)
        if meta is None or not int(meta.get("current_version") or 0):
            return None, "metadata"
        if version_gone((meta.get("versions") or {}).get(str(meta["current_version"])), now):
            return None, "metadata"  # the current set was deleted or destroyed outside custody: nothing to hand out
        summary = summary_from_metadata(meta.get("custom_metadata"))
        if summary is not None:
            projected = project(summary, int(meta["current_version"]), meta.get("versions") or {})
            if projected is not None:
                return projected, "summary"
        entry = self.store.read(path)
        if entry is None:
            return None, "codes"
        facts = codeset_facts(codeset_from_record(entry.data))
        healable = summary is None or (summary.state == "stale" and summary.stale_since is not None
                                       and now - summary.stale_since >= HEAL_STALE_AFTER)
        if healable and entry.version == int(meta["current_version"]):
            _publish(self.store, path, summary_of(facts, entry.version),
                     int(meta.get("current_metadata_version") or 0), now)
        return facts, "codes"

    def status_row(self, account: Account, cs: CodeSet | None, now: datetime) -> dict[str, Any]:
        """``codes status`` for one account: counts, age, last rotation, next due date. Never a code."""
        facts = codeset_facts(cs) if cs is not None else None
        pending = self.open_rotation(account.id)
        verdict = assess(facts, self.policy(), now, account.created_at, pending)
        row: dict[str, Any] = {
            "account": account.id, "total": 0, "remaining": 0, "consumed": 0, "deposited_at": None,
            "deposited_by": None, "age_days": None, "generation": 0,
        }
        if cs is not None:
            row |= {"total": cs.total, "remaining": cs.remaining, "consumed": cs.consumed,
                    "deposited_at": cs.deposited_at.isoformat(), "deposited_by": cs.deposited_by,
                    "age_days": (now - cs.deposited_at).days, "generation": cs.generation}
        rotated = cs is not None and cs.generation > 1
        return row | {
            "rotation_due": verdict.due,
            "due_reasons": [r.message for r in verdict.reasons],
            "last_rotated_at": cs.deposited_at.isoformat() if rotated and cs else None,
            "last_rotated_by": cs.deposited_by if rotated and cs else None,
            "reveals_since_rotation": cs.consumed if cs else 0,
            "next_due_at": _ts(verdict.next_due_at),
            "overdue": verdict.overdue,
            # Shown as soon as it is open, although it only counts as due once it has been open a while.
            "interrupted_rotation": _open_json(pending),
        }

    # ---- sweep ------------------------------------------------------------------------------------------
    def sweep(self, token: str, max_age: str | None = None, min_remaining: int | None = None,
              grace: str | None = None) -> dict[str, Any]:
        """Every account that is due for rotation, with reasons, and which of them are overdue."""
        who = self.custody.authorize(token, "rotation/sweep", "read")
        policy = self.policy(max_age, min_remaining, grace)
        now = self.custody.clock()
        ids = self.custody._account_ids()
        open_rotations = self.open_rotations()

        def one(account_id: str) -> tuple[str, Assessment, str]:
            facts, source = self.facts(account_id, now)
            created = self.custody._account(account_id).created_at if facts is None else now
            return account_id, assess(facts, policy, now, created, open_rotations.get(account_id)), source

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="custody-sweep") as pool:
            results = list(pool.map(one, ids))
        verdicts = [(a, v) for a, v, _ in results]
        sources = Counter(source for _, _, source in results)
        due = [_due_json(a, v) for a, v in verdicts if v.due]
        overdue = [row["account"] for row in due if row["overdue"]]
        for row in due:
            log.info("rotation.due", account=row["account"], overdue=row["overdue"],
                     reasons=[r["kind"] for r in row["reasons"]], due_since=row["due_since"])
            self.custody.notifier.emit({"event": "rotation.overdue" if row["overdue"] else "rotation.due",
                                        "account": row["account"], "actor": who.display_name,
                                        "reasons": [r["message"] for r in row["reasons"]],
                                        "due_since": row["due_since"]})
        log.info("rotation.sweep", actor=who.display_name, checked=len(ids), due=len(due), overdue=len(overdue))
        return {
            "at": now.isoformat(),
            "policy": {"max_age": format_duration(policy.max_age), "min_remaining": policy.min_remaining,
                       "grace": format_duration(policy.grace)},
            "checked": len(ids),
            "due": due,
            "overdue": overdue,
            "read_from": dict(sorted(sources.items())),
        }

    # ---- rotate -----------------------------------------------------------------------------------------
    def rotate(self, token: str, account_id: str, text: str | None, reason: str | None = None,
               resume: bool = False) -> dict[str, Any]:
        """Take in ACCOUNT's regenerated codes, destroy every earlier version, revoke open grants; or finish an
        interrupted rotation (``resume``, or the same command again)."""
        parse_account_id(account_id)
        who = self.custody.authorize(token, f"accounts/{account_id}/rotate", "update")
        account = self.custody._account(account_id)
        codes = None
        if text is not None and (text.strip() or not resume):
            codes = parse_codes(parse_account_id(account.id)[0], text)
        elif not resume:
            raise ValidationError("no codes given", hint="pass the new codes one per line, on stdin or with --file")
        why = _reason(reason)
        pending = self.open_rotation(account_id)
        if pending is not None:
            if not resume and self.custody.clock() - pending.started_at < INTERRUPTED_AFTER:
                raise Conflict(
                    f"rotation #{pending.number} of {account_id} (started by {pending.actor} at "
                    f"{pending.started_at:%Y-%m-%d %H:%M} UTC) is already in progress",
                    hint="if it was interrupted, finish it with `custody codes rotate --resume` "
                         "(give the new codes again if they were never stored)")
            result = self._finish(account, pending.number, codes, who, why, resumed=True)
            if codes is None or set_digest(_fps(codes)) == result["new_set"]:
                return result
            log.info("rotation.again", account=account_id, previous=pending.number)
        elif resume:
            raise PreconditionFailed(f"{account_id} has no interrupted rotation to resume",
                                     hint="run `custody codes rotate` with the new codes")
        if codes is None:  # pragma: no cover - ruled out above
            raise ValidationError("no codes given")
        return self._start(account, codes, who, why)

    def _start(self, account: Account, codes: list[str], who: Principal, reason: str) -> dict[str, Any]:
        account_id = account.id
        _refuse_reused(account_id, self.custody._codeset(account_id)[0], codes)  # before anything is written
        now = self.custody.clock()
        number = max((int(k) for k in self.store.list_keys(f"rotations/{account_id}/") if k.isdigit()),
                     default=0) + 1
        marker = stamp("rotation.started", who, now) | {"account": account_id, "rotation": number,
                                                        "started_at": now.isoformat(), "reason": reason}
        try:
            self.store.write(marker_path(account_id), marker, cas=0)
        except CasConflict:  # another rotation started between our check and this write
            raise Conflict(f"a rotation of {account_id} is already in progress",
                           hint="wait for it, or finish it with `custody codes rotate --resume`") from None
        self._step("marked")
        self._write_evidence(account_id, number, codes, who, reason, now)
        return self._finish(account, number, codes, who, reason, resumed=False)

    def _write_evidence(self, account_id: str, number: int, codes: list[str], who: Principal, reason: str,
                        now: datetime) -> None:
        meta = self.store.metadata(codes_path(account_id)) or {}
        current = self.store.read(codes_path(account_id))
        record = stamp("rotation.started", who, now) | {
            "account": account_id, "rotation": number, "status": "started", "reason": reason,
            "count": len(codes), "new_set": set_digest(_fps(codes)),
            "previous_versions": destroyable_versions(meta.get("versions") or {}, 1 << 62),
            "previous_generation": codeset_from_record(current.data).generation if current else 0,
            "started_at": now.isoformat(),
        }
        self.store.write(evidence_path(account_id, number), record, cas=0)
        log.info("rotation.started", account=account_id, rotation=number, actor=who.display_name, count=len(codes))
        self._step("evidence")

    def _finish(self, account: Account, number: int, codes: list[str] | None, who: Principal,
                reason: str, resumed: bool) -> dict[str, Any]:
        """Steps 3-7 of rotation ``number``, skipping what an earlier, interrupted run already did."""
        account_id = account.id
        now = self.custody.clock()
        evidence = self.store.read(evidence_path(account_id, number))
        if evidence is None:  # interrupted between the marker and the evidence
            if codes is None:
                raise PreconditionFailed(
                    f"rotation #{number} of {account_id} stopped before storing the new codes",
                    hint=f"run `custody codes rotate {account_id}` again with the new codes")
            self._write_evidence(account_id, number, codes, who, reason, now)
            evidence = self.store.read(evidence_path(account_id, number))
            assert evidence is not None
        ev = evidence.data
        if ev.get("status") != "completed":
            new_set = str(ev["new_set"])
            new_version = self._stored_version(account_id, new_set, int(ev.get("previous_generation") or 0))
            if new_version is None:
                if codes is None:
                    raise PreconditionFailed(
                        f"rotation #{number} of {account_id} stopped before storing the new codes",
                        hint=f"run `custody codes rotate {account_id}` again with the new codes")
                new_version, new_set = self._store_codes(account_id, number, codes, who, now)
                if new_set != ev["new_set"]:  # a different set than the interrupted run had: say so in evidence
                    ev = ev | {"new_set": new_set, "count": len(codes)}
            self._step("stored")
            # Versions from this rotation's start on: earlier ones were destroyed by earlier rotations.
            since = min(ev.get("previous_versions") or [new_version])
            destroyed = self._destroy_before(account_id, new_version, since)
            self._step("destroyed")
            # Name the grants in the evidence before revoking them, so a resumed run still reports them all.
            to_revoke = sorted(set(ev.get("revoked_grants") or []) | set(self._open_grants(account_id)))
            ev = ev | {"new_version": new_version, "destroyed_versions": destroyed, "revoked_grants": to_revoke}
            version = self.store.write(evidence_path(account_id, number), ev, cas=evidence.version)
            # What was revoked, by this run or an interrupted one; not a grant revealed before it could be.
            revoked = [g for g in to_revoke if self._revoke(g, who)]
            self._step("revoked")
            done = ev | stamp("rotation.completed", who, now) | {"status": "completed", "revoked_grants": revoked,
                                                                 "completed_at": now.isoformat()}
            self.store.write(evidence_path(account_id, number), done, cas=version)
            log.info("rotation.completed", account=account_id, rotation=number, actor=who.display_name,
                     destroyed_versions=destroyed, revoked=len(revoked), resumed=resumed)
            self.custody.notifier.emit({"event": "rotation.completed", "account": account_id,
                                        "actor": who.display_name, "rotation": number,
                                        "destroyed_versions": destroyed, "revoked_grants": revoked})
            ev = done
        self._step("completed")
        self.store.delete_all(marker_path(account_id))
        cs_entry = self.store.read(codes_path(account_id))
        cs = codeset_from_record(cs_entry.data) if cs_entry else None
        return {
            "account": account_id, "rotation": number, "status": "completed", "resumed": resumed,
            "reason": ev.get("reason") or "", "started_at": ev.get("started_at"),
            "completed_at": ev.get("completed_at"), "rotated_by": ev.get("actor"),
            "count": ev.get("count"), "new_set": ev.get("new_set"), "new_version": ev.get("new_version"),
            "previous_generation": ev.get("previous_generation"),
            "generation": cs.generation if cs else None, "remaining": cs.remaining if cs else None,
            "destroyed_versions": ev.get("destroyed_versions") or [],
            "revoked_grants": ev.get("revoked_grants") or [],
        }

    def _stored_version(self, account_id: str, new_set: str, previous_generation: int) -> int | None:
        """The version at which this rotation wrote the set named ``new_set``, or None if it never did: the set must
        be of a generation after the one current when the rotation started (the same codes deposited before do
        not count as rotated)."""
        path = codes_path(account_id)
        entry = self.store.read(path)
        if entry is None:
            return None
        current = codeset_from_record(entry.data)
        if set_digest(c.fp for c in current.codes) != new_set or current.generation <= previous_generation:
            return None
        version = entry.version  # later reveals keep the same codes: walk back to the first version of this set
        while version > 1:
            older = self.store.read(path, version=version - 1)
            if older is None or set_digest(c.fp for c in codeset_from_record(older.data).codes) != new_set:
                break
            version -= 1
        return version

    def _store_codes(self, account_id: str, number: int, codes: list[str], who: Principal,
                     now: datetime) -> tuple[int, str]:
        def attempt() -> int:
            current = self.store.read(codes_path(account_id))
            previous = codeset_from_record(current.data) if current else None
            _refuse_reused(account_id, previous, codes)  # also when a resumed run is given the codes
            # A current version deleted outside custody reads as none, but check-and-set still names it; and as a
            # generation never exceeds the version that wrote it, one past that version is new to every grant.
            cas = current.version if current else self.store.current_version(codes_path(account_id))
            generation = previous.generation + 1 if previous else cas + 1
            cs = CodeSet.new(account_id, codes, who.display_name, now, generation, previous=previous)
            record = codeset_to_record(cs) | stamp("codes.rotated", who, now) | {"rotation": number}
            return write_codes(self.store, account_id, record, cs, cas, now)

        version = with_cas_retry(attempt)
        log.info("codes.rotated", account=account_id, rotation=number, actor=who.display_name, total=len(codes),
                 version=version)
        return version, set_digest(_fps(codes))

    def _destroy_before(self, account_id: str, new_version: int, since: int) -> list[int]:
        """Destroy every version before ``new_version`` and check that none is left; the list of versions from
        ``since`` on, which this rotation destroyed (a resumed run reports the same list)."""
        path = codes_path(account_id)
        meta = self.store.metadata(path) or {}
        self.store.destroy_versions(path, destroyable_versions(meta.get("versions") or {}, new_version))
        versions = (self.store.metadata(path) or {}).get("versions") or {}
        if left := destroyable_versions(versions, new_version):
            raise StoreError(f"versions {left} of {path} survived destruction",
                             hint="run `custody codes rotate --resume` to try again")
        return sorted(int(v) for v in versions if v.isdigit() and since <= int(v) < new_version)

    def _open_grants(self, account_id: str) -> list[str]:
        """Pending or approved grants of the account, and reveals of it that stopped half-way (their codes are
        about to be gone: a resumed reveal must not take a code of the new set without a new approval)."""
        now = self.custody.clock()
        keys = self.store.list_keys("grants/")
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="custody-rotate") as pool:
            grants = list(pool.map(self._maybe_grant, keys))
        return sorted(g.id for g in grants
                      if g is not None and g.account == account_id and revocable(g, now))

    def _maybe_grant(self, key: str) -> Grant | None:
        try:
            return self.custody._grant(key)
        except (NotFound, ValidationError):
            return None

    def _revoke(self, grant_id: str, who: Principal) -> bool:
        """Revoke the grant if it is still open. Whether it ends revoked by a rotation (this run or an interrupted
        one): not when a reveal finished before revocation reached it."""
        def attempt() -> tuple[Grant, bool]:
            grant = self.custody._grant(grant_id)
            now = self.custody.clock()
            if not revocable(grant, now):
                return grant, False
            return self.custody._save(revoke_grant(grant, now, REVOKED_REASON), "grant.revoked", who, now,
                                      cas=grant.version), True

        grant, revoked_now = with_cas_retry(attempt)
        if revoked_now:
            log.info("grant.revoked", grant_id=grant_id, actor=who.display_name, reason=REVOKED_REASON)
            self.custody._notify("grant.revoked", grant, who)
        return grant.status is GrantStatus.revoked and grant.revoked_reason == REVOKED_REASON


def _refuse_reused(account_id: str, current: CodeSet | None, codes: list[str]) -> None:
    """Regenerating invalidates every old code: a code of the current set in the new one means a stale file."""
    reused = {c.fp for c in current.codes} & set(_fps(codes)) if current else set()
    if reused:
        raise Conflict(
            f"{len(reused)} of these codes are already deposited for {account_id}; a rotation takes newly "
            "regenerated codes", hint="regenerate the recovery codes on the platform, then rotate with those")


def _fps(codes: Iterable[str]) -> list[str]:
    from custody.domain.models import fingerprint

    return [fingerprint(c) for c in codes]


def _reason(reason: str | None) -> str:
    text = " ".join((reason or "").split())
    if len(text) > 1000:
        raise ValidationError("the rotation reason is longer than 1000 characters")
    return text or "scheduled rotation"


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _open_json(rot: OpenRotation | None) -> dict[str, Any] | None:
    if rot is None:
        return None
    return {"rotation": rot.number, "started_at": rot.started_at.isoformat(), "actor": rot.actor}


def _due_json(account_id: str, v: Assessment) -> dict[str, Any]:
    f = v.facts
    return {
        "account": account_id,
        "reasons": [r.as_dict() for r in v.reasons],
        "due_since": _ts(v.next_due_at),
        "overdue": v.overdue,
        "overdue_at": _ts(v.overdue_at),
        "remaining": f.remaining if f else 0,
        "total": f.total if f else 0,
        "deposited_at": _ts(f.deposited_at) if f else None,
        "generation": f.generation if f else 0,
        "interrupted_rotation": _open_json(v.interrupted),
    }
