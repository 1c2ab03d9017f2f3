"""Every time the audit summary handles, in one form: fixed-width UTC with nanoseconds, so that string order is time
order (``2026-11-25T07:01:05.257993318Z``).

``norm_time`` turns an entry's ``time`` into that form (or '' when it is no real time), ``time_int``/``time_str``
pack it into an integer of the same order for the grant timelines, ``to_dt`` gives a datetime for durations, and
``parse_time``/``parse_duration`` read the ``--since``/``--until``/``--late-after`` arguments.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from custody import durations
from custody.errors import ValidationError

# An audit entry's time is when Vault wrote it: a year outside this range is a hostile or broken value (and would
# overflow the date arithmetic of the summary and its timeline).
MIN_YEAR, MAX_YEAR = 1970, 9000
_MINUTES: dict[str, bool] = {}  # 'YYYY-MM-DDTHH:MM' -> a real minute in range (one check per minute of log)
_SECONDS: dict[str, bool] = {}  # 'YYYY-MM-DDTHH:MM:SS' -> a real second in range


def _real_minute(m: str) -> bool:
    ok = _MINUTES.get(m)
    if ok is None:
        ok = (
            m[4] == "-"
            and m[7] == "-"
            and m[13] == ":"
            and m[:4].isdigit()
            and m[5:7].isdigit()
            and m[8:10].isdigit()
            and m[11:13].isdigit()
            and m[14:16].isdigit()
            and m[11:13] < "24"
            and m[14:16] < "60"
        )
        if ok:
            try:
                ok = MIN_YEAR <= date(int(m[:4]), int(m[5:7]), int(m[8:10])).year <= MAX_YEAR
            except ValueError:
                ok = False
        if len(_MINUTES) > 4096:
            _MINUTES.clear()
        _MINUTES[m] = ok
    return ok


def _real_second(s: str) -> bool:
    ok = _SECONDS.get(s)
    if ok is None:
        ok = s[16] == ":" and s[17] in "012345" and s[18] in "0123456789" and _real_minute(s[:16])
        if len(_SECONDS) > 4096:
            _SECONDS.clear()
        _SECONDS[s] = ok
    return ok


def norm_time(value: object) -> str:
    """RFC 3339 time as fixed-width UTC nanoseconds, so string order is time order ('' if unusable).

    Only real dates and times of day, in years ``MIN_YEAR`` to ``MAX_YEAR``, are kept (a hostile
    '2026-13-45T99:99:99Z' or year 0 after the zone shift is unusable), so every non-empty result parses as a
    datetime with room for the summary's date arithmetic.
    """
    if type(value) is not str or len(value) < 20 or not value.isascii():
        return ""
    if len(value) == 30 and value[19] == "." and value[-1] == "Z" and value[10] == "T":
        # what Vault writes (nanoseconds in UTC), unless trailing zeros were trimmed: checked once per second
        ok = _SECONDS.get(value[:19])
        if ok is None:
            ok = _real_second(value[:19])
        return value if ok and value[20:29].isdigit() else ""
    if value[10] == "T" and value[-1] == "Z" and (value[19] == "." or len(value) == 20):
        frac = value[20:-1]
        if (frac.isdigit() or not frac) and _real_second(value[:19]):
            return f"{value[:19]}.{frac[:9].ljust(9, '0')}Z"
        return ""
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        dt = dt.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or out of datetime's range once moved to UTC
        return ""
    if not MIN_YEAR <= dt.year <= MAX_YEAR:
        return ""
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}."
        f"{dt.microsecond:06d}000Z"
    )


def time_int(t: str) -> int:
    """A normalised time as an integer in the same order, YYYYMMDDhhmmssnnnnnnnnn; 0 for ''."""
    if len(t) != 30:
        return 0
    base = _SECOND_INTS.get(t[:19])  # the seconds repeat from entry to entry: read once per second of log
    if base is None:
        d = t[0:4] + t[5:7] + t[8:10] + t[11:13] + t[14:16] + t[17:19]
        base = int(d) * 10**9 if d.isdigit() else -1
        if len(_SECOND_INTS) > 4096:
            _SECOND_INTS.clear()
        _SECOND_INTS[t[:19]] = base
    frac = t[20:29]
    return base + int(frac) if base >= 0 and frac.isdigit() else 0


_SECOND_INTS: dict[str, int] = {}


def time_str(n: int) -> str:
    """The inverse of ``time_int``."""
    if not n:
        return ""
    s = f"{n:023d}"
    return f"{s[0:4]}-{s[4:6]}-{s[6:8]}T{s[8:10]}:{s[10:12]}:{s[12:14]}.{s[14:]}Z"


def to_dt(t: str) -> datetime:
    """A normalised time as an aware datetime (microsecond precision)."""
    return datetime.fromisoformat(t[:26]).replace(tzinfo=UTC)


def in_window(t: str, since: str, until: str) -> bool:
    """Whether a normalised time lies in ``[since, until)`` ('' bounds: open)."""
    return bool(t) and (not since or t >= since) and (not until or t < until)


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
    """A ``--since``/``--until`` value in the summary's time form; '' for None or ''."""
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
