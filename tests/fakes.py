"""Vault's answers about callers, without Vault, for unit tests: who a token is (``lookup``) and what its policies
allow on a path (``capabilities``), evaluated from the real ``policies/*.hcl`` and identity groups.

It implements ``custody.usecases.authz.Identity`` (and health), so the use cases run with the real ``Authorizer``:
caller cache, capability check, denial records and policy hints all as in production. Integration tests use a real
OpenBao instead.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from custody.bootstrap import GROUPS, policies
from custody.config import PolicySettings
from custody.domain.models import Principal, utcnow
from custody.errors import AuthError
from custody.logging import scrub
from custody.notify import Notifier
from custody.usecases.suite import UseCases, Vault
from tests.memkv import MemKV

_RULE = re.compile(r'path\s+"([^"]+)"\s*\{\s*capabilities\s*=\s*\[([^\]]*)\]', re.S)
# Who is who in unit tests, as in the dev stack: name -> the policies their identity group (or AppRole) gives.
PEOPLE = {
    "security": GROUPS["custody-security"], "engineer": GROUPS["custody-emergency"],
    "engineer2": GROUPS["custody-requesters"], "approver": GROUPS["custody-approvers"],
    "approver2": GROUPS["custody-approvers"], "auditor": GROUPS["custody-auditors"],
    "rotation": ("custody-rotation",),
}
Rule = tuple[str, set[str]]


@functools.cache  # the policies in the package do not change while tests run
def _rules(policy: str) -> list[Rule]:
    return [(path, {c.strip().strip('"') for c in caps.split(",") if c.strip()})
            for path, caps in _RULE.findall(policies()[policy])]


def _matches(pattern: str, path: str) -> bool:
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    want, parts = pattern.split("/"), path.split("/")
    return len(want) == len(parts) and all(w in ("+", p) for w, p in zip(want, parts, strict=True))


def capabilities_of(policy_names: tuple[str, ...], path: str, extra: tuple[Rule, ...] = ()) -> set[str]:
    """What Vault answers for ``path``: in each policy the most specific matching rule (an exact or ``+`` pattern
    before a prefix glob), the union over policies; ``deny`` wins; ``{"deny"}`` when nothing matches. ``extra``: the
    rules of one more policy, written in the test."""
    caps: set[str] = set()
    for rules in [_rules(name) for name in policy_names] + [list(extra)]:
        matching = [(p, c) for p, c in rules if _matches(p, path)]
        if matching:
            caps |= max(matching, key=lambda rule: (not rule[0].endswith("*"), len(rule[0])))[1]
    return {"deny"} if "deny" in caps or not caps else caps


@dataclass
class FakeVault:
    """Tokens and the policies their identity groups give them; revoke one and it is refused from then on."""

    tokens: dict[str, tuple[Principal, tuple[str, ...], int]] = field(default_factory=dict)
    extra: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    calls: Counter[str] = field(default_factory=Counter)
    healthy: bool = True
    emails: dict[str, str] = field(default_factory=dict)  # entity id -> its email metadata

    def add(self, name: str, policies: tuple[str, ...] = (), ttl: int = 0, rules: tuple[Rule, ...] = (),
            email: str | None = "", entity: bool = True) -> str:
        """A token for ``name`` with these policies (from policies/) and ``rules`` (a policy of the test's own);
        its entity's email is ``name@acme.example`` unless given (None: no email). ``entity=False``: a token tied
        to no identity (root, an orphan token), named by its accessor's digest."""
        token = f"hvs.{name}-{secrets.token_hex(8)}"
        # The policies as Vault's lookup-self names them (the identity group's), for rules that ask who held what.
        who = Principal(id=f"entity-{name}", display_name=f"userpass-{name}", entity_id=f"entity-{name}",
                        policies=policies)
        if not entity:
            who = Principal(id=f"token-{secrets.token_hex(6)}", display_name=f"token-{name}", policies=policies)
        self.tokens[token] = (who, policies, ttl)
        self.extra[token] = rules
        if email is not None:
            self.emails[who.entity_id] = email or f"{name}@acme.example"
        return token

    def revoke(self, token: str) -> None:
        self.revoked.add(token)

    def _known(self, token: str) -> tuple[Principal, tuple[str, ...], int]:
        if token in self.revoked or token not in self.tokens:
            raise AuthError("your Vault token is invalid or expired", hint="run `bao login` again")
        return self.tokens[token]

    def lookup(self, token: str) -> tuple[Principal, int]:
        self.calls["lookup"] += 1
        who, _, ttl = self._known(token)
        return who, ttl

    def capabilities_many(self, token: str, paths: list[str]) -> dict[str, set[str]]:
        self.calls["capabilities"] += 1
        policies, extra = self._known(token)[1], self.extra.get(token, ())
        return {p: capabilities_of(policies, p, extra) for p in paths}

    def entity_email(self, entity_id: str) -> str | None:
        self.calls["entity_email"] += 1
        return self.emails.get(entity_id)

    def health(self) -> dict[str, Any]:
        return {"reachable": True, "sealed": not self.healthy, "initialized": True, "standby": False,
                "serving": self.healthy}


class Notices(Notifier):
    """A notifier that keeps what it is given (as a webhook would get it: scrubbed) instead of posting it."""

    def __init__(self) -> None:
        super().__init__([])
        self.events: list[dict[str, Any]] = []

    def emit(self, event: dict[str, Any]) -> None:
        self.events.append(scrub(event))

    def names(self) -> list[str]:
        return [str(e["event"]) for e in self.events]


class Clock:
    """A clock the test moves."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class World:
    """Use cases over an in-memory KV and a fake Vault, with a clock the test moves, one token per person, and the
    notifications they sent."""

    kv: MemKV
    vault: FakeVault
    clock: Clock
    uc: UseCases
    token: dict[str, str]
    notices: Notices

    def who(self, name: str) -> Principal:
        return self.vault.tokens[self.token[name]][0]

    def denials(self) -> list[dict[str, Any]]:
        """The refusals recorded in KV, in the order they were written (each is a version of a day's record)."""
        versions: Counter[str] = Counter()
        entries = []
        for op, path in self.kv.writes():
            if op == "write" and path.startswith("denied/"):
                versions[path] += 1
                entries.append(self.kv.read(path, versions[path]))
        return [e.data for e in entries if e is not None]


def world(settings: PolicySettings | None = None, **kw: Any) -> World:
    clock, notices = Clock(), Notices()
    kv, vault = MemKV(clock), FakeVault()
    tokens = {name: vault.add(name, policies) for name, policies in PEOPLE.items()}
    uc = UseCases.build(kv, vault, settings if settings is not None else PolicySettings(), clock=clock,
                        notifier=notices, **kw)
    return World(kv, vault, clock, uc, tokens, notices)


def _satisfies_the_port(vault: FakeVault) -> Vault:  # mypy checks FakeVault against the protocol here
    return vault


def codes(n: int = 8) -> list[str]:
    return [secrets.token_hex(8) for _ in range(n)]


REASON = "Lost my hardware key on the train; need to log in and revoke a leaked API token"


def an_account(w: World, name: str = "pypi/acme", n: int = 8, tier: str = "standard",
               approvals: int | None = None) -> list[str]:
    """Register ``name`` and deposit ``n`` fresh codes; the codes."""
    sec = w.token["security"]
    w.uc.accounts.add(sec, name, "owner@example.com", tier=tier, approvals=approvals)
    deposited = codes(n)
    w.uc.codes.deposit(sec, name, "\n".join(deposited))
    return deposited
