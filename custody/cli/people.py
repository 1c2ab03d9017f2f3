"""``custody people offboard|show``: what custody knows of a person, and the leaver process (security team)."""

from __future__ import annotations

from typing import Any

import click

from custody.cli.common import client, fmt_option, segment
from custody.cli.output import emit, printable


@click.group()
def people() -> None:
    """People custody knows by email: key custodians, requesters, account owners."""


def _plan(r: dict[str, Any]) -> list[str]:
    keys = [f"{k['account']} {printable(k['label'])!r} ({k['status']})" for k in r["keys"]]
    owned = [f"{o['account']} ({o['role'].replace('_', ' ')})" for o in r["owned"]]
    return [f"  open grants:      {', '.join(r['revoke_grants']) or 'none'}",
            f"  keys they hold:   {', '.join(keys) or 'none'}",
            f"  codes revealed in the last 365 days on: {', '.join(r['rotation_due']) or 'none'}",
            f"  accounts they own: {', '.join(owned) or 'none'}"]


@people.command("offboard")
@click.argument("email")
@click.option("--reason", required=True, help="why, e.g. 'left the company on 2026-01-31 (HR-1234)'")
@click.option("--apply", is_flag=True, help="make the changes (without it: a dry run that changes nothing)")
@fmt_option
def people_offboard(email: str, reason: str, apply: bool, fmt: str) -> None:
    """Offboard EMAIL: revoke their open grants, mark the keys they hold custodian-left, mark rotation due where
    they revealed codes in the last year, list what they own, and print what they must still do on PyPI."""
    r = client().call("POST", f"people/{segment(email)}/offboard", {"reason": reason, "apply": apply})["data"]
    if not apply:
        head = f"dry run: offboarding {r['email']} would change (run again with --apply):"
    elif r["changed"]:
        run = r["run"]
        head = (f"offboarded {r['email']}: {len(run['revoked'])} grant(s) revoked, {len(run['keys_marked'])} key(s) "
                f"marked custodian-left, {len(run['rotation_due'])} account(s) marked due for rotation")
    else:
        head = f"{r['email']} was already offboarded: nothing left to change (this run is recorded)"
    lines = [head, *_plan(r), "still to do on PyPI and in Vault:", *(f"  - {printable(c)}" for c in r["checklist"])]
    emit(fmt, r, "\n".join(lines))


@people.command("show")
@click.argument("email")
@fmt_option
def people_show(email: str, fmt: str) -> None:
    """What custody knows of EMAIL: Vault identities, keys, accounts, grants, offboarding."""
    r = client().call("GET", f"people/{segment(email)}")["data"]
    gone = r["offboarded"]
    lines = [f"{r['email']}" + (f"  [offboarded {gone['offboarded_at'][:10]} by {printable(gone['offboarded_by'])}: "
                                f"{printable(gone['reason'])}]" if gone else ""),
             f"  Vault identities: {', '.join(r['entities']) or 'none seen'}", *_plan(r),
             f"  grants requested: {len(r['grants'])}",
             *(f"    {g['id']}  {g['account']}  {g['status']}{'  drill ' + g['drill'] if g['drill'] else ''}"
               for g in r["grants"])]
    emit(fmt, r, "\n".join(lines))
