"""Keyed fingerprints, one code from stdin, burning a code: pure functions."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest

from custody.domain import leaks as rules
from custody.domain.grants import pick_code
from custody.domain.models import CodeSet, Grant, GrantStatus
from custody.domain.platforms import PLATFORMS
from custody.domain.rotation import codeset_facts
from custody.errors import Exhausted, NotFound, ValidationError

T0 = datetime(2026, 6, 1, tzinfo=UTC)
KEY = secrets.token_bytes(32)


def a_set(n: int = 3) -> tuple[CodeSet, list[str]]:
    codes = [secrets.token_hex(8) for _ in range(n)]
    return CodeSet.new("pypi/acme", codes, "sec", T0), codes


def test_prints_are_keyed_so_a_code_cannot_be_checked_against_them_without_the_key() -> None:
    cs, codes = a_set()
    prints = rules.prints_of(cs, KEY)
    assert prints.prints[rules.keyed(KEY, codes[1])] == cs.codes[1].fp
    assert rules.keyed(secrets.token_bytes(32), codes[1]) not in prints.prints
    assert not any(c in repr(prints) for c in codes) and prints.key_id == rules.key_id(KEY) != rules.key_id(b"x")


@pytest.mark.parametrize(("text", "message"), [
    ("", "no code given"), ("\n \n", "no code given"),
    ("0123456789abcdef\nfedcba9876543210\n", "2 lines given; one code at a time"),
])
def test_one_code_at_a_time(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rules.one_code(text)


def test_a_code_is_read_as_the_platforms_in_use_read_it() -> None:
    assert rules.candidates("0123 4567 89AB CDEF", [PLATFORMS["pypi"]]) == ["0123456789abcdef"]
    with pytest.raises(ValidationError, match="not a recovery code") as caught:
        rules.candidates("hello world", [PLATFORMS["pypi"]])
    assert "hello" not in caught.value.message
    assert rules.candidates("hello world", [PLATFORMS["pypi"], PLATFORMS["generic"]]) == ["hello world"]


def test_a_burned_code_is_never_handed_out_and_counts_as_burned_not_revealed() -> None:
    cs, codes = a_set(2)
    burned = rules.burn(cs, cs.codes[0].fp, T0)
    assert rules.burn(burned, cs.codes[0].fp, T0) is burned  # burned again: as it was
    assert burned.remaining == 1 and rules.identified(burned, cs.codes[0].fp)["status"] == "burned"
    grant = Grant(id="gr_" + "a" * 16, account="pypi/acme", requester="e", requester_id="e", reason="r" * 20,
                  status=GrantStatus.approved, approvals_required=0, created_at=T0, expires_at=T0)
    pick = pick_code(burned, grant, T0)
    assert pick.code.code == codes[1] and pick.remaining == 0
    with pytest.raises(Exhausted):
        pick_code(rules.burn(pick.codes, cs.codes[1].fp, T0), grant.model_copy(update={"id": "gr_" + "b" * 16}), T0)
    facts = codeset_facts(burned)
    assert (facts.remaining, facts.burned, facts.consumed_times) == (1, 1, (T0,))


def test_a_redeposit_keeps_a_burned_code_burned() -> None:
    cs, codes = a_set(2)
    burned = rules.burn(cs, cs.codes[0].fp, T0)
    again = CodeSet.new("pypi/acme", codes, "sec", T0, generation=2, previous=burned)
    assert again.codes[0].burned_at == T0 and again.remaining == 1


def test_matching_needs_the_code_itself_and_unknown_fingerprints_are_refused() -> None:
    cs, codes = a_set()
    assert rules.matching(cs, [codes[2]]) == cs.codes[2].fp and rules.matching(cs, ["f" * 16]) is None
    with pytest.raises(NotFound, match="not in pypi/acme's current set"):
        rules.burn(cs, "fp-nope", T0)


def test_a_code_handed_out_then_burned_still_counts_as_revealed() -> None:
    cs, _ = a_set(2)
    grant = Grant(id="gr_" + "a" * 16, account="pypi/acme", requester="e", requester_id="e", reason="r" * 20,
                  status=GrantStatus.approved, approvals_required=0, created_at=T0, expires_at=T0)
    taken = pick_code(cs, grant, T0).codes
    facts = codeset_facts(rules.burn(taken, taken.codes[0].fp, T0))
    assert (facts.remaining, facts.burned, facts.total - facts.remaining - facts.burned) == (1, 0, 1)
