"""The join: publish steps from the scan, ownership from PyPI, custody's accounts; and the flags, each with its
evidence. Pure: everything it needs is passed in.

Flags: ``long-lived-token``, ``tp-misconfigured``, ``literal-credential``, ``single-owner``, ``personal-only``,
``no-custody``, ``unpublished-here``, ``unknown-project``, ``service-without-human-owner``,
``personal-owns-critical``. A flag that needs something nobody recorded (an account's ownership class, or custody
itself when it was not consulted) is reported as *undetermined*, saying what is missing, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from custody.inventory.custody_view import Held
from custody.inventory.model import SEVERITY_RANK, Finding, ScanWarning, Severity, WarningKind
from custody.inventory.projects import normalize
from custody.inventory.pypi import TEAM_ROLES_NOTE, Ownership

Subject = Literal["project", "account", "repository", "step"]
NOT_CONSULTED = "custody not consulted (set CUSTODY_ADDR and VAULT_TOKEN to include it)"
NOT_RECORDED = "ownership not recorded"
UNKNOWN = "(unknown project)"


@dataclass(frozen=True)
class Flag:
    flag: str
    severity: Severity
    subject: str
    subject_kind: Subject
    evidence: tuple[str, ...]
    determined: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"flag": self.flag, "severity": self.severity.value, "subject": self.subject,
                "subject_kind": self.subject_kind, "determined": self.determined, "evidence": list(self.evidence)}


@dataclass
class Inputs:
    findings: list[Finding]
    warnings: list[ScanWarning]
    projects: list[Ownership]
    custody: dict[str, Held] | None  # None: not consulted
    critical: frozenset[str] = frozenset()  # normalized names of projects named critical
    repos: int = 0
    notes: list[str] = field(default_factory=list)


def where(f: Finding | ScanWarning) -> str:
    return f"{f.repo}/{f.file}:{f.line}" if f.line else f"{f.repo}/{f.file}"


def _by_project(inputs: Inputs) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in inputs.findings:
        out.setdefault(normalize(f.project) if f.project else UNKNOWN, []).append(f)
    return out


def _project_of(inputs: Inputs, w: ScanWarning) -> tuple[str, Subject]:
    match = next((f for f in inputs.findings if (f.repo, f.file, f.line) == (w.repo, w.file, w.line)), None)
    if match is not None and match.project:
        return match.project, "project"
    return w.repo, "repository"


def step_flags(inputs: Inputs) -> list[Flag]:
    """long-lived-token and unknown-project from findings; tp-misconfigured and literal-credential from warnings."""
    out: list[Flag] = []
    for key, found in sorted(_by_project(inputs).items()):
        tokens = [f for f in found if f.method == "token" and f.index in ("pypi", "testpypi")]
        if tokens and key != UNKNOWN:
            out.append(Flag("long-lived-token", Severity.HIGH, tokens[0].project or key, "project", tuple(
                f"{where(f)} job {f.job}: {f.tool} uploads to {f.index} with "
                f"{'a literal credential' if f.literal else f.secret} ({f.credential}); Trusted Publishing would "
                "work here" for f in tokens)))
    for f in (f for f in inputs.findings if f.project is None):
        out.append(Flag("unknown-project", Severity.MEDIUM, where(f), "step",
                        (f"job {f.job}: {f.tool} to {f.index}; which project it uploads cannot be told",)))
    grouped: dict[tuple[str, str, Subject], list[str]] = {}
    for w in inputs.warnings:
        name = {WarningKind.TP_MISCONFIGURED: "tp-misconfigured", WarningKind.TP_REUSABLE: "tp-misconfigured",
                WarningKind.LITERAL_CREDENTIAL: "literal-credential"}.get(w.kind)
        if name:
            subject, kind = _project_of(inputs, w)
            grouped.setdefault((name, subject, kind), []).append(f"{where(w)}: {w.message}")
    for (name, subject, kind), evidence in grouped.items():
        sev = Severity.CRITICAL if name == "literal-credential" else Severity.HIGH
        out.append(Flag(name, sev, subject, kind, tuple(evidence)))
    return out


def _classes(inputs: Inputs, users: Iterable[str]) -> dict[str, str | None]:
    """Each account's ownership class, None where custody has none recorded."""
    held = inputs.custody or {}
    return {u: (held[f"pypi/{u}".lower()].ownership if f"pypi/{u}".lower() in held else None) for u in users}


