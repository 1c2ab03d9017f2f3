"""``custody access``: break-glass grants, from the request to the reveal (and the review of emergency ones)."""

from __future__ import annotations

from typing import Any

import click

from custody.cli.common import account_path, client, fmt_option, grant_path
from custody.cli.output import emit, table


@click.group()
def access() -> None:
    """Break-glass: request, approve, reveal."""


@access.command("request")
@click.argument("account")
@click.option("--reason", required=True, help="why you need a code (at least 20 characters)")
@click.option("--ticket", default=None, help="incident or ticket id")
@click.option("--ttl", default=None, help="how long the grant stays usable, e.g. 1h (default 24h)")
@click.option("--emergency", is_flag=True, help="skip approvals (needs the custody-emergency policy; reviewed later)")
@click.option("--drill", default=None, metavar="ID", help="this request is part of recovery drill ID")
@fmt_option
def access_request(account: str, reason: str, ticket: str | None, ttl: str | None, emergency: bool,
                   drill: str | None, fmt: str) -> None:
    """Ask for one recovery code of ACCOUNT."""
    body = {"reason": reason, "ticket": ticket, "ttl": ttl, "emergency": emergency, "drill": drill}
    g = client().call("POST", f"accounts/{account_path(account)}/grants", body)["data"]
    _emit_grant(fmt, g)


def _emit_grant(fmt: str, g: dict[str, Any]) -> None:
    from custody.cli.grant_text import grant_text  # only text output needs it (and datetime)

    emit(fmt, g, grant_text(g) if fmt == "text" else None)


def _decision(action: str, doc: str, comment_help: str) -> click.Command:
    """``access approve|deny|review GRANT [--comment TEXT]``: one POST to grants/GRANT/ACTION, the grant after it."""

    @click.command(action, help=doc)
    @click.argument("grant")
    @click.option("--comment", default=None, help=comment_help)
    @fmt_option
    def command(grant: str, comment: str | None, fmt: str) -> None:
        g = client().call("POST", f"grants/{grant_path(grant)}/{action}", {"comment": comment})["data"]
        _emit_grant(fmt, g)

    return command


for _command in (
    _decision("approve", "Approve GRANT (not your own).", "why you approve (kept with the grant and in the audit log)"),
    _decision("deny", "Deny GRANT.", "why you deny (the requester sees it)"),
    _decision("review", "Record the post-hoc review of emergency GRANT.", "what the review found"),
):
    access.add_command(_command)


@access.command("reveal")
@click.argument("grant")
@click.option("--again", is_flag=True,
              help="the last reveal's answer never reached you: revoke the wrapping token it handed out and take "
                   "the same code in a new one")
@fmt_option
def access_reveal(grant: str, again: bool, fmt: str) -> None:
    """Take GRANT's code: custody answers with a single-use wrapping token, checked and unwrapped in your Vault."""
    from custody.cli.unwrap import take_code

    out = take_code(client(), grant, again=again)
    emit(fmt, out, f"{out['code']}\n\n(one-time recovery code for {out['account']}; {out['remaining']} left. "
                   "Use it now; it is burned once used.)\n(unwrapped in your Vault with your token, as "
                   "`bao unwrap -field=code TOKEN` would)")


@access.command("list")
@click.option("--status", default=None, help="pending, approved, denied, revealed, expired or revoked")
@click.option("--account", default=None, help="only this account's grants")
@click.option("--unreviewed", is_flag=True, help="only emergency grants nobody has reviewed yet")
@fmt_option
def access_list(status: str | None, account: str | None, unreviewed: bool, fmt: str) -> None:
    """Grants you may see (a requester sees their own)."""
    params = {"list": "true", **({"status": status} if status else {}), **({"account": account} if account else {}),
              **({"unreviewed": "true"} if unreviewed else {})}
    rows = client().call("GET", "grants", params=params)["data"]["grants"]
    emit(fmt, rows, table(rows, ["id", "account", "requester", "status", "emergency", "created_at"]))


@access.command("show")
@click.argument("grant")
@fmt_option
def access_show(grant: str, fmt: str) -> None:
    """GRANT's whole story: the request, each approval or the denial, the reveal, the review, what comes next."""
    g = client().call("GET", f"grants/{grant_path(grant)}")["data"]
    _emit_grant(fmt, g)
