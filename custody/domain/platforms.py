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

from custody.domain.text import describe, hidden_at
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
        # PyPI's form strips spaces and lowercases nothing; we also take out the dashes people group codes with,
        # and normalise case so a code typed in upper case works.
        raw = raw.split("#", 1)[0]  # a note after the code: no PyPI code holds a '#'
        code = _SEPARATORS.sub("", raw).lower()
        if self._code.fullmatch(code):
            return code
        what = "a PyPI recovery code is 16 characters 0-9 and a-f (spaces or dashes between groups are fine)"
        unseen = _unseen(raw, what)
        if unseen is not None:
            raise unseen
        if _reads_like_prose(raw):
            raise ValidationError("not a code, it reads like a header or a note",
                                  hint="remove the header line, or start it with '#' to keep it as a comment")
        wrong = sum(1 for ch in code if ch not in "0123456789abcdef")
        if wrong:
            raise ValidationError(f"malformed PyPI recovery code: {wrong} of its {len(code)} characters "
                                  f"{'is' if wrong == 1 else 'are'} not 0-9 or a-f", hint=what)
        raise ValidationError(f"malformed PyPI recovery code ({len(code)} characters)", hint=what)


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
        what = "a code is 4-256 printable characters, one per line"
        unseen = _unseen(code, what)
        if unseen is not None:
            raise unseen
        if not 4 <= len(code) <= 256 or not code.isprintable():
            raise ValidationError(f"malformed recovery code ({len(code)} characters)", hint=what)
        return code


# Between the groups of a code: spaces of any kind (a tab, a no-break space), and dashes of any kind (hyphen-minus,
# and the hyphens and dashes a word processor or a web page turns it into).
_SEPARATORS = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\-\u2010-\u2014\u2212]+")
_LETTERS = re.compile(r"[A-Za-z]{3,}")


def _unseen(line: str, what: str) -> ValidationError | None:
    """The error for a line holding a character that is invisible, or not what a code is typed with (a letter
    of another alphabet that looks like a Latin one, a typographic quote), naming it; None if there is none."""
    at = hidden_at(line)
    if at is not None:
        shown = _visible_length(line)
        return ValidationError(f"an invisible character, {describe(line[at])}, is in this line "
                               f"({f'it shows {shown} characters' if shown else 'it looks empty'})",
                               hint=f"delete it, or type the line again; {what}")
    odd = next((ch for ch in line if not ch.isascii() and not _SEPARATORS.fullmatch(ch)), None)
    if odd is not None:
        return ValidationError(f"{describe(odd)} is in this line", hint=f"type the line again; {what}")
    return None


def _visible_length(line: str) -> int:
    """How many characters a reader sees in ``line``, around its invisible ones."""
    return len("".join(ch for i, ch in enumerate(line) if hidden_at(ch) is None).strip())


def _reads_like_prose(line: str) -> bool:
    """A header or a note rather than a mistyped code: a word of three letters or more with a letter that no code
    has, or fewer than three in four characters that a code could hold."""
    text = _SEPARATORS.sub("", line).lower()
    words = [w.lower() for w in _LETTERS.findall(line) if _standalone(line, w)]
    if any(set(w) - set("abcdef") for w in words):
        return True
    return sum(ch in "0123456789abcdef" for ch in text) * 4 < len(text) * 3


def _standalone(line: str, word: str) -> bool:
    """Whether ``word`` stands alone in ``line`` (between spaces or punctuation, not digits: 'ab12cdeg' is a code
    gone wrong, 'Saved' a word)."""
    for m in re.finditer(re.escape(word), line):
        before = line[m.start() - 1] if m.start() else " "
        after = line[m.end()] if m.end() < len(line) else " "
        if not before.isalnum() and not after.isalnum():
            return True
    return False


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
    """Codes from text, one per line, as a person pastes them or a platform's "save your codes" file has them.

    Accepted around the codes: a UTF-8 byte order mark at the start, CRLF or CR line ends, blank lines, lines
    starting with ``#`` (comments), spaces around a code and, for PyPI, spaces or dashes inside one, either case
    and a ``# note`` after it. Refused with the line number and what is wrong with it, never the code itself (a
    secret): an invisible or foreign character is named (``a zero-width space (U+200B)``), a line of prose is
    called a header to remove; duplicates and too many codes are refused too.
    """
    codes: list[str] = []
    seen: set[str] = set()
    for lineno, line in enumerate(_LINE_END.split(text.removeprefix("\ufeff")), start=1):
        if not line.strip() or line.lstrip().startswith("#") or not _SEPARATORS.sub("", line):
            continue  # blank, a comment, or a rule of dashes
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


_LINE_END = re.compile(r"\r\n|\r|\n")  # as editors count lines (str.splitlines also breaks at \f, \x1c...)