def _missing(classes: dict[str, str | None]) -> str:
    return f"{NOT_RECORDED} for " + ", ".join(f"pypi/{u}" for u, c in classes.items() if c is None)


def ownership_flags(inputs: Inputs) -> list[Flag]:
    out: list[Flag] = []
    for p in inputs.projects:
        if p.owners is None:
            continue
        if len(p.owners) == 1:
            out.append(Flag("single-owner", Severity.MEDIUM, p.project, "project", (
                f"the only Owner is pypi/{p.owners[0]} (team-granted roles are not listed by PyPI)",)))
        classes = _classes(inputs, p.owners)
        if not p.owners or any(c not in (None, "personal") for c in classes.values()):
            continue
        if inputs.custody is None:
            out.append(Flag("personal-only", Severity.MEDIUM, p.project, "project", (NOT_CONSULTED,), False))
        elif None in classes.values():
            out.append(Flag("personal-only", Severity.MEDIUM, p.project, "project", (_missing(classes),), False))
        else:
            out.append(Flag("personal-only", Severity.MEDIUM, p.project, "project", tuple(
                f"pypi/{u} is a personal account" for u in p.owners)))
    return out


def _critical(inputs: Inputs, p: Ownership) -> bool:
    held = inputs.custody or {}
    users = [*(p.owners or []), *(p.maintainers or [])]
    return p.key in inputs.critical or any(
        (h := held.get(f"pypi/{u}".lower())) is not None and h.tier == "critical" for u in users)


def _pypi_accounts(inputs: Inputs) -> dict[str, list[tuple[str, str]]]:
    """user -> [(project, role)] over the projects whose ownership is known."""
    out: dict[str, list[tuple[str, str]]] = {}
    for p in inputs.projects:
        for role, users in (("Owner", p.owners or []), ("Maintainer", p.maintainers or [])):
            for u in users:
                out.setdefault(u, []).append((p.project, role))
    return out


def _no_custody(inputs: Inputs, user: str, held_roles: list[tuple[str, str]]) -> Flag | None:
    roles = "; ".join(f"{role} of {project}" for project, role in held_roles)
    account = f"pypi/{user}"
    if inputs.custody is None:
        return Flag("no-custody", Severity.HIGH, account, "account", (f"{roles}; {NOT_CONSULTED}",), False)
    held = inputs.custody.get(account.lower())
    if held is None:
        return Flag("no-custody", Severity.HIGH, account, "account", (f"{roles}; custody does not hold this account",))
    if not held.codes:
        return Flag("no-custody", Severity.HIGH, account, "account",
                    (f"{roles}; custody holds the account but no recovery codes are deposited",))
    return None


def _service(account: str, held: Held | None, consulted: bool) -> Flag | None:
    name = "service-without-human-owner"
    if not consulted:
        return None  # the no-custody flag already says custody was not consulted
    if held is None or held.ownership is None:
        return Flag(name, Severity.HIGH, account, "account", (f"{NOT_RECORDED}: cannot tell whether {account} is a "
                    "service account",), False)
    if held.ownership == "service" and not held.human_owner:
        return Flag(name, Severity.HIGH, account, "account", (f"{account} is a service account with no human owner "
                    "named",))
    return None


