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
    from custody.devstack import DevStack, public_view

    if ha:
        from custody import devha

        stack = devha.HAStack(directory)
        view = devha.public_view(stack.running() or stack.up())
    else:
        view = public_view(DevStack(directory).up())
    lines = [f"export CUSTODY_ADDR={view['custody_addr']}", f"export VAULT_ADDR={view['vault_addr']}",
             f"# audit log: {view['audit_log']}", "# demo identities (export one as VAULT_TOKEN):"]
    lines += [f"export {name.upper()}_TOKEN={tok}" for name, tok in view["tokens"].items()]
    lines += ["# e.g.  VAULT_TOKEN=$SECURITY_TOKEN custody accounts list", f"# stop with: custody dev down "
              f"--dir {directory}"]
    emit(fmt, view, "\n".join(lines))


@dev.command("down")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path(".custody-dev"),
              show_default=True, help="the directory `custody dev up` was given")
@fmt_option
def dev_down(directory: Path, fmt: str) -> None:
    """Stop what `custody dev up` started (does nothing if nothing runs)."""
    from custody.devha import HAStack
    from custody.devstack import DevStack

    state = DevStack(directory).state() or {}
    stopped = (HAStack(directory).down() if "nodes" in state else False) or DevStack(directory).down()
    emit(fmt, {"stopped": stopped}, "stopped" if stopped else "nothing was running")
