"""``custody``: the root command, the list of command groups, and ``main(argv)``, the one exit point: errors become
a message on stderr (with a hint) and a non-zero exit code; ``--format json`` prints JSON only on stdout."""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import cast

import click

from custody import logging as clog
from custody.cli.common import EXIT_ERROR
from custody.cli.settings import cli_log_level
from custody.errors import CustodyError

# Every top-level command: its name, and the module of this package that defines it under that name. A command's
# module is imported when the command is run or listed (``custody --help``), not for every other command: a client
# command loads its own group only.
COMMANDS: dict[str, str] = {
    "dev": "dev",
    "serve": "server",
    "bootstrap": "bootstrap",
    "accounts": "accounts",
    "codes": "codes",
    "access": "access",
    "rotation": "rotation",
    "audit": "audit",
    "inventory": "inventory",
    "keys": "keys",
    "rollout": "rollout",
    "drill": "drill",
    "people": "people",
    "evidence": "evidence",
    "whoami": "whoami",
}


class _Root(click.Group):
    """The root group, whose commands are imported on first use (see ``COMMANDS``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in COMMANDS:
            command = load(cmd_name)
            self.add_command(command)
        return command


def load(name: str) -> click.Command:
    """The top-level command ``name`` (a key of ``COMMANDS``), imported from its module."""
    module = importlib.import_module(f"custody.cli.{COMMANDS[name]}")
    return cast(click.Command, getattr(module, name))


def every_command() -> click.Group:
    """The root group with all its commands loaded (``cli.commands`` then holds every one), for what walks the
    whole tree: the docs' table of commands, the tests of every command."""
    for name in COMMANDS:
        cli.get_command(click.Context(cli), name)
    return cli


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="custody")
def cli() -> None:
    """Break-glass custody of account recovery codes, kept in Vault/OpenBao.

    The server comes from CUSTODY_ADDR, your Vault token from VAULT_TOKEN, BAO_TOKEN or ~/.vault-token.
    """



_QUICK_EXIT: list[bool] = []  # set by ``exit_without_teardown``, for ``run``


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code. Only here do errors turn into messages and exit codes."""
    _QUICK_EXIT.clear()
    try:
        level = cli_log_level()
    except CustodyError as exc:
        click.echo(f"error: {exc.diagnostics()}", err=True)
        return EXIT_ERROR
    # Logs go to stderr, so that stdout carries nothing but the command's answer (JSON with --format json); they
    # are configured by the first event logged, so a command that logs nothing never imports structlog.
    with clog.deferred("console", level):
        return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    try:
        rv = cli.main(args=list(argv) if argv is not None else None, prog_name="custody", standalone_mode=False)
    except CustodyError as exc:
        click.echo(f"error: {exc.diagnostics()}", err=True)
        return EXIT_ERROR
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_ERROR
    except Exception as exc:  # last resort: a bug, but still no traceback (it could hold a secret) unless asked
        if _settings_error(exc):
            return EXIT_ERROR
        if os.environ.get("CUSTODY_DEBUG"):
            raise
        click.echo(f"error: unexpected {type(exc).__name__} (a bug in custody; CUSTODY_DEBUG=1 shows the "
                   "traceback)", err=True)
        return EXIT_ERROR
    return rv if isinstance(rv, int) else 0  # ctx.exit(N) comes back as a return value without standalone mode


def _settings_error(exc: Exception) -> bool:
    """Settings read outside a command's own handling: named like ``serve`` names them. Only a command that
    imported pydantic can raise its errors, so pydantic is looked up, not imported."""
    pydantic = sys.modules.get("pydantic")
    if pydantic is None or not isinstance(exc, pydantic.ValidationError):
        return False
    from custody.cli import server

    click.echo(f"error: {server.settings_error(exc).diagnostics()}", err=True)
    return True


def exit_without_teardown() -> None:
    """Let ``run`` end the process as soon as the command is done, without the interpreter's teardown.

    For a command that built a large state and has nothing left to clean up: ``audit summary`` of a large log
    holds about a million objects, which the teardown frees one by one (about 50 ms). Its output is flushed first;
    ``main``, which the tests call, is not affected.
    """
    _QUICK_EXIT.append(True)


def run() -> int:
    """The ``custody`` executable (and ``python -m custody``): ``main()``, for a process that ends right after it.

    ``gc.freeze()`` keeps the objects alive now out of the collections the interpreter makes as it shuts down,
    which spares a short command about 20 ms of CPU; exit handlers and flushes run as usual, unless the command
    asked for ``exit_without_teardown``. Tests call ``main``.
    """
    code = main()
    if _QUICK_EXIT:
        import contextlib
        import logging

        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream: nothing more can be said on it
                stream.flush()
        logging.shutdown()
        os._exit(code)
    gc.freeze()
    return code


if __name__ == "__main__":
    raise SystemExit(run())
