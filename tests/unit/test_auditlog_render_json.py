"""The JSON of a summary is msgspec's own encoding of it, sorted and indented, however the renderer assembles it."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from custody.auditlog import render, summarize
from custody.auditlog.model import Summary

SCENARIO = Path(__file__).resolve().parent.parent / "fixtures" / "audit" / "scenario.log"


def whole(s: Summary) -> str:
    """The summary encoded in one piece: what the JSON must be, byte for byte."""
    return msgspec.json.format(msgspec.json.Encoder(order="sorted").encode(s), indent=2).decode() + "\n"


@pytest.fixture(scope="module")
def summary() -> Summary:
    s = summarize([SCENARIO], workers=1)
    assert s.reveals and any(a.reveals for a in s.accounts)
    return s


def test_a_summary_renders_as_encoded_in_one_piece(summary: Summary) -> None:
    assert render(summary, "json") == whole(summary)


def test_an_empty_summary_too(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    s = summarize([empty], workers=1)
    assert not s.reveals and not s.accounts
    assert render(s, "json") == whole(s)


def test_reveals_that_are_not_the_listed_ones_and_text_that_looks_like_json(summary: Summary) -> None:
    first = summary.reveals[0]
    odd = first.model_copy({"reason": 'lost it\n  },\n  {\n    "x": 1', "ticket": "}\n]"})
    accounts = [a.model_copy({"reveals": [odd, *a.reveals[1:]]}) for a in summary.accounts]
    accounts.append(accounts[0].model_copy({"account": "pypi/none", "reveals": []}))
    for s in (
        summary.model_copy({"accounts": accounts}),
        summary.model_copy({"reveals": [odd, *summary.reveals[1:]]}),
        Summary.model_validate_json(render(summary, "json")),  # every reveal under an account is another object
        summary.model_copy({"reveals": []}),
    ):
        assert render(s, "json") == whole(s)
