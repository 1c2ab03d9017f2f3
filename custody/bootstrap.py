"""Set up a Vault/OpenBao for custody, idempotently: KV mount, audit tuning, policies, AppRoles.

``custody bootstrap`` runs this against a real Vault with an admin token; ``custody dev up`` runs the very same
steps against its embedded OpenBao, then adds demo users. ``plan()`` lists the steps without running them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from custody.errors import StoreError
from custody.records import NON_HMAC_KEYS

POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"
KV_MAX_VERSIONS = 20

# AppRoles and the policies their tokens carry. Token TTLs are short: the server logs in again on its own.
APPROLES: dict[str, dict[str, Any]] = {
    "custody-service": {"token_policies": ["custody-service"], "token_ttl": "1h", "token_max_ttl": "4h",
                        "secret_id_ttl": "0", "token_type": "service"},
    "custody-rotation": {"token_policies": ["custody-rotation"], "token_ttl": "15m", "token_max_ttl": "1h",
                         "secret_id_ttl": "0", "token_type": "service"},
}
# Identity groups whose members get a role's policy (production: add your people's entities to them).
GROUPS = {"custody-approvers": ["custody-approver"], "custody-security": ["custody-security"],
          "custody-auditors": ["custody-auditor"], "custody-requesters": ["custody-requester"],
          "custody-emergency": ["custody-requester", "custody-emergency"]}


def policies(mount: str = "custody-kv", directory: Path = POLICY_DIR) -> dict[str, str]:
    """The policy texts, with the KV mount name substituted when a deployment uses another one."""
    texts = {}
    for path in sorted(directory.glob("*.hcl")):
        text = path.read_text()
        if mount != "custody-kv":
            text = text.replace('"custody-kv/', f'"{mount}/')
        texts[path.stem] = text
    if not texts:
        raise StoreError(f"no policies found in {directory}")
    return texts


@dataclass
class Admin:
    """A thin admin client (root or an operator token) for bootstrap only."""

    addr: str
    token: str
    verify: bool | str = True
    session: requests.Session = field(default_factory=requests.Session)

    def __repr__(self) -> str:
        return f"Admin(addr={self.addr!r})"

    def call(self, method: str, path: str, json: Any = None, ok404: bool = False) -> dict[str, Any]:
        try:
            resp = self.session.request(method, f"{self.addr.rstrip('/')}/v1/{path}", json=json, timeout=15,
                                        headers={"X-Vault-Token": self.token}, verify=self.verify)
        except requests.RequestException:
            raise StoreError(f"Vault at {self.addr} is unreachable", hint="check --vault-addr") from None
        if resp.status_code == 404 and ok404:
            return {}
        if resp.status_code >= 400:
            errors = "; ".join(resp.json().get("errors", [])) if resp.content else ""
            raise StoreError(f"bootstrap step {method} {path} failed: HTTP {resp.status_code} {errors[:200]}",
                             hint="the token needs admin rights (sys/mounts, sys/policies, auth/approle)")
        return resp.json() if resp.content else {}


def plan(mount: str = "custody-kv") -> list[str]:
    steps = [
        f"enable KV v2 secrets engine at {mount}/ (if absent)",
        f"tune {mount}/: max_versions={KV_MAX_VERSIONS}, cas_required=true, "
        f"{len(NON_HMAC_KEYS)} non-secret fields readable in audit logs",
        *(f"write policy {name}" for name in policies(mount)),
        "enable AppRole auth at approle/ (if absent)",
        *(f"write AppRole {role} -> {', '.join(cfg['token_policies'])}" for role, cfg in APPROLES.items()),
        *(f"write identity group {g} -> {', '.join(p)}" for g, p in GROUPS.items()),
    ]
    return steps


def bootstrap(admin: Admin, mount: str = "custody-kv", new_secret_ids: bool = True) -> dict[str, Any]:
    """Run every step; safe to run again. Returns role ids (and fresh secret ids when asked)."""
    mounts = admin.call("GET", "sys/mounts").get("data", {})
    if f"{mount}/" not in mounts:
        admin.call("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "2"},
                                                   "description": "custody state (service only)"})
    admin.call("POST", f"sys/mounts/{mount}/tune", {
        "audit_non_hmac_request_keys": list(NON_HMAC_KEYS),
        "audit_non_hmac_response_keys": list(NON_HMAC_KEYS),
    })
    admin.call("POST", f"{mount}/config", {"max_versions": KV_MAX_VERSIONS, "cas_required": True})
    for name, text in policies(mount).items():
        admin.call("PUT", f"sys/policies/acl/{name}", {"policy": text})
    auths = admin.call("GET", "sys/auth").get("data", {})
    if "approle/" not in auths:
        admin.call("POST", "sys/auth/approle", {"type": "approle"})
    result: dict[str, Any] = {"mount": mount, "policies": sorted(policies(mount)), "approles": {}}
    for role, cfg in APPROLES.items():
        admin.call("POST", f"auth/approle/role/{role}", cfg)
        role_id = admin.call("GET", f"auth/approle/role/{role}/role-id")["data"]["role_id"]
        entry: dict[str, Any] = {"role_id": role_id}
        if new_secret_ids:
            entry["secret_id"] = admin.call("POST", f"auth/approle/role/{role}/secret-id")["data"]["secret_id"]
        result["approles"][role] = entry
    groups = {}
    for group, pols in GROUPS.items():
        existing = admin.call("GET", f"identity/group/name/{group}", ok404=True).get("data")
        member_ids = existing.get("member_entity_ids") or [] if existing else []
        admin.call("POST", f"identity/group/name/{group}", {"policies": pols, "type": "internal",
                                                            "member_entity_ids": member_ids})
        groups[group] = pols
    result["groups"] = groups
    return result


def add_group_member(admin: Admin, group: str, entity_id: str) -> None:
    data = admin.call("GET", f"identity/group/name/{group}")["data"]
    members = sorted({*(data.get("member_entity_ids") or []), entity_id})
    admin.call("POST", f"identity/group/name/{group}", {"member_entity_ids": members,
                                                        "policies": data.get("policies") or []})
