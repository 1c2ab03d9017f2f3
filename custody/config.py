"""Settings, read from the environment (and an optional env file) with pydantic-settings.

Names follow Vault's own conventions where one exists (``VAULT_ADDR``/``BAO_ADDR``, ``VAULT_CACERT``), and are
prefixed ``CUSTODY_`` otherwise. Secrets (the AppRole secret_id) are ``SecretStr`` so they never print.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from custody.durations import parse_duration
from custody.errors import StoreError

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.replace("\n", ",").split(",") if item.strip()]
    return value


class PolicySettings(BaseSettings):
    """Domain rules a deployment may tune. Defaults are the safe ones."""

    model_config = SettingsConfigDict(env_prefix="CUSTODY_", extra="ignore")

    reason_min_length: int = Field(20, ge=1, le=500)
    ticket_pattern: str | None = None
    grant_ttl: Duration = timedelta(hours=24)
    grant_max_ttl: Duration = timedelta(days=3)
    wrap_ttl: Duration = timedelta(minutes=5)
    rotation_min_remaining: int = Field(3, ge=0, le=8)
    rotation_max_age: Duration = timedelta(days=365)
    rotation_grace: Duration = timedelta(days=30)
    emergency_review_within: Duration = timedelta(hours=72)

    @field_validator("ticket_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        import re

        if value:
            re.compile(value)
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
    log_level: str = "info"
    webhooks: Annotated[list[str], NoDecode, BeforeValidator(_split_list)] = []
    webhook_format: Literal["json", "slack"] = "json"
    audit_logs: Annotated[list[str], NoDecode, BeforeValidator(_split_list)] = []
    max_body_bytes: int = 64 * 1024
    # How long a token's identity (lookup-self) is remembered; never past the token's own expiry. The capability
    # check that refuses a revoked token is made on every request regardless. 0 asks lookup-self every time.
    caller_cache_seconds: float = Field(300.0, ge=0, le=3600)

    def read_secret_id(self) -> SecretStr:
        """The AppRole secret_id, from a file (preferred: it can be rotated on disk) or the environment."""
        if self.secret_id_file:
            try:
                return SecretStr(self.secret_id_file.read_text().strip())
            except OSError as exc:
                raise StoreError(f"cannot read CUSTODY_SECRET_ID_FILE {self.secret_id_file}: {exc.strerror}",
                                 hint="check the file exists and the server may read it") from None
        return self.secret_id


def client_token() -> str | None:
    """The caller's Vault token: VAULT_TOKEN, then BAO_TOKEN, then ~/.vault-token (Vault's own order)."""
    for name in ("VAULT_TOKEN", "BAO_TOKEN"):
        if os.environ.get(name):
            return os.environ[name].strip()
    path = Path.home() / ".vault-token"
    if path.is_file():
        return path.read_text().strip() or None
    return None


def custody_addr() -> str:
    return os.environ.get("CUSTODY_ADDR", "http://127.0.0.1:8400").rstrip("/")
