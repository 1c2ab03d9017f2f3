"""Structured logging with a redaction processor that runs last, so no code, token or secret_id is ever printed."""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO, cast

import structlog

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


def configure(fmt: str = "json", level: str = "info", stream: Any = None) -> None:
    """Configure structlog once for the process: JSON lines in production, readable lines for people."""
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
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(stream or cast(TextIO, _Stderr())),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str = "custody") -> Any:
    return structlog.get_logger(name)
