"""What a reader can see of a text: the characters that display as nothing (or change how the text around them
displays), and a name for a character that a message has to point at without showing it."""

from __future__ import annotations

import re
import unicodedata

# Characters that display as nothing or change how text around them displays: none belongs in a one-line human
# text, and each can make it read differently from what it holds (or pad it past a minimum length). Every format
# character (Cf: zero-width spaces, direction marks and overrides, tags, the BOM), control, private-use and
# surrogate code point, plus the blank letters and selectors that are not Cf. Unassigned code points are allowed:
# Python's Unicode tables lag behind the emoji on people's phones.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Zl", "Zp"})
_BLANK = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\uffa0\U000e0100-\U000e01ef]")
# Joiners and emoji selectors that people's text needs (Persian spelling, Indic conjuncts, emoji such as ⚠️ or
# 👩‍💻), accepted only where they join or follow something visible that is not ASCII: never as padding.
_JOINERS = frozenset("\u200c\u200d")
_SELECTORS = frozenset("\ufe0e\ufe0f")

# Names people know these by (Unicode's own are in capitals, and controls have none).
_NAMES = {
    "\t": "tab", "\n": "line break", "\r": "carriage return", "\x1b": "escape character", "\x00": "null character",
    "\u00a0": "no-break space", "\u00ad": "soft hyphen", "\u200b": "zero-width space",
    "\u200c": "zero-width non-joiner", "\u200d": "zero-width joiner", "\u200e": "left-to-right mark",
    "\u200f": "right-to-left mark", "\u2060": "word joiner", "\u202e": "right-to-left override",
    "\u202d": "left-to-right override", "\ufeff": "byte order mark", "\u2028": "line separator",
}


def hidden_at(text: str) -> int | None:
    """Where the first character a reader cannot see (a tab aside), or a line break, is in ``text``; None if
    there is none."""
    for i, ch in enumerate(text):
        if " " <= ch < "\x7f" or ch == "\t":
            continue  # printable ASCII: the common case, decided without a table lookup
        if ch in _SELECTORS and i and _visible_other(text[i - 1]):
            continue
        if ch in _JOINERS and i and i + 1 < len(text) and _visible_other(text[i - 1]) and \
                _visible_other(text[i + 1]):
            continue
        if ch in _SELECTORS or ch in _JOINERS or unicodedata.category(ch) in _HIDDEN_CATEGORIES or \
                _BLANK.match(ch):
            return i
    return None


def hidden_characters(text: str) -> bool:
    """Whether ``text`` holds a character a reader cannot see (a tab aside) or a line break."""
    return hidden_at(text) is not None


def _visible_other(ch: str) -> bool:
    """A visible character outside ASCII (a letter of a joining script, an emoji)."""
    return not ch.isascii() and not ch.isspace() and ch not in _SELECTORS and ch not in _JOINERS and \
        unicodedata.category(ch) not in _HIDDEN_CATEGORIES


def describe(ch: str) -> str:
    """A character named for a message, never shown: 'a zero-width space (U+200B)', 'an en dash (U+2013)'."""
    name = _NAMES.get(ch) or unicodedata.name(ch, "").lower() or (
        "control character" if unicodedata.category(ch) == "Cc" else "character without a name")
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name} (U+{ord(ch):04X})"
