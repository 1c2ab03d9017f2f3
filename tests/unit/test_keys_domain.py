"""The key roster's rules, as pure functions: labels as PyPI has them, who may verify, and `keys check`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.domain import keys as rules
from custody.domain.keys import KeyStatus, Roster, SecurityKey
from custody.errors import Conflict, NotFound, PermissionDenied, PreconditionFailed, ValidationError

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def key(label: str = "primary", custodian: str = "alice@acme.example", serial: str = "111",
        verified: datetime | None = T0) -> SecurityKey:
    k = rules.new_key(label, custodian, serial, "YubiKey 5C", "keyring", "userpass-security", T0)
    return k.model_copy(update={"verified_at": verified, "verified_by": "userpass-alice" if verified else None})


def roster(*keys: SecurityKey, account: str = "pypi/acme") -> Roster:
    return Roster(account=account, keys=keys)


def kinds(v: rules.Verdict) -> list[tuple[str, str]]:
    return [(p.kind, p.severity.value) for p in v.problems]


def test_two_verified_keys_on_separate_tokens_held_by_two_people_are_ok() -> None:
    v = rules.check(roster(key(), key("spare", "bob@acme.example", "222")), T0, {})
    assert v.ok and v.problems == ()
    assert v.as_dict() == {"account": "pypi/acme", "keys": 2, "distinct_tokens": 2,
                           "custodians": ["alice@acme.example", "bob@acme.example"], "ok": True, "problems": []}


@pytest.mark.parametrize(("keys", "expected"), [
    ((), [("no_keys", "error")]),
    ((key(),), [("one_key", "error")]),
    ((key(), key("spare", "bob@acme.example", "1-1-1")), [("one_token", "error")]),  # dashes and case do not count
    ((key(), key("spare", serial="222")), [("one_custodian", "warning")]),
    ((key(), key("spare", "bob@acme.example", "222", verified=None)), [("unverified", "error")]),
    ((key(verified=T0 - timedelta(days=366)), key("spare", "bob@acme.example", "222")), [("unverified", "error")]),
])
def test_each_problem_is_named_and_only_errors_fail_the_account(keys: tuple[SecurityKey, ...],
                                                                 expected: list[tuple[str, str]]) -> None:
    v = rules.check(roster(*keys), T0, {})
    assert kinds(v) == expected
    assert v.ok is all(sev == "warning" for _, sev in expected)


def test_the_annual_audit_counts_from_the_last_verification() -> None:
    ok = roster(key(verified=T0 - timedelta(days=365)), key("spare", "bob@acme.example", "222"))
    assert rules.check(ok, T0, {}).ok
    assert not rules.check(ok, T0 + timedelta(days=1), {}).ok


def test_a_custodian_who_left_fails_the_account_until_the_key_is_reassigned_or_removed() -> None:
    r = rules.mark_left(roster(key(), key("spare", "bob@acme.example", "222")), "alice@acme.example", T0)
    assert r.keys[0].status is KeyStatus.custodian_left and r.keys[1].status is KeyStatus.active
    assert kinds(rules.check(r, T0, {})) == [("custodian_left", "error")]
    assert rules.mark_left(r, "alice@acme.example", T0) is r  # nothing more to mark: the same roster
    moved = rules.reassign(r, "primary", "carol@acme.example", T0)
    assert kinds(rules.check(moved, T0, {})) == [("unverified", "error")]  # the new holder must confirm it
    verified = rules.verify(moved, "primary", "carol@acme.example", "userpass-carol", T0)
    assert rules.check(verified, T0, {}).ok
    assert rules.check(rules.remove(r, "primary", "left", "sec", T0), T0, {}).problems[0].kind == "one_key"


def test_a_token_on_two_accounts_is_refused_unless_shared_on_purpose_and_then_warned_about() -> None:
    other = roster(key(serial="ABC 123"), account="pypi/other")
    elsewhere = rules.tokens_by_account([other])
    with pytest.raises(Conflict, match="already registered on pypi/other") as caught:
        rules.add(roster(), key(serial="abc-123"), elsewhere)
    assert "--shared-token" in (caught.value.hint or "")
    both = rules.add(roster(key("spare", "bob@acme.example", "222")), key(serial="abc-123"), elsewhere, shared=True)
    v = rules.check(both, T0, rules.tokens_by_account([other, both]))
    assert v.ok and kinds(v) == [("shared_token", "warning")]
    assert "pypi/other" in v.problems[0].message


def test_labels_follow_pypi() -> None:
    assert rules.new_key("x" * 64, "a@acme.example", "1", None, None, "s", T0).label == "x" * 64
    with pytest.raises(ValidationError, match="65 characters; PyPI allows at most 64"):
        rules.new_key("x" * 65, "a@acme.example", "1", None, None, "s", T0)
    for bad in ("", "   ", "bad\u202elabel", "two\nlines"):
        with pytest.raises(ValidationError):
            rules.new_key(bad, "a@acme.example", "1", None, None, "s", T0)
    r = roster(key("Primary"))
    with pytest.raises(Conflict, match="already has a key labelled 'Primary'"):
        rules.add(r, key("Primary", serial="9"), {})
    assert len(rules.add(r, key("primary", serial="9"), {}).keys) == 2  # unique as PyPI compares: exactly


def test_only_the_custodian_verifies_and_who_and_when_are_kept() -> None:
    r = roster(key(verified=None))
    with pytest.raises(PermissionDenied, match=r"only the key's custodian \(alice@acme.example\)"):
        rules.verify(r, "primary", "bob@acme.example", "userpass-bob", T0)
    with pytest.raises(PermissionDenied, match="does not know your email"):
        rules.verify(r, "primary", None, "userpass-x", T0)
    with pytest.raises(NotFound, match="no key labelled 'nope'"):
        rules.verify(r, "nope", "alice@acme.example", "userpass-alice", T0)
    done = rules.verify(r, "primary", "alice@acme.example", "userpass-alice", T0 + timedelta(hours=1))
    assert (done.keys[0].verified_by, done.keys[0].verified_at) == ("userpass-alice", T0 + timedelta(hours=1))
    left = rules.mark_left(done, "alice@acme.example", T0)
    with pytest.raises(PreconditionFailed, match="has left"):
        rules.verify(left, "primary", "alice@acme.example", "userpass-alice", T0)


def test_nobody_offboarded_is_given_a_key() -> None:
    with pytest.raises(PreconditionFailed, match="offboarded"):
        rules.add(roster(), key(), {}, offboarded={"alice@acme.example"})
    with pytest.raises(PreconditionFailed, match="offboarded"):
        rules.reassign(roster(key()), "primary", "bob@acme.example", T0, offboarded={"bob@acme.example"})


def test_removed_keys_are_remembered_with_why_within_a_bound() -> None:
    r = roster(*(key(f"k{i}", serial=str(i)) for i in range(rules.MAX_KEYS)))
    with pytest.raises(ValidationError, match="already has 20 keys"):
        rules.add(r, key("one more", serial="x"), {})
    for i in range(rules.MAX_REMOVED + 5):
        r = rules.add(rules.remove(r, "k0", f"lost {i}", "sec", T0), key("k0", serial="0"), {})
    assert len(r.removed) == rules.MAX_REMOVED and r.removed[-1].reason == f"lost {rules.MAX_REMOVED + 4}"


@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from(["a@x.example", "b@x.example"]),
                          st.booleans()), max_size=5))
def test_ok_means_two_tokens_all_verified_nobody_left(spec: list[tuple[str, str, bool]]) -> None:
    keys = tuple(key(f"k{i}", who, serial, None if not verified else T0)
                 for i, (serial, who, verified) in enumerate(spec))
    v = rules.check(roster(*keys), T0, {})
    assert v.ok == (len({k.serial for k in keys}) >= 2 and all(k.verified_at for k in keys))
    assert v.distinct_tokens == len({k.serial for k in keys}) and v.keys == len(keys)
