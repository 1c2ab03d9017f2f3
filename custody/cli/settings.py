"""What the command line reads from the environment, the way the Vault CLI reads it.

- the caller's Vault token: ``VAULT_TOKEN``, then ``BAO_TOKEN``, then ``~/.vault-token``;
- the custody server: ``CUSTODY_ADDR`` (default ``http://127.0.0.1:8400``);
- the caller's own Vault, where a reveal's wrapping token is checked and unwrapped: ``CUSTODY_VAULT_ADDR``, else
  ``VAULT_ADDR``/``BAO_ADDR``, else Vault's default ``https://127.0.0.1:8200``; its CA bundle from
  ``CUSTODY_VAULT_CACERT``, ``VAULT_CACERT`` or ``BAO_CACERT``;
- the CLI's own log level: ``CUSTODY_CLI_LOG_LEVEL`` (default ``warning``; logs go to stderr).

Plain functions over ``os.environ``, no pydantic and no HTTP library, so that ``custody --help`` and every client
command start fast. The server's settings are ``custody.config.ServerSettings``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from custody.errors import AuthError, ValidationError
from custody.logging import check_log_level
from custody.urls import valid_addr

DEFAULT_CUSTODY_ADDR = "http://127.0.0.1:8400"
DEFAULT_VAULT_ADDR = "https://127.0.0.1:8200"  # what the Vault and OpenBao CLIs use when VAULT_ADDR is unset
TOKEN_FILE = "~/.vault-token"

# What a token may hold: visible ASCII, the only characters an HTTP header carries unchanged.
_TOKEN = re.compile(r"[\x21-\x7e]+")


def valid_token(token: str) -> bool:
    return _TOKEN.fullmatch(token) is not None


def _checked_token(token: str, source: str) -> str:
    if not valid_token(token):  # never echo it: it may be a real token with a stray character
        raise AuthError(f"{source} is not a valid Vault token",
                        hint=f"it holds characters no Vault token has (spaces, control or non-ASCII); check {source}")
    return token


def client_token() -> str | None:
    """The caller's Vault token: VAULT_TOKEN, then BAO_TOKEN, then ~/.vault-token (Vault's own order).

    None when there is none anywhere. AuthError, naming where the token came from (never the token), when it could
    not go in an HTTP header, or when a variable is set but empty (``VAULT_TOKEN=$UNSET_VARIABLE``): that is a
    mistake worth naming, not a reason to fall back to a stale ``~/.vault-token``.
    """
    empty = None
    for name in ("VAULT_TOKEN", "BAO_TOKEN"):
        value = os.environ.get(name)
        if value is not None and value.strip():
            return _checked_token(value.strip(), name)
        if value is not None:
            empty = empty or name
    if empty:
        raise AuthError(f"{empty} is set but empty",
                        hint=f"export {empty}=<your Vault token> (is the variable you copied it from set?), or unset "
                             f"{empty} to use {'BAO_TOKEN or ' if empty == 'VAULT_TOKEN' else ''}{TOKEN_FILE}")
    return _token_file()


def _token_file() -> str | None:
    try:
        path = Path.home() / ".vault-token"
        if not path.is_file():
            return None
        raw = path.read_bytes()
    except (OSError, RuntimeError) as exc:  # RuntimeError: no home directory at all
        raise AuthError(f"cannot read {TOKEN_FILE}: {getattr(exc, 'strerror', None) or exc}",
                        hint="set VAULT_TOKEN, or fix the file's permissions") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AuthError(f"{TOKEN_FILE} is not a valid Vault token", hint=f"{TOKEN_FILE} is not UTF-8 text; run "
                        "`bao login` again, or set VAULT_TOKEN") from None
    return _checked_token(text.strip(), TOKEN_FILE) if text.strip() else None


def custody_addr() -> str:
    """CUSTODY_ADDR (default http://127.0.0.1:8400); ValidationError if it is not an http(s) URL."""
    addr = os.environ.get("CUSTODY_ADDR", "").strip().rstrip("/") or DEFAULT_CUSTODY_ADDR
    if not valid_addr(addr):
        raise ValidationError("CUSTODY_ADDR is not a valid URL (http(s)://host:port)",
                              hint="e.g. export CUSTODY_ADDR=https://custody.example.com:8400")
    return addr


class VaultAddr(NamedTuple):
    """The caller's own Vault, and the variables it came from (for messages)."""

    addr: str
    source: str
    cacert: str | None = None
    cacert_source: str = ""


def vault_addr() -> VaultAddr:
    """The caller's own Vault: CUSTODY_VAULT_ADDR, else VAULT_ADDR, else BAO_ADDR, else Vault's default."""
    addr, source = DEFAULT_VAULT_ADDR, "Vault's default address"
    for name in ("CUSTODY_VAULT_ADDR", "VAULT_ADDR", "BAO_ADDR"):
        if value := os.environ.get(name, "").strip():
            addr, source = value.rstrip("/"), name
            break
    if not valid_addr(addr):
        raise ValidationError(f"{source} is not a valid URL (http(s)://host:port)",
                              hint=f"set {source} to your Vault's address, e.g. https://vault.example.com:8200")
    for name in ("CUSTODY_VAULT_CACERT", "VAULT_CACERT", "BAO_CACERT"):
        if cacert := os.environ.get(name, "").strip():
            return VaultAddr(addr, source, cacert, name)
    return VaultAddr(addr, source)


def cli_log_level() -> str:
    """CUSTODY_CLI_LOG_LEVEL (default warning); ValidationError naming the variable if it is not a level."""
    try:
        return check_log_level(os.environ.get("CUSTODY_CLI_LOG_LEVEL") or "warning")
    except ValueError as exc:
        raise ValidationError(f"invalid CUSTODY_CLI_LOG_LEVEL: {exc}") from None
