"""``custody rotation sweep``: which accounts' recovery codes are due for rotation, and why.

The exit code is for cron and CI: 0 when nothing is overdue (due accounts are listed, not failed on), 3 when at
least one account is overdue, 1 when the sweep could not run (server or Vault unreachable, no permission).
"""

from __future__ import annotations

from typing import IO, Any

import click

from custody.cli.common import client, fmt_option
from custody.cli.output import emit, table

EXIT_OVERDUE = 3


class Overdue(click.ClickException):
    """Raised after the sweep's output is printed: the CLI's ``main`` turns it into exit code 3."""

    exit_code = EXIT_OVERDUE

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.message, err=True)


@click.group()
def rotation() -> None:
    """Find accounts whose recovery codes are due for rotation."""


@rotation.command("sweep")
@click.option("--max-age", default=None, help="rotate codes older than this (default: server setting, 365d)")
@click.option("--min-remaining", type=click.IntRange(0, 64), default=None,
              help="rotate when this many codes or fewer are left (default: server setting, 3)")
@click.option("--grace", default=None, help="how long an account may stay due before it is overdue (default 30d)")
@fmt_option
def sweep(max_age: str | None, min_remaining: int | None, grace: str | None, fmt: str) -> None:
    """List accounts due for rotation and why. Exit 3 if any is overdue (for cron/CI), 0 otherwise."""
    body = {"max_age": max_age, "min_remaining": min_remaining, "grace": grace}
    r = client().call("POST", "rotation/sweep", {k: v for k, v in body.items() if v is not None})["data"]
    # STATE says how urgent: "due" (rotate soon), "OVERDUE" (due for longer than the grace: the sweep exits 3).
    rows = [{"account": d["account"], "state": "OVERDUE" if d["overdue"] else "due",
             "due_since": (d["due_since"] or "")[:10], "remaining": d["remaining"],
             "reasons": "; ".join(x["message"] for x in d["reasons"])} for d in r["due"]]
    human = (f"{r['checked']} accounts checked, {len(r['due'])} due, {len(r['overdue'])} overdue "
             f"(max age {r['policy']['max_age']}, min remaining {r['policy']['min_remaining']}, "
             f"grace {r['policy']['grace']})")
    if r.get("expired_grants"):
        human += f"\n{len(r['expired_grants'])} grant(s) past their expiry recorded as expired"
    if rows:
        human += "\n" + table(rows, ["account", "state", "due_since", "remaining", "reasons"])
    emit(fmt, r, human)
    if r["overdue"]:
        raise Overdue(f"{len(r['overdue'])} account(s) overdue for rotation")
