"""The offboarding plan, as a pure function of grants, rosters and owners."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custody.domain import keys as key_rules
from custody.domain import people as rules
from custody.domain.keys import Roster
from custody.domain.models import Grant, GrantStatus
from custody.errors import ValidationError

T0 = datetime(2026, 6, 1, tzinfo=UTC)
ALICE = "alice@acme.example"


def grant(gid: str, account: str, status: GrantStatus, email: str | None = ALICE, revealed_days_ago: int | None = None,
          entity: str = "e-alice") -> Grant:
    revealed = T0 - timedelta(days=revealed_days_ago) if revealed_days_ago is not None else None
    return Grant(id="gr_" + gid * 16, account=account, requester="userpass-alice", requester_id=entity,
                 reason="r" * 20, status=status, approvals_required=0, created_at=T0 - timedelta(days=400),
                 expires_at=T0 + timedelta(days=1), revealed_at=revealed, code_fp="fp-1" if revealed else None,
                 requester_email=email)


def test_the_plan_names_everything_offboarding_changes_and_what_it_lists() -> None:
    grants = [grant("a", "pypi/one", GrantStatus.pending), grant("b", "pypi/two", GrantStatus.revealed,
                                                                  revealed_days_ago=30),
              grant("c", "pypi/three", GrantStatus.revealed, revealed_days_ago=400),
              grant("d", "pypi/four", GrantStatus.approved, email="bob@acme.example", entity="e-bob")]
    k = key_rules.new_key("Alice's key", ALICE, "1", None, None, "sec", T0)
    rosters = [Roster(account="pypi/two", keys=(k,))]
    owners = [("pypi/one", "team@acme.example", "alice@acme.example"), ("pypi/five", "ALICE@acme.example", "")]
    p = rules.plan(ALICE, grants, rosters, owners, T0)
    assert p.entities == ("e-alice",) and p.revoke == ("gr_" + "a" * 16,)
    assert p.rotation_due == ("pypi/two",)  # the reveal of 400 days ago is outside the year
    assert [(o.account, o.role) for o in p.owned] == [("pypi/one", "human_owner"), ("pypi/five", "owner")]
    assert [(k.account, k.label, k.status) for k in p.keys] == [("pypi/two", "Alice's key", "active")]
    assert len(p.checklist) == 5 and "remove the WebAuthn key labelled \"Alice's key\"" in p.checklist[0]
    assert p.known()


def test_someone_custody_never_saw_is_unknown_and_a_key_already_marked_is_not_marked_again() -> None:
    assert not rules.plan("nobody@acme.example", [grant("a", "pypi/one", GrantStatus.pending)], [], [], T0).known()
    assert rules.plan("w@acme.example", [], [], [], T0).known(drills=1)
    k = key_rules.mark_left(Roster(account="pypi/a", keys=(key_rules.new_key("k", ALICE, "1", None, None, "s", T0),)),
                            ALICE, T0)
    p = rules.plan(ALICE, [], [k], [], T0)
    assert p.known() and p.keys_to_mark == ()


@pytest.mark.parametrize("bad", ["alice", "alice@", "a b@acme.example", "alice@acme", "a/b@acme.example", ""])
def test_emails_are_checked(bad: str) -> None:
    with pytest.raises(ValidationError, match="not an email address"):
        rules.normalize_email(bad)
    assert rules.normalize_email(" Alice@ACME.example ") == ALICE


def test_the_record_keeps_the_first_offboarding_and_a_bounded_list_of_runs() -> None:
    person = None
    for i in range(rules.MAX_RUNS + 3):
        person = rules.offboarded(person, ALICE, rules.Run(at=T0 + timedelta(days=i), by="sec", reason=f"run {i}"))
    assert person is not None and person.offboarded_at == T0 and person.reason == "run 0"
    assert len(person.runs) == rules.MAX_RUNS and person.runs[-1].reason == f"run {rules.MAX_RUNS + 2}"


def test_the_checklist_quotes_labels_for_the_shell() -> None:
    cases = (("plain-key", "plain-key"), ("Alice's key", '"Alice\'s key"'), ('say "hi" $x', "'say \"hi\" $x'"))
    for label, word in cases:
        k = key_rules.new_key(label, ALICE, "1", None, None, "s", T0)
        p = rules.plan(ALICE, [], [Roster(account="pypi/a", keys=(k,))], [], T0)
        assert f"custody keys remove pypi/a {word} --reason" in p.checklist[0]
