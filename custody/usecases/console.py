"""What the web console's pages show that no single API call answers: a person's own requests, the grants they may
approve, the emergency grants awaiting review, what their policy lets them do (for the navigation and the buttons),
a reveal taken all the way to the code, and the saved inventory report.

Every answer is built from the other use cases' public methods and the shared ``Authorizer``, called with the
person's own Vault token: a page shows what the person's Vault policy allows, exactly as the API would answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from custody.domain.handout import code_of
from custody.domain.models import Account, Grant, GrantStatus, Principal
from custody.errors import NotFound, StoreError
from custody.fanout import concurrently
from custody.usecases.access import ANY_GRANT, Access
from custody.usecases.context import UseCase

# An account that is no real account: whether a person's policy lets them request access at all.
ANY_ACCOUNT = "accounts/pypi/any-account"


class Unwrapper(Protocol):
    """Vault's ``sys/wrapping/unwrap``, called with a person's own token (``custody.store.Store``)."""

    def unwrap(self, token: str, wrapping_token: str) -> dict[str, Any]: ...


class NoUnwrap:
    def unwrap(self, token: str, wrapping_token: str) -> dict[str, Any]:
        raise StoreError("this server cannot unwrap", hint="use `custody access reveal`")


@dataclass(frozen=True)
class Abilities:
    """What a person's policy allows, asked of Vault (``sys/capabilities-self``) with their token on each page."""

    who: Principal
    request: bool
    approve: bool
    deny: bool
    review: bool
    grants: bool  # read any grant (approvers, security, auditors), not only one's own
    codes: bool
    audit: bool


@dataclass(frozen=True)
class QueueRow:
    grant: Grant
    account: Account | None  # None when the person's policy does not read the account


@dataclass(frozen=True)
class RequestForm:
    accounts: list[Account]
    emergency: frozenset[str]  # the accounts the person may ask emergency access to


@dataclass(frozen=True)
class GrantPage:
    grant: Grant
    mine: bool
    approve: bool  # the person may approve it now (their policy allows, it is pending, not their own...)
    deny: bool
    review: bool
    reveal: bool
    review_overdue: bool


@dataclass(frozen=True)
class Revealed:
    grant: Grant
    code: str
    remaining: int

    def __repr__(self) -> str:  # holds a recovery code
        return f"Revealed({self.grant.id!r}, remaining={self.remaining})"


