"""Set up a Vault/OpenBao for custody, idempotently: KV mount, audit tuning, policies, AppRoles, identity groups.

``custody bootstrap`` runs this against a real Vault with an admin token; ``custody dev up`` runs the very same
steps against its embedded OpenBao, then adds demo users. ``terraform/modules/custody`` declares the same setup;
the constants below are the single source both are checked against (tests/unit/test_terraform_agreement.py).

How a run goes: read the current state (GETs only), work out the steps that would change something, check with
``sys/capabilities-self`` that the admin token may perform every one of them, and only then write. A token that
lacks a right therefore changes nothing, and ``dry_run`` stops after the reads.
"""

from __future__ import annotations

import ipaddress
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import httpx

from custody.durations import parse_duration
from custody.errors import PermissionDenied, StoreError, ValidationError
from custody.httpclient import client
from custody.repo.records import NON_HMAC_KEYS, SECRET_KEYS

# The policies ship inside the package (a wheel carries them); the repository's top-level policies/ is a link here.
POLICY_DIR = Path(__file__).resolve().parent / "policies"

# ---- the setup, as data (Terraform's module must agree with every value here) ----------------------------------
KV_MOUNT = "custody-kv"
KV_MAX_VERSIONS = 20  # a code set's history: enough to see past rotations, small enough to destroy on rotation
KV_CAS_REQUIRED = True  # every write must carry the version it read: replicas never lose an update
APPROLE_MOUNT = "approle"
POLICY_MOUNT_PLACEHOLDER = '"custody-kv/'  # how policies/*.hcl name the mount; replaced for another --mount


@dataclass(frozen=True)
class AppRole:
    """An AppRole and the tokens it hands out. TTLs are seconds (Vault's and Terraform's unit)."""

    name: str
    policies: tuple[str, ...]
    token_ttl: int
    token_max_ttl: int
    secret_id_ttl: int = 0  # 0: the secret_id does not expire; rotate it (docs/operations.md)
    secret_id_num_uses: int = 0
    token_type: str = "service"
    bound_cidrs: tuple[str, ...] = ()  # where the secret_id may be used from, and the token
    # Leave out Vault's `default` policy: the service's token needs none of it (sys/wrapping, token self-service;
    # custody-service itself grants the one cubbyhole path it stages a reveal in), and every policy a token carries
    # is evaluated on each of its requests.
    no_default_policy: bool = False

    def payload(self) -> dict[str, Any]:
        """The body of ``auth/approle/role/<name>``: what Vault stores and what a re-run compares."""
        return {
            "token_policies": list(self.policies),
            "token_ttl": self.token_ttl,
            "token_max_ttl": self.token_max_ttl,
            "token_type": self.token_type,
            "token_no_default_policy": self.no_default_policy,
            # No periodic tokens (a period outlives token_max_ttl), no explicit max TTL, no use counts: drift there
            # would weaken the token limits above, so a re-run puts them back.
            "token_period": 0,
            "token_explicit_max_ttl": 0,
            "token_num_uses": 0,
            "secret_id_ttl": self.secret_id_ttl,
            "secret_id_num_uses": self.secret_id_num_uses,
            "secret_id_bound_cidrs": list(self.bound_cidrs),
            "token_bound_cidrs": list(self.bound_cidrs),
            "bind_secret_id": True,
        }


# The server logs in again on its own before its token ends, so short token TTLs cost nothing.
# Its token carries custody-service alone: it never calls a custody API path, nor anything `default` allows.
SERVICE_ROLE = AppRole("custody-service", ("custody-service",), token_ttl=3600, token_max_ttl=4 * 3600,
                       no_default_policy=True)
# The rotation cron logs in, runs one sweep, and is done.
ROTATION_ROLE = AppRole("custody-rotation", ("custody-rotation",), token_ttl=900, token_max_ttl=3600)
APPROLES: dict[str, AppRole] = {r.name: r for r in (SERVICE_ROLE, ROTATION_ROLE)}

