"""What a reveal hands out, as the requester's Vault unwraps it: one code in a small record. Read by the command
line (``custody access reveal``) and by the console alike. Pure and pydantic-free: the CLI imports it at start-up."""

from __future__ import annotations

from typing import Any


def code_of(payload: dict[str, Any]) -> str | None:
    """The code in an unwrapped reveal record: ``code`` (a cubbyhole read) or ``data.code`` (a KV v2 read, from
    servers before cubbyhole)."""
    inner = payload.get("data")
    for candidate in (payload, inner if isinstance(inner, dict) else {}):
        code = candidate.get("code")
        if isinstance(code, str) and code:
            return code
    return None
