"""``--since``/``--until`` values: ISO 8601 dates and times, or a duration back from now (``24h``, ``7d``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from custody import durations
from custody.auditlog.facts import MAX_YEAR, MIN_YEAR, norm_time
from custody.errors import ValidationError

_DURATION = re.compile(r"^[0-9]+[smhdw]$")


def parse_duration(value: str) -> timedelta:
    """``90s``, ``2m``, ``1h``, ``7d``, ``2w``."""
    if not _DURATION.match(value.strip()):
        raise ValidationError(f"cannot read {value[:40]!r} as a duration", "use a number and a unit: 90s, 2m, 1h, 7d")
    return durations.parse_duration(value)  # at most a century


class TimeArgError(ValidationError):
    def __init__(self, value: str) -> None:
        super().__init__(
            f"cannot read {value[:40]!r} as a time",
            "give an ISO 8601 date or time (2025-03-01, 2025-03-01T12:00:00Z; no zone means UTC) "
            "or a duration back from now (90m, 24h, 7d, 2w)",
        )
        self.value = value


def parse_time(value: str | datetime | None, now: datetime | None = None) -> str:
    """Normalise to the summary's time format (fixed-width UTC, nanoseconds); '' for None or ''."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        text = value.strip()
        if _DURATION.match(text):
            try:
                dt = (now or datetime.now(UTC)) - durations.parse_duration(text)
            except ValidationError as e:
                raise TimeArgError(text) from e
        else:
            try:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError as e:
                raise TimeArgError(text) from e
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
    try:
        dt = dt.astimezone(UTC)
    except OverflowError as e:  # year 1 or 9999 moved out of range by its zone
        raise TimeArgError(str(value)) from e
    # Entry times are kept in [MIN_YEAR, MAX_YEAR]: a bound outside is the same as that end of the range.
    dt = min(max(dt, _LOW), _HIGH)
    return norm_time(dt.isoformat().replace("+00:00", "Z"))


_LOW = datetime(MIN_YEAR, 1, 1, tzinfo=UTC)
_HIGH = datetime(MAX_YEAR, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