# Identity groups whose members get a role's policies. Production: add people's entities, or make your
# OIDC/LDAP external group a member group; bootstrap never touches a group's members.
GROUPS: dict[str, tuple[str, ...]] = {
    "custody-security": ("custody-security",),
    "custody-requesters": ("custody-requester",),
    "custody-emergency": ("custody-requester", "custody-emergency"),
    "custody-approvers": ("custody-approver",),
    "custody-auditors": ("custody-auditor",),
}


def policies(mount: str = KV_MOUNT, directory: Path = POLICY_DIR) -> dict[str, str]:
    """The policy texts, with the KV mount name substituted when a deployment uses another one."""
    texts = {}
    for path in sorted(directory.glob("*.hcl")):
        text = path.read_text()
        if mount != KV_MOUNT:
            text = text.replace(POLICY_MOUNT_PLACEHOLDER, f'"{mount}/')
        texts[path.stem] = text
    if not texts:
        raise StoreError(f"no policies found in {directory}")
    return texts


# ---- options -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Options:
    """What an operator may choose. Defaults give the setup ``custody dev up`` runs."""

    mount: str = KV_MOUNT
    approle_mount: str = APPROLE_MOUNT
    # None: keep what the role has in Vault (nothing, for a role this run creates). A re-run without the flags,
    # e.g. `--rotate-secret-ids`, must never unbind a role or make its secret_ids immortal.
    service_cidrs: tuple[str, ...] | None = None
    rotation_cidrs: tuple[str, ...] | None = None
    secret_id_ttl: int | None = None
    # which AppRoles get a fresh secret_id: only roles this run creates, every role, or none
    secret_ids: Literal["new", "all", "none"] = "new"

    def __post_init__(self) -> None:
        for cidr in (*(self.service_cidrs or ()), *(self.rotation_cidrs or ())):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValidationError(f"not a CIDR block: {cidr!r}", hint="e.g. 10.20.0.0/16 or 192.0.2.7/32") from None
        if not self.mount or "/" in self.mount.strip("/"):
            raise ValidationError(f"not a mount name: {self.mount!r}", hint="one path segment, e.g. custody-kv")

    def approles(self, have: Mapping[str, Mapping[str, Any] | None] | None = None) -> dict[str, AppRole]:
        """The roles to write; ``have``: each role as Vault has it now, whose bindings and TTL a run without those
        flags keeps."""
        cidrs = {SERVICE_ROLE.name: self.service_cidrs, ROTATION_ROLE.name: self.rotation_cidrs}
        roles = {}
        for name, role in APPROLES.items():
            current = (have or {}).get(name) or {}
            bound = cidrs[name]
            if bound is None:
                bound = tuple(current.get("secret_id_bound_cidrs") or ())
            ttl = self.secret_id_ttl if self.secret_id_ttl is not None else int(current.get("secret_id_ttl") or 0)
            roles[name] = replace(role, bound_cidrs=bound, secret_id_ttl=ttl)
        return roles


def ttl_seconds(text: str) -> int:
    """``"90d"`` -> seconds, for ``--secret-id-ttl``."""
    return int(parse_duration(text).total_seconds())


