"""``custody accounts add|list|show``: the accounts whose recovery codes custody keeps."""

from __future__ import annotations

import click

from custody.cli.common import account_path, client, fmt_option
from custody.cli.output import emit, table


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
@fmt_option
def accounts_add(account: str, owner: str, tier: str, approvals: int | None, notes: str, fmt: str) -> None:
    """Register ACCOUNT (e.g. pypi/acme-publisher)."""
    body = {"owner": owner, "tier": tier, "approvals": approvals, "notes": notes}
    data = client().call("POST", f"accounts/{account_path(account)}", body)["data"]
    emit(fmt, data, f"added {data['id']} (owner {data['owner']}, {data['tier']}, "
                    f"{data['approvals_required']} approval(s) per reveal)")


@accounts.command("list")
@fmt_option
def accounts_list(fmt: str) -> None:
    """Every account: owner, tier and the approvals a reveal needs."""
    rows = client().call("GET", "accounts", params={"list": "true"})["data"]["accounts"]
    emit(fmt, rows, table(rows, ["id", "owner", "tier", "approvals_required"]))


@accounts.command("show")
@click.argument("account")
@fmt_option
def accounts_show(account: str, fmt: str) -> None:
    """ACCOUNT's registration: owner, tier, approvals, notes, who added it and when."""
    emit(fmt, client().call("GET", f"accounts/{account_path(account)}")["data"])
