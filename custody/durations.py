"""Parse and print human durations such as ``90s``, ``30m``, ``1h``, ``2d``, ``365d``."""

from __future__ import annotations

import re
from datetime import timedelta

from custody.errors import ValidationError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"([0-9]+)([smhdw])")
_LONGEST = timedelta(days=36500)  # a century: past it a duration is a typo, and datetime arithmetic overflows


def parse_duration(text: str | int | timedelta) -> timedelta:
    """``"1h30m"`` -> 5400 s. Bare integers are seconds. Raises ValidationError on anything else, including a
    duration longer than a century."""
    if isinstance(text, timedelta):
        delta = text
    elif isinstance(text, int):
        delta = _seconds(text, str(text))
    else:
        delta = _parse(text)
    if abs(delta) > _LONGEST:
        raise ValidationError(f"duration out of range: {str(text)[:40]!r}", hint="at most 36500d")
    return delta


def _seconds(value: int, text: str) -> timedelta:
    if abs(value) > _LONGEST.total_seconds():
        raise ValidationError(f"duration out of range: {text[:40]!r}", hint="at most 36500d")
    return timedelta(seconds=value)


def _parse(text: str) -> timedelta:
    raw = text.strip().lower()
    bad = ValidationError(f"not a duration: {text[:40]!r}", hint="use a number with a unit, e.g. 30m, 1h, 7d, 365d")
    if not raw or len(raw) > 64 or not raw.isascii():
        raise bad
    if raw.isdigit():
        return _seconds(int(raw), text)
    pos, total = 0, 0
    for match in _PART.finditer(raw):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(raw):
        raise bad
    return _seconds(total, text)


def format_duration(delta: timedelta) -> str:
    """The largest exact unit: 86400 s -> ``1d``, 5400 s -> ``90m``."""
    seconds = int(delta.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"
