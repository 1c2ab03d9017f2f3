"""Parse and print human durations such as ``90s``, ``30m``, ``1h``, ``2d``, ``365d``."""

from __future__ import annotations

import re
from datetime import timedelta

from custody.errors import ValidationError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d{1,9})([smhdw])")


def parse_duration(text: str | int | timedelta) -> timedelta:
    """``"1h30m"`` -> 5400 s. Bare integers are seconds. Raises ValidationError on anything else."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int):
        return timedelta(seconds=text)
    raw = text.strip().lower()
    if raw.isdigit():
        return timedelta(seconds=int(raw))
    pos, total = 0, 0
    for match in _PART.finditer(raw):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not raw or pos != len(raw):
        raise ValidationError(
            f"not a duration: {text[:40]!r}", hint="use a number with a unit, e.g. 30m, 1h, 7d, 365d"
        )
    return timedelta(seconds=total)


def format_duration(delta: timedelta) -> str:
    """The largest exact unit: 86400 s -> ``1d``, 5400 s -> ``90m``."""
    seconds = int(delta.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"