# ---- the admin client --------------------------------------------------------------------------------------------
@dataclass
class Admin:
    """A thin admin client (root or an operator token) for bootstrap only."""

    addr: str
    token: str
    verify: bool | str = True  # True: the public CAs (or REQUESTS_CA_BUNDLE); a path: that CA bundle
    http: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.http = client(self.verify, timeout=15)

    def __repr__(self) -> str:
        return f"Admin(addr={self.addr!r})"

    def call(self, method: str, path: str, json: Any = None, ok404: bool = False) -> dict[str, Any]:
        # A KV v2 mount just created (notably on Raft) refuses requests for a moment while it upgrades its
        # storage layout: wait that out here, once, for every caller.
        deadline = time.monotonic() + 30
        while True:
            resp = self._request(method, path, json)
            if resp.status_code < 400 or b"Upgrading from non-versioned" not in resp.content:
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        return self._answer(resp, method, path, ok404)

    def _request(self, method: str, path: str, json: Any) -> httpx.Response:
        try:
            return self.http.request(method, f"{self.addr.rstrip('/')}/v1/{path}", json=json,
                                     headers={"X-Vault-Token": self.token})
        except httpx.ConnectError as exc:
            if _tls_failure(exc):
                raise StoreError(f"TLS to Vault at {self.addr} failed (certificate not trusted)",
                                 hint="pass --ca-cert with the CA bundle that signed Vault's certificate") from None
            raise _unreachable(self.addr) from None
        except (httpx.HTTPError, httpx.InvalidURL):
            raise _unreachable(self.addr) from None

    def _answer(self, resp: httpx.Response, method: str, path: str, ok404: bool) -> dict[str, Any]:
        if resp.status_code == 404 and ok404:
            return {}
        if resp.status_code >= 400:
            try:
                errors = "; ".join(resp.json().get("errors", []))
            except ValueError:
                errors = resp.text[:200]
            if resp.status_code == 403:
                raise PermissionDenied(f"Vault refused {method} {path}: {errors[:200] or 'permission denied'}",
                                       hint="use an admin token (VAULT_TOKEN) that may manage sys/mounts, "
                                            "sys/policies/acl, sys/auth, auth/approle and identity/group")
            raise StoreError(f"bootstrap step {method} {path} failed: HTTP {resp.status_code} {errors[:200]}",
                             hint="fix the cause and run again: bootstrap is idempotent")
        return resp.json() if resp.content else {}