@dataclass(frozen=True)
class Console(UseCase):
    access: Access
    unwrapper: Unwrapper = field(default_factory=NoUnwrap)
    inventory_report: Path | None = None

    def abilities(self, token: str) -> Abilities:
        who = self.authz.caller(token)
        asks = {"request": (f"{ANY_ACCOUNT}/grants", "create"), "approve": (f"{ANY_GRANT}/approve", "update"),
                "deny": (f"{ANY_GRANT}/deny", "update"), "review": (f"{ANY_GRANT}/review", "update"),
                "grants": (ANY_GRANT, "read"), "codes": ("codes", "list"), "audit": ("audit/summary", "read")}
        answers = self.authz.allowed_each(token, list(asks.values()))
        return Abilities(who, **dict(zip(asks, answers, strict=True)))

    def my_requests(self, token: str) -> list[Grant]:
        """The person's own grants, newest first."""
        who = self.authz.caller(token)
        mine = [g for g in self.access.list_grants(token) if g.requester_id == who.id]
        return sorted(mine, key=lambda g: g.created_at, reverse=True)

    def request_form(self, token: str) -> RequestForm:
        """The accounts the person may ask access to, and those where they may ask for emergency access."""
        self.authz.authorize(token, "accounts", "list")
        accounts = [a for a in concurrently(self._account, self.repo.accounts.ids()) if a is not None]
        emergency = self.authz.allowed_each(token, [(f"accounts/{a.id}/emergency", "update") for a in accounts])
        return RequestForm(accounts=sorted(accounts, key=lambda a: a.id),
                           emergency=frozenset(a.id for a, ok in zip(accounts, emergency, strict=True) if ok))

    def _account(self, account_id: str) -> Account | None:
        try:
            return self.repo.accounts.get(account_id)
        except NotFound:  # removed meanwhile
            return None

    def queue(self, token: str) -> list[QueueRow]:
        """Pending grants the person may approve (never their own), oldest first, with their accounts."""
        who = self.authz.caller(token)
        pending = [g for g in self.access.list_grants(token, status=GrantStatus.pending.value)
                   if g.requester_id != who.id and all(a.by_id != who.id for a in g.approvals)]
        allowed = self.authz.allowed_each(token, [(f"grants/{g.id}/approve", "update") for g in pending])
        mine = [g for g, ok in zip(pending, allowed, strict=True) if ok]
        ids = sorted({g.account for g in mine})
        readable = self.authz.allowed_each(token, [(f"accounts/{a}", "read") for a in ids])
        accounts = {a: self._account(a) for a, ok in zip(ids, readable, strict=True) if ok}
        return [QueueRow(g, accounts.get(g.account)) for g in mine]

    def reviews(self, token: str) -> list[tuple[Grant, bool]]:
        """Emergency grants nobody has reviewed yet, with whether the review is overdue, oldest first."""
        return [(g, self.access.review_overdue(g)) for g in self.access.list_grants(token, unreviewed=True)]

    def grant_page(self, token: str, grant_id: str) -> GrantPage:
        """A grant the person may read, and which of its next steps they may take."""
        grant = self.access.show(token, grant_id)
        who = self.authz.caller(token)
        mine = grant.requester_id == who.id
        pending = grant.status is GrantStatus.pending
        approved_by_me = any(a.by_id == who.id for a in grant.approvals)
        unreviewed = grant.emergency and grant.review is None and grant.status is not GrantStatus.pending

        steps = {"approve": pending and not mine and not approved_by_me,
                 "deny": grant.status in (GrantStatus.pending, GrantStatus.approved) and not mine,
                 "review": unreviewed and not mine,
                 "reveal": mine and grant.status is GrantStatus.approved}
        asked = [a for a, when in steps.items() if when]  # only the steps that could be taken now
        ok = dict(zip(asked, self.authz.allowed_each(token, [(f"grants/{grant.id}/{a}", "update") for a in asked]),
                      strict=True))
        return GrantPage(grant=grant, mine=mine, approve=ok.get("approve", False), deny=ok.get("deny", False),
                         review=ok.get("review", False), reveal=ok.get("reveal", False),
                         review_overdue=self.access.review_overdue(grant))

    def reveal_code(self, token: str, grant_id: str) -> Revealed:
        """A reveal taken to the code: the wrapping token a reveal hands out, unwrapped with the requester's own
        token (Vault's audit log names who took it). The code passes through this process; see the threat model."""
        result = self.access.reveal(token, grant_id)
        code = code_of(self.unwrapper.unwrap(token, result.wrap.token))
        if not code:
            raise StoreError("the unwrapped answer held no code", hint="tell the security team")
        return Revealed(grant=result.grant, code=code, remaining=result.remaining)

    def inventory(self, token: str) -> dict[str, Any]:
        """The saved inventory report (``CUSTODY_CONSOLE_INVENTORY_REPORT``), for those who may read audit
        summaries."""
        self.authz.authorize(token, "audit/summary", "read")
        path = self.inventory_report
        if path is None:
            raise NotFound("this server shows no inventory report",
                           hint="set CUSTODY_CONSOLE_INVENTORY_REPORT to a saved `custody inventory report "
                                "--format json`")
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise StoreError(f"the inventory report {path.name} cannot be read ({type(exc).__name__})",
                             hint="save it again with `custody inventory report --format json`") from None
        if not isinstance(loaded, dict) or "summary" not in loaded:
            raise StoreError(f"{path.name} is not an inventory report", hint="save one with `custody inventory "
                                                                              "report --format json`")
        return loaded
