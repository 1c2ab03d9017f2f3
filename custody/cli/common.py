"""Pieces every command module shares: the ``--format`` option and reading codes from a file or stdin."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from custody.errors import ValidationError

F = TypeVar("F", bound=Callable[..., Any])


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
