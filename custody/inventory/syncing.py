"""``custody inventory sync``: the inventory gathered as the report gathers it, custody's accounts read with the
caller's token, the plan (``custody.inventory.sync``) and, with ``apply``, the planned accounts created through
the custody API, like every client command. Without ``apply`` nothing is written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from custody.domain.models import is_email, parse_tier
from custody.errors import Conflict, CustodyError, ValidationError
from custody.inventory import sync
from custody.inventory.custody_view import read
from custody.inventory.projects import normalize, valid_name
from custody.inventory.pypi import TEAM_ROLES_NOTE, Ownership
from custody.inventory.reporting import gather
from custody.inventory.settings import InventorySettings

if TYPE_CHECKING:
    from custody.cli.client import Client

NO_EMAILS = "PyPI does not publish its accounts' email addresses: name the mailbox that answers for them for now"


def check_inputs(scans: list[Path], repos: list[Path], pypi_files: list[Path], online: bool, critical: list[str],
                 owner: str | None, apply: bool) -> None:
    """Refuse, before anything is read or written, a sync that has nothing to sync from or no owner to give."""
    if not pypi_files and not online:
        raise ValidationError("nothing to sync from: sync creates the Owners and Maintainers that PyPI's data names",
                              hint="give --pypi FILE (saved PyPI documents, or a saved `inventory import`), or "
                              "--online with --scan FILE or --repo PATH")
    if online and not scans and not repos:
        raise ValidationError("--online fetches the projects a scan names, and no scan was given",
                              hint="add --scan FILE or --repo PATH, or give saved documents with --pypi FILE")
    bad = [name for name in critical if not valid_name(name)]
    if bad:
        raise ValidationError(f"--critical {bad[0][:60]!r} is not a project name",
                              hint="name a PyPI project, e.g. --critical acme-widgets")
    if owner is not None and not is_email(owner):
        raise ValidationError("--owner must be an email address", hint=NO_EMAILS)
    if apply and owner is None:
        raise ValidationError("--apply needs --owner EMAIL: the owner of the accounts it creates", hint=NO_EMAILS)


def _critical_notes(projects: list[Ownership], critical: list[str]) -> list[str]:
    known = {p.key for p in projects}
    return [f"--critical {name}: no such project in the PyPI data (a typo?)" for name in critical
            if normalize(name) not in known]


def create(client: Client, entries: list[sync.Entry]) -> None:
    """Create each planned account; one that custody holds by now (made meanwhile, or differing only in case) is
    kept as it is. Any other error stops the sync: what was created stays, and running it again goes on."""
    from custody.cli.common import account_path

    created = 0
    for e in (e for e in entries if e.action == "create"):
        body = {"owner": e.owner, "tier": e.tier, "notes": e.notes}
        try:
            client.call("POST", f"accounts/{account_path(e.account)}", body)
        except Conflict as exc:
            e.status = "held"
            e.why.append(f"not created: {exc.message}")
            continue
        except CustodyError as exc:
            if created:
                exc.hint = f"{exc.hint + '; ' if exc.hint else ''}{created} account(s) were created before this: " \
                           "sync is idempotent, run it again once this is fixed"
            raise
        e.status = "created"
        created += 1


def run(scans: list[Path], repos: list[Path], pypi_files: list[Path], online: bool, critical: list[str],
        owner: str | None, tier: str, apply: bool, settings: InventorySettings | None = None,
        client: Client | None = None) -> dict[str, Any]:
    check_inputs(scans, repos, pypi_files, online, critical, owner, apply)
    tier = parse_tier(tier).value
    got = gather(scans, repos, pypi_files, online, settings)
    projects = got.owned.projects
    if not projects:
        raise ValidationError("the PyPI data given names no project", hint="check the --pypi files (see the "
                              "warnings of `custody inventory import` on them)")
    if client is None:
        from custody.cli.client import Client

        client = Client()
    choices = sync.Choices(owner.lower() if owner else None, tier, frozenset(normalize(c) for c in critical))
    entries = sync.plan(projects, read(client), choices)
    if apply:
        create(client, entries)
    unknown = [p.project for p in projects if p.owners is None]
    return {
        "apply": apply, "owner": choices.owner, "accounts": [e.as_dict() for e in entries],
        "summary": sync.summary(entries),
        "notes": [TEAM_ROLES_NOTE, *_critical_notes(projects, critical),
                  *([f"ownership unknown (no `ownership` in the document), so no account taken from: "
                     f"{', '.join(unknown)}"] if unknown else [])],
        "warnings": [w.as_dict() for w in got.owned.warnings],
    }
