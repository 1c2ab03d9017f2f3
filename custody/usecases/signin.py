"""Signing people in and out, for the web console: custody keeps no password of its own, it forwards them.

A username and password go to a Vault auth method (``auth/<mount>/login/<user>``: userpass, LDAP), an OIDC sign-in
goes through Vault's OIDC auth method (``auth/<mount>/oidc/auth_url``, the provider, ``oidc/callback``), and a
pasted token is checked with ``lookup-self``. Each ends with the person's own Vault token, which every use case is
then called with, exactly as the API is: what a person may do in the console is what their Vault policy allows.
Signing out revokes the token (``auth/token/revoke-self``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from custody.config import ConsoleSettings
from custody.domain.models import Principal
from custody.errors import AuthError, NotFound, ValidationError
from custody.logging import get_logger
from custody.usecases.authz import Identity

log = get_logger("custody.signin")

PasswordMethod = Literal["userpass", "ldap"]
# A username as it goes into Vault's login path: one path segment, never "." or "..".
_USERNAME = re.compile(r"(?!\.\.?$)[A-Za-z0-9_.@+-]{1,256}")
_TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")
_STATE = re.compile(r"[\x21-\x7e]{1,2048}")


class VaultSignIn(Protocol):
    """Vault's auth methods, as custody asks them for a person (``custody.store.Store`` implements it)."""

    def login(self, mount: str, username: str, password: str) -> tuple[str, int]:
        """The person's token and its TTL in seconds (0: it does not expire)."""
        ...

    def oidc_auth_url(self, mount: str, role: str, redirect_uri: str, client_nonce: str) -> str: ...

    def oidc_callback(self, mount: str, state: str, code: str, client_nonce: str) -> tuple[str, int]: ...

    def revoke_self(self, token: str) -> None: ...


class NoSignIn:
    """The port where no Vault auth method is wired (tools, unit tests): every sign-in is refused."""

    def _refuse(self) -> AuthError:
        return AuthError("this server signs nobody in", hint="sign-in needs the custody server's Vault")

    def login(self, mount: str, username: str, password: str) -> tuple[str, int]:
        raise self._refuse()

    def oidc_auth_url(self, mount: str, role: str, redirect_uri: str, client_nonce: str) -> str:
        raise self._refuse()

    def oidc_callback(self, mount: str, state: str, code: str, client_nonce: str) -> tuple[str, int]:
        raise self._refuse()

    def revoke_self(self, token: str) -> None:
        raise self._refuse()


@dataclass(frozen=True)
class Person:
    """Someone signed in: their own Vault token (a secret: never in a repr), who Vault says they are, and until
    when the session may last (the token's end, or the console's maximum age, whichever is first)."""

    token: str
    principal: Principal
    expires_at: datetime

    def __repr__(self) -> str:
        return f"Person({self.principal.display_name!r}, expires_at={self.expires_at.isoformat()})"


@dataclass(frozen=True)
class Methods:
    """The sign-in methods a deployment offers (an empty mount: not offered)."""

    userpass: str
    ldap: str
    oidc: str
    token: bool


@dataclass(frozen=True)
class SignIn:
    vault: VaultSignIn
    identity: Identity
    settings: ConsoleSettings
    clock: Callable[[], datetime]

    @property
    def methods(self) -> Methods:
        s = self.settings
        return Methods(userpass=s.userpass_mount, ldap=s.ldap_mount, oidc=s.oidc_mount, token=s.token_signin)

    def with_password(self, method: str, username: str, password: str) -> Person:
        """Forward a username and password to the deployment's userpass or LDAP auth method."""
        mount = {"userpass": self.settings.userpass_mount, "ldap": self.settings.ldap_mount}.get(method, "")
        if not mount:
            raise ValidationError(f"sign-in with {method[:20]!r} is not offered here", hint="pick another method")
        name = username.strip()
        if _USERNAME.fullmatch(name) is None:
            raise ValidationError("not a username", hint="letters, digits and . _ @ + - (as your Vault login)")
        if not password or len(password) > 1024:
            raise ValidationError("a password is required")
        token, _ = self.vault.login(mount, name, password)
        return self._person(token, via=method)

    def with_token(self, token: str) -> Person:
        """A Vault token the person pasted, checked with ``lookup-self`` (a batch token without an identity is
        refused there, as by the API)."""
        if not self.settings.token_signin:
            raise ValidationError("sign-in with a token is not offered here", hint="sign in with your password")
        token = token.strip()
        if _TOKEN.fullmatch(token) is None:
            raise ValidationError("not a Vault token", hint="paste the output of `bao print token`")
        return self._person(token, via="token")

    def oidc_start(self, redirect_uri: str, client_nonce: str) -> str:
        """The provider's sign-in address, from Vault's OIDC auth method."""
        mount = self.settings.oidc_mount
        if not mount:
            raise NotFound("sign-in with OIDC is not offered here")
        url = self.vault.oidc_auth_url(mount, self.settings.oidc_role, redirect_uri, client_nonce)
        if not url.startswith(("https://", "http://")):
            raise AuthError("Vault gave no OIDC sign-in address",
                            hint=f"add {redirect_uri} to the OIDC role's allowed_redirect_uris")
        return url

    def oidc_finish(self, state: str, code: str, client_nonce: str) -> Person:
        """The person the provider sent back with ``state`` and ``code``, signed in by Vault."""
        mount = self.settings.oidc_mount
        if not mount:
            raise NotFound("sign-in with OIDC is not offered here")
        if _STATE.fullmatch(state) is None or _STATE.fullmatch(code) is None:
            raise ValidationError("the OIDC provider sent no sign-in back", hint="sign in again")
        token, _ = self.vault.oidc_callback(mount, state, code, client_nonce)
        return self._person(token, via="oidc")

    def _person(self, token: str, via: str) -> Person:
        who, ttl = self.identity.lookup(token)
        now = self.clock()
        ends = now + self.settings.session_max_age
        if ttl:
            ends = min(ends, now + timedelta(seconds=ttl))
        log.info("console.signed_in", actor=who.display_name, via=via)
        return Person(token=token, principal=who, expires_at=ends)

    def sign_out(self, token: str, name: str) -> None:
        """Revoke the person's token: the session it was sealed in can never act again, on any replica."""
        self.vault.revoke_self(token)
        log.info("console.signed_out", actor=name)
