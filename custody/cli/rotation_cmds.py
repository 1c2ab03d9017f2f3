"""``custody codes rotate`` and ``custody rotation sweep``.

The sweep's exit code is for cron and CI: 0 when nothing is overdue (due accounts are listed, not failed on),
3 when at least one account is overdue, 1 when the sweep could not run (server or Vault unreachable, no permission).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any

import click

from custody.cli.client import Client
from custody.cli.common import account_path, fmt_option, read_codes, read_stdin
from custody.cli.output import emit, table

EXIT_OVERDUE = 3
NEW_CODES_PROMPT = "Paste the new codes, one per line, then Ctrl-D:"


class Overdue(click.ClickException):
    """Raised after the sweep's output is printed: the CLI's ``main`` turns it into exit code 3."""

    exit_code = EXIT_OVERDUE

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.message, err=True)




def _piped_stdin() -> str | None:
    return None if sys.stdin.isatty() else read_stdin()


@click.command("rotate")
@click.argument("account")
@click.option("--file", "file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="file with the new codes, one per line (default: stdin)")
@click.option("--reason", default=None, help="why (default: scheduled rotation); kept in the evidence")
@click.option("--resume", is_flag=True, help="finish an interrupted rotation whose new codes are already stored")
@fmt_option
def rotate(account: str, file: Path | None, reason: str | None, resume: bool, fmt: str) -> None:
    """Replace ACCOUNT's codes with the set just regenerated on the platform, and destroy the old set.

    Every earlier version of the old set is destroyed in Vault, open grants of the account are revoked, and
    evidence is kept. If a rotation was interrupted, running this again (or --resume) finishes it.
    """
    path = f"accounts/{account_path(account)}/rotate"
    # With --resume the codes are optional: only needed if the interrupted run never stored them.
    text: str | None = read_codes(file, NEW_CODES_PROMPT) if not resume or file is not None else _piped_stdin()
    body = {"codes": text, "reason": reason, "resume": resume}
    r = Client().call("POST", path, body)["data"]
    lines = [f"rotated {r['account']} (rotation #{r['rotation']}{', resumed' if r['resumed'] else ''}): "
             f"{r['count']} new codes, generation {r['generation']}",
             f"  destroyed versions: {', '.join(map(str, r['destroyed_versions'])) or 'none'}",
             f"  revoked grants:     {', '.join(r['revoked_grants']) or 'none'}"]
    emit(fmt, r, "\n".join(lines))


@click.group("rotation")
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
    r = Client().call("POST", "rotation/sweep", {k: v for k, v in body.items() if v is not None})["data"]
    rows = [{"account": d["account"], "overdue": "OVERDUE" if d["overdue"] else "due",
             "since": (d["due_since"] or "")[:10], "remaining": d["remaining"],
             "reasons": "; ".join(x["message"] for x in d["reasons"])} for d in r["due"]]
    human = (f"{r['checked']} accounts checked, {len(r['due'])} due, {len(r['overdue'])} overdue "
             f"(max age {r['policy']['max_age']}, min remaining {r['policy']['min_remaining']}, "
             f"grace {r['policy']['grace']})")
    if r.get("expired_grants"):
        human += f"\n{len(r['expired_grants'])} grant(s) past their expiry recorded as expired"
    if rows:
        human += "\n" + table(rows, ["account", "overdue", "since", "remaining", "reasons"])
    emit(fmt, r, human)
    if r["overdue"]:
        raise Overdue(f"{len(r['overdue'])} account(s) overdue for rotation")


def attach(cli: click.Group) -> None:
    codes = cli.commands["codes"]
    assert isinstance(codes, click.Group)
    codes.add_command(rotate)
    cli.add_command(rotation)
