"""Pieces every command module shares: the ``--format`` option, reading codes from a file or stdin, and the one
place where errors become messages and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from custody.errors import CustodyError, ValidationError

F = TypeVar("F", bound=Callable[..., Any])
EXIT_ERROR = 1


def fmt_option(fn: F) -> F:
    return click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                        show_default=True, help="json prints JSON only, on stdout")(fn)


def read_codes(file: Path | None, prompt: str = "Paste the codes, one per line, then Ctrl-D:") -> str:
    """Codes from ``file``, or from stdin (prompting only when stdin is a terminal)."""
    if file is not None:
        try:
            return file.read_text()
        except OSError as exc:
            raise ValidationError(f"cannot read {file}: {exc.strerror}") from None
    if sys.stdin.isatty():
        click.echo(prompt, err=True)
    return sys.stdin.read()


def run(command: click.Command, argv: Sequence[str] | None, prog_name: str) -> int:
    """Run a click command; return the exit code. Only here do errors turn into messages and exit codes."""
    try:
        rv = command.main(args=list(argv) if argv is not None else None, prog_name=prog_name, standalone_mode=False)
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
    return rv if isinstance(rv, int) else 0  # ctx.exit(N) comes back as a return value without standalone mode
