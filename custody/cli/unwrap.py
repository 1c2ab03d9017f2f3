"""The requester's half of a reveal: check what the custody server handed out, then unwrap it in one's own Vault.

A reveal answers with a single-use wrapping token. Before the caller's Vault token goes anywhere with it:

1. the Vault the server names (``vault_addr``) must be the caller's own (``CUSTODY_VAULT_ADDR``, else
   ``VAULT_ADDR``/``BAO_ADDR``, else Vault's default): a server that names another Vault gets a refusal and is sent
   nothing, so a rogue server cannot collect tokens by pointing the CLI at a Vault of its own;
2. ``sys/wrapping/lookup`` in the caller's Vault (no token needed; it does not spend the wrapping token) must say
   the token wraps custody's reveal record of this very grant (``cubbyhole/reveals/<grant>``, where the service
   stages it; ``<mount>/data/reveals/<grant>`` from servers before that) and lives at most an hour: a token for
   anything else is left unspent.

Only then is it unwrapped, with the caller's token, so that Vault's audit log names who took the code.
"""

from __future__ import annotations

import re
from typing import Any

from custody.cli.client import Client, Vault
from custody.cli.common import grant_path
from custody.cli.settings import VaultAddr, vault_addr
from custody.domain.handout import code_of
from custody.errors import CustodyError
from custody.urls import same_server

MAX_WRAP_TTL = 3600  # seconds; custody wraps for CUSTODY_WRAP_TTL, 5 minutes by default
# One or more path segments, none of them "." or ".." (a mount may be nested: team/custody-kv/).
_MOUNT = r"(?:(?!\.\.?/)[A-Za-z0-9_.-]+/)+"


def check_named_vault(named: str, vault: VaultAddr) -> None:
    """The server's ``vault_addr`` (one address, or several nodes of one cluster, comma-separated) must include
    the caller's Vault; an empty one says nothing and passes."""
    addrs = [a.strip() for a in named.split(",") if a.strip()]
    if not addrs or any(same_server(a, vault.addr) for a in addrs):
        return
    shown = ", ".join(a[:80] for a in addrs[:3])
    raise CustodyError(
        f"the custody server says to unwrap the code in the Vault at {shown}, but your Vault is {vault.addr} "
        f"({vault.source}): refused, and your token was not sent there",
        hint=f"if {addrs[0][:80]} is your organisation's Vault, set CUSTODY_VAULT_ADDR to it and reveal again; "
             "if not, tell the security team: a custody server that names another Vault may be collecting tokens")


def check_wrapping(info: dict[str, Any] | None, grant_id: str, vault: VaultAddr) -> None:
    """``sys/wrapping/lookup``'s answer must describe custody's reveal of ``grant_id``, with a sane TTL."""
    if info is None:
        raise CustodyError(
            f"the wrapping token the custody server handed out is not valid in your Vault at {vault.addr} "
            f"({vault.source}); nothing was unwrapped",
            hint="it expired or was used already, or the server wraps in another Vault: if you did not unwrap it, "
                 "tell the security team now")
    path = str(info.get("creation_path") or "")
    if re.fullmatch(rf"{_MOUNT}reveals/{re.escape(grant_id)}", path) is None or path.startswith("sys/"):
        raise CustodyError(
            f"the wrapping token the custody server handed out does not hold grant {grant_id}'s code (it wraps "
            f"{path[:80] or 'an unnamed path'}); it was not unwrapped, and is not spent",
            hint="tell the security team: the custody server handed out a token for something else")
    ttl = info.get("creation_ttl")
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 < ttl <= MAX_WRAP_TTL:
        raise CustodyError(
            f"the wrapping token the custody server handed out lives {ttl!r} seconds (custody's live at most "
            f"{MAX_WRAP_TTL}); it was not unwrapped, and is not spent",
            hint="tell the security team: custody's wrapping tokens are short-lived (CUSTODY_WRAP_TTL)")


def take_code(api: Client, grant: str, again: bool = False) -> dict[str, Any]:
    """Reveal ``grant`` and unwrap its code: ``{"grant", "account", "code", "remaining"}``. ``again``: the last
    reveal's answer was lost (custody revokes the token it handed out, then hands out a new one)."""
    vault = vault_addr()  # a bad VAULT_ADDR is reported before the grant is used
    resp = api.call("POST", f"grants/{grant_path(grant)}/reveal", {"again": True} if again else None)
    data, wrap = resp.get("data") or {}, resp.get("wrap_info") or {}
    token = wrap.get("token")
    if not isinstance(token, str) or not token:
        raise CustodyError("the custody server's answer held no wrapping token", hint="tell the security team")
    check_named_vault(str(data.get("vault_addr") or ""), vault)
    own = Vault(vault, api.token)
    check_wrapping(own.lookup(token), grant, vault)
    code = code_of(own.unwrap(token))
    if not code:
        raise CustodyError("the unwrapped answer held no code", hint="tell the security team")
    return {"grant": data.get("grant", grant), "account": data.get("account"), "code": code,
            "remaining": data.get("remaining")}
