"""Platforms: how an account's username and its recovery codes look.

A platform is a small object with two validators. ``pypi`` knows PyPI's rules exactly (16 lowercase hex characters
per code, 1 to 8 codes since enrolment burns one); ``generic`` accepts any sane code for platforms custody does
not know yet. New platforms register in ``PLATFORMS``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Protocol

from custody.errors import NotFound, ValidationError


class Platform(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def max_codes(self) -> int: ...

    def validate_username(self, username: str) -> str: ...

    def normalize_code(self, raw: str) -> str: ...


@dataclass(frozen=True)
class PyPI:
    """PyPI accounts: usernames as PyPI accepts them, codes as ``secrets.token_hex(8)`` makes them."""

    name: str = "pypi"
    max_codes: int = 8
    _username = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,48}[A-Za-z0-9])?$")
    _code = re.compile(r"^[0-9a-f]{16}$")

    def validate_username(self, username: str) -> str:
        if not self._username.fullmatch(username):
            raise ValidationError(
                f"not a PyPI username: {username[:60]!r}",
                hint="PyPI usernames are 1-50 letters, digits, '.', '_' or '-', starting and ending alphanumeric",
            )
        return username

    def normalize_code(self, raw: str) -> str:
        # PyPI's form strips spaces and lowercases nothing; we normalise case so a code typed in upper case works.
        code = "".join(raw.split()).lower()
        if not self._code.fullmatch(code):
            raise ValidationError(
                f"malformed PyPI recovery code ({len(code)} characters)",
                hint="a PyPI recovery code is 16 hexadecimal characters (0-9, a-f), one per line",
            )
        return code


@dataclass(frozen=True)
class Generic:
    """Any other platform: a code is 4-256 printable characters without surrounding space."""

    name: str = "generic"
    max_codes: int = 64
    _username = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")

    def validate_username(self, username: str) -> str:
        if not self._username.fullmatch(username):
            raise ValidationError(
                f"not a valid username: {username[:60]!r}",
                hint="use 1-128 letters, digits, '.', '_', '@', '+' or '-', starting alphanumeric",
            )
        return username

    def normalize_code(self, raw: str) -> str:
        code = raw.strip()
        if not 4 <= len(code) <= 256 or not code.isprintable():
            raise ValidationError(
                f"malformed recovery code ({len(code)} characters)",
                hint="a code is 4-256 printable characters, one per line",
            )
        return code


PLATFORMS: dict[str, Platform] = {"pypi": PyPI(), "generic": Generic()}

_ACCOUNT_ID = re.compile(r"^([a-z][a-z0-9-]{0,31})/([^/]+)$")


def parse_account_id(account_id: str) -> tuple[Platform, str]:
    """``pypi/acme-publisher`` -> (PyPI, "acme-publisher"). Rejects unknown platforms and odd shapes."""
    match = _ACCOUNT_ID.fullmatch(account_id)
    if not match:
        raise ValidationError(
            f"not an account id: {account_id[:80]!r}",
            hint="account ids look like <platform>/<username> with the platform in lower case, "
                 f"e.g. pypi/acme-publisher (known platforms: {', '.join(sorted(PLATFORMS))})",
        )
    platform_name, username = match.groups()
    platform = PLATFORMS.get(platform_name)
    if platform is None:
        raise NotFound(
            f"unknown platform {platform_name!r}", hint=f"known platforms: {', '.join(sorted(PLATFORMS))}"
        )
    return platform, platform.validate_username(username)


def close_usernames(username: str, usernames: list[str], most: int = 3) -> list[str]:
    """The usernames a person typing ``username`` may have meant: the same name in another case, else the few a
    typo away (case ignored), closest first."""
    folded = {u.casefold(): u for u in usernames}
    if username.casefold() in folded:
        return [folded[username.casefold()]]
    close = difflib.get_close_matches(username.casefold(), list(folded), n=most, cutoff=0.8)
    return [folded[u] for u in close]


def parse_codes(platform: Platform, text: str) -> list[str]:
    """Codes from text, one per line, as a platform's "save your codes" file has them.

    Blank lines and ``#`` comments are skipped. Duplicates, malformed codes and too many codes are refused with the
    line number (never the code itself, which is a secret).
    """
    codes: list[str] = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            code = platform.normalize_code(line)
        except ValidationError as exc:
            raise ValidationError(f"line {lineno}: {exc.message}", exc.hint) from None
        if code in seen:
            raise ValidationError(f"line {lineno}: duplicate code", hint="each recovery code may appear once")
        seen.add(code)
        codes.append(code)
    if not codes:
        raise ValidationError("no codes given", hint="pass the codes one per line, on stdin or with --file")
    if len(codes) > platform.max_codes:
        raise ValidationError(
            f"{len(codes)} codes given, {platform.name} accounts have at most {platform.max_codes}",
            hint="deposit only the codes of one account",
        )
    return codes
