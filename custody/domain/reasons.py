"""Reason and ticket validation: a break-glass request must say, in words a reviewer can check, why."""

from __future__ import annotations

import re

from custody.domain.text import hidden_characters
from custody.errors import ValidationError

__all__ = ["hidden_characters", "validate_reason", "validate_ticket"]

JUNK = frozenset(
    {"test", "testing", "asdf", "asdfgh", "qwerty", "foo", "bar", "baz", "na", "n/a", "none", "x", "xxx",
     "because", "reason", "access", "need", "needed", "please", "pls", "lorem", "ipsum", "todo", "tbd", "-", "."}
)
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
MAX_REASON = 2000


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
