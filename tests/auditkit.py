"""Audit lines for the audit reader's unit tests: the recorded scenario, and real entries edited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import strategies as st

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


def times_shaped_like_vault(fraction: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Strings of Vault's time form, YYYY-MM-DDThh:mm:ss.<fraction>Z, with any digits in every field: most are no
    real time (month 13, hour 99, year 0)."""
    two = st.integers(0, 99)
    return st.builds("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{}Z".format, st.integers(0, 9999), two, two, two, two,
                     two, fraction)
