"""The use cases: accounts, deposits, break-glass grants, reveals.

Every public method takes the caller's Vault token, asks Vault whether the caller's policies allow the matching API
path (the path *is* the authorization spec), applies the rules policy cannot express (pure code in ``domain``), and
keeps state in KV with check-and-set, so several replicas can serve at once without locks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from custody.callers import CallerCache
from custody.config import PolicySettings
from custody.domain import grants as rules
from custody.domain.ids import GRANT_ID
from custody.domain.models import (
    Account,
    CodeSet,
    Grant,
    GrantStatus,
    Principal,
    Tier,
    default_approvals,
    utcnow,
)
from custody.domain.platforms import parse_account_id, parse_codes
from custody.domain.reasons import validate_reason, validate_ticket
from custody.durations import format_duration, parse_duration
from custody.errors import (
    AuthError,
    CasConflict,
    CodesChanged,
    Conflict,
    CustodyError,
    Exhausted,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ValidationError,
)
from custody.logging import get_logger
from custody.notify import Notifier
from custody.records import (
    account_from_record,
    account_path,
    account_to_record,
    codes_path,
    codeset_from_record,
    codeset_to_record,
    grant_from_record,
    grant_path,
    grant_to_record,
    reveal_path,
    stamp,
)
from custody.store import Store, WrapInfo, with_cas_retry

log = get_logger("custody.service")
T = TypeVar("T")

# Which policy a caller needs for which path, for the hint in a 403: the first pattern that matches the path
# (``+`` is one segment, as in Vault policies; a trailing ``*`` any rest).
_POLICY_HINTS = (
    ("accounts/+/+/emergency", "custody-emergency"),
    ("accounts/+/+/grants", "custody-requester"),
    ("grants/+/reveal", "custody-requester"),
    ("grants/+/approve", "custody-approver"),
    ("grants/+/review", "custody-approver"),
    ("grants/+/deny", "custody-approver or custody-security"),
    ("grants/+", "custody-approver, custody-security or custody-auditor (a requester sees only their own)"),
    ("grants", "custody-requester (your own grants), custody-approver, custody-security or custody-auditor"),
    ("accounts*", "custody-security"),
    ("codes*", "custody-security"),
    ("rotation*", "custody-rotation"),
    ("audit*", "custody-auditor"),
)


def policy_hint(path: str) -> str:
    parts = path.split("/")
    for pattern, hint in _POLICY_HINTS:
        if pattern.endswith("*"):
            if parts[0] == pattern[:-1]:
                return hint
            continue
        want = pattern.split("/")
        if len(want) == len(parts) and all(w in ("+", p) for w, p in zip(want, parts, strict=True)):
            return hint
    return "see policies/"


@dataclass(frozen=True)
class Reveal:
    grant: Grant
    wrap: WrapInfo
    remaining: int


@dataclass
class Custody:
    store: Store
    settings: PolicySettings = field(default_factory=PolicySettings)
    notifier: Notifier = field(default_factory=lambda: Notifier([]))
    clock: Callable[[], datetime] = utcnow
    api_path: str = "custody"
    callers: CallerCache = field(default_factory=CallerCache)

    # ---- authorization --------------------------------------------------------------------------------------
    def authorize(self, token: str, path: str, capability: str, principal: Principal | None = None) -> Principal:
        """Who is calling, and may their policies do ``capability`` on ``custody/<path>``? Else 403.

        ``principal``: the caller, when already looked up for this token (saves a second lookup-self).

        The caller's identity may come from ``self.callers`` (a token's identity never changes), but the capability
        check below is always asked of Vault with the caller's token: it is what refuses a revoked token.
        """
        principal = principal or self._caller(token)
        if not self._allowed_or_forget(token, path, capability):
            self._record_denial(principal, path, capability)
            raise PermissionDenied(
                f"permission denied: {capability} on {self.api_path}/{path}",
                hint=f"ask for a policy that allows it ({policy_hint(path)})",
            )
        return principal

    def _caller(self, token: str) -> Principal:
        known = self.callers.get(token)
        if known is not None:
            return known
        principal, ttl = self.store.lookup(token)
        self.callers.put(token, principal, ttl)
        return principal

    def _allowed_or_forget(self, token: str, path: str, capability: str) -> bool:
        try:
            return self.allowed(token, path, capability)
        except AuthError:
            self.callers.forget(token)
            raise

    def allowed(self, token: str, path: str, capability: str) -> bool:
        caps = self.store.capabilities(token, f"{self.api_path}/{path}")
        # ``sudo`` is an extra requirement on Vault's protected paths, never a stand-in for create or update.
        return "deny" not in caps and ("root" in caps or capability in caps)

    def _record_denial(self, who: Principal, path: str, capability: str) -> None:
        """Refusals are evidence too: write them where the audit device sees them. Best effort."""
        now = self.clock()
        record = stamp("access.denied", who, now) | {"path": f"{self.api_path}/{path}", "capability": capability}
        log.warning("access.denied", actor=who.display_name, path=record["path"], capability=capability)
        try:
            self.store.write(f"denied/{now:%Y%m%d}/{uuid.uuid4()}", record, cas=0)
        except CustodyError as exc:
            log.error("access.denied.unrecorded", error=exc.message)

    def whoami(self, token: str) -> Principal:
        return self.store.lookup_caller(token)

    # ---- accounts -------------------------------------------------------------------------------------------
    def add_account(
        self,
        token: str,
        account_id: str,
        owner: str,
        tier: str = "standard",
        approvals: int | None = None,
        notes: str = "",
    ) -> Account:
        parse_account_id(account_id)
        who = self.authorize(token, f"accounts/{account_id}", "create")
        try:
            tier_v = Tier(tier)
        except ValueError:
            raise ValidationError(f"unknown tier {tier!r}", hint="use standard or critical") from None
        now = self.clock()
        try:
            account = Account(
                id=account_id, owner=owner, tier=tier_v, approvals_required=default_approvals(tier_v, approvals),
                notes=notes, created_at=now, created_by=who.display_name,
            )
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise ValidationError(_first_error(exc)) from None
        platform, username = account_id.split("/", 1)
        same = [k for k in self.store.list_keys(f"accounts/{platform}/")
                if k.casefold() == username.casefold() and k != username]
        if same:  # PyPI (like most platforms) matches usernames ignoring case: one account, one code set
            raise Conflict(f"account {platform}/{same[0]} already exists; usernames differ only in case",
                           hint=f"use {platform}/{same[0]}")
        try:
            self.store.write(account_path(account_id), account_to_record(account) | stamp(
                "account.created", who, now), cas=0)
        except CustodyError as exc:
            if exc.code == "cas_conflict":
                raise Conflict(f"account {account_id} already exists") from None
            raise
        log.info("account.created", account=account_id, actor=who.display_name, tier=tier_v.value)
        self.notifier.emit({"event": "account.created", "account": account_id, "actor": who.display_name})
        return account

    def _account(self, account_id: str) -> Account:
        parse_account_id(account_id)
        entry = self.store.read(account_path(account_id))
        if entry is None:
            raise NotFound(f"unknown account {account_id}", hint="see `custody accounts list`")
        return account_from_record(entry.data)

    def get_account(self, token: str, account_id: str) -> Account:
        parse_account_id(account_id)
        self.authorize(token, f"accounts/{account_id}", "read")
        return self._account(account_id)

    def _account_ids(self) -> list[str]:
        ids = []
        for platform in self.store.list_keys("accounts/"):
            for username in self.store.list_keys(f"accounts/{platform}"):
                if not username.endswith("/"):
                    ids.append(f"{platform.rstrip('/')}/{username}")
        return sorted(ids)

    def list_accounts(self, token: str) -> list[Account]:
        self.authorize(token, "accounts", "list")
        return concurrently(self._account, self._account_ids())

    # ---- codes ----------------------------------------------------------------------------------------------
    def deposit(self, token: str, account_id: str, text: str, replace: bool = False) -> dict[str, Any]:
        """Store an account's codes. A second deposit needs ``replace`` (rotation is the usual way)."""
        platform, _ = parse_account_id(account_id)  # a malformed id never reaches the policy check
        who = self.authorize(token, f"accounts/{account_id}/codes", "update" if replace else "create")
        account = self._account(account_id)
        codes = parse_codes(platform, text)
        now = self.clock()
        current = self.store.read(codes_path(account_id))
        if current is None and (deleted := self.store.current_version(codes_path(account_id))):
            # Which of its codes were handed out went with it: a new set must not hand them out again.
            raise PreconditionFailed(
                f"the current code set of {account_id} (version {deleted}) was deleted outside custody",
                hint=f"if by mistake, undelete it (bao kv undelete -versions={deleted} "
                     f"{self.store.mount}/codes/{account_id}); if its codes may be exposed, regenerate them on the "
                     "platform and run `custody codes rotate`")
        if current is not None and not replace:
            raise Conflict(
                f"{account_id} already has codes deposited",
                hint="use `custody codes rotate` after regenerating them, or --replace",
            )
        previous = codeset_from_record(current.data) if current else None
        generation = previous.generation + 1 if previous else 1
        # A code the current set already handed out stays handed out in the replacement.
        cs = CodeSet.new(account_id, codes, who.display_name, now, generation, previous=previous)
        event = "codes.replaced" if current else "codes.deposited"
        from custody.rotation import write_codes  # keeps the sweep's per-account summary true

        write_codes(self.store, account_id, codeset_to_record(cs) | stamp(event, who, now), cs,
                    cas=current.version if current else 0, now=now)
        log.info(event, account=account_id, actor=who.display_name, count=cs.total)
        self.notifier.emit({"event": event, "account": account_id, "actor": who.display_name, "total": cs.total})
        return self._status(account, cs, now)

    def _status(self, account: Account, cs: CodeSet | None, now: datetime) -> dict[str, Any]:
        from custody.rotation import Rotation  # due rules live in custody.domain.rotation

        return Rotation(self).status_row(account, cs, now)

    def _codeset(self, account_id: str) -> tuple[CodeSet | None, int]:
        entry = self.store.read(codes_path(account_id))
        return (codeset_from_record(entry.data), entry.version) if entry else (None, 0)

    def code_status(self, token: str, account_id: str | None = None) -> list[dict[str, Any]]:
        """Counts, age and depositor per account; never a code."""
        if account_id:
            parse_account_id(account_id)
            self.authorize(token, f"accounts/{account_id}/codes", "read")
            ids = [account_id]
        else:
            self.authorize(token, "codes", "list")
            ids = self._account_ids()
        now = self.clock()
        return concurrently(lambda a: self._status(self._account(a), self._codeset(a)[0], now), ids)

    # ---- grants ---------------------------------------------------------------------------------------------
    def request_access(
        self,
        token: str,
        account_id: str,
        reason: str | None,
        ticket: str | None = None,
        ttl: str | None = None,
        emergency: bool = False,
    ) -> Grant:
        parse_account_id(account_id)
        who = self.authorize(token, f"accounts/{account_id}/grants", "create")
        if emergency:
            self.authorize(token, f"accounts/{account_id}/emergency", "update")
        reason_v = validate_reason(reason, self.settings.reason_min_length)
        ticket_v = validate_ticket(ticket, self.settings.ticket_pattern)
        duration = parse_duration(ttl) if ttl else self.settings.grant_ttl
        if not timedelta(minutes=1) <= duration <= self.settings.grant_max_ttl:
            raise ValidationError(
                f"ttl must be between 1m and {format_duration(self.settings.grant_max_ttl)}",
                hint="e.g. --ttl 1h",
            )
        account = self._account(account_id)
        cs, _ = self._codeset(account_id)
        if cs is None or cs.remaining == 0:
            raise self._exhausted(account_id)
        now = self.clock()
        grant = rules.request(account, who, reason_v, ticket_v, now, duration, emergency=emergency,
                              codes_generation=cs.generation)
        self._save(grant, "grant.requested", who, now, cas=0)
        log.info("grant.requested", grant_id=grant.id, account=account_id, actor=who.display_name,
                 status=grant.status.value, emergency=grant.emergency)
        self._notify("grant.emergency" if grant.emergency else "grant.requested", grant, who)
        return grant

    def _save(self, grant: Grant, event: str, who: Principal, now: datetime, cas: int) -> Grant:
        version = self.store.write(grant_path(grant.id), grant_to_record(grant) | stamp(event, who, now), cas=cas)
        return grant.model_copy(update={"version": version})

    def _notify(self, event: str, grant: Grant, who: Principal) -> None:
        self.notifier.emit({
            "event": event, "grant_id": grant.id, "account": grant.account, "actor": who.display_name,
            "requester": grant.requester, "reason": grant.reason, "ticket": grant.ticket,
            "status": grant.status.value, "emergency": grant.emergency,
        })

    def _grant(self, grant_id: str) -> Grant:
        if GRANT_ID.fullmatch(grant_id) is None:
            raise ValidationError(f"not a grant id: {grant_id[:40]!r}", hint="grant ids look like gr_xxxxxxxx")
        entry = self.store.read(grant_path(grant_id))
        if entry is None:
            raise NotFound(f"unknown grant {grant_id}", hint="see `custody access list`")
        return grant_from_record(entry.data, entry.version)

    def view(self, grant: Grant) -> Grant:
        """A grant as callers see it: with its effective status (expiry applied)."""
        return grant.model_copy(update={"status": grant.effective_status(self.clock())})

    def show_grant(self, token: str, grant_id: str) -> Grant:
        """Any grant for callers whose policy reads it; a requester's own grant for callers who may list theirs.

        The token and its policy are checked before the grant is read (on every call, so a revoked token or a
        removed group membership acts at once), and a requester cannot tell someone else's grant from none.
        """
        if GRANT_ID.fullmatch(grant_id) is None:
            raise ValidationError(f"not a grant id: {grant_id[:40]!r}", hint="grant ids look like gr_xxxxxxxx")
        who = self._caller(token)
        if self._allowed_or_forget(token, f"grants/{grant_id}", "read"):
            return self.view(self._grant(grant_id))
        self.authorize(token, "grants", "list", principal=who)  # a requester, seeing only their own grants
        try:
            grant = self._grant(grant_id)
        except NotFound:
            grant = None
        if grant is None or grant.requester_id != who.id:
            self._record_denial(who, f"grants/{grant_id}", "read")
            raise PermissionDenied(f"permission denied: grant {grant_id} is not one of yours, or does not exist",
                                   hint="see `custody access list`")
        return self.view(grant)

    def list_grants(
        self, token: str, status: str | None = None, account: str | None = None, unreviewed: bool = False
    ) -> list[Grant]:
        """All grants for callers who may read them; a requester's own grants otherwise.

        ``unreviewed`` keeps the emergency grants nobody has reviewed yet.
        """
        who = self.authorize(token, "grants", "list")
        if status and status not in GrantStatus.__members__:
            raise ValidationError(f"unknown status {status!r}", hint=", ".join(GrantStatus.__members__))
        sees_all = self.allowed(token, "grants/gr_aaaaaaaaaaaaaaaa", "read")

        def load(key: str) -> Grant | None:
            try:
                return self.view(self._grant(key))
            except (NotFound, ValidationError):  # deleted meanwhile, or a key that is not a grant
                return None

        grants = []
        for g in concurrently(load, self.store.list_keys("grants/")):
            if g is None:
                continue
            if not sees_all and g.requester_id != who.id:
                continue
            if (status and g.status.value != status) or (account and g.account != account):
                continue
            if unreviewed and not (g.emergency and g.review is None):
                continue
            grants.append(g)
        return sorted(grants, key=lambda g: g.created_at)

    def expire_stale(self, who: Principal) -> list[str]:
        """Record the expiry of open grants past their time (event ``grant.expired``), so the audit log shows how
        every grant ended. Expiry is enforced without this; this is the evidence. Returns the grant ids."""
        now = self.clock()

        def one(key: str) -> str | None:
            def attempt() -> str | None:
                grant = self._grant(key)
                if grant.status not in rules.OPEN or now < grant.expires_at:
                    return None
                self._save(rules.expire(grant, now), "grant.expired", who, now, cas=grant.version)
                return grant.id

            try:
                return with_cas_retry(attempt)
            except (NotFound, ValidationError, PreconditionFailed):
                return None

        expired = [gid for gid in concurrently(one, self.store.list_keys("grants/")) if gid]
        for gid in expired:
            log.info("grant.expired", grant_id=gid, actor=who.display_name)
        return expired

    def overdue_reviews(self, token: str) -> list[Grant]:
        """Emergency grants still unreviewed past ``emergency_review_within``."""
        now = self.clock()
        within = self.settings.emergency_review_within
        return [g for g in self.list_grants(token, unreviewed=True) if rules.review_overdue(g, now, within)]

    def review_overdue(self, grant: Grant) -> bool:
        return rules.review_overdue(grant, self.clock(), self.settings.emergency_review_within)

    def _decide(self, token: str, grant_id: str, action: str, comment: str | None) -> Grant:
        who = self.authorize(token, f"grants/{grant_id}/{action}", "update")

        def attempt() -> Grant:
            grant = self._grant(grant_id)
            now = self.clock()
            if action == "approve":
                new = rules.approve(grant, who, now, comment)
            elif action == "deny":
                new = rules.deny(grant, who, now, comment)
            else:
                new = rules.review(grant, who, now, comment)
            return self._save(new, f"grant.{_PAST[action]}", who, now, cas=grant.version)

        grant = with_cas_retry(attempt)
        log.info(f"grant.{_PAST[action]}", grant_id=grant_id, actor=who.display_name, status=grant.status.value)
        self._notify(f"grant.{_PAST[action]}", grant, who)
        return self.view(grant)

    def approve(self, token: str, grant_id: str, comment: str | None = None) -> Grant:
        return self._decide(token, grant_id, "approve", comment)

    def deny(self, token: str, grant_id: str, comment: str | None = None) -> Grant:
        return self._decide(token, grant_id, "deny", comment)

    def review(self, token: str, grant_id: str, comment: str | None = None) -> Grant:
        return self._decide(token, grant_id, "review", comment)

    def reveal(self, token: str, grant_id: str) -> Reveal:
        """Hand the requester one unused code, once, inside a single-use wrapping token.

        Order of writes, each a check-and-set: (1) claim the grant (approved -> revealed), so two reveals of one
        grant can never both proceed; (2) mark one code consumed by this grant, retrying on conflict, so two
        grants never get the same code; (3) wrap it; (4) record its fingerprint on the grant. If no code is left,
        the claim is undone and the caller gets a clean "exhausted" error.

        A reveal that stopped after (1) or (2) (Vault failed, the process died) is resumed by its requester: the
        same grant gets the same code again in a new wrapping token, never a second code.
        """
        who = self.authorize(token, f"grants/{grant_id}/reveal", "update")
        grant = self._grant(grant_id)
        now = self.clock()
        read: list[tuple[CodeSet | None, int]] = []  # the code set as last read, for the first consume attempt
        if rules.reveal_incomplete(grant) and who.id == grant.requester_id:
            if now >= grant.expires_at:  # its code stays reserved for it, and is never handed out
                raise PreconditionFailed(f"grant {grant_id} expired before its reveal finished",
                                         hint="request a new grant")
            claimed = grant
            log.warning("grant.reveal_resumed", grant_id=grant_id, actor=who.display_name)
            self.store.delete_all(reveal_path(grant_id))  # a leftover of the interrupted attempt, if any
        else:
            rules.check_reveal(grant, who, now)
            read.append(self._codeset(grant.account))
            cs = read[0][0]
            if cs is None or cs.remaining == 0:
                raise self._exhausted(grant.account)
            self._check_generation(grant, cs)
            try:
                claimed = self._save(rules.reveal(grant, who, now, code_fp=""), "grant.revealing", who, now,
                                     cas=grant.version)
            except CustodyError as exc:
                if exc.code != "cas_conflict":
                    raise
                # Lost the race, or our own claim landed and only Vault's answer was lost (failover): resume ours.
                claimed = self._grant(grant_id)
                if not (rules.reveal_incomplete(claimed) and who.id == claimed.requester_id):
                    raise Conflict(f"grant {grant_id} changed while revealing; it may already be revealed",
                                   hint="run `custody access show` and retry if it is still approved") from None
        try:
            # The first attempt reuses the read above; a lost check-and-set race re-reads.
            code, remaining = with_cas_retry(
                lambda: self._consume(claimed, now, read.pop() if read else None))
        except (Exhausted, CodesChanged):
            with_cas_retry(lambda: self._unclaim(grant_id, who, now))
            raise
        entry = {"code": code.code, "account": grant.account, "grant_id": grant_id, "event": "code.wrapped"}
        try:
            self.store.write(reveal_path(grant_id), entry, cas=0)
        except CasConflict:  # a leftover of an attempt whose answer was lost: same grant, same code
            self.store.delete_all(reveal_path(grant_id))
            self.store.write(reveal_path(grant_id), entry, cas=0)
        try:
            wrap = self.store.wrapped_read(reveal_path(grant_id), self.settings.wrap_ttl)
        finally:
            self.store.delete_all(reveal_path(grant_id))

        def record_fp() -> Grant:
            current = self._grant(grant_id)
            if current.code_fp == code.fp:
                return current  # the write landed before Vault's answer was lost
            if not rules.reveal_incomplete(current):  # revoked meanwhile (a rotation): the wrap is not handed over
                raise Conflict(f"grant {grant_id} was {current.status.value} while its code was being revealed",
                               hint="request a new grant")
            return self._save(current.model_copy(update={"code_fp": code.fp}), "grant.revealed", who, now,
                              cas=current.version)

        try:
            done = self._save(claimed.model_copy(update={"code_fp": code.fp}), "grant.revealed", who, now,
                              cas=claimed.version)
        except CasConflict:
            done = with_cas_retry(record_fp)
        log.info("grant.revealed", grant_id=grant_id, account=grant.account, actor=who.display_name,
                 remaining=remaining, code_fp=code.fp)
        self._notify("grant.revealed", done, who)
        if remaining <= self.settings.rotation_min_remaining:
            self.notifier.emit({"event": "rotation.due", "account": grant.account, "remaining": remaining})
        return Reveal(grant=self.view(done), wrap=wrap, remaining=remaining)

    def _exhausted(self, account_id: str) -> Exhausted:
        return Exhausted(f"{account_id} has no codes left to hand out",
                         hint="the security team must rotate its recovery codes (`custody codes rotate`)")

    @staticmethod
    def _check_generation(grant: Grant, cs: CodeSet) -> None:
        if grant.codes_generation and cs.generation != grant.codes_generation:
            # A set rotated in (or replaced) after the request, say mid-rotation before open grants are revoked:
            # the approval was for codes that no longer exist, not for these.
            raise CodesChanged(f"{grant.account}'s codes were rotated or replaced after grant {grant.id} was "
                               "requested", hint="request a new grant")

    def _consume(self, grant: Grant, now: datetime,
                 known: tuple[CodeSet | None, int] | None = None) -> tuple[Any, int]:
        account_id, grant_id = grant.account, grant.id
        cs, version = known or self._codeset(account_id)
        if cs is None:
            raise self._exhausted(account_id)
        codes = list(cs.codes)
        for c in codes:
            if c.grant_id == grant_id:  # a reveal of this grant that stopped half-way: same code, never a second
                return c, cs.remaining
        self._check_generation(grant, cs)
        for i, c in enumerate(codes):
            if c.available:
                codes[i] = c.model_copy(update={"consumed_at": now, "grant_id": grant_id})
                new = cs.model_copy(update={"codes": tuple(codes)})
                record = codeset_to_record(new) | {"event": "code.consumed", "grant_id": grant_id,
                                                   "at": now.isoformat()}
                self.store.write(codes_path(account_id), record, cas=version)
                return c, new.remaining
        raise self._exhausted(account_id)

    def _unclaim(self, grant_id: str, who: Principal, now: datetime) -> None:
        grant = self._grant(grant_id)
        if grant.status is GrantStatus.revealed and not grant.code_fp:
            undone = grant.model_copy(update={"status": GrantStatus.approved, "revealed_at": None})
            self._save(undone, "grant.reveal_failed", who, now, cas=grant.version)


_PAST = {"approve": "approved", "deny": "denied", "review": "reviewed"}
READ_CONCURRENCY = 16


def concurrently(fn: Callable[[str], T], keys: list[str]) -> list[T]:
    """``[fn(k) for k in keys]``, with up to 16 Vault reads in flight: listings read one record per key."""
    if len(keys) < 4:
        return [fn(k) for k in keys]
    with ThreadPoolExecutor(max_workers=min(READ_CONCURRENCY, len(keys)), thread_name_prefix="custody-read") as pool:
        return list(pool.map(fn, keys))


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        loc = ".".join(str(x) for x in first.get("loc", ()))
        return f"{loc}: {first.get('msg', 'invalid')}".removeprefix(": ")
    return str(exc)
