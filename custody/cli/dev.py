"""``custody dev up|down``: a local OpenBao and custody server for trying custody out (not for production)."""

from __future__ import annotations

from pathlib import Path

import click

from custody.cli.common import fmt_option
from custody.cli.output import emit


@click.group()
def dev() -> None:
    """A local OpenBao + custody server for trying custody out (not for production)."""


@dev.command("up")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path(".custody-dev"),
              show_default=True, help="where state, logs and the audit log live")
@click.option("--ha", is_flag=True, help="a 3-node OpenBao Raft cluster and 2 custody replicas instead")
@fmt_option
def dev_up(directory: Path, ha: bool, fmt: str) -> None:
    """Start OpenBao (with a file audit device) and the custody server, bootstrapped, with demo users."""
    from custody import devstack

    view = devstack.up(directory, ha=ha)
    lines = [f"export CUSTODY_ADDR={view['custody_addr']}", f"export VAULT_ADDR={view['vault_addr']}",
             f"# audit log: {view['audit_log']}", "# demo identities (export one as VAULT_TOKEN):"]
    lines += [f"export {name.upper()}_TOKEN={tok}" for name, tok in view["tokens"].items()]
    lines += ["# e.g.  VAULT_TOKEN=$SECURITY_TOKEN custody accounts list"]
    if view.get("console_url"):
        lines += [f"# web console: {view['console_url']}  (sign in with Vault username and password):"]
        lines += [f"#   {name:<10} {password}" for name, password in view.get("passwords", {}).items()]
    lines += [f"# stop with: custody dev down --dir {view['dir']}"]
    emit(fmt, view, "\n".join(lines))


@dev.command("down")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None,
              help="the stack's directory [default: ./.custody-dev if a stack runs there, else the one you started]")
@fmt_option
def dev_down(directory: Path | None, fmt: str) -> None:
    """Stop what `custody dev up` started (does nothing if nothing runs)."""
    from custody import devstack

    stopped = devstack.down(directory)
    emit(fmt, {"stopped": True, "dir": str(stopped)} if stopped else {"stopped": False},
         f"stopped the dev stack in {stopped}" if stopped else "nothing was running")
