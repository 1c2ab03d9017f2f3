"""Printing: JSON (only JSON on stdout) or short human text.

Text that other people wrote (reasons, comments, names) reaches the reader's terminal through :func:`printable`,
so that a reason cannot carry terminal escape sequences or reverse the direction of the text around it.
"""

from __future__ import annotations

import re
from typing import Any

import click

# C0 and C1 controls (escape sequences start with one) and the bidirectional overrides and isolates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\x1b``), safe to print to a terminal."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def emit(fmt: str, data: Any, human: str | None = None) -> None:
    if fmt == "json":
        import json

        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
    else:
        click.echo(human if human is not None else _text(data))


def _text(data: Any, indent: int = 0) -> str:
    pad = " " * indent
    if isinstance(data, dict):
        lines = []
        for key, value in data.items():
            if isinstance(value, dict | list) and value:
                lines.append(f"{pad}{key}:")
                lines.append(_text(value, indent + 2))
            else:
                lines.append(f"{pad}{key}: {'' if value is None else printable(str(value))}")
        return "\n".join(lines)
    if isinstance(data, list):
        return "\n".join(
            f"{pad}-\n{_text(item, indent + 2)}" if isinstance(item, dict) else f"{pad}- {printable(str(item))}"
            for item in data
        )
    return f"{pad}{printable(str(data))}"


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[printable(str(r.get(c, "") if r.get(c) is not None else "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    out = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in out)
