"""Reason and ticket validation: a break-glass request must say, in words a reviewer can check, why.

A reason is refused when it is empty, holds a character a reader cannot see, is shorter than the deployment's
minimum (runs of spaces count once, a wide character such as a Chinese one twice), holds words that look like
keyboard mash (``asdf``, ``xyzwv``, ``abcde``), or says nothing a reviewer could check: once the filler any request
could say (``need``, ``access``, ``account``, ``please``...), placeholder words (``test``, ``foo``) and English's
small words are set aside, it must still have two different words. Scripts written without spaces (Chinese,
Japanese, Thai...) count about a word per two characters, so a short real reason passes in any language. A
deployment adds words or phrases of its own to the filler (``CUSTODY_REASON_FILLER``). The table in
docs/engineer-guide.md shows what is accepted and what is refused, and is tested row by row.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from custody.domain.text import describe, hidden_at, hidden_characters
from custody.errors import ValidationError

__all__ = ["FILLER", "MAX_REASON", "check_visible", "hidden_characters", "validate_reason", "validate_ticket"]

MAX_REASON = 2000
# True of every request, so they explain nothing: custody already knows you want access to an account's code.
FILLER = frozenset({
    "access", "account", "accounts", "code", "codes", "recovery", "need", "needs", "needed", "require", "required",
    "requires", "request", "requesting", "requested", "want", "wanted", "please", "pls", "plz", "asap", "urgent",
    "urgently", "help", "thanks", "thank", "thx", "hi", "hello", "hey", "reason", "because", "give", "get", "grant",
    "kindly", "ok", "okay",
})
# Words that stand for a reason not written yet.
_PLACEHOLDERS = frozenset({"test", "testing", "asdf", "qwerty", "foo", "bar", "baz", "na", "none", "xxx", "lorem",
                           "ipsum", "todo", "tbd", "blah", "stuff", "whatever", "something", "abcd", "abc"})
# English's small words: they join the words that say something.
_SMALL = frozenset({
    "a", "an", "the", "to", "of", "for", "in", "on", "at", "by", "with", "from", "into", "and", "or", "but", "so",
    "my", "me", "we", "our", "us", "you", "your", "it", "its", "this", "that", "these", "those", "is", "are", "am",
    "be", "been", "was", "were", "do", "does", "did", "have", "has", "had", "can", "could", "will", "would",
    "should", "may", "might", "must", "as", "if", "than", "then", "there", "here", "some", "any", "all", "just",
    "now", "again", "also", "very", "too", "up", "out", "about", "i",
})
# Scripts written without spaces between words.
_UNSPACED = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf"
                       "\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]")
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
# Four keys in a row, either way, except where real words have them ("liberty", "Wert", "strewn").
_KEY_RUNS = frozenset(r[i:i + 4] for row in _ROWS for r in (row, row[::-1]) for i in range(len(r) - 3)) - {
    "erty", "wert", "trew"}


def check_visible(text: str, what: str) -> None:
    """Refuse ``text`` (``what`` names it in the message) if it holds a character a reader cannot see, or a line
    break: approvers, auditors and notifications must show exactly what is stored."""
    at = hidden_at(text)
    if at is not None:
        raise ValidationError(f"{what} contains an invisible or control character, {describe(text[at])}",
                              hint="one line of plain text")


def validate_reason(text: str | None, min_length: int = 20, filler: Iterable[str] = ()) -> str:
    """Return the reason trimmed, or raise ValidationError saying what a good reason looks like. ``filler``:
    the deployment's own words or phrases that explain nothing, on top of ``FILLER``."""
    hint = f"say what happened and why you need the code, in at least {min_length} characters"
    raw = text or ""
    if not raw.strip():
        raise ValidationError("a reason is required", hint=hint)
    check_visible(raw, "the reason")
    reason = " ".join(raw.split())  # runs of spaces (any kind) count once toward the minimum length
    if len(reason) > MAX_REASON:
        raise ValidationError(f"the reason is longer than {MAX_REASON} characters")
    width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in reason)
    if width < min_length:  # a wide character (Chinese, Japanese, Korean, emoji) takes two columns, and says more
        wide = "; a wide character counts as two" if width != len(reason) else ""
        raise ValidationError(f"the reason is too short ({width} < {min_length} characters{wide})", hint=hint)
    words = _words(reason)
    mash = [w for w in dict.fromkeys(words) if _mashed(w)]
    if mash:
        raise ValidationError(f"the reason has words that look like keyboard mash: {', '.join(mash[:3])}",
                              hint="write words a reviewer can read")
    if _telling(words, filler) < 2:
        raise ValidationError("the reason does not explain anything",
                              hint=f"{hint}; words any request could use ('need', 'access', 'account', 'please') "
                                   "do not count")
    counted = [w for w in words if len(w) > 1]
    if len(counted) >= 3 and max(counted.count(w) for w in set(counted)) * 2 >= len(counted):
        raise ValidationError("the reason repeats one word", hint=hint)
    if len(set(reason.replace(" ", "").lower())) < 6:
        raise ValidationError("the reason looks like filler", hint=hint)
    return reason


def _words(text: str) -> list[str]:
    """The words of ``text``, case-folded: runs of letters with their combining marks (Devanagari vowel signs,
    Arabic harakat) and joiners; digits and punctuation separate them."""
    words: list[str] = []
    current: list[str] = []
    for ch in text:
        kind = unicodedata.category(ch)[0]
        if kind == "L" or (current and (kind == "M" or ch in "\u200c\u200d")):
            current.append(ch)
        elif current:
            words.append("".join(current).casefold())
            current = []
    if current:
        words.append("".join(current).casefold())
    return words


def _telling(words: list[str], extra: Iterable[str]) -> int:
    """How many different words say something: the filler, placeholders and small words set aside, and a run of
    a script written without spaces counted as a word per two different characters."""
    own = [_words(f) for f in extra]
    phrases = [p for p in own if len(p) > 1]
    unwanted = FILLER | _PLACEHOLDERS | _SMALL | {p[0] for p in own if len(p) == 1}
    kept = _without_phrases(words, phrases)
    spaced = {w for w in kept if w not in unwanted and len(w) > 1 and not _UNSPACED.match(w)}
    return len(spaced) + sum(len(set(w)) // 2 for w in set(kept) if _UNSPACED.match(w))


def _without_phrases(words: list[str], phrases: list[list[str]]) -> list[str]:
    kept: list[str] = []
    i = 0
    while i < len(words):
        phrase = next((p for p in phrases if words[i:i + len(p)] == p), None)
        if phrase:
            i += len(phrase)
            continue
        kept.append(words[i])
        i += 1
    return kept


def _mashed(word: str) -> bool:
    """A word typed by running a hand over the keyboard, or down the alphabet: four keys of one row in order
    ('asdf', 'poiu'), five or more letters in alphabet order however shuffled ('abcde', 'xyzwv'), one letter
    over and over ('aaaa') or two in turn ('hahaha'), or six or more letters without a vowel. Latin letters
    only: words of other scripts are never judged so."""
    if not word.isascii() or not word.isalpha() or len(word) < 4:
        return False
    if any(word[i:i + 4] in _KEY_RUNS for i in range(len(word) - 3)):
        return True
    letters = set(word)
    if len(word) >= 5 and len(letters) == len(word) and ord(max(word)) - ord(min(word)) + 1 == len(word):
        return True
    alternating = len(word) >= 6 and len(letters) == 2 and word == (word[:2] * len(word))[:len(word)]
    if len(letters) == 1 or alternating:
        return True
    return len(word) >= 6 and not letters & set("aeiouy")


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
