"""What each anomaly means (``WHY``), and what another token's call on the custody mount was: a recognised setup
write, a refusal, a mount change or a direct access (``classify_touch``). Pure functions of a fact and the mount."""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

from custody.auditlog.extract import norm_path
from custody.auditlog.facts import ADMIN, MOUNT, RAW, Touch
from custody.auditlog.model import AnomalyKind, Severity

WHY: dict[AnomalyKind, tuple[Severity, str]] = {
    AnomalyKind.DIRECT_ACCESS: (
        Severity.HIGH,
        "only the custody service's AppRole may touch the custody mount; any other token reaching it (or raw "
        "storage, sys/raw, which bypasses every mount) bypasses reasons, approvals and single use, and may have "
        "read recovery codes directly",
    ),
    AnomalyKind.PERMISSION_DENIED: (
        Severity.MEDIUM,
        "someone tried to do something on custody paths their policy does not allow: a mistake, a "
        "misconfigured role, or probing",
    ),
    AnomalyKind.HANDOUT_WITHOUT_APPROVED_GRANT: (
        Severity.CRITICAL,
        "a recovery code left the vault without an approved grant: the approval control was bypassed "
        "(service bug or compromise of the service's credentials)",
    ),
    AnomalyKind.UNWRAP_WRONG_PRINCIPAL: (
        Severity.CRITICAL,
        "the code was unwrapped by someone other than the requester: the wrapping token was intercepted or "
        "passed on, and that person now holds a recovery code",
    ),
    AnomalyKind.UNWRAP_UNATTRIBUTED: (
        Severity.HIGH,
        "the code was unwrapped with the wrapping token itself (sys/wrapping/unwrap or a read of "
        "cubbyhole/response), or by a token with no identity, so nobody can say who holds it; the custody CLI "
        "always unwraps with the requester's own token",
    ),
    AnomalyKind.UNWRAP_LATE: (
        Severity.MEDIUM,
        "the custody CLI unwraps at once; a late unwrap means the wrapping token sat somewhere (a terminal "
        "log, a chat) where others could have seen it",
    ),
    AnomalyKind.UNWRAP_FAILED: (
        Severity.HIGH,
        "an unwrap of a custody wrapping token failed: it was already used or expired. If the requester "
        "failed, someone else may have unwrapped the code first (the classic sign of interception)",
    ),
    AnomalyKind.NEVER_UNWRAPPED: (
        Severity.LOW,
        "a code was handed out but its wrapping token expired unused: the requester never got the code, or "
        "got it by another way; check with the requester",
    ),
    AnomalyKind.EMERGENCY_UNREVIEWED: (
        Severity.HIGH,
        "an emergency grant skipped approval and has not been reviewed afterwards, as break-glass use must be",
    ),
    AnomalyKind.MOUNT_ADMIN: (
        Severity.MEDIUM,
        "the custody mount's configuration changed, or a mount was moved: a tune can make the audit log show "
        "codes in clear or hide fields from it, disabling the mount deletes every code, and a moved mount "
        "puts the codes under a path nobody watches",
    ),
    AnomalyKind.APPROVAL_WITHOUT_IDENTITY: (
        Severity.HIGH,
        "a token without a Vault identity (an orphan token, known only by its accessor) approved: one person "
        "holding two such tokens counts as two approvers, so the approval rule may not have held; custody now "
        "refuses such tokens, and grants approved before that deserve a second look",
    ),
}


class Verdict(NamedTuple):
    """What a touch was: an anomaly (kind, severity, detail) or a setup step (kind None, detail = what it did)."""

    kind: AnomalyKind | None
    severity: Severity | None
    detail: str


def classify_touch(t: Touch, mount: str) -> Verdict:
    """Another token's call on the custody mount, its configuration or raw storage, judged."""
    who = t.who.name or t.who.entity or "a token with no identity"
    path = norm_path(t.path)
    step = setup_step(t, mount)
    if step:
        return Verdict(None, None, step)
    if t.area == ADMIN:
        detail, severity = _admin_detail(t, who, mount)
        return Verdict(AnomalyKind.MOUNT_ADMIN, severity, detail)
    error = f"; error: {t.error.strip()}" if t.error else ""
    if t.area == MOUNT and path == f"{mount}/config" and "permission denied" not in t.error:
        # The KV engine's settings, not a record: reading them shows no code (bootstrap reads them on every
        # run); changing them can turn off check-and-set or version limits.
        if t.operation == "read":
            return Verdict(AnomalyKind.MOUNT_ADMIN, Severity.LOW,
                           f"{who} read the custody mount's KV settings ({t.path}){error}")
        return Verdict(AnomalyKind.MOUNT_ADMIN, Severity.HIGH,
                       f"{who} ran {t.operation} on the custody mount's KV settings ({t.path}): check-and-set and "
                       f"version limits protect every code{error}")
    if "permission denied" in t.error:
        return Verdict(AnomalyKind.PERMISSION_DENIED, None,
                       f"{who} was refused {t.operation} on {t.path} by Vault policy")
    policies = ", ".join(t.policies) or "none"
    if t.area == RAW:
        return Verdict(AnomalyKind.DIRECT_ACCESS, Severity.CRITICAL,
                       f"{who} (policies {policies}) ran {t.operation} on {t.path}: raw storage, below every mount "
                       "and its policies, answers with what is stored in plain text (recovery codes, under the "
                       "custody mount's storage); the log does not say which mount a raw path belongs to: match "
                       f"the uuid after logical/ with `bao secrets list -detailed`{error}")
    return Verdict(AnomalyKind.DIRECT_ACCESS, Severity.CRITICAL if "root" in t.policies else None,
                   f"{who} (policies {policies}) ran {t.operation} on {t.path} directly, not through the custody "
                   f"service{error}")


