"""Every use case, built once over one repository, one context and one authorizer.

A new feature adds its module to ``custody/usecases/``, a field here, and a router in ``custody/api/``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from custody.callers import CallerCache
from custody.config import ConsoleSettings, PolicySettings
from custody.domain.models import utcnow
from custody.notify import Notifier
from custody.repo.kv import KV
from custody.repo.repository import Repository
from custody.usecases.access import Access
from custody.usecases.accounts import Accounts
from custody.usecases.audit import Audit
from custody.usecases.authz import Authorizer, Identity
from custody.usecases.codes import Codes
from custody.usecases.console import Console, NoUnwrap, Unwrapper
from custody.usecases.context import Context
from custody.usecases.drills import Drills
from custody.usecases.health import Health, VaultHealth
from custody.usecases.keys import Keys
from custody.usecases.leaks import Leaks
from custody.usecases.people import People
from custody.usecases.rollout import Rollout
from custody.usecases.rotation import Rotation
from custody.usecases.signin import NoSignIn, SignIn, VaultSignIn
from custody.usecases.sweep import Sweep


class Vault(Identity, VaultHealth, Protocol):
    """What custody asks Vault besides KV: who a token is, what it may do, and whether Vault is serving."""


class PersonVault(VaultSignIn, Unwrapper, Protocol):
    """What the web console asks Vault for a person: to sign them in or out, and to unwrap with their token."""


class _Nobody(NoSignIn, NoUnwrap):
    """Where no Vault signs people in (tools, unit tests)."""


@dataclass(frozen=True)
class UseCases:
    ctx: Context
    authz: Authorizer
    accounts: Accounts
    codes: Codes
    access: Access
    rotation: Rotation
    sweep: Sweep
    audit: Audit
    health: Health
    keys: Keys
    rollout: Rollout
    drills: Drills
    people: People
    leaks: Leaks
    signin: SignIn
    console: Console

    @classmethod
    def build(cls, kv: KV, vault: Vault, settings: PolicySettings | None = None, *,
              notifier: Notifier | None = None, clock: Callable[[], datetime] = utcnow,
              callers: CallerCache | None = None, api_path: str = "custody",
              audit_logs: Iterable[str] = (), person_vault: PersonVault | None = None,
              console: ConsoleSettings | None = None) -> UseCases:
        """The use cases over ``kv`` (custody's records) and ``vault`` (callers' identities and policies); for the
        server both are its ``custody.store.Store``, and so is ``person_vault`` (the web console's sign-in and
        unwrap)."""
        ctx = Context(repo=Repository.over(kv), settings=settings if settings is not None else PolicySettings(),
                      notifier=notifier if notifier is not None else Notifier([]), clock=clock)
        # (An empty CallerCache is falsy: it has a length.)
        authz = Authorizer(vault, ctx.repo.denials, clock, callers if callers is not None else CallerCache(), api_path)
        console = console if console is not None else ConsoleSettings()
        person_vault = person_vault if person_vault is not None else _Nobody()
        access = Access(ctx, authz)
        return cls(ctx=ctx, authz=authz, accounts=Accounts(ctx, authz), codes=Codes(ctx, authz),
                   access=access, rotation=Rotation(ctx, authz), sweep=Sweep(ctx, authz),
                   audit=Audit(ctx, authz, logs=tuple(audit_logs)), health=Health(vault, ctx.notifier),
                   keys=Keys(ctx, authz), rollout=Rollout(ctx, authz), drills=Drills(ctx, authz),
                   people=People(ctx, authz), leaks=Leaks(ctx, authz),
                   signin=SignIn(person_vault, vault, console, clock),
                   console=Console(ctx, authz, access, person_vault, console.inventory_report))
