"""``--since``/``--until`` values: ISO 8601 dates and times, or a duration back from now (``24h``, ``7d``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from custody.auditlog.facts import norm_time
from custody.errors import ValidationError

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: str) -> timedelta:
    """``90s``, ``2m``, ``1h``, ``7d``, ``2w``."""
    m = _DURATION.match(value.strip())
    if not m:
        raise ValidationError(f"cannot read {value!r} as a duration", "use a number and a unit: 90s, 2m, 1h, 7d")
    return timedelta(**{_UNIT[m.group(2)]: int(m.group(1))})


class TimeArgError(ValidationError):
    def __init__(self, value: str) -> None:
        super().__init__(
            f"cannot read {value!r} as a time",
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
        m = _DURATION.match(text)
        if m:
            dt = (now or datetime.now(UTC)) - timedelta(**{_UNIT[m.group(2)]: int(m.group(1))})
        else:
            try:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError as e:
                raise TimeArgError(text) from e
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
    return norm_time(dt.astimezone(UTC).isoformat().replace("+00:00", "Z"))
