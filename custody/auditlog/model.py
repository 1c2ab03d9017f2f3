"""The audit summary's public, versioned schema (what ``--format json`` prints).
Changes that add fields keep ``SCHEMA_VERSION``; renaming or removing a field, or changing its meaning,
bumps it. docs/auditor-guide.md documents every field.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class AnomalyKind(StrEnum):
    DIRECT_ACCESS = "direct_access"
    PERMISSION_DENIED = "permission_denied"
    HANDOUT_WITHOUT_APPROVED_GRANT = "handout_without_approved_grant"
    UNWRAP_WRONG_PRINCIPAL = "unwrap_wrong_principal"
    UNWRAP_UNATTRIBUTED = "unwrap_unattributed"
    UNWRAP_LATE = "unwrap_late"
    UNWRAP_FAILED = "unwrap_failed"
    NEVER_UNWRAPPED = "never_unwrapped"
    EMERGENCY_UNREVIEWED = "emergency_unreviewed"
    MOUNT_ADMIN = "mount_admin"


class UnwrapStatus(StrEnum):
    """What became of the wrapping token a reveal handed out."""

    BY_REQUESTER = "by_requester"
    LATE = "late"
    WRONG_PRINCIPAL = "wrong_principal"
    UNATTRIBUTED = "unattributed"
    NEVER = "never"
    OUTSTANDING = "outstanding"


class Principal(_Model):
    """Who acted: Vault identity entity id (may be empty, e.g. root) and token display name."""

    entity_id: str = ""
    display_name: str = ""


class Approval(_Model):
    approver: str
    approver_entity: str = ""
    at: str = ""
    comment: str = ""


class Unwrap(_Model):
    """A call that took (or tried to take) what a wrapping token holds."""

    time: str
    principal: Principal
    ok: bool
    error: str = ""
    request_id: str
    remote_address: str = ""
    path: str = Field(
        default="sys/wrapping/unwrap",
        description="sys/wrapping/unwrap; cubbyhole/response (read with the wrapping token itself); or "
        "sys/wrapping/rewrap (the caller got a new wrapping token for the same code, followed in the unwraps)",
    )


class Reveal(_Model):
    """One code handed out: the service's wrapped read of ``reveals/<grant_id>``, joined with the grant."""

    time: str
    request_id: str
    account: str
    grant_id: str
    requester: Principal
    reason: str
    ticket: str
    emergency: bool
    approvers: list[Approval]
    grant_status_at_handout: str
    wrap_ttl_seconds: int
    unwrap_status: UnwrapStatus
    unwraps: list[Unwrap]


class Anomaly(_Model):
    kind: AnomalyKind
    severity: Severity
    time: str
    principal: Principal
    path: str
    operation: str = ""
    account: str = ""
    grant_id: str = ""
    request_id: str = ""
    remote_address: str = ""
    error: str = ""
    detail: str
    why: str


class Access(_Model):
    """One row of the CSV: an event on a code or on the custody mount (derived from reveals and anomalies)."""

    time: str
    kind: str
    account: str = ""
    grant_id: str = ""
    principal: Principal
    path: str = ""
    operation: str = ""
    outcome: str = ""
    reason: str = ""
    approvers: str = ""
    request_id: str


class AccountSummary(_Model):
    account: str
    owner: str = ""
    tier: str = ""
    approvals_required: int = 0
    requests: int = 0
    approvals: int = 0
    grants_denied: int = 0
    access_denied: int = 0
    deposits: int = 0
    rotations: int = 0
    codes_remaining: int | None = None
    reveals: list[Reveal] = Field(default_factory=list)


class PrincipalSummary(_Model):
    principal: Principal
    other_names: list[str] = Field(default_factory=list)
    requested: list[str] = Field(default_factory=list, description="grant ids requested")
    approved: list[str] = Field(default_factory=list, description="grant ids approved")
    denied: list[str] = Field(default_factory=list, description="grant ids denied as approver")
    revealed: list[str] = Field(default_factory=list, description="grant ids whose code was handed out")
    reviewed: list[str] = Field(default_factory=list, description="emergency grant ids reviewed")
    unwrapped: int = 0
    direct_accesses: int = 0
    access_denied: int = 0
    anomalies: int = 0


class InputStats(_Model):
    files: list[str]
    lines_total: int
    lines_custody: int = Field(
        description="lines that mention the custody mount, or whose request path is a wrapping call "
        "(sys/wrapping/, cubbyhole/response), raw storage (sys/raw) or a mount move (sys/remount)"
    )
    lines_invalid: int
    entries_duplicate: int = Field(description="the same request.id and type seen again (rotated/cluster logs)")
    first_entry: str = ""
    last_entry: str = ""


class Window(_Model):
    since: str = ""
    until: str = ""


class Totals(_Model):
    reveals: int
    requests: int
    approvals: int
    grants_denied: int
    access_denied: int
    deposits: int
    rotations: int
    direct_accesses: int
    anomalies: int


class Summary(_Model):
    schema_version: str = SCHEMA_VERSION
    mount: str
    service_role: str
    window: Window
    input: InputStats
    totals: Totals
    accounts: list[AccountSummary]
    principals: list[PrincipalSummary]
    reveals: list[Reveal]
    anomalies: list[Anomaly]
    warnings: list[str] = Field(default_factory=list)


M = TypeVar("M", bound=BaseModel)


def trusted(cls: type[M], **values: Any) -> M:
    """Build a model from values the correlator made itself (already of the right types), without validation.

    Same result as ``cls.model_construct(**values)`` when every field is given, about eight times faster; the
    summary of a log with tens of thousands of reveals builds a hundred thousand of these.
    """
    if not _FAST:
        return cls.model_construct(**values)
    m = cls.__new__(cls)
    # The values go through an instance of a plain class, whose __dict__ is a split dictionary sharing its keys
    # with every other instance of that class: half the memory of a dict of its own (the summary holds one
    # per reveal, unwrap, approval and anomaly, and is most of the memory on a log of custody traffic only).
    holder_cls = _HOLDERS.get(cls)
    if holder_cls is None:
        holder_cls = _HOLDERS[cls] = type(f"_{cls.__name__}Values", (), {})
    holder = holder_cls()
    for name, value in values.items():
        _set(holder, name, value)
    _set(m, "__dict__", holder.__dict__)
    # Every field is given, so every instance of a class has the same fields-set: share one (they are frozen
    # models; a set per instance was a third of the summary's memory).
    fields = _FIELDS_SET.get(cls)
    if fields is None or len(fields) != len(values):
        fields = _FIELDS_SET.setdefault(cls, set(values)) if len(values) == len(cls.model_fields) else set(values)
    _set(m, "__pydantic_fields_set__", fields)
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


_set = object.__setattr__
_FIELDS_SET: dict[type[BaseModel], set[str]] = {}
_HOLDERS: dict[type[BaseModel], type] = {}
_FAST = False
try:  # use the shortcut only if it gives what pydantic itself gives, in this pydantic version
    _probe = {"approver": "a", "approver_entity": "e", "at": "t", "comment": "c"}
    _FAST = True
    _FAST = trusted(Approval, **_probe) == Approval(**_probe) and trusted(Approval, **_probe).model_dump() == _probe
except Exception:  # pragma: no cover - a pydantic whose internals differ
    _FAST = False