@cache
def _setup_signatures(mount: str) -> dict[str, tuple[tuple[str, ...], str]]:
    """The writes ``custody bootstrap`` makes to the mount, by path: the request fields the log shows of each
    (see ``extract.request_fields``), and what it did, in words."""
    from custody.bootstrap import KV_CAS_REQUIRED, KV_MAX_VERSIONS
    from custody.repo.records import NON_HMAC_KEYS, SECRET_KEYS

    n = len(NON_HMAC_KEYS)
    cas = "true" if KV_CAS_REQUIRED else "false"
    return {
        f"sys/mounts/{mount}": (_MOUNT_CREATE, f"enabled the KV secrets engine at {mount}/"),
        f"sys/mounts/{mount}/tune": (
            ("=lists", f"audit_non_hmac_request_keys[{n}]", f"audit_non_hmac_response_keys[{n}]"),
            f"made {n} record field names readable in the audit log, one list for requests and responses (never "
            f"{', '.join(SECRET_KEYS)}: the log HMACs the names themselves, `bao read sys/mounts/{mount}/tune` "
            "shows them)",
        ),
        f"{mount}/config": (
            (f"cas_required={cas}", "delete_version_after", f"max_versions={KV_MAX_VERSIONS}"),
            f"set check-and-set on every write and {KV_MAX_VERSIONS} versions per record",
        ),
    }


_MOUNT_CREATE = ("description", "options.version", "type")


def _may_be_setup(fields: tuple[str, ...]) -> bool:
    """A cheap test before the signatures (and the modules holding their values) are loaded."""
    return len(fields) == 3 and (fields == _MOUNT_CREATE or fields[0] in ("=lists", "cas_required=true"))


def setup_step(t: Touch, mount: str) -> str:
    """What a write did if it is one ``custody bootstrap`` makes (same path, fields and values as far as the log
    shows them, and it succeeded); '' for anything else, which stays an anomaly at its own severity."""
    if t.error or t.operation not in ("update", "create") or t.area not in (ADMIN, MOUNT) or not t.fields:
        return ""
    if not _may_be_setup(t.fields):
        return ""
    sig = _setup_signatures(mount).get(norm_path(t.path))
    return sig[1] if sig is not None and sig[0] == t.fields else ""


def _admin_detail(t: Touch, who: str, mount: str) -> tuple[str, Severity | None]:
    """What a change of mount configuration did, and how bad it is (None: the kind's own severity)."""
    path = norm_path(t.path)
    did = f"{t.operation} on {t.path}"
    if t.error:  # refused or failed: nothing changed, but someone tried
        return f"{who} tried {did}; error: {t.error.strip()}", None
    if path == "sys/remount" or path.startswith("sys/remount/"):
        if t.note:  # from and to in clear (not HMAC'd)
            src, _, dst = t.note.removeprefix("from ").partition(" to ")
            ours = mount in (norm_path(src), norm_path(dst))
            return f"{who} moved the mount {src} to {dst} ({did})", Severity.HIGH if ours else None
        return (
            f"{who} moved a mount ({did}). Vault HMACs the request's from and to in the audit log, so this may or "
            f"may not be the custody mount {mount}: check that `bao secrets list` still shows {mount}/, or hash "
            f"'{mount}/' with sys/audit-hash and compare with request.data.from and .to",
            Severity.HIGH,
        )
    if path.endswith("/tune"):
        return (
            f"{who} tuned the custody mount ({did}): a tune can add code or codes to audit_non_hmac_request_keys "
            "or audit_non_hmac_response_keys, so that recovery codes are written in clear to the audit log, or "
            f"change what the log shows; check `bao read sys/mounts/{mount}/tune`",
            Severity.CRITICAL,
        )
    if t.operation == "delete":
        return f"{who} disabled the custody mount ({did}): every code in it is deleted", Severity.HIGH
    return f"{who} ran {did}", None
