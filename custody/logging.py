"""Structured logging with a redaction processor that runs last, so no code, token or secret_id is ever printed.

Importing this module is cheap: structlog (and the console renderer it brings) is imported only when something is
logged or :func:`configure` is called. The command line uses :func:`deferred`: a command that never logs, such as
``custody --help`` or ``custody accounts list``, never imports structlog at all.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any, TextIO, cast

# Keys whose values are secret whatever they hold.
SECRET_KEYS = frozenset(
    {
        "code",
        "codes",
        "token",
        "client_token",
        "wrap_token",
        "wrapping_token",
        "secret_id",
        "x-vault-token",
        "authorization",
        "password",
    }
)
# Values that look like a PyPI recovery code or a Vault/OpenBao token, wherever they appear.
_SECRET_VALUE = re.compile(r"\b[0-9a-f]{16}\b|\b(?:hv[sbr]|[sbr])\.[A-Za-z0-9_.\-]{16,}")
REDACTED = "[redacted]"

# The level names `logging` knows (``warn`` is its alias of ``warning``), without importing `logging` to ask.
LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "critical": 50}
LOG_LEVELS = tuple(LEVELS)


def check_log_level(value: str) -> str:
    """A log level name, lower case; ValueError naming the choices otherwise."""
    level = value.strip().lower()
    if level not in LEVELS:
        raise ValueError(f"not a log level: {value[:40]!r} (one of {', '.join(LOG_LEVELS)})")
    return level


def scrub(value: Any) -> Any:
    """Redact secret-looking values inside strings, lists and dicts."""
    if isinstance(value, str):
        return _SECRET_VALUE.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower() in SECRET_KEYS else scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in SECRET_KEYS:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = scrub(event_dict[key])
    return event_dict


class _Stderr(io.TextIOBase):
    """Whatever sys.stderr is at the time of writing (it may be swapped, e.g. by a test runner)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_deferred: tuple[str, str] | None = None  # a configuration to apply before the first event is logged


def configure(fmt: str = "json", level: str = "info", stream: Any = None) -> None:
    """Configure structlog for the process, now: JSON lines in production, readable lines for people."""
    global _deferred
    _deferred = None
    import structlog

    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[check_log_level(level)]),
        logger_factory=structlog.PrintLoggerFactory(stream or cast(TextIO, _Stderr())),
        cache_logger_on_first_use=False,
    )


@contextlib.contextmanager
def deferred(fmt: str, level: str) -> Iterator[None]:
    """Within the block, the first event logged through :func:`get_logger` configures logging first.

    The command line runs each command inside this, so that only a command that logs pays for structlog.
    """
    global _deferred
    _deferred = (fmt, check_log_level(level))
    try:
        yield
    finally:
        _deferred = None


class _Logger:
    """A structlog logger resolved on first use (structlog's own proxies need structlog imported to exist)."""

    __slots__ = ("_name", "_target")

    def __init__(self, name: str) -> None:
        self._name = name
        self._target: Any = None

    def __getattr__(self, attr: str) -> Any:
        if _deferred is not None:
            configure(*_deferred)
        if self._target is None:
            import structlog

            self._target = structlog.get_logger(self._name)  # re-reads the configuration on each call
        return getattr(self._target, attr)

    def __repr__(self) -> str:
        return f"<logger {self._name}>"


def get_logger(name: str = "custody") -> Any:
    return _Logger(name)
