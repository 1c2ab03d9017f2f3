"""Reason and ticket validation: a break-glass request must say, in words a reviewer can check, why."""

from __future__ import annotations

import re
import unicodedata

from custody.errors import ValidationError

JUNK = frozenset(
    {"test", "testing", "asdf", "asdfgh", "qwerty", "foo", "bar", "baz", "na", "n/a", "none", "x", "xxx",
     "because", "reason", "access", "need", "needed", "please", "pls", "lorem", "ipsum", "todo", "tbd", "-", "."}
)
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
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
MAX_REASON = 2000


def hidden_characters(text: str) -> bool:
    """Whether ``text`` holds a character a reader cannot see (a tab aside) or a line break."""
    for i, ch in enumerate(text):
        if " " <= ch < "\x7f" or ch == "\t":
            continue  # printable ASCII: the common case, decided without a table lookup
        if ch in _SELECTORS and i and _visible_other(text[i - 1]):
            continue
        if ch in _JOINERS and i and i + 1 < len(text) and _visible_other(text[i - 1]) and \
                _visible_other(text[i + 1]):
            continue
        if ch in _SELECTORS or ch in _JOINERS or unicodedata.category(ch) in _HIDDEN_CATEGORIES:
            return True
    return _BLANK.search(text) is not None


def _visible_other(ch: str) -> bool:
    """A visible character outside ASCII (a letter of a joining script, an emoji)."""
    return not ch.isascii() and not ch.isspace() and ch not in _SELECTORS and ch not in _JOINERS and \
        unicodedata.category(ch) not in _HIDDEN_CATEGORIES


def validate_reason(text: str | None, min_length: int = 20) -> str:
    """Return the reason trimmed, or raise ValidationError saying what a good reason looks like."""
    hint = f"say what happened and why you need the code, in at least {min_length} characters"
    raw = text or ""
    if not raw.strip():
        raise ValidationError("a reason is required", hint=hint)
    if hidden_characters(raw):
        raise ValidationError("the reason contains control, invisible or direction-override characters",
                              hint="one line of plain text")
    reason = " ".join(raw.split())  # runs of spaces (any kind) count once toward the minimum length
    if len(reason) > MAX_REASON:
        raise ValidationError(f"the reason is longer than {MAX_REASON} characters")
    if len(reason) < min_length:
        raise ValidationError(f"the reason is too short ({len(reason)} < {min_length} characters)", hint=hint)
    words = [w.lower() for w in _WORD.findall(reason)]
    meaningful = [w for w in words if w not in JUNK]
    if len(set(meaningful)) < 2:
        raise ValidationError("the reason does not explain anything", hint=hint)
    top = max(words.count(w) for w in set(words))
    if len(words) >= 3 and top / len(words) >= 0.5:
        raise ValidationError("the reason repeats one word", hint=hint)
    if len(set(reason.replace(" ", "").lower())) < 6:
        raise ValidationError("the reason looks like filler", hint=hint)
    return reason


_TICKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._#/:-]{0,63}$")


def validate_ticket(ticket: str | None, pattern: str | None) -> str | None:
    """An optional ticket id; required and matched when the deployment sets a pattern."""
    ticket = (ticket or "").strip() or None
    if ticket is None:
        if pattern:
            raise ValidationError("a ticket is required", hint=f"pass --ticket matching {pattern}")
        return None
    if not _TICKET.fullmatch(ticket):
        raise ValidationError("malformed ticket id", hint="1-64 letters, digits and . _ # / : -")
    if pattern and not re.fullmatch(pattern, ticket):
        raise ValidationError("the ticket does not match this deployment's pattern", hint=f"expected {pattern}")
    return ticket
