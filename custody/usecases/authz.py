"""Who is calling, and may they? One authorizer, shared by every use case.

The caller's identity comes from Vault (``lookup-self``, remembered per token by ``custody.callers``); whether
their policies allow a custody path is asked of Vault on every call (``sys/capabilities-self`` with the caller's
own token), so a revoked token or a removed policy acts at once. Each refusal is written to KV, where the audit
device records it with the caller's name (counted in a bounded number of records: ``custody.repo.denials``), and
comes with the policy that would allow the call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from custody.callers import CallerCache
from custody.domain.events import Event
from custody.domain.models import Principal
from custody.errors import AuthError, CustodyError, PermissionDenied
from custody.logging import get_logger
from custody.repo.denials import DenialsRepo
from custody.throttle import Throttle

log = get_logger("custody.authz")

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
    ("accounts/+/+/keys/verify", "custody-requester, custody-approver or custody-security: custodians confirm "
                                 "their own keys"),
    ("accounts*", "custody-security"),
    ("codes*", "custody-security"),
    ("rotation*", "custody-rotation"),
    ("audit*", "custody-auditor"),
    ("keys/check", "custody-security, custody-auditor or custody-rotation"),
    ("keys*", "custody-security"),
    ("drills*", "custody-security (custody-auditor reads)"),
    ("rollout*", "custody-security (custody-auditor reads)"),
    ("people*", "custody-security"),
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


ASKS_PER_CALL = 200  # paths in one capabilities-self call


def _permits(caps: set[str], capability: str) -> bool:
    # ``sudo`` is an extra requirement on Vault's protected paths, never a stand-in for create or update.
    return "deny" not in caps and ("root" in caps or capability in caps)


class Identity(Protocol):
    """What Vault says about a caller's token (``custody.store.Store`` asks it)."""

    def lookup(self, token: str) -> tuple[Principal, int]:
        """The caller the token belongs to, and the seconds it has left (0: it does not expire)."""
        ...

    def capabilities_many(self, token: str, paths: list[str]) -> dict[str, set[str]]:
        """What the token's policies allow on each path, asked with the token itself, in one question."""
        ...

    def entity_email(self, entity_id: str) -> str | None:
        """The ``email`` metadata of a Vault entity (None: the entity has none, or there is no such entity)."""
        ...


@dataclass(frozen=True)
class Authorizer:
    vault: Identity
    denials: DenialsRepo
    clock: Callable[[], datetime]
    callers: CallerCache = field(default_factory=CallerCache)
    api_path: str = "custody"
    # A flood of refusals that cannot be counted (Vault down, records contended) is a few log lines, not one each.
    unrecorded: Throttle = field(default_factory=lambda: Throttle(10.0))

    def authorize(self, token: str, path: str, capability: str, principal: Principal | None = None) -> Principal:
        """Who is calling, and may their policies do ``capability`` on ``custody/<path>``? Else 403.

        ``principal``: the caller, when already looked up for this token (saves a second lookup-self).
        """
        principal = principal or self.caller(token)
        if not self.allowed(token, path, capability):
            raise self.refuse(principal, path, capability, f"permission denied: {capability} on {self.api_path}/{path}",
                              hint=f"ask for a policy that allows it ({policy_hint(path)})")
        return principal

    def caller(self, token: str) -> Principal:
        """Who the token belongs to: remembered (a token's identity never changes), else asked of Vault."""
        known = self.callers.get(token)
        if known is not None:
            return known
        principal, ttl = self.vault.lookup(token)
        self.callers.put(token, principal, ttl)
        return principal

    def allowed(self, token: str, path: str, capability: str) -> bool:
        """Whether the caller's policies allow ``capability`` on ``custody/<path>``, asked of Vault now."""
        return self.allowed_each(token, [(path, capability)])[0]

    def allowed_each(self, token: str, asks: list[tuple[str, str]]) -> list[bool]:
        """``allowed`` for each (path, capability), asked of Vault in one call per ``ASKS_PER_CALL`` paths."""
        answers: dict[str, set[str]] = {}
        paths = sorted({f"{self.api_path}/{path}" for path, _ in asks})
        try:
            for i in range(0, len(paths), ASKS_PER_CALL):
                answers |= self.vault.capabilities_many(token, paths[i : i + ASKS_PER_CALL])
        except AuthError:  # the token is no longer valid: forget who it was
            self.callers.forget(token)
            raise
        return [_permits(answers.get(f"{self.api_path}/{path}", set()), cap) for path, cap in asks]

    def refuse(self, who: Principal, path: str, capability: str, message: str, hint: str) -> PermissionDenied:
        """A refusal, recorded where the audit device sees it (best effort), for the caller to raise."""
        now = self.clock()
        full = f"{self.api_path}/{path}"
        log.warning(Event.access_denied, actor=who.display_name, path=full, capability=capability)
        try:
            self.denials.record(who, full, capability, now)
        except CustodyError as exc:
            if (held := self.unrecorded(exc.code)) is not None:
                log.error(Event.access_denied_unrecorded, error=exc.message, also_unrecorded=held)
        return PermissionDenied(message, hint=hint)

    def email(self, who: Principal) -> str | None:
        """The caller's email, as their Vault entity's metadata says now; None when it says none, or Vault would
        not say (logged: a person's email must never stop break-glass access)."""
        if not who.entity_id:
            return None
        try:
            found = self.vault.entity_email(who.entity_id)
        except CustodyError as exc:
            log.warning(Event.person_email_unreadable, actor=who.display_name, error=exc.message)
            return None
        email = (found or "").strip().lower()
        return email or None

    def whoami(self, token: str) -> Principal:
        """The caller as Vault names them now (always asked, never remembered)."""
        return self.vault.lookup(token)[0]
