"""``custody whoami``: who custody thinks you are."""

from __future__ import annotations

import click

from custody.cli.common import client, fmt_option
from custody.cli.output import emit


@click.command()
@fmt_option
def whoami(fmt: str) -> None:
    """Who custody thinks you are (from your Vault token)."""
    emit(fmt, client().call("GET", "whoami")["data"])
