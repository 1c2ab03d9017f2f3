"""The audit summary's public, versioned schema (what ``--format json`` prints).

Changes that add fields keep ``SCHEMA_VERSION``; renaming or removing a field, or changing its meaning,
bumps it. docs/auditor-guide.md documents every field.

The types are msgspec Structs (frozen, unknown fields refused), which build and print many times faster than
validating models and import in a fraction of the time; ``model_dump``, ``model_validate``,
``model_validate_json`` and ``model_copy`` are there for callers that treat them as models.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

import msgspec

SCHEMA_VERSION = "1"


class _Model(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    def model_dump(self, mode: str = "json") -> dict[str, Any]:
        """The JSON-ready dict (enums as their values)."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out

    @classmethod
    def model_validate(cls, data: object) -> Self:
        return msgspec.convert(data, cls)

    @classmethod
    def model_validate_json(cls, text: str | bytes) -> Self:
        return msgspec.json.decode(text, type=cls)

    def model_copy(self, update: dict[str, Any] | None = None) -> Self:
        return msgspec.structs.replace(self, **(update or {}))


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


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
    APPROVAL_WITHOUT_IDENTITY = "approval_without_identity"


class UnwrapStatus(StrEnum):
    """What became of the wrapping token a reveal handed out."""

    BY_REQUESTER = "by_requester"
    LATE = "late"
    WRONG_PRINCIPAL = "wrong_principal"
    UNATTRIBUTED = "unattributed"
    NEVER = "never"
    OUTSTANDING = "outstanding"
    REVOKED_REISSUED = "revoked_reissued"  # revoked by the service, which handed the same code out again
    REVOKED_UNRECORDED = "revoked_unrecorded"  # revoked by the service, which could not record its hand-out


class Principal(_Model, frozen=True, kw_only=True):
    """Who acted: Vault identity entity id (may be empty, e.g. root) and token display name."""

    entity_id: str = ""
    display_name: str = ""


class Approval(_Model, frozen=True, kw_only=True):
    approver: str
    approver_entity: str = ""
    at: str = ""
    comment: str = ""


class Review(_Model, frozen=True, kw_only=True):
    """A decision recorded on a grant after the fact: the review of an emergency grant, or a denial."""

    by: str
    by_entity: str = ""
    at: str = ""
    comment: str = ""


class Unwrap(_Model, frozen=True, kw_only=True):
    """A call that took (or tried to take) what a wrapping token holds."""

    time: str
    principal: Principal
    ok: bool
    error: str = ""
    request_id: str
    remote_address: str = ""
    # sys/wrapping/unwrap; cubbyhole/response (read with the wrapping token itself); or sys/wrapping/rewrap (the
    # caller got a new wrapping token for the same code, followed in the unwraps)
    path: str = "sys/wrapping/unwrap"


class Reveal(_Model, frozen=True, kw_only=True):
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
    review: Review | None = None  # an emergency grant's review, when the logs read hold it
    drill: str = ""  # the recovery drill the grant was part of (``access request --drill``)


class Denial(_Model, frozen=True, kw_only=True):
    """A grant an approver denied: what was asked, and who said no, when and why."""

    time: str
    account: str
    grant_id: str
    requester: Principal
    reason: str
    ticket: str
    denied_by: Principal
    comment: str = ""


class Anomaly(_Model, frozen=True, kw_only=True):
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


class SetupWrite(_Model, frozen=True, kw_only=True):
    """A change of the custody mount recognised as what ``custody bootstrap`` does (not an anomaly)."""

    time: str
    principal: Principal
    path: str
    operation: str
    what: str
    request_id: str = ""


class Offender(_Model, frozen=True, kw_only=True):
    principal: Principal
    count: int  # at least this many (exact unless ``count_error`` says by how much it may be low)
    count_error: int = 0


class AnomalyGroup(_Model, frozen=True, kw_only=True):
    """Anomalies of one kind and severity past the number listed one by one: counted, never dropped."""

    kind: AnomalyKind
    severity: Severity
    total: int
    listed: int
    first_seen: str
    last_seen: str
    top_offenders: list[Offender]
    why: str = ""


class Unlisted(_Model, frozen=True, kw_only=True):
    """Principals and accounts past the number listed one by one: their figures, added up."""

    count: int  # distinct principals (or accounts) not listed
    count_more: bool = False  # there are more than ``count`` (counted one by one up to a bound)
    direct_accesses: int = 0
    access_denied: int = 0
    anomalies: int = 0


class NotListed(_Model, frozen=True, kw_only=True):
    """What the summary counts but does not list one by one, so that its size is bounded whatever the log."""

    anomalies: list[AnomalyGroup] = msgspec.field(default_factory=list)
    principals: Unlisted | None = None
    accounts: Unlisted | None = None


class Access(_Model, frozen=True, kw_only=True):
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


class AccountSummary(_Model, frozen=True, kw_only=True):
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
    reveals: list[Reveal] = msgspec.field(default_factory=list)


class PrincipalSummary(_Model, frozen=True, kw_only=True):
    principal: Principal
    other_names: list[str] = msgspec.field(default_factory=list)
    requested: list[str] = msgspec.field(default_factory=list)  # grant ids requested
    approved: list[str] = msgspec.field(default_factory=list)  # grant ids approved
    denied: list[str] = msgspec.field(default_factory=list)  # grant ids denied as approver
    revealed: list[str] = msgspec.field(default_factory=list)  # grant ids whose code was handed out
    reviewed: list[str] = msgspec.field(default_factory=list)  # emergency grant ids reviewed
    unwrapped: int = 0
    direct_accesses: int = 0
    access_denied: int = 0
    anomalies: int = 0


class InputStats(_Model, frozen=True, kw_only=True):
    files: list[str]
    lines_total: int
    # lines that mention the custody mount, or whose request path is a wrapping call (sys/wrapping/,
    # cubbyhole/response), raw storage (sys/raw) or a mount move (sys/remount)
    lines_custody: int
    lines_invalid: int
    entries_duplicate: int  # the same request.id and type seen again (rotated/cluster logs)
    first_entry: str = ""
    last_entry: str = ""


class Window(_Model, frozen=True, kw_only=True):
    since: str = ""
    until: str = ""


class Totals(_Model, frozen=True, kw_only=True):
    reveals: int
    requests: int
    approvals: int
    grants_denied: int
    access_denied: int
    deposits: int
    rotations: int
    direct_accesses: int
    anomalies: int


class Summary(_Model, frozen=True, kw_only=True):
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
    warnings: list[str] = msgspec.field(default_factory=list)
    denials: list[Denial] = msgspec.field(default_factory=list)
    setup: list[SetupWrite] = msgspec.field(default_factory=list)
    not_listed: NotListed = msgspec.field(default_factory=NotListed)
