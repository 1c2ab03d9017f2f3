"""docs/commands.md read back: its table of commands (between ``<!-- commands:begin -->`` and ``<!-- commands:end
-->``), and the JSON shapes it gives, and the same table made from the real click tree.

``python -m tests.commandsdoc`` prints the table from the click tree, each row's JSON shape kept from the doc: paste
it between the markers after adding or changing a command, then fill in a new command's shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click

from custody.cli.main import every_command

cli = every_command()
DOC = Path(__file__).resolve().parents[1] / "docs" / "commands.md"
BEGIN, END = "<!-- commands:begin -->", "<!-- commands:end -->"
HEADER = "| command | what it does | `--format json` prints |\n|---|---|---|"
NO_JSON = "no JSON"


def leaf_commands(command: click.Command = cli, path: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    """Every command you can run, by its words after ``custody``, in the order of ``custody --help``."""
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from leaf_commands(command.commands[name], (*path, name))
    else:
        yield " ".join(path), command


def usage(name: str, command: click.Command) -> str:
    ctx = click.Context(command, info_name=name)
    pieces = [p for p in command.collect_usage_pieces(ctx) if p != "[OPTIONS]" and p.strip()]
    return " ".join(["custody", name, *pieces])


def purpose(command: click.Command) -> str:
    return command.get_short_help_str(limit=300)


def speaks_json(command: click.Command) -> bool:
    return any(isinstance(p, click.Option) and "--format" in p.opts and isinstance(p.type, click.Choice)
               and "json" in p.type.choices for p in command.params)


@dataclass(frozen=True)
class Row:
    usage: str
    purpose: str
    json: str

    @property
    def name(self) -> str:
        words = self.usage.split()[1:]
        return " ".join(w for w in words if re.fullmatch(r"[a-z][a-z-]*", w))


def rows(text: str | None = None) -> list[Row]:
    text = DOC.read_text() if text is None else text
    body = text.split(BEGIN, 1)[1].split(END, 1)[0]
    found = []
    for line in body.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == 3, f"a row of docs/commands.md has {len(cells)} cells: {line}"
        found.append(Row(cells[0].strip("`"), cells[1], cells[2]))
    return found


@dataclass(frozen=True)
class Shape:
    text: str
    is_list: bool
    required: set[str] = field(default_factory=set)
    optional: set[str] = field(default_factory=set)

    def __str__(self) -> str:
        return self.text


def shape(text: str) -> Shape:
    """``{"a", "b"?, "c": [...]}`` or ``[{...}]``: the top-level keys (``?``: not always there)."""
    is_list = text.startswith("[")
    body = text[1:-1] if is_list else text
    required, optional, depth = set(), set(), 0
    for m in re.finditer(r'[{}\[\]]|"([^"]+)"(\?)?', body):
        if m.group(0) in "{[":
            depth += 1
        elif m.group(0) in "}]":
            depth -= 1
        elif depth == 1:
            (optional if m.group(2) else required).add(m.group(1))
    return Shape(text, is_list, required, optional)


def named_shapes(text: str) -> dict[str, str]:
    """The shapes named in the doc's list of shapes: ``- *grant*: `{...}```."""
    return dict(re.findall(r"^- \*([a-z ]+)\*: `(.+)`$", text, flags=re.M))


def documented() -> dict[str, Shape | None]:
    """Each command's JSON shape as the doc gives it (None: it prints no JSON)."""
    text = DOC.read_text()
    names = named_shapes(text)
    out: dict[str, Shape | None] = {}
    for row in rows(text):
        literal = re.search(r"`(.+)`", row.json)
        named = re.search(r"\*([a-z ]+)\*", row.json)
        if literal:
            out[row.name] = shape(literal.group(1))
        elif named:
            base = names[named.group(1)]
            out[row.name] = shape(f"[{base}]" if "list of" in row.json else base)
        else:
            out[row.name] = None
    return out


def table() -> str:
    """The table made from the click tree, with the JSON column kept from the doc where it has one."""
    kept = {r.name: r.json for r in rows()} if DOC.exists() and BEGIN in DOC.read_text() else {}
    lines = [HEADER]
    for name, command in leaf_commands():
        cell = kept.get(name) or ("TODO" if speaks_json(command) else NO_JSON)
        lines.append(f"| `{usage(name, command)}` | {purpose(command)} | {cell} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