def account_flags(inputs: Inputs) -> list[Flag]:
    out: list[Flag] = []
    roles = _pypi_accounts(inputs)
    held = inputs.custody or {}
    accounts = {f"pypi/{u}".lower(): f"pypi/{u}" for u in roles} | {k: h.account for k, h in held.items()}
    for user, held_roles in sorted(roles.items()):
        if (flag := _no_custody(inputs, user, held_roles)) is not None:
            out.append(flag)
    for key, account in sorted(accounts.items()):
        if (flag := _service(account, held.get(key), inputs.custody is not None)) is not None:
            out.append(flag)
    for p in inputs.projects:
        if not _critical(inputs, p):
            continue
        for user, cls in _classes(inputs, p.owners or []).items():
            if cls == "personal":
                out.append(Flag("personal-owns-critical", Severity.HIGH, f"pypi/{user}", "account",
                                (f"pypi/{user} is a personal account and an Owner of critical project {p.project}",)))
            elif cls is None:
                out.append(Flag("personal-owns-critical", Severity.HIGH, f"pypi/{user}", "account",
                                (f"Owner of critical project {p.project}; {NOT_RECORDED}",), False))
    return out


def unpublished(inputs: Inputs) -> list[Flag]:
    published = {normalize(f.project) for f in inputs.findings if f.project}
    return [Flag("unpublished-here", Severity.LOW, p.project, "project",
                 (f"no publish step in the {inputs.repos} scanned repositories uploads {p.project}",))
            for p in inputs.projects if p.key not in published]


def _project_rows(inputs: Inputs, flags: list[Flag]) -> list[dict[str, Any]]:
    by_key = {p.key: p for p in inputs.projects}
    steps = _by_project(inputs)
    names = {normalize(f.project): f.project for f in inputs.findings if f.project}
    rows = []
    for key in sorted(set(by_key) | set(names)):
        p = by_key.get(key)
        name = p.project if p else names[key]
        rows.append({
            "project": name, "normalized": key, "in_pypi_data": p is not None,
            "owners": p.owners if p else None, "maintainers": p.maintainers if p else None,
            "organization": p.organization if p else None,
            "publishing": [{"where": where(f), "job": f.job, "tool": f.tool, "method": f.method, "index": f.index,
                            "secret": f.secret} for f in steps.get(key, [])],
            "flags": sorted({fl.flag for fl in flags if fl.subject_kind == "project" and normalize(fl.subject) == key
                             and fl.determined}),
        })
    return rows


def _account_rows(inputs: Inputs, flags: list[Flag]) -> list[dict[str, Any]]:
    roles = _pypi_accounts(inputs)
    held = inputs.custody or {}
    rows = []
    for user in sorted(roles, key=str.lower):
        account = f"pypi/{user}"
        h = held.get(account.lower())
        rows.append({
            "account": account, "user": user,
            "projects": [{"project": p, "role": r} for p, r in roles[user]],
            "custody": None if inputs.custody is None else (h.as_dict() if h else {"held": False}),
            "flags": sorted({f.flag for f in flags if f.subject == account and f.determined}),
        })
    return rows


def build(inputs: Inputs) -> dict[str, Any]:
    """The report: projects, accounts, flags (worst first), totals and notes."""
    flags = [*step_flags(inputs), *ownership_flags(inputs), *account_flags(inputs), *unpublished(inputs)]
    flags.sort(key=lambda f: (not f.determined, SEVERITY_RANK[f.severity], f.flag, f.subject))
    counts: dict[str, int] = {}
    for f in flags:
        if f.determined:
            counts[f.flag] = counts.get(f.flag, 0) + 1
    return {
        "summary": {"repos": inputs.repos, "findings": len(inputs.findings), "pypi_projects": len(inputs.projects),
                    "custody": "consulted" if inputs.custody is not None else "not consulted",
                    "flags": counts, "undetermined": sum(1 for f in flags if not f.determined)},
        "flags": [f.as_dict() for f in flags],
        "projects": _project_rows(inputs, flags),
        "accounts": _account_rows(inputs, flags),
        "notes": [TEAM_ROLES_NOTE, *inputs.notes],
    }
