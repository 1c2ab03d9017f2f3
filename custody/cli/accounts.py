"""``custody accounts add|update|list|show``: the accounts whose recovery codes custody keeps."""

from __future__ import annotations

from typing import Any

import click

from custody.cli.common import account_path, client, fmt_option
from custody.cli.output import emit, printable, table

OWNERSHIP = click.Choice(["personal", "corporate", "organization", "service"])
_ownership_help = "whom the account belongs to: one person, the company, a PyPI Organization, or a machine"
_human_help = "email of the person who answers for the account (required for --ownership service)"


@click.group()
def accounts() -> None:
    """Accounts whose recovery codes custody keeps."""


@accounts.command("add")
@click.argument("account")
@click.option("--owner", required=True, help="email of the person or team that owns the account")
@click.option("--tier", type=click.Choice(["standard", "critical"]), default="standard", show_default=True)
@click.option("--approvals", type=click.IntRange(0, 5), default=None,
              help="approvals a reveal needs (default: 0 standard, 2 critical)")
@click.option("--notes", default="", help="free-form notes")
@click.option("--ownership", type=OWNERSHIP, default=None, help=_ownership_help)
@click.option("--human-owner", default=None, metavar="EMAIL", help=_human_help)
@fmt_option
def accounts_add(account: str, owner: str, tier: str, approvals: int | None, notes: str, ownership: str | None,
                 human_owner: str | None, fmt: str) -> None:
    """Register ACCOUNT (e.g. pypi/acme-publisher)."""
    body = {"owner": owner, "tier": tier, "approvals": approvals, "notes": notes, "ownership": ownership,
            "human_owner": human_owner}
    data = client().call("POST", f"accounts/{account_path(account)}", body)["data"]
    emit(fmt, data, f"added {data['id']} (owner {data['owner']}, {data['tier']}, "
                    f"{data['approvals_required']} approval(s) per reveal{_ownership_text(data)})")


def _ownership_text(data: dict[str, Any]) -> str:
    own = f", {data['ownership']}" if data.get("ownership") else ", ownership not recorded"
    return own + (f", human owner {data['human_owner']}" if data.get("human_owner") else "")


@accounts.command("update")
@click.argument("account")
@click.option("--owner", default=None, help="email of the person or team that owns the account")
@click.option("--tier", type=click.Choice(["standard", "critical"]), default=None,
              help="critical raises the approvals to 2 if the account had none")
@click.option("--approvals", type=click.IntRange(0, 5), default=None, help="approvals a reveal needs")
@click.option("--notes", default=None, help="free-form notes (replace the old ones)")
@click.option("--ownership", type=OWNERSHIP, default=None, help=_ownership_help)
@click.option("--human-owner", default=None, metavar="EMAIL", help=_human_help + "; '' removes it")
@fmt_option
def accounts_update(account: str, owner: str | None, tier: str | None, approvals: int | None, notes: str | None,
                    ownership: str | None, human_owner: str | None, fmt: str) -> None:
    """Change ACCOUNT: only what is given changes, and the audit log keeps the old values.

    Raising the approvals revokes the account's open grants requested with fewer; lowering them leaves open
    grants needing the approvals they were requested with.
    """
    body = {k: v for k, v in {"owner": owner, "tier": tier, "approvals": approvals, "notes": notes,
                              "ownership": ownership, "human_owner": human_owner}.items() if v is not None}
    data = client().call("PATCH", f"accounts/{account_path(account)}", body)["data"]
    emit(fmt, data, _update_text(data))


def _update_text(data: dict[str, Any]) -> str:
    account = data["account"]["id"]
    if not data["changes"]:
        return f"{account} unchanged (it says that already)"
    changed = ", ".join(f"{c['field']} {_value(c['old'])} -> {_value(c['new'])}" for c in data["changes"])
    lines = [f"updated {account}: {printable(changed)}"]
    if data["revoked_grants"]:
        lines.append(f"revoked {len(data['revoked_grants'])} open grant(s) requested with fewer approvals: "
                     + ", ".join(data["revoked_grants"]))
    return "\n".join(lines)


def _value(value: object) -> str:
    return "(none)" if value in (None, "") else str(value)


@accounts.command("list")
@fmt_option
def accounts_list(fmt: str) -> None:
    """Every account: owner, tier, the approvals a reveal needs, and whom it belongs to."""
    rows = client().call("GET", "accounts", params={"list": "true"})["data"]["accounts"]
    emit(fmt, rows, table(rows, ["id", "owner", "tier", "approvals_required", "ownership", "human_owner"]))


@accounts.command("show")
@click.argument("account")
@fmt_option
def accounts_show(account: str, fmt: str) -> None:
    """ACCOUNT's registration: owner, tier, approvals, notes, ownership, who added it and when."""
    emit(fmt, client().call("GET", f"accounts/{account_path(account)}")["data"])
