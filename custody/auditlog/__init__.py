"""Access-log summaries of custody from Vault/OpenBao file audit devices.

summary = summarize([Path("audit.log"), Path("audit.log.1.gz")], since="2025-01-01", until=None)
print(render(summary, "markdown"))

Reading is streaming and parallel (``reader``); ``entry`` decodes the fields the summary reads (msgspec Structs),
``extract`` turns entries into the facts of ``facts``, which ``partial`` reduces as they are read (``spill`` keeps
the ones listed one by one, on disk past a bound);
``correlate`` joins them into figures and anomalies in named stages over a ``context`` (pure), with
``anomalies`` and ``reveals`` judging each call and hand-out; ``render`` prints JSON, Markdown, CSV or HTML.
Every time is handled by ``timeparse``. The JSON schema is ``model.Summary``, versioned by ``SCHEMA_VERSION``.

Importing this package does not import the correlation stages: ``summarize`` imports them while the worker
processes read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from custody.auditlog.facts import DEFAULT_LATE_AFTER
from custody.auditlog.model import SCHEMA_VERSION, AnomalyKind, Summary
from custody.auditlog.partial import Partial
from custody.auditlog.reader import AuditReadError, paused_gc, read_lines, read_paths
from custody.auditlog.render import FORMATS, render
from custody.auditlog.timeparse import TimeArgError, parse_time

__all__ = [
    "DEFAULT_LATE_AFTER",
    "FORMATS",
    "SCHEMA_VERSION",
    "AnomalyKind",
    "AuditReadError",
    "Partial",
    "Summary",
    "TimeArgError",
    "parse_time",
    "read_lines",
    "read_paths",
    "render",
    "summarize",
    "summarize_lines",
    "summarize_partial",
]

TimeArg = str | datetime | None


def _load_correlation() -> None:
    """Import the correlation stages (a third of the package's import time): run while the workers read."""
    import custody.auditlog.correlate  # noqa: F401


def summarize_partial(
    part: Partial,
    since: TimeArg = None,
    until: TimeArg = None,
    mount: str = "custody-kv",
    service_role: str = "custody-service",
    late_after: timedelta = DEFAULT_LATE_AFTER,
) -> Summary:
    """Summarise facts already read (e.g. partials of several sources merged with ``Partial.merge``)."""
    from custody.auditlog.correlate import correlate

    return correlate(
        part,
        mount=mount,
        service_role=service_role,
        since=parse_time(since),
        until=parse_time(until),
        late_after=late_after,
    )


def summarize(
    paths: list[Path],
    since: TimeArg = None,
    until: TimeArg = None,
    mount: str = "custody-kv",
    service_role: str = "custody-service",
    *,
    late_after: timedelta = DEFAULT_LATE_AFTER,
    workers: int | None = None,
) -> Summary:
    """Read audit-device files (plain or gzip, rotated sets, several cluster nodes) and summarise them.

    ``since``/``until`` take a datetime, an ISO 8601 date or time (naive means UTC), or a duration back from
    now such as ``24h`` or ``7d``; the window is ``[since, until)``. Raises ``AuditReadError`` when a file
    cannot be read at all and ``TimeArgError`` for a bad time; bad lines are counted in ``summary.input.lines_invalid``.
    Memory is bounded whatever the log: see ``context`` for what is counted rather than listed past a bound.
    """
    s, u = parse_time(since), parse_time(until)  # fail on a bad argument before reading gigabytes
    with paused_gc():
        part = read_paths(paths, mount=mount, service_role=service_role, workers=workers, meanwhile=_load_correlation)
        from custody.auditlog.correlate import correlate

        return correlate(
            part, mount=mount, service_role=service_role, since=s, until=u, late_after=late_after, consume=True
        )


def summarize_lines(
    lines: Iterable[bytes],
    since: TimeArg = None,
    until: TimeArg = None,
    mount: str = "custody-kv",
    service_role: str = "custody-service",
    *,
    late_after: timedelta = DEFAULT_LATE_AFTER,
) -> Summary:
    """The same over lines in memory (e.g. an upload to the API)."""
    part = read_lines(lines, mount=mount, service_role=service_role)
    return summarize_partial(part, since, until, mount, service_role, late_after)
