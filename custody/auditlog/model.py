"""The audit summary's public, versioned schema (what ``--format json`` prints).

Changes that add fields keep ``SCHEMA_VERSION``; renaming or removing a field, or changing its meaning,
bumps it. docs/auditor-guide.md documents every field.

The types are msgspec Structs (frozen, unknown fields refused), which build and print many times faster than
validating models and import in a fraction of the time; ``model_dump``, ``model_validate``,
``model_validate_json`` and ``model_copy`` are there for callers that treat them as models.

Each type declares its fields in name order: the JSON has its keys sorted, and the encoder writes them in the
order declared (a unit test checks).
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

    display_name: str = ""
    entity_id: str = ""


class Approval(_Model, frozen=True, kw_only=True):
    approver: str
    approver_entity: str = ""
    at: str = ""
    comment: str = ""


class Review(_Model, frozen=True, kw_only=True):
    """A decision recorded on a grant after the fact: the review of an emergency grant, or a denial."""

    at: str = ""
    by: str
    by_entity: str = ""
    comment: str = ""


class Unwrap(_Model, frozen=True, kw_only=True):
    """A call that took (or tried to take) what a wrapping token holds."""

    error: str = ""
    ok: bool
    # sys/wrapping/unwrap; cubbyhole/response (read with the wrapping token itself); or sys/wrapping/rewrap (the
    # caller got a new wrapping token for the same code, followed in the unwraps)
    path: str = "sys/wrapping/unwrap"
    principal: Principal
    remote_address: str = ""
    request_id: str
    time: str


class Reveal(_Model, frozen=True, kw_only=True):
    """One code handed out: the service's wrapped read of ``reveals/<grant_id>``, joined with the grant."""

    account: str
    approvers: list[Approval]
    drill: str = ""  # the recovery drill the grant was part of (``access request --drill``)
    emergency: bool
    grant_id: str
    grant_status_at_handout: str
    reason: str
    request_id: str
    requester: Principal
    review: Review | None = None  # an emergency grant's review, when the logs read hold it
    ticket: str
    time: str
    unwrap_status: UnwrapStatus
    unwraps: list[Unwrap]
    wrap_ttl_seconds: int


class Denial(_Model, frozen=True, kw_only=True):
    """A grant an approver denied: what was asked, and who said no, when and why."""

    account: str
    comment: str = ""
    denied_by: Principal
    grant_id: str
    reason: str
    requester: Principal
    ticket: str
    time: str


class Anomaly(_Model, frozen=True, kw_only=True):
    account: str = ""
    detail: str
    error: str = ""
    grant_id: str = ""
    kind: AnomalyKind
    operation: str = ""
    path: str
    principal: Principal
    remote_address: str = ""
    request_id: str = ""
    severity: Severity
    time: str
    why: str


class SetupWrite(_Model, frozen=True, kw_only=True):
    """A change of the custody mount recognised as what ``custody bootstrap`` does (not an anomaly)."""

    operation: str
    path: str
    principal: Principal
    request_id: str = ""
    time: str
    what: str


class Offender(_Model, frozen=True, kw_only=True):
    count: int  # at least this many (exact unless ``count_error`` says by how much it may be low)
    count_error: int = 0
    principal: Principal


class AnomalyGroup(_Model, frozen=True, kw_only=True):
    """Anomalies of one kind and severity past the number listed one by one: counted, never dropped."""

    first_seen: str
    kind: AnomalyKind
    last_seen: str
    listed: int
    severity: Severity
    top_offenders: list[Offender]
    total: int
    why: str = ""


class Unlisted(_Model, frozen=True, kw_only=True):
    """Principals and accounts past the number listed one by one: their figures, added up."""

    access_denied: int = 0
    anomalies: int = 0
    count: int  # distinct principals (or accounts) not listed
    count_more: bool = False  # there are more than ``count`` (counted one by one up to a bound)
    direct_accesses: int = 0


class NotListed(_Model, frozen=True, kw_only=True):
    """What the summary counts but does not list one by one, so that its size is bounded whatever the log."""

    accounts: Unlisted | None = None
    anomalies: list[AnomalyGroup] = msgspec.field(default_factory=list)
    principals: Unlisted | None = None


class Access(_Model, frozen=True, kw_only=True):
    """One row of the CSV: an event on a code or on the custody mount (derived from reveals and anomalies)."""

    account: str = ""
    approvers: str = ""
    grant_id: str = ""
    kind: str
    operation: str = ""
    outcome: str = ""
    path: str = ""
    principal: Principal
    reason: str = ""
    request_id: str
    time: str


class AccountSummary(_Model, frozen=True, kw_only=True):
    access_denied: int = 0
    account: str
    approvals: int = 0
    approvals_required: int = 0
    codes_remaining: int | None = None
    deposits: int = 0
    grants_denied: int = 0
    owner: str = ""
    requests: int = 0
    reveals: list[Reveal] = msgspec.field(default_factory=list)
    rotations: int = 0
    tier: str = ""


class PrincipalSummary(_Model, frozen=True, kw_only=True):
    access_denied: int = 0
    anomalies: int = 0
    approved: list[str] = msgspec.field(default_factory=list)  # grant ids approved
    denied: list[str] = msgspec.field(default_factory=list)  # grant ids denied as approver
    direct_accesses: int = 0
    other_names: list[str] = msgspec.field(default_factory=list)
    principal: Principal
    requested: list[str] = msgspec.field(default_factory=list)  # grant ids requested
    revealed: list[str] = msgspec.field(default_factory=list)  # grant ids whose code was handed out
    reviewed: list[str] = msgspec.field(default_factory=list)  # emergency grant ids reviewed
    unwrapped: int = 0


class InputStats(_Model, frozen=True, kw_only=True):
    entries_duplicate: int  # the same request.id and type seen again (rotated/cluster logs)
    files: list[str]
    first_entry: str = ""
    last_entry: str = ""
    # lines that mention the custody mount, or whose request path is a wrapping call (sys/wrapping/,
    # cubbyhole/response), raw storage (sys/raw) or a mount move (sys/remount)
    lines_custody: int
    lines_invalid: int
    lines_total: int


class Window(_Model, frozen=True, kw_only=True):
    since: str = ""
    until: str = ""


class Totals(_Model, frozen=True, kw_only=True):
    access_denied: int
    anomalies: int
    approvals: int
    deposits: int
    direct_accesses: int
    grants_denied: int
    requests: int
    reveals: int
    rotations: int


class Summary(_Model, frozen=True, kw_only=True):
    accounts: list[AccountSummary]
    anomalies: list[Anomaly]
    denials: list[Denial] = msgspec.field(default_factory=list)
    input: InputStats
    mount: str
    not_listed: NotListed = msgspec.field(default_factory=NotListed)
    principals: list[PrincipalSummary]
    reveals: list[Reveal]
    schema_version: str = SCHEMA_VERSION
    service_role: str
    setup: list[SetupWrite] = msgspec.field(default_factory=list)
    totals: Totals
    warnings: list[str] = msgspec.field(default_factory=list)
    window: Window
