"""The engineer guide's table of accepted and refused reasons is what custody does: every row is checked here, so
the table cannot drift from the code."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from custody.domain.reasons import validate_reason
from custody.errors import ValidationError

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "engineer-guide.md"


def rows() -> list[tuple[str, str]]:
    text = GUIDE.read_text()
    table = text[text.index("<!-- reasons:begin -->"):text.index("<!-- reasons:end -->")]
    found = []
    for line in table.splitlines()[3:]:  # the marker, the header and its rule
        reason, says = (cell.strip() for cell in line.strip("|").split("|")[:2])
        unescaped = re.sub(r"\\u([0-9a-f]{4})", lambda m: chr(int(m.group(1), 16)), reason.strip("`"))
        found.append((unescaped, says.strip("`")))
    return found


def test_the_table_has_both_kinds_of_row_and_several_scripts() -> None:
    says = [s for _, s in rows()]
    assert says.count("accepted") >= 6 and len(says) - says.count("accepted") >= 6
    scripts = {unicodedata.name(ch).split()[0] for r, s in rows() if s == "accepted" for ch in r if ch.isalpha()}
    assert {"LATIN", "CJK", "KATAKANA", "ARABIC", "DEVANAGARI"} <= scripts


@pytest.mark.parametrize(("reason", "says"), rows())
def test_each_row_of_the_guide(reason: str, says: str) -> None:
    if says == "accepted":
        assert validate_reason(reason) == reason
    else:
        with pytest.raises(ValidationError) as caught:
            validate_reason(reason)
        assert caught.value.message == says
