"""Break-glass access: request a grant, approve, deny or review it, reveal its one code, show and list grants.

The rules are the grant state machine (``custody.domain.grants``); this module says who may take each step, in
what order the writes happen, and what is logged and notified.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from custody.domain import grants as rules
from custody.domain.events import Event
from custody.domain.grants import Pick
from custody.domain.models import CodeSet, Grant, GrantStatus, Principal
from custody.domain.platforms import parse_account_id
from custody.domain.reasons import validate_reason, validate_ticket
from custody.durations import format_duration, parse_duration
from custody.errors import CodesChanged, Conflict, CustodyError, Exhausted, NotFound, ValidationError
from custody.fanout import ahead
from custody.logging import get_logger
from custody.repo.grants import check_id
from custody.repo.kv import Versioned, WrapInfo
from custody.usecases import drills
from custody.usecases.context import UseCase

log = get_logger("custody.access")

# A path of one grant that is no real grant: whether a caller may read *any* grant, not only their own.
ANY_GRANT = "grants/gr_aaaaaaaaaaaaaaaa"
Decide = Callable[[Grant, Principal, datetime, str | None], Grant]
DECISIONS: dict[str, tuple[Decide, Event]] = {
    "approve": (rules.approve, Event.grant_approved),
    "deny": (rules.deny, Event.grant_denied),
    "review": (rules.review, Event.grant_reviewed),
}


@dataclass(frozen=True)
class Reveal:
    grant: Grant
    wrap: WrapInfo
    remaining: int


@dataclass(frozen=True)
class Access(UseCase):
    # ---- request --------------------------------------------------------------------------------------------
    def request(self, token: str, account_id: str, reason: str | None, ticket: str | None = None,
                ttl: str | None = None, emergency: bool = False, drill: str | None = None) -> Grant:
        parse_account_id(account_id)
        who = self._person(token, f"accounts/{account_id}/grants", "create")
        if emergency:
            self.authz.authorize(token, f"accounts/{account_id}/emergency", "update")
        settings = self.ctx.settings
        reason_v = validate_reason(reason, settings.reason_min_length, settings.reason_filler)
        ticket_v = validate_ticket(ticket, settings.ticket_pattern)
        duration = parse_duration(ttl) if ttl else settings.grant_ttl
        if not timedelta(minutes=1) <= duration <= settings.grant_max_ttl:
            raise ValidationError(f"ttl must be between 1m and {format_duration(settings.grant_max_ttl)}",
                                  hint="e.g. --ttl 1h")
        account = self.repo.accounts.get(account_id)
        codes = self.repo.codes.get(account_id)
        if codes is None or codes.value.remaining == 0:
            raise rules.exhausted(account_id)
        drill_id = drills.join(self.repo, drill, account_id) if drill else None
        now = self.ctx.clock()
        grant = rules.request(account, who, reason_v, ticket_v, now, duration, emergency=emergency,
                              codes_generation=codes.value.generation
                              ).model_copy(update={"drill": drill_id, "requester_email": self.authz.email(who)})
        limits = rules.Limits(settings.open_grants_per_account, settings.open_grants_total,
                              settings.emergency_unreviewed_max)
        self.repo.grants.create(grant, Event.grant_requested, who, now, limits)
        log.info(Event.grant_requested, grant_id=grant.id, account=account_id, actor=who.display_name,
                 status=grant.status.value, emergency=grant.emergency, drill=drill_id)
        self.ctx.notify_grant(Event.grant_emergency if grant.emergency else Event.grant_requested, grant, who)
        drills.record_step(self.ctx, grant, who, "request", now)
        return grant

    # ---- approve, deny, review ------------------------------------------------------------------------------
    def approve(self, token: str, grant_id: str, comment: str | None = None) -> Grant:
        return self._decide(token, grant_id, "approve", comment)

    def deny(self, token: str, grant_id: str, comment: str | None = None) -> Grant:
        return self._decide(token, grant_id, "deny", comment)

    def review(self, token: str, grant_id: str, comment: str | None = None) -> Grant:
        return self._decide(token, grant_id, "review", comment)

    def _decide(self, token: str, grant_id: str, action: str, comment: str | None) -> Grant:
        decide, event = DECISIONS[action]
        who = self._person(token, f"grants/{grant_id}/{action}", "update")
        now = self.ctx.clock()
        if action == "approve":  # against the account's requirement today, which may have been raised
            current = self.repo.grants.get(grant_id)
            required = self._required_now(current)
            grant = self.repo.grants.update(current, lambda g: rules.approve(g, who, now, comment, required), event,
                                            who, now).grant
        else:
            grant = self.repo.grants.update(grant_id, lambda g: decide(g, who, now, comment), event, who, now).grant
        log.info(event, grant_id=grant_id, actor=who.display_name, status=grant.status.value)
        self.ctx.notify_grant(event, grant, who)
        drills.record_step(self.ctx, grant, who, action, now)
        return self.view(grant)

    # ---- reveal ---------------------------------------------------------------------------------------------
    def reveal(self, token: str, grant_id: str, again: bool = False) -> Reveal:
        """Hand the requester one unused code, once, inside a single-use wrapping token.

        Each write a check-and-set: (1) begin an attempt (the claim), so of concurrent reveals of one grant exactly
        one proceeds and the others get a 409; (2) take one code for it, so two grants never get the same code;
        (3) wrap the code; (4) record its fingerprint and the wrapping token's accessor, only if the attempt is
        still the grant's latest. A failed attempt is abandoned (no code left: the claim is undone), and the
        requester's next reveal hands out the same code in a new token. ``again``, for a reveal whose answer was
        lost: the token it handed out is revoked first, so no two valid tokens for one grant ever exist.
        """
        # Reads are started ahead while the call before them is on its way; each result (or error) is taken where
        # the read used to be made, so what is decided, refused and written, and in what order, is as if they were
        # made one after another (custody.fanout.ahead). The grant is read while Vault says whether the caller may
        # reveal it; an unauthorised caller's refusal never waits for that read, nor depends on it.
        grant_read = ahead(lambda: self.repo.grants.get(grant_id))
        who = self._person(token, f"grants/{grant_id}/reveal", "update")
        grant = grant_read.result()
        now = self.ctx.clock()
        if again and rules.delivered(grant) and who.id == grant.requester_id and not rules.running(grant, now):
            self._revoke_delivered(grant)
        nonce = secrets.token_hex(8)
        # a new claim's code set, checked before the claim is written: read while the account is
        codes_read = ahead(lambda: self.repo.codes.get(grant.account)) \
            if grant.status is not GrantStatus.revealed else None
        required = self._required_now(grant)
        begun = rules.begin(grant, who, now, nonce, again, required)  # refused unless this caller may begin now
        codes: Versioned[CodeSet] | None = None
        if codes_read is not None:
            codes = codes_read.result()
            rules.check_codes(grant, codes.value if codes else None)
        started = self._begin(grant, begun, nonce, again, who, now, required)
        pick = self._take_code(started, nonce, who, now, codes)
        try:
            handed = self.repo.reveals.hand_over(started, pick.code, self.ctx.settings.wrap_ttl)
        except CustodyError:
            self._give_up(started, nonce, None, who, now)
            raise
        try:  # the fingerprint is recorded while the staged copy is deleted; the answer waits for both
            done = self._complete(started, nonce, pick, handed.wrap, who, now)
        finally:
            handed.deleted()
        wrap = handed.wrap
        attempt = done.attempt.number if done.attempt else 0
        log.info(Event.grant_revealed, grant_id=grant_id, account=grant.account, actor=who.display_name,
                 remaining=pick.remaining, code_fp=pick.code.fp, attempt=attempt)
        self.ctx.notify_grant(Event.grant_revealed, done, who)
        drills.record_step(self.ctx, done, who, "reveal", now)
        if pick.remaining <= self.ctx.settings.rotation_min_remaining:
            self.ctx.notify(Event.rotation_due, account=grant.account, remaining=pick.remaining)
        return Reveal(grant=self.view(done), wrap=wrap, remaining=pick.remaining)

    def _required_now(self, grant: Grant) -> int:
        """The approvals ``grant``'s account requires today (the grant keeps what it required when requested)."""
        return self.repo.accounts.get(grant.account).approvals_required

    def _revoke_delivered(self, grant: Grant) -> None:
        """Before handing a grant's code out again: the wrapping token handed out last is revoked, or, if Vault
        knows no such token any more (unwrapped, expired, already replaced), nothing is handed out."""
        accessor = rules.handed_out(grant)
        if accessor and not self.repo.reveals.revoke(accessor):
            raise Conflict(
                f"the wrapping token handed out for grant {grant.id} is no longer valid: it was unwrapped, it "
                "expired, or another reveal replaced it; its code is not handed out again",
                hint="if you did not unwrap it, tell the security team now (Vault's audit log shows who did); "
                     "otherwise request a new grant")

    def _begin(self, grant: Grant, begun: Grant, nonce: str, again: bool, who: Principal, now: datetime,
               required: int) -> Grant:
        event = Event.grant_revealing if grant.status is not GrantStatus.revealed else Event.grant_reveal_resumed
        started = self.repo.grants.replace(grant, begun, event, who, now)
        if started is not None:
            if event is Event.grant_reveal_resumed:
                log.warning(event, grant_id=grant.id, actor=who.display_name, again=again)
            return started
        # Lost the race (the refusal says to whom), or our own write landed and only Vault's answer was lost.
        current = self.repo.grants.get(grant.id)
        if rules.ours(current, nonce):
            return current
        rules.begin(current, who, now, nonce, again, required)
        raise Conflict(f"grant {grant.id} changed while revealing", hint="run `custody access show`, then retry")

    def _take_code(self, started: Grant, nonce: str, who: Principal, now: datetime,
                   codes: Versioned[CodeSet] | None) -> Pick:
        try:
            return self.repo.codes.take(started, now, known=codes)
        except (Exhausted, CodesChanged):
            self.repo.grants.update(started.id, lambda g: rules.unclaim(g, nonce), Event.grant_reveal_failed, who,
                                    now)
            raise
        except CustodyError:
            self._give_up(started, nonce, None, who, now)
            raise

    def _complete(self, started: Grant, nonce: str, pick: Pick, wrap: WrapInfo, who: Principal,
                  now: datetime) -> Grant:
        """Record what attempt ``nonce`` handed out; if it cannot be recorded, the token is revoked before the
        caller hears anything (so it never counts as handed out)."""
        try:
            return self.repo.grants.update(started, lambda g: rules.complete(g, nonce, pick.code.fp, wrap.accessor),
                                           Event.grant_revealed, who, now).grant
        except CustodyError:
            self._give_up(started, nonce, wrap, who, now)
            raise

    def _give_up(self, grant: Grant, nonce: str, wrap: WrapInfo | None, who: Principal, now: datetime) -> None:
        """Best effort, after attempt ``nonce`` failed: revoke the token it made (if any) and mark it abandoned, so
        the requester may retry at once. If Vault cannot be reached for that either, the lease runs out."""
        try:
            # the record names the token only once Vault has revoked it (the audit summary then says so)
            revoked = wrap.accessor if wrap is not None and self.repo.reveals.revoke(wrap.accessor) else ""
            self.repo.grants.update(grant.id, lambda g: rules.abandon(g, nonce, revoked), Event.grant_reveal_failed,
                                    who, now)
        except CustodyError as exc:
            log.warning(Event.grant_reveal_failed, grant_id=grant.id, error=exc.message)

    # ---- who may take a step -------------------------------------------------------------------------------
    def _person(self, token: str, path: str, capability: str) -> Principal:
        """The caller, if their policies allow the step and their token names a person (a Vault entity).

        Approvals count distinct people and only the requester may reveal: both need to know who holds a token.
        A token without an entity (root, an orphan token from a token role) would count as a new person each
        time, so one person holding two such tokens could approve their own request twice.
        """
        who = self.authz.authorize(token, path, capability)
        if not who.entity_id:
            raise self.authz.refuse(
                who, path, capability,
                "permission denied: this token has no Vault identity (entity), so custody cannot tell which person "
                "holds it; requests, approvals, denials, reviews and reveals need one",
                hint="log in as yourself (`bao login -method=userpass`, OIDC...) and use that token, not a root, "
                     "orphan or other identity-less token")
        return who

    # ---- show and list --------------------------------------------------------------------------------------
    def view(self, grant: Grant) -> Grant:
        """A grant as callers see it: with its effective status (expiry applied)."""
        return grant.model_copy(update={"status": grant.effective_status(self.ctx.clock())})

    def review_overdue(self, grant: Grant) -> bool:
        return rules.review_overdue(grant, self.ctx.clock(), self.ctx.settings.emergency_review_within)

    def show(self, token: str, grant_id: str) -> Grant:
        """Any grant for callers whose policy reads it; a requester's own grant for callers who may list theirs.

        The token and its policy are checked before the grant is read (on every call, so a revoked token or a
        removed group membership acts at once), and a requester cannot tell someone else's grant from none.
        """
        check_id(grant_id)
        who = self.authz.caller(token)
        if self.authz.allowed(token, f"grants/{grant_id}", "read"):
            return self.view(self.repo.grants.get(grant_id))
        self.authz.authorize(token, "grants", "list", principal=who)  # a requester, seeing only their own grants
        try:
            grant: Grant | None = self.repo.grants.get(grant_id)
        except NotFound:
            grant = None
        if grant is None or grant.requester_id != who.id:
            raise self.authz.refuse(who, f"grants/{grant_id}", "read",
                                    f"permission denied: grant {grant_id} is not one of yours, or does not exist",
                                    hint="see `custody access list`")
        return self.view(grant)

    def list_grants(self, token: str, status: str | None = None, account: str | None = None,
                    unreviewed: bool = False) -> list[Grant]:
        """All grants for callers who may read them; a requester's own grants otherwise.

        ``unreviewed`` keeps the emergency grants nobody has reviewed yet.
        """
        who = self.authz.authorize(token, "grants", "list")
        if status and status not in GrantStatus.__members__:
            raise ValidationError(f"unknown status {status!r}", hint=", ".join(GrantStatus.__members__))
        sees_all = self.authz.allowed(token, ANY_GRANT, "read")

        def shown(g: Grant) -> bool:
            if not sees_all and g.requester_id != who.id:
                return False
            if (status and g.status.value != status) or (account and g.account != account):
                return False
            return not unreviewed or (g.emergency and g.review is None)

        return sorted((g for g in map(self.view, self._candidates(who, sees_all, account)) if shown(g)),
                      key=lambda g: g.created_at)

    def _candidates(self, who: Principal, sees_all: bool, account: str | None) -> list[Grant]:
        """The grants a listing must look at: the caller's own or one account's from the index (what the listing
        returns, whatever the number of other grants), all of them otherwise."""
        if not sees_all or account:
            self.ensure_index(who)
        if not sees_all:
            return self.repo.grants.of_requester(who.id)
        if account:
            return self.repo.grants.of_account(account)
        return self.repo.grants.all()

    def ensure_index(self, who: Principal) -> None:
        """Index the grants written before the index existed (once, by the first listing that needs it)."""
        indexed = self.repo.grants.ensure_index(who, self.ctx.clock())
        if indexed:
            log.warning(Event.grants_indexed, grants=indexed, actor=who.display_name)

    def overdue_reviews(self, token: str) -> list[Grant]:
        """Emergency grants still unreviewed past ``emergency_review_within``."""
        return [g for g in self.list_grants(token, unreviewed=True) if self.review_overdue(g)]
