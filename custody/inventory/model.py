"""What a scan finds: publish steps (``Finding``) and the things it could not tell or must shout about
(``ScanWarning``). Plain frozen dataclasses; their ``as_dict`` is the JSON contract of ``custody inventory scan``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

Method = Literal["trusted-publishing", "token", "unknown"]
Index = Literal["pypi", "testpypi", "other"]
CIPlatform = Literal["github", "gitlab"]


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}


class WarningKind(StrEnum):
    """One word per kind of problem, used by writers and readers alike."""

    LITERAL_CREDENTIAL = "literal credential"
    UNPARSABLE = "unparsable"
    REFUSED = "refused"  # too large, binary, a YAML bomb, too deep
    SYMLINK = "symlink outside the tree"
    UNREADABLE = "unreadable"
    REMOTE_WORKFLOW = "remote reusable workflow"
    REMOTE_INCLUDE = "remote include"
    UNRESOLVED = "unresolved"  # a local workflow or include that is missing, or a loop
    CREDENTIAL_UNKNOWN = "credential unknown"
    TP_MISCONFIGURED = "trusted publishing misconfigured"
    TP_REUSABLE = "trusted publishing from a reusable workflow"
    MATRIX = "matrix not expanded"
    PROJECT_UNKNOWN = "project unknown"
    UNCALLED_REUSABLE = "reusable workflow not called here"


@dataclass(frozen=True)
class ScanWarning:
    repo: str
    file: str
    line: int | None
    kind: WarningKind
    severity: Severity
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"repo": self.repo, "file": self.file, "line": self.line, "kind": self.kind.value,
                "severity": self.severity.value, "message": self.message}


@dataclass(frozen=True)
class Finding:
    """One publish step. ``secret`` is the *name* of the secret or variable holding the credential, never a value;
    ``credential`` says where the step takes it from (``with: password``, ``env: TWINE_PASSWORD``,
    ``flag: --token``, ``id-token``, ``none``)."""

    repo: str
    file: str
    line: int
    job: str
    tool: str
    method: Method
    index: Index
    secret: str | None
    project: str | None
    platform: CIPlatform
    credential: str
    id_token: bool
    literal: bool = False
    index_url: str | None = None
    via: str | None = None  # "file:line" of the workflow that calls this reusable workflow

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RepoInfo:
    repo: str
    path: str
    projects: tuple[str, ...]
    files: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"repo": self.repo, "path": self.path, "projects": list(self.projects), "files": list(self.files)}


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    repos: list[RepoInfo] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"findings": [f.as_dict() for f in self.findings], "repos": [r.as_dict() for r in self.repos],
                "warnings": [w.as_dict() for w in self.warnings]}
