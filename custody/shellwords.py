"""Text as one word of a shell command, for the commands custody prints for people to run (a key's label, say):
bare when it is plain, in double quotes when that is enough, else quoted the POSIX way."""

from __future__ import annotations

import re
import shlex

_PLAIN = re.compile(r"[A-Za-z0-9@%+=:,./_-]+")
_SPECIAL_IN_DOUBLE_QUOTES = re.compile(r'["$`\\!]')


def shell_word(text: str) -> str:
    if _PLAIN.fullmatch(text):
        return text
    if not _SPECIAL_IN_DOUBLE_QUOTES.search(text):
        return f'"{text}"'
    return shlex.quote(text)
