"""What every use case is given: a context (the repository, the settings, the notifier, the clock) and the one
authorizer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from custody.config import PolicySettings
from custody.domain.events import Event
from custody.domain.models import Grant, Principal
from custody.domain.rotation import RotationPolicy
from custody.durations import parse_duration
from custody.errors import ValidationError
from custody.notify import Notifier
from custody.repo.repository import Repository
from custody.usecases.authz import Authorizer

# Grants revoked at once (a rotation, a replacement, a leaver, a raised approval count) that get an event each; past
# this, the ordinary ones get one event between them, so that a busy account's rotation does not fill the webhooks'
# queues (1000 events) and drop other events, nor post thousands of messages to a channel.
REVOKED_ONE_BY_ONE = 10
REVOKED_IDS_LISTED = 50  # ids named in that one event; its count is the whole


@dataclass(frozen=True)
class Context:
    repo: Repository
    settings: PolicySettings
    notifier: Notifier
    clock: Callable[[], datetime]

    def notify(self, event: Event, **fields: object) -> None:
        """A webhook notification (off the request path, never holding a code)."""
        self.notifier.emit({"event": event.value, **fields})

    def notify_grant(self, event: Event, grant: Grant, who: Principal) -> None:
        self.notify(event, grant_id=grant.id, account=grant.account, actor=who.display_name,
                    requester=grant.requester, reason=grant.reason, ticket=grant.ticket, status=grant.status.value,
                    emergency=grant.emergency, drill=grant.drill)

    def notify_revoked(self, revoked: list[Grant], who: Principal) -> None:
        """Grants just revoked together: an event each, or, for more than ``REVOKED_ONE_BY_ONE``, one
        ``grants.revoked`` event with their count, accounts, reason and first ids. An emergency grant always gets
        its own event (they are few, and each is followed up)."""
        ordinary = [g for g in revoked if not g.emergency]
        together = len(ordinary) > REVOKED_ONE_BY_ONE
        for g in revoked:
            if g.emergency or not together:
                self.notify_grant(Event.grant_revoked, g, who)
        if not together:
            return
        accounts = sorted({g.account for g in ordinary})
        reasons = sorted({g.revoked_reason or "" for g in ordinary})
        ids = sorted(g.id for g in ordinary)
        self.notify(Event.grants_revoked, account=", ".join(accounts[:5]) + (" ..." if len(accounts) > 5 else ""),
                    accounts=accounts, actor=who.display_name, count=len(ids), reason="; ".join(reasons[:3]),
                    grant_ids=ids[:REVOKED_IDS_LISTED], grant_ids_more=max(len(ids) - REVOKED_IDS_LISTED, 0))

    def rotation_policy(self, max_age: str | timedelta | None = None, min_remaining: int | None = None,
                        grace: str | timedelta | None = None) -> RotationPolicy:
        """The deployment's rotation policy, with what the caller overrides."""
        s = self.settings
        try:
            return RotationPolicy(
                max_age=parse_duration(max_age) if max_age is not None else s.rotation_max_age,
                min_remaining=s.rotation_min_remaining if min_remaining is None else min_remaining,
                grace=parse_duration(grace) if grace is not None else s.rotation_grace,
            )
        except ValueError as exc:
            raise ValidationError(str(exc), hint="e.g. --max-age 365d --min-remaining 3") from None


@dataclass(frozen=True)
class UseCase:
    """The base of every use case: ``authz`` says who may, ``custody.domain`` what must hold, ``repo`` what
    changes."""

    ctx: Context
    authz: Authorizer

    @property
    def repo(self) -> Repository:
        return self.ctx.repo
