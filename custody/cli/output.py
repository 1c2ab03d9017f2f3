"""Printing: JSON (only JSON on stdout) or short human text."""

from __future__ import annotations

from typing import Any

import click


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
                lines.append(f"{pad}{key}: {'' if value is None else value}")
        return "\n".join(lines)
    if isinstance(data, list):
        return "\n".join(
            f"{pad}-\n{_text(item, indent + 2)}" if isinstance(item, dict) else f"{pad}- {item}" for item in data
        )
    return f"{pad}{data}"


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[str(r.get(c, "") if r.get(c) is not None else "") for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    out = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in out)
