"""PyPI JSON API documents (``/pypi/<project>/json``) and what they say about ownership.

A document has ``info.name`` and, since early 2026, ``ownership: {"roles": [{"role", "user"}], "organization"}``
with Owners first. Roles granted through an Organization's teams are **not** listed there, so the accounts found
here are the project's direct collaborators only. An older document has no ``ownership``: its project is listed
with its ownership unknown. Anything of an unexpected type is a warning naming the file and the field; the rest of
the document is still used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from custody.inventory.projects import normalize, valid_name

TEAM_ROLES_NOTE = ("Roles granted through a PyPI Organization's teams do not appear in PyPI's `ownership` data: "
                   "an organization's team members may also own or maintain these projects.")
ROLES = ("Owner", "Maintainer")
MAX_DOCUMENT_BYTES = 20_000_000
MAX_ROLES = 1000


@dataclass
class Ownership:
    project: str  # as PyPI spells it
    owners: list[str] | None  # None: the document does not say (no ``ownership``)
    maintainers: list[str] | None
    organization: str | None
    source: str

    @property
    def key(self) -> str:
        return normalize(self.project)

    def as_dict(self) -> dict[str, Any]:
        return {"project": self.project, "normalized": self.key, "owners": self.owners,
                "maintainers": self.maintainers, "organization": self.organization,
                "ownership_known": self.owners is not None, "source": self.source}


@dataclass
class DocWarning:
    file: str
    line: int | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "message": self.message}


@dataclass
class Parsed:
    projects: list[Ownership] = field(default_factory=list)
    warnings: list[DocWarning] = field(default_factory=list)


def _roles(roles: object, source: str, warn: list[DocWarning]) -> tuple[list[str], list[str]]:
    owners: list[str] = []
    maintainers: list[str] = []
    if not isinstance(roles, list):
        warn.append(DocWarning(source, None, f"ownership.roles is {type(roles).__name__}, not a list: no roles read"))
        return owners, maintainers
    for i, entry in enumerate(roles[:MAX_ROLES]):
        role = entry.get("role") if isinstance(entry, dict) else None
        user = entry.get("user") if isinstance(entry, dict) else None
        if role not in ROLES or not isinstance(user, str) or not valid_name(user):
            warn.append(DocWarning(source, None, f"ownership.roles[{i}] is not a {{role: Owner|Maintainer, user: "
                                   "<username>} entry: skipped"))
            continue
        (owners if role == "Owner" else maintainers).append(user)
    return owners, maintainers


def ownership(doc: object, source: str) -> Parsed:
    """The project a decoded document describes, with every oddity as a warning."""
    out = Parsed()
    info = doc.get("info") if isinstance(doc, dict) else None
    name = info.get("name") if isinstance(info, dict) else None
    if not isinstance(name, str) or not valid_name(name):
        out.warnings.append(DocWarning(source, None, "not a PyPI project document (no valid info.name): skipped"))
        return out
    data = doc.get("ownership") if isinstance(doc, dict) else None
    if data is None:
        out.warnings.append(DocWarning(source, None, f"{name}: the document has no `ownership` (an older shape): its "
                                       "owners are unknown; fetch it again with --online"))
        out.projects.append(Ownership(name, None, None, None, source))
        return out
    if not isinstance(data, dict):
        out.warnings.append(DocWarning(source, None, f"{name}: `ownership` is {type(data).__name__}, not an object: "
                                       "its owners are unknown"))
        out.projects.append(Ownership(name, None, None, None, source))
        return out
    owners, maintainers = _roles(data.get("roles"), source, out.warnings)
    org = data.get("organization")
    if org is not None and not (isinstance(org, str) and valid_name(org)):
        out.warnings.append(DocWarning(source, None, f"{name}: ownership.organization is not a name: ignored"))
        org = None
    out.projects.append(Ownership(name, owners, maintainers, org, source))
    return out


def parse_text(text: str, source: str) -> Parsed:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return Parsed(warnings=[DocWarning(source, exc.lineno, f"not valid JSON: {exc.msg}")])
    except RecursionError:
        return Parsed(warnings=[DocWarning(source, None, "not usable JSON: nested too deeply")])
    if isinstance(doc, dict) and "info" not in doc and isinstance(doc.get("projects"), list):
        return saved_import(doc["projects"], source)
    return ownership(doc, source)


def saved_import(entries: list[object], source: str) -> Parsed:
    """Projects from the JSON that ``custody inventory import`` printed earlier."""
    out = Parsed()
    for i, entry in enumerate(entries[:100_000]):
        e = entry if isinstance(entry, dict) else {}
        name, owners, maintainers, org = e.get("project"), e.get("owners"), e.get("maintainers"), e.get("organization")
        lists_ok = all(x is None or (isinstance(x, list) and all(valid_name(u) for u in x))
                       for x in (owners, maintainers))
        if not valid_name(name) or not lists_ok or not (org is None or valid_name(org)):
            out.warnings.append(DocWarning(source, None, f"projects[{i}] is not a project entry: skipped"))
            continue
        out.projects.append(Ownership(str(name), owners, maintainers, org, str(e.get("source") or source)))
    return out


def accounts(projects: list[Ownership]) -> list[dict[str, Any]]:
    """Per PyPI user: the projects they hold and in which role (only where ownership is known)."""
    held: dict[str, list[dict[str, str]]] = {}
    for p in projects:
        for role, users in (("Owner", p.owners or []), ("Maintainer", p.maintainers or [])):
            for user in users:
                held.setdefault(user.lower(), []).append({"project": p.project, "role": role, "user": user})
    out = []
    for key in sorted(held):
        entries = held[key]
        out.append({"account": f"pypi/{entries[0]['user']}", "user": entries[0]["user"],
                    "projects": [{"project": e["project"], "role": e["role"]} for e in entries]})
    return out
