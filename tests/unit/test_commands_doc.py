"""docs/commands.md lists every custody command, and only those: its usage as `--help` gives it, its purpose (the
first sentence of its `--help`), and a JSON shape exactly when the command has `--format json`.
``python -m tests.commandsdoc`` prints the table to paste after adding or changing a command."""

from __future__ import annotations

from pathlib import Path

from tests.commandsdoc import DOC, NO_JSON, documented, leaf_commands, purpose, rows, shape, speaks_json, table, usage

ROOT = Path(__file__).resolve().parents[2]


def test_every_command_is_listed_and_every_listed_command_exists() -> None:
    listed = [r.name for r in rows()]
    real = [name for name, _ in leaf_commands()]
    assert len(listed) == len(set(listed)), "a command is listed twice"
    assert sorted(set(real) - set(listed)) == [], "commands missing from docs/commands.md (python -m tests.commandsdoc)"
    assert sorted(set(listed) - set(real)) == [], "docs/commands.md lists commands custody does not have"
    assert listed == real, "keep the table in the order of `custody --help`"


def test_each_row_gives_the_command_usage_and_purpose() -> None:
    commands = dict(leaf_commands())
    for row in rows():
        command = commands[row.name]
        assert row.usage == usage(row.name, command)
        assert row.purpose == purpose(command), row.name


def test_a_command_has_a_json_shape_exactly_when_it_prints_json() -> None:
    commands = dict(leaf_commands())
    for name, found in documented().items():
        assert (found is not None) == speaks_json(commands[name]), name
    assert all(r.json == NO_JSON for r in rows() if documented()[r.name] is None)


def test_the_generated_table_is_the_one_in_the_doc() -> None:
    assert table() in DOC.read_text()


def test_shapes_read_top_level_keys_only() -> None:
    s = shape('{"a", "b"?, "c": [{"d", "e"}], "f": {...}}')
    assert (s.is_list, s.required, s.optional) == (False, {"a", "c", "f"}, {"b"})
    listed = shape('[{"id", "x": {"y"}}]')
    assert (listed.is_list, listed.required) == (True, {"id", "x"})
    grant = documented()["access show"]
    assert grant is not None and {"id", "account", "requester", "reason", "ticket", "status", "approvals",
                                  "created_at", "expires_at"} <= grant.required  # the design contract's minimum


def test_the_readme_links_the_reference() -> None:
    assert "(docs/commands.md)" in (ROOT / "README.md").read_text()
