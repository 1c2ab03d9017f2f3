"""Audit lines for the audit reader's unit tests: the recorded scenario, and real entries edited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

SCENARIO = Path(__file__).resolve().parent / "fixtures" / "audit" / "scenario.log"


def mutate(line: bytes, path: list[str], value: Any) -> bytes:
    """Replace (or add) the value at a key path of an audit entry."""
    e = orjson.loads(line)
    node = e
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return orjson.dumps(e) + b"\n"
