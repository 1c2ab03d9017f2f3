"""Deposits as people paste or save them: any valid code in any accepted decoration parses to the same code, and
no junk line ever parses; what is wrong with a line is said plainly (the invisible character named, the header
called a header), never by showing the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.domain.platforms import PLATFORMS, parse_codes
from custody.errors import ValidationError

PYPI = PLATFORMS["pypi"]
CODE = "0123456789abcdef"

codes_st = st.lists(st.binary(min_size=8, max_size=8).map(bytes.hex), min_size=1, max_size=8, unique=True)
spaces = st.sampled_from([" ", "  ", "\t", "\u00a0", "\u3000", "\u2009"])
dashes = st.sampled_from(["-", " - ", "\u2010", "\u2013", "\u2212", " "])


@st.composite
def decorated(draw: st.DrawFn, code: str) -> str:
    """``code`` as a person might write it: any case, grouped by spaces or dashes (4x4, 2x8 or anyhow), spaces
    around it, perhaps a note after it."""
    chars = [c.upper() if draw(st.booleans()) else c for c in code]
    grouping = draw(st.sampled_from(["none", "4x4", "2x8", "any"]))
    cuts = {"none": [], "4x4": [4, 8, 12], "2x8": [8], "any": draw(st.lists(st.integers(1, 15), unique=True))}
    sep = draw(dashes)
    text = "".join((sep if i in cuts[grouping] else "") + c for i, c in enumerate(chars))
    note = draw(st.sampled_from(["", "  # first one", "\t#used? no"]))
    return draw(st.sampled_from(["", " ", "\t", "\u00a0"])) + text + draw(st.sampled_from(["", " ", "\t"])) + note


@st.composite
def saved_file(draw: st.DrawFn, codes: list[str]) -> str:
    """The codes, one per line, in a file as an editor or a paste leaves it: a BOM, CRLF or CR, blank lines,
    comments, a rule of dashes."""
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines: list[str] = []
    for code in codes:
        lines += draw(st.lists(st.sampled_from(["", "   ", "\t", "# PyPI recovery codes", "  # saved 2026-11-01",
                                                "----------------"]), max_size=2))
        lines.append(draw(decorated(code)))
    text = end.join(lines) + draw(st.sampled_from(["", end, end + end]))
    return ("\ufeff" if draw(st.booleans()) else "") + text


@settings(max_examples=300)
@given(st.data())
def test_any_valid_code_in_any_accepted_decoration_parses_to_the_code(data: st.DataObject) -> None:
    codes = data.draw(codes_st)
    assert parse_codes(PYPI, data.draw(saved_file(codes))) == codes


INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u202e", "\x00", "\x0b", "\x1b",
             "\u2028", "\ue000", "\u3164"]
LOOKALIKES = ["\u0430", "\u0435", "\u043e", "\uff10", "\uff41", "\u2018", "\u00e9", "\u0391"]


@st.composite
def junk(draw: st.DrawFn) -> str:
    """A line that is no code however it is read: the wrong number of characters, a letter no code has, an
    invisible or look-alike character, prose."""
    code = list(draw(st.binary(min_size=8, max_size=8).map(bytes.hex)))
    kind = draw(st.sampled_from(["length", "letter", "invisible", "lookalike", "prose"]))
    if kind == "length":
        return draw(st.text("0123456789abcdefABCDEF", min_size=1, max_size=40).filter(lambda t: len(t) != 16))
    at = draw(st.integers(0, 15))
    if kind == "letter":
        code[at] = draw(st.sampled_from("ghijklmnopqrstuvwxyzGXZ"))
    elif kind == "invisible":  # not first: a byte order mark that starts the text is what editors save
        code.insert(at + 1, draw(st.sampled_from(INVISIBLE)))
    elif kind == "lookalike":
        code[at] = draw(st.sampled_from(LOOKALIKES))
    else:
        return draw(st.sampled_from(["PyPI recovery codes for acme-publisher", "Recovery codes:", "Codes",
                                     "Saved 2026-11-01", "Keep these somewhere safe!", "=================="]))
    return "".join(code)


@settings(max_examples=300)
@given(codes_st, junk(), st.data())
def test_junk_never_parses_and_its_line_is_named(codes: list[str], bad: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(codes)))
    lines = [*codes[:at], bad, *codes[at:]]
    with pytest.raises(ValidationError) as caught:
        parse_codes(PYPI, "\n".join(lines))
    assert caught.value.message.startswith(f"line {at + 1}: "), caught.value.message
    for secret in [*codes, bad]:
        if len(secret) >= 6:
            assert secret not in caught.value.diagnostics() and secret.lower() not in caught.value.diagnostics()


@pytest.mark.parametrize(("text", "message", "hint"), [
    ("0123456789abcde\u200bf", "line 1: an invisible character, a zero-width space (U+200B), is in this line (it "
     "shows 16 characters)", "delete it, or type the line again"),
    (f"{CODE}\n{CODE[:8]}\ufeff{CODE[8:][::-1]}", "line 2: an invisible character, a byte order mark (U+FEFF)",
     "delete it"),
    (f"PyPI recovery codes for acme-publisher\n{CODE}", "line 1: not a code, it reads like a header or a note",
     "remove the header line, or start it with '#' to keep it as a comment"),
    ("0123456789abcd\u0435f", "line 1: a cyrillic small letter ie (U+0435) is in this line", "type the line again"),
    ("0123456789abcdeg", "line 1: malformed PyPI recovery code: 1 of its 16 characters is not 0-9 or a-f",
     "16 characters 0-9 and a-f (spaces or dashes between groups are fine)"),
    ("0123-4567-89ab-cdef-0", "line 1: malformed PyPI recovery code (17 characters)", "16 characters"),
    ("\u200b", "line 1: an invisible character, a zero-width space (U+200B), is in this line (it looks empty)",
     "delete it"),
])
def test_what_is_wrong_is_said_plainly(text: str, message: str, hint: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_codes(PYPI, text)
    assert caught.value.message.startswith(message), caught.value.message
    assert hint in (caught.value.hint or ""), caught.value.hint


def test_what_a_person_saves_is_accepted() -> None:
    text = f"\ufeff# PyPI recovery codes, acme-publisher\r\n\r\n{CODE[:4]}-{CODE[4:8]}-{CODE[8:12]}-{CODE[12:]}\r\n" \
           f"  FEDC BA98 7654 3210  # the second\r\n"
    assert parse_codes(PYPI, text) == [CODE, "fedcba9876543210"]


def test_other_platforms_name_invisible_characters_too() -> None:
    with pytest.raises(ValidationError, match=r"line 2: an invisible character, a word joiner \(U\+2060\)"):
        parse_codes(PLATFORMS["generic"], "good-code-1\ngood\u2060code-2")
    assert parse_codes(PLATFORMS["generic"], "\ufeffgood-code-1\r\n# c\r\ngood code-2\r\n") == [
        "good-code-1", "good code-2"]


RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"
# What makes each message of the runbook's table (section 4), line numbers included.
RUNBOOK_EXAMPLES = {
    "line 1: not a code, it reads like a header or a note": f"Recovery codes for acme-release\n{CODE}",
    "line 3: an invisible character, a zero-width space (U+200B), is in this line (it shows 16 characters)":
        f"# codes\n\n{CODE[:5]}\u200b{CODE[5:]}",
    "line 2: a cyrillic small letter ie (U+0435) is in this line": f"{CODE}\n{CODE[:14]}\u0435f",
    "line 4: malformed PyPI recovery code (15 characters)": f"a{CODE[1:]}\nb{CODE[1:]}\nc{CODE[1:]}\n{CODE[1:]}",
    "line 5: duplicate code": "\n".join([f"{i}{CODE[1:]}" for i in range(4)] + [f"0{CODE[1:]}"]),
}


def test_the_runbook_shows_the_messages_a_deposit_gives() -> None:
    text = RUNBOOK.read_text()
    section = text[text.index("## 4. Enrol 2FA"):text.index("## 5.")]
    shown = re.findall(r"^\| `(line \d+: [^`]+)` \|", section, flags=re.M)
    assert shown and set(shown) == set(RUNBOOK_EXAMPLES)
    for message, example in RUNBOOK_EXAMPLES.items():
        with pytest.raises(ValidationError) as caught:
            parse_codes(PYPI, example)
        assert caught.value.message == message
