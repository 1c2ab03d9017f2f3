"""Pieces every command module shares: the ``--format`` option, the API client, reading codes from a file or
stdin, and turning ACCOUNT and GRANT arguments into URL path segments that cannot leave ``/v1/custody/``.

Cheap to import on purpose (``custody --help`` imports every command module): the HTTP client and the domain's
validators are imported by the functions that use them, inside the command that calls them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import click

from custody.errors import ValidationError

if TYPE_CHECKING:
    from custody.cli.client import Client

F = TypeVar("F", bound=Callable[..., Any])
EXIT_ERROR = 1
EXIT_FLAGGED = 3  # a check ran and found something not ok (cron and CI alert on it)


class Flagged(click.ClickException):
    """Raised after a check's output is printed (``keys check``, ``drill report``): ``main`` turns it into exit
    code 3, the message goes to stderr."""

    exit_code = EXIT_FLAGGED

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


def fmt_option(fn: F) -> F:
    return click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                        show_default=True, help="json prints JSON only, on stdout")(fn)


def client() -> Client:
    """A client of the custody API at CUSTODY_ADDR with the caller's Vault token (imports the HTTP library)."""
    from custody.cli.client import Client

    return Client()


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


def segment(value: str) -> str:
    """One URL path segment, percent-encoded: ``/``, ``?``, ``#``, ``%`` and dots cannot change where it goes."""
    if value in ("", ".", ".."):
        raise ValidationError(f"not a valid path segment: {value!r}")
    return quote(value, safe="")


def account_path(account: str) -> str:
    """ACCOUNT as URL path segments (``pypi/acme``), validated so that it can never leave /v1/custody/."""
    from custody.domain.platforms import parse_account_id

    parse_account_id(account)  # the server's own rules: <platform>/<username>, a known platform, a valid username
    platform, username = account.split("/", 1)
    return f"{segment(platform)}/{segment(username)}"


def grant_path(grant: str) -> str:
    """GRANT as a URL path segment, validated (``gr_`` and 16 of a-z, 2-7)."""
    from custody.domain.ids import GRANT_ID

    if GRANT_ID.fullmatch(grant) is None:
        raise ValidationError(f"not a grant id: {grant[:40]!r}",
                              hint="grant ids look like gr_ and 16 letters or digits 2-7 (see `custody access list`)")
    return segment(grant)
