"""What each anomaly means (``WHY``), and what another token's call on the custody mount was: a recognised setup
write, a refusal, a mount change or a direct access (``classify_touch``). Pure functions of a fact and the mount."""

from __future__ import annotations

from collections.abc import Callable
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


# What an anomaly says in words, or how to say it: most anomalies of a large log are counted and never listed, so
# their words are written (the function called) only for those that may be.
Detail = str | Callable[[], str]


class Verdict(NamedTuple):
    """What a touch that is no setup step (``setup_step``) was: an anomaly of a kind and severity (None: the kind's
    own), and its detail."""

    kind: AnomalyKind
    severity: Severity | None
    detail: Detail


def _who(t: Touch) -> str:
    return t.who.name or t.who.entity or "a token with no identity"


def _error(t: Touch) -> str:
    return f"; error: {t.error.strip()}" if t.error else ""


def classify_touch(t: Touch, mount: str) -> Verdict:
    """Another token's call on the custody mount, its configuration or raw storage, judged (once ``setup_step``
    did not recognise it)."""
    if t.area == ADMIN:
        severity, detail = _admin_detail(t, mount)
        return Verdict(AnomalyKind.MOUNT_ADMIN, severity, detail)
    if t.area == MOUNT and "permission denied" not in t.error and norm_path(t.path) == f"{mount}/config":
        # The KV engine's settings, not a record: reading them shows no code (bootstrap reads them on every
        # run); changing them can turn off check-and-set or version limits.
        if t.operation == "read":
            return Verdict(AnomalyKind.MOUNT_ADMIN, Severity.LOW,
                           lambda: f"{_who(t)} read the custody mount's KV settings ({t.path}){_error(t)}")
        return Verdict(AnomalyKind.MOUNT_ADMIN, Severity.HIGH,
                       lambda: f"{_who(t)} ran {t.operation} on the custody mount's KV settings ({t.path}): "
                       f"check-and-set and version limits protect every code{_error(t)}")
    if "permission denied" in t.error:
        return Verdict(AnomalyKind.PERMISSION_DENIED, None,
                       lambda: f"{_who(t)} was refused {t.operation} on {t.path} by Vault policy")
    if t.area == RAW:
        return Verdict(AnomalyKind.DIRECT_ACCESS, Severity.CRITICAL,
                       lambda: f"{_who(t)} (policies {_policies(t)}) ran {t.operation} on {t.path}: raw storage, "
                       "below every mount and its policies, answers with what is stored in plain text (recovery "
                       "codes, under the custody mount's storage); the log does not say which mount a raw path "
                       f"belongs to: match the uuid after logical/ with `bao secrets list -detailed`{_error(t)}")
    return Verdict(AnomalyKind.DIRECT_ACCESS, Severity.CRITICAL if "root" in t.policies else None,
                   lambda: f"{_who(t)} (policies {_policies(t)}) ran {t.operation} on {t.path} directly, not through "
                   f"the custody service{_error(t)}")


def _policies(t: Touch) -> str:
    return ", ".join(t.policies) or "none"


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


def _admin_detail(t: Touch, mount: str) -> tuple[Severity | None, Detail]:
    """How bad a change of mount configuration is (None: the kind's own severity), and what it did."""
    path = norm_path(t.path)
    if t.error:  # refused or failed: nothing changed, but someone tried
        return None, lambda: f"{_who(t)} tried {t.operation} on {t.path}; error: {t.error.strip()}"
    if path == "sys/remount" or path.startswith("sys/remount/"):
        if t.note:  # from and to in clear (not HMAC'd)
            src, _, dst = t.note.removeprefix("from ").partition(" to ")
            ours = mount in (norm_path(src), norm_path(dst))
            return (Severity.HIGH if ours else None,
                    lambda: f"{_who(t)} moved the mount {src} to {dst} ({t.operation} on {t.path})")
        return Severity.HIGH, lambda: (
            f"{_who(t)} moved a mount ({t.operation} on {t.path}). Vault HMACs the request's from and to in the "
            f"audit log, so this may or may not be the custody mount {mount}: check that `bao secrets list` still "
            f"shows {mount}/, or hash '{mount}/' with sys/audit-hash and compare with request.data.from and .to"
        )
    if path.endswith("/tune"):
        return Severity.CRITICAL, lambda: (
            f"{_who(t)} tuned the custody mount ({t.operation} on {t.path}): a tune can add code or codes to "
            "audit_non_hmac_request_keys or audit_non_hmac_response_keys, so that recovery codes are written in "
            f"clear to the audit log, or change what the log shows; check `bao read sys/mounts/{mount}/tune`"
        )
    if t.operation == "delete":
        return Severity.HIGH, lambda: (
            f"{_who(t)} disabled the custody mount ({t.operation} on {t.path}): every code in it is deleted"
        )
    return None, lambda: f"{_who(t)} ran {t.operation} on {t.path}"
