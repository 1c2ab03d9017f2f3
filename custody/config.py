"""The server's settings, read from the environment (and an optional env file) with pydantic-settings.

Names follow Vault's own conventions where one exists (``VAULT_ADDR``/``BAO_ADDR``, ``VAULT_CACERT``), and are
prefixed ``CUSTODY_`` otherwise. Secrets (the AppRole secret_id) are ``SecretStr`` so they never print.

The command line's own settings (the caller's token, ``CUSTODY_ADDR``, the caller's Vault) are plain functions in
``custody.cli.settings``: a client command does not import pydantic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from custody.durations import parse_duration
from custody.errors import CustodyError, StoreError
from custody.logging import check_log_level
from custody.urls import valid_addr


def _duration(value: object) -> timedelta:
    """parse_duration, its errors turned into ValueError so pydantic reports which setting is wrong."""
    if not isinstance(value, str | int | timedelta):
        raise ValueError("not a duration")
    try:
        return parse_duration(value)
    except CustodyError as exc:
        raise ValueError(f"{exc.message} ({exc.hint})" if exc.hint else exc.message) from None
    except (OverflowError, TypeError) as exc:
        raise ValueError(f"not a duration ({exc})") from None


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.replace("\n", ",").split(",") if item.strip()]
    return value


# A Vault mount path or role name: segments of letters, digits, . _ -, never "." or "..".
_MOUNT = re.compile(r"(?!\.\.?(?:/|$))[A-Za-z0-9_.-]+(?:/(?!\.\.?(?:/|$))[A-Za-z0-9_.-]+)*")


@dataclass(frozen=True)
class ConsoleSettings:
    """The web console's settings (``CUSTODY_CONSOLE_*``): the key file that seals sessions, the public address,
    how a code is revealed, and which Vault auth methods people sign in with (an empty mount: not offered)."""

    key_file: Path | None = None
    url: str | None = None
    reveal: Literal["browser", "command"] = "browser"
    reveal_seconds: int = 60
    session_max_age: timedelta = timedelta(hours=8)
    userpass_mount: str = "userpass"
    ldap_mount: str = ""
    oidc_mount: str = ""
    oidc_role: str = ""
    token_signin: bool = True
    inventory_report: Path | None = None
    vault_addr: str = "http://127.0.0.1:8200"  # where people unwrap, for the command shown when reveals are off


_CONSOLE = ConsoleSettings()  # the defaults Settings' console_* fields take


class PolicySettings(BaseSettings):
    """Domain rules a deployment may tune. Defaults are the safe ones."""

    model_config = SettingsConfigDict(env_prefix="CUSTODY_", extra="ignore")

    reason_min_length: int = Field(20, ge=1, le=500)
    # Words or phrases that explain nothing in this deployment ("as discussed", "per ticket"), comma-separated, on
    # top of custody.domain.reasons.FILLER.
    reason_filler: Annotated[list[str], NoDecode, BeforeValidator(_split_list)] = []
    ticket_pattern: str | None = None
    grant_ttl: Duration = timedelta(hours=24)
    grant_max_ttl: Duration = timedelta(days=3)
    wrap_ttl: Duration = timedelta(minutes=5)
    rotation_min_remaining: int = Field(3, ge=0, le=8)
    rotation_max_age: Duration = timedelta(days=365)
    rotation_grace: Duration = timedelta(days=30)
    emergency_review_within: Duration = timedelta(hours=72)
    # What one requester may hold at once: open (pending or approved) grants on one account and in all, and
    # emergency grants nobody has reviewed yet. The bounds keep the record that counts them within Vault's limits.
    open_grants_per_account: int = Field(3, ge=1, le=100)
    open_grants_total: int = Field(20, ge=1, le=500)
    emergency_unreviewed_max: int = Field(1, ge=1, le=50)
    drill_target: Duration = timedelta(minutes=15)  # a recovery drill slower than this is flagged

    @field_validator("wrap_ttl")
    @classmethod
    def _short_lived(cls, value: timedelta) -> timedelta:
        # The CLI refuses to unwrap a wrapping token that lives longer (custody.cli.unwrap.MAX_WRAP_TTL).
        if not timedelta(seconds=1) <= value <= timedelta(hours=1):
            raise ValueError("a wrapping token must live between 1s and 1h")
        return value

    @field_validator("ticket_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value:
            try:
                re.compile(value)
            except (re.error, RecursionError, OverflowError) as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value or None


class ServerSettings(PolicySettings):
    """Everything ``custody serve`` needs."""

    model_config = SettingsConfigDict(env_prefix="CUSTODY_", env_file=None, extra="ignore")

    vault_addr: str = Field(
        "http://127.0.0.1:8200",
        validation_alias=AliasChoices("CUSTODY_VAULT_ADDR", "VAULT_ADDR", "BAO_ADDR"),
    )
    vault_cacert: Path | None = Field(
        None, validation_alias=AliasChoices("CUSTODY_VAULT_CACERT", "VAULT_CACERT", "BAO_CACERT")
    )
    vault_timeout: float = 10.0
    # Retries of one Vault call on transient errors (backoff 0.1s doubling to 2s): 6 rides out a Raft election.
    vault_retries: int = Field(6, ge=0, le=20)
    # ...and one call, retries included, ends within this many seconds (below the CLI's 30 s).
    vault_deadline: float = Field(20.0, gt=0, le=300)
    role_id: str = ""
    secret_id: SecretStr = SecretStr("")
    secret_id_file: Path | None = None
    approle_mount: str = "approle"
    kv_mount: str = "custody-kv"
    api_path: str = "custody"
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(8400, ge=0, le=65535)
    public_vault_addr: str | None = None
    log_format: Literal["json", "console"] = "json"
    log_level: Annotated[str, AfterValidator(check_log_level)] = "info"
    webhooks: Annotated[list[str], NoDecode, BeforeValidator(_split_list)] = []
    webhook_format: Literal["json", "slack"] = "json"
    audit_logs: Annotated[list[str], NoDecode, BeforeValidator(_split_list)] = []
    max_body_bytes: int = 64 * 1024
    # How long a token's identity (lookup-self) is remembered; never past the token's own expiry. The capability
    # check that refuses a revoked token is made on every request regardless. 0 asks lookup-self every time.
    caller_cache_seconds: float = Field(300.0, ge=0, le=3600)
    # Connections (custody.serving): the most open at once (kept below the open-files limit), how long a client has
    # to send a request once connected or once it starts its next one, how long a kept-alive connection may idle,
    # how long shutdown waits for requests in progress, then for queued webhook events.
    max_connections: int = Field(1000, ge=1, le=1_000_000)
    open_files: int = Field(0, ge=0, le=1 << 20)  # the file limit to set at start; 0: max_connections + a reserve
    header_read_timeout: float = Field(10.0, gt=0, le=300)
    keep_alive_timeout: float = Field(5.0, gt=0, le=300)
    shutdown_timeout: float = Field(10.0, gt=0, le=300)
    webhook_flush_timeout: float = Field(5.0, ge=0, le=300)
    # The web console at /ui/ (custody.console; docs/console.md). Off until a key file is named. The defaults are
    # ConsoleSettings' own, so the console run in-process and the one configured here start alike.
    console_key_file: Path | None = _CONSOLE.key_file
    console_url: str | None = _CONSOLE.url
    console_reveal: Literal["browser", "command"] = _CONSOLE.reveal
    console_reveal_seconds: int = Field(_CONSOLE.reveal_seconds, ge=5, le=900)
    console_session_max_age: Duration = _CONSOLE.session_max_age
    console_userpass_mount: str = _CONSOLE.userpass_mount
    console_ldap_mount: str = _CONSOLE.ldap_mount
    console_oidc_mount: str = _CONSOLE.oidc_mount
    console_oidc_role: str = _CONSOLE.oidc_role
    console_token_signin: bool = _CONSOLE.token_signin
    console_inventory_report: Path | None = _CONSOLE.inventory_report

    @field_validator("vault_addr", "public_vault_addr")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        # The service may name several nodes of one cluster, comma-separated; the public address is one URL.
        addrs = value.split(",") if info.field_name == "vault_addr" else [value]
        if not all(valid_addr(a.strip().rstrip("/")) for a in addrs):
            raise ValueError("not a valid URL (http(s)://host:port, or several separated by commas)")
        return value.strip()

    @field_validator("console_url")
    @classmethod
    def _console_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not valid_addr(value.strip().rstrip("/")):
            raise ValueError("not a valid URL (the console's address as people open it, e.g. "
                             "https://custody.example.com/ui/)")
        return value.strip().rstrip("/")

    @field_validator("console_userpass_mount", "console_ldap_mount", "console_oidc_mount", "console_oidc_role")
    @classmethod
    def _mount(cls, value: str) -> str:
        value = value.strip().strip("/")
        if value and _MOUNT.fullmatch(value) is None:
            raise ValueError("not a Vault mount path or role name (letters, digits, . _ - and /)")
        return value

    @field_validator("console_session_max_age")
    @classmethod
    def _session_age(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= timedelta(days=7):
            raise ValueError("a console session lasts between 1m and 7d")
        return value

    def console(self) -> ConsoleSettings:
        """The console's part of the settings."""
        return ConsoleSettings(
            key_file=self.console_key_file, url=self.console_url, reveal=self.console_reveal,
            reveal_seconds=self.console_reveal_seconds, session_max_age=self.console_session_max_age,
            userpass_mount=self.console_userpass_mount, ldap_mount=self.console_ldap_mount,
            oidc_mount=self.console_oidc_mount, oidc_role=self.console_oidc_role,
            token_signin=self.console_token_signin, inventory_report=self.console_inventory_report,
            vault_addr=self.public_vault_addr or self.vault_addr.split(",")[0].strip())

    def read_secret_id(self) -> SecretStr:
        """The AppRole secret_id, from a file (preferred: it can be rotated on disk) or the environment."""
        if self.secret_id_file:
            try:
                return SecretStr(self.secret_id_file.read_text().strip())
            except OSError as exc:
                raise StoreError(f"cannot read CUSTODY_SECRET_ID_FILE {self.secret_id_file}: {exc.strerror}",
                                 hint="check the file exists and the server may read it") from None
        return self.secret_id
