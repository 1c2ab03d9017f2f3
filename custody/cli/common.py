"""Pieces every command module shares: the ``--format`` option, reading codes from a file or stdin, and the one
place where errors become messages and exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
import pydantic

from custody.cli.client import segment
from custody.domain.ids import GRANT_ID
from custody.domain.platforms import parse_account_id
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
            raw = file.read_bytes()
        except OSError as exc:
            raise ValidationError(f"cannot read {file}: {exc.strerror}") from None
        return _utf8(raw, f"the codes file {file} is")
    if sys.stdin.isatty():
        click.echo(prompt, err=True)
    return read_stdin()


def read_stdin() -> str:
    """All of stdin as UTF-8 text (whatever the locale); ValidationError if it is not."""
    buffer = getattr(sys.stdin, "buffer", None)
    try:
        return _utf8(buffer.read(), "the codes on stdin are") if buffer is not None else sys.stdin.read()
    except UnicodeDecodeError:
        raise _not_utf8("the codes on stdin are") from None


def _utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _not_utf8(what) from None


def _not_utf8(what: str) -> ValidationError:
    return ValidationError(f"{what} not UTF-8 text",
                           hint="pass the codes as plain UTF-8 text, one per line (the platform's saved file)")


def account_path(account: str) -> str:
    """ACCOUNT as URL path segments (``pypi/acme``), validated so that it can never leave /v1/custody/."""
    parse_account_id(account)  # the server's own rules: <platform>/<username>, a known platform, a valid username
    platform, username = account.split("/", 1)
    return f"{segment(platform)}/{segment(username)}"


def grant_path(grant: str) -> str:
    """GRANT as a URL path segment, validated (``gr_`` and 16 of a-z, 2-7)."""
    if GRANT_ID.fullmatch(grant) is None:
        raise ValidationError(f"not a grant id: {grant[:40]!r}",
                              hint="grant ids look like gr_ and 16 letters or digits 2-7 (see `custody access list`)")
    return segment(grant)


def settings_error(exc: pydantic.ValidationError, what: str = "setting",
                   model: type[pydantic.BaseModel] | None = None) -> ValidationError:
    """A settings error naming the environment variable (CUSTODY_LOG_LEVEL), one line, no input echoed."""
    first = exc.errors()[0]
    field = ".".join(str(x) for x in first["loc"]) or "?"
    name = field if field.isupper() else f"CUSTODY_{field.upper()}"
    for info in (model.model_fields.values() if model else ()):  # a field read from several variables: name all
        choices = info.validation_alias.choices if isinstance(info.validation_alias, pydantic.AliasChoices) else []
        if field in choices:
            field = name = " / ".join(str(c) for c in choices)
    message = str(first["msg"]).removeprefix("Value error, ")
    return ValidationError(f"invalid {what} {field}{'' if name == field else f' ({name})'}: {message}",
                           hint="see docs/operations.md for every setting")


def run(command: click.Command, argv: Sequence[str] | None, prog_name: str) -> int:
    """Run a click command; return the exit code. Only here do errors turn into messages and exit codes."""
    try:
        rv = command.main(args=list(argv) if argv is not None else None, prog_name=prog_name, standalone_mode=False)
    except CustodyError as exc:
        click.echo(f"error: {exc.diagnostics()}", err=True)
        return EXIT_ERROR
    except pydantic.ValidationError as exc:  # settings read outside a command's own handling
        click.echo(f"error: {settings_error(exc).diagnostics()}", err=True)
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
        if os.environ.get("CUSTODY_DEBUG"):
            raise
        click.echo(f"error: unexpected {type(exc).__name__} (a bug in custody; CUSTODY_DEBUG=1 shows the "
                   "traceback)", err=True)
        return EXIT_ERROR
    return rv if isinstance(rv, int) else 0  # ctx.exit(N) comes back as a return value without standalone mode