def _tls_failure(exc: BaseException) -> bool:
    """Whether an httpx error was caused by TLS (httpx keeps the ssl error in the chain of causes)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _unreachable(addr: str) -> StoreError:
    return StoreError(f"Vault at {addr} is unreachable",
                      hint="check --vault-addr (scheme, host and port) and that Vault is running")


# ---- steps -------------------------------------------------------------------------------------------------------
Action = Literal["create", "update", "unchanged"]


@dataclass
class Step:
    """One thing bootstrap makes true. ``needs`` are the (path, capabilities) the write requires."""

    what: str
    action: Action
    run: Callable[[], None] = field(repr=False)
    needs: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def view(self) -> dict[str, str]:
        return {"step": self.what, "action": self.action}


def _action(exists: bool, same: bool) -> Action:
    return "unchanged" if exists and same else "update" if exists else "create"


def _differs(want: dict[str, Any], have: dict[str, Any]) -> bool:
    def norm(v: Any) -> Any:
        return sorted(v) if isinstance(v, list) else v

    return any(norm(have.get(k) if have.get(k) is not None else ([] if isinstance(v, list) else None)) != norm(v)
               for k, v in want.items())


def _write(admin: Admin, method: str, path: str, body: dict[str, Any]) -> Callable[[], None]:
    def run() -> None:
        admin.call(method, path, body)

    return run


def mount_steps(admin: Admin, opts: Options) -> list[Step]:
    mount = opts.mount
    existing = admin.call("GET", "sys/mounts").get("data", {}).get(f"{mount}/")
    if existing and (existing.get("type") != "kv" or (existing.get("options") or {}).get("version") != "2"):
        raise ValidationError(f"{mount}/ is already mounted as {existing.get('type')} "
                              f"(version {(existing.get('options') or {}).get('version', '1')}), not KV v2",
                              hint="choose another --mount, or move that secrets engine away")
    steps = [Step(f"enable KV v2 secrets engine at {mount}/", "unchanged" if existing else "create",
                  _write(admin, "POST", f"sys/mounts/{mount}",
                         {"type": "kv", "options": {"version": "2"}, "description": "custody state (service only)"}),
                  ((f"sys/mounts/{mount}", ("update", "create")),))]
    tune = admin.call("GET", f"sys/mounts/{mount}/tune").get("data", {}) if existing else {}
    want_tune = {"audit_non_hmac_request_keys": list(NON_HMAC_KEYS),
                 "audit_non_hmac_response_keys": list(NON_HMAC_KEYS)}
    steps.append(Step(f"tune {mount}/: {len(NON_HMAC_KEYS)} non-secret fields readable in audit logs "
                      f"(never {', '.join(SECRET_KEYS)})", _action(bool(existing), not _differs(want_tune, tune)),
                      _write(admin, "POST", f"sys/mounts/{mount}/tune", want_tune),
                      ((f"sys/mounts/{mount}/tune", ("update",)),)))
    config = admin.call("GET", f"{mount}/config").get("data", {}) if existing else {}
    # delete_version_after would delete code sets on a timer: the sweep would see none, reveals would find none.
    want_config = {"max_versions": KV_MAX_VERSIONS, "cas_required": KV_CAS_REQUIRED, "delete_version_after": "0s"}
    cas = str(KV_CAS_REQUIRED).lower()
    steps.append(Step(f"configure {mount}/: max_versions={KV_MAX_VERSIONS}, cas_required={cas}",
                      _action(bool(existing), not _differs(want_config, config)),
                      _write(admin, "POST", f"{mount}/config", want_config),
                      ((f"{mount}/config", ("update", "create")),)))
    return steps


def policy_steps(admin: Admin, opts: Options) -> list[Step]:
    steps = []
    for name, text in policies(opts.mount).items():
        have = admin.call("GET", f"sys/policies/acl/{name}", ok404=True).get("data") or {}
        action = _action(bool(have), str(have.get("policy", "")).strip() == text.strip())
        steps.append(Step(f"write policy {name}", action,
                          _write(admin, "PUT", f"sys/policies/acl/{name}", {"policy": text}),
                          ((f"sys/policies/acl/{name}", ("update", "create")),)))
    return steps


def auth_steps(admin: Admin, opts: Options) -> list[Step]:
    mount = opts.approle_mount
    existing = admin.call("GET", "sys/auth").get("data", {}).get(f"{mount}/")
    if existing and existing.get("type") != "approle":
        raise ValidationError(f"auth/{mount}/ is already a {existing.get('type')} auth method, not AppRole",
                              hint="pick another AppRole mount path")
    steps = [Step(f"enable AppRole auth at auth/{mount}/", "unchanged" if existing else "create",
                  _write(admin, "POST", f"sys/auth/{mount}", {"type": "approle"}),
                  ((f"sys/auth/{mount}", ("sudo",)),))]
    current = {name: admin.call("GET", f"auth/{mount}/role/{name}", ok404=True).get("data") if existing else None
               for name in APPROLES}
    for name, role in opts.approles(current).items():
        path = f"auth/{mount}/role/{name}"
        have = current[name]
        want = role.payload()
        cidrs = ", ".join(role.bound_cidrs) or "any address"
        steps.append(Step(f"write AppRole {name} -> {', '.join(role.policies)} (token ttl {role.token_ttl}s, "
                          f"secret_id ttl {role.secret_id_ttl or 'none'}, from {cidrs})",
                          _action(bool(have), bool(have) and not _differs(want, have or {})),
                          _write(admin, "POST", path, want), ((path, ("update", "create")),)))
    return steps


def group_steps(admin: Admin) -> list[Step]:
    steps = []
    for group, pols in GROUPS.items():
        path = f"identity/group/name/{group}"
        have = admin.call("GET", path, ok404=True).get("data")
        # Only policies are ours to set: members (entities, member groups) belong to the operator.
        body: dict[str, Any] = {"policies": list(pols)}
        if not have:
            body["type"] = "internal"
        steps.append(Step(f"write identity group {group} -> {', '.join(pols)}",
                          _action(bool(have), bool(have) and not _differs({"policies": list(pols)}, have or {})),
                          _write(admin, "POST", path, body), ((path, ("update", "create")),)))
    return steps


def steps(admin: Admin, opts: Options) -> list[Step]:
    """Everything bootstrap would do, from the current state (reads only)."""
    return [*mount_steps(admin, opts), *policy_steps(admin, opts), *auth_steps(admin, opts), *group_steps(admin)]


def preflight(admin: Admin, todo: Sequence[Step]) -> None:
    """Refuse before the first write when the admin token lacks a right any pending step needs."""
    paths = sorted({path for step in todo for path, _ in step.needs})
    if not paths:
        return
    caps = admin.call("POST", "sys/capabilities-self", {"paths": paths})
    caps = caps.get("data", caps)
    missing = []
    for step in todo:
        for path, wanted in step.needs:
            have = set(caps.get(path) or [])
            if "root" in have or ("deny" not in have and have & set(wanted)):
                continue
            missing.append(f"{'/'.join(wanted)} on {path}")
    if missing:
        raise PermissionDenied(f"the admin token may not: {'; '.join(missing[:6])}"
                               + (f" (and {len(missing) - 6} more)" if len(missing) > 6 else "")
                               + "; nothing was changed",
                               hint="use a token with an admin policy for these paths (or the root token)")


def plan(mount: str = KV_MOUNT) -> list[str]:
    """The steps, without looking at any Vault (``--dry-run`` without a token)."""
    opts = Options(mount=mount)
    return [
        f"enable KV v2 secrets engine at {mount}/ (if absent)",
        f"tune {mount}/: {len(NON_HMAC_KEYS)} non-secret fields readable in audit logs "
        f"(never {', '.join(SECRET_KEYS)})",
        f"configure {mount}/: max_versions={KV_MAX_VERSIONS}, cas_required={str(KV_CAS_REQUIRED).lower()}",
        *(f"write policy {name}" for name in policies(mount)),
        f"enable AppRole auth at auth/{opts.approle_mount}/ (if absent)",
        *(f"write AppRole {name} -> {', '.join(role.policies)}" for name, role in opts.approles().items()),
        *(f"write identity group {g} -> {', '.join(p)}" for g, p in GROUPS.items()),
    ]


def bootstrap(admin: Admin, mount: str = KV_MOUNT, new_secret_ids: bool | None = None,
              options: Options | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Make the Vault match the setup; safe to run again.

    Returns what changed, the AppRoles' role ids and, for the roles given one, a fresh secret_id (``new_secret_ids``:
    None mints one for roles this run creates, True for every role, False for none). ``dry_run`` reports the steps
    and changes nothing.
    """
    opts = options or Options(mount=mount)
    if new_secret_ids is not None:
        opts = replace(opts, secret_ids="all" if new_secret_ids else "none")
    todo = steps(admin, opts)
    pending = [s for s in todo if s.action != "unchanged"]
    result: dict[str, Any] = {"vault_addr": admin.addr, "mount": opts.mount, "dry_run": dry_run,
                              "changes": [s.view() for s in todo], "changed": len(pending),
                              "policies": sorted(policies(opts.mount)),
                              "groups": {g: list(p) for g, p in GROUPS.items()}, "approles": {}}
    if dry_run:
        return result
    preflight(admin, pending)
    for step in pending:
        step.run()
    created = {name for name in APPROLES if any(s.action == "create" and f"AppRole {name} " in s.what for s in todo)}
    for name in APPROLES:
        base = f"auth/{opts.approle_mount}/role/{name}"
        entry: dict[str, Any] = {"role_id": admin.call("GET", f"{base}/role-id")["data"]["role_id"]}
        if opts.secret_ids == "all" or (opts.secret_ids == "new" and name in created):
            minted = admin.call("POST", f"{base}/secret-id")["data"]
            entry |= {"secret_id": minted["secret_id"], "secret_id_accessor": minted["secret_id_accessor"]}
        result["approles"][name] = entry
    return result


def add_group_member(admin: Admin, group: str, entity_id: str) -> None:
    """Add one entity to a custody group, keeping the members it has."""
    data = admin.call("GET", f"identity/group/name/{group}")["data"]
    members = sorted({*(data.get("member_entity_ids") or []), entity_id})
    admin.call("POST", f"identity/group/name/{group}", {"member_entity_ids": members})
