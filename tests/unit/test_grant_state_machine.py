"""The grant state machine, with a hypothesis rule-based test of its invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from custody.domain import grants as rules
from custody.domain.models import Account, Grant, GrantStatus, Principal, Tier
from custody.errors import Conflict, CustodyError, PermissionDenied, PreconditionFailed

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PEOPLE = [Principal(id=f"ent-{n}", display_name=f"userpass-{n}") for n in ("req", "a1", "a2", "a3", "other")]
REQ = PEOPLE[0]


def account(approvals: int) -> Account:
    tier = Tier.critical if approvals else Tier.standard
    return Account(id="pypi/acme", owner="o@example.com", tier=tier, approvals_required=approvals,
                   created_at=T0, created_by="sec")


def test_self_approval_refused() -> None:
    g = rules.request(account(1), REQ, "reason text long enough", None, T0, timedelta(hours=1))
    with pytest.raises(PermissionDenied):
        rules.approve(g, REQ, T0)


def test_approval_counts_once_per_person() -> None:
    g = rules.request(account(2), REQ, "reason text long enough", None, T0, timedelta(hours=1))
    g = rules.approve(g, PEOPLE[1], T0)
    with pytest.raises(Conflict):
        rules.approve(g, PEOPLE[1], T0)
    assert g.status is GrantStatus.pending
    assert rules.approve(g, PEOPLE[2], T0).status is GrantStatus.approved


def test_a_repeated_decision_says_it_already_happened() -> None:
    """A retry whose first attempt landed (its answer lost in a failover) is told so, whatever the grant's state."""
    g = rules.request(account(2), REQ, "reason text long enough", None, T0, timedelta(hours=1))
    g = rules.approve(rules.approve(g, PEOPLE[1], T0), PEOPLE[2], T0)
    assert g.status is GrantStatus.approved
    with pytest.raises(Conflict, match="you already approved"):
        rules.approve(g, PEOPLE[2], T0)
    with pytest.raises(PreconditionFailed, match="cannot be approved"):
        rules.approve(g, PEOPLE[3], T0)  # someone who did not approve still learns why not
    d = rules.deny(rules.request(account(1), REQ, "reason text long enough", None, T0, timedelta(hours=1)),
                   PEOPLE[1], T0)
    with pytest.raises(Conflict, match="you already denied"):
        rules.deny(d, PEOPLE[1], T0)
    with pytest.raises(PreconditionFailed, match="cannot be denied"):
        rules.deny(d, PEOPLE[2], T0)


def test_expiry_is_derived() -> None:
    g = rules.request(account(0), REQ, "reason text long enough", None, T0, timedelta(hours=1))
    assert g.effective_status(T0 + timedelta(minutes=59)) is GrantStatus.approved
    assert g.effective_status(T0 + timedelta(hours=1)) is GrantStatus.expired
    with pytest.raises(PreconditionFailed, match="expired"):
        rules.claim(g, REQ, T0 + timedelta(hours=2))


def test_emergency_only_matters_when_approvals_are_needed() -> None:
    assert not rules.request(account(0), REQ, "r" * 20, None, T0, timedelta(hours=1), emergency=True).emergency
    g = rules.request(account(2), REQ, "r" * 20, None, T0, timedelta(hours=1), emergency=True)
    assert g.emergency and g.status is GrantStatus.approved


class GrantMachine(RuleBasedStateMachine):
    """Random sequences of approve/deny/reveal/review/revoke by random people at random times."""

    def __init__(self) -> None:
        super().__init__()
        self.grant: Grant | None = None
        self.now = T0
        self.reveals = 0
        self.required = 0

    @rule(approvals=st.integers(0, 3), emergency=st.booleans())
    def start(self, approvals: int, emergency: bool) -> None:
        if self.grant is None:
            self.required = approvals
            self.grant = rules.request(account(approvals), REQ, "a good reason for access", None, self.now,
                                       timedelta(hours=4), emergency=emergency)

    @rule(minutes=st.integers(0, 180))
    def tick(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(who=st.sampled_from(PEOPLE), action=st.sampled_from(["approve", "deny", "reveal", "review", "revoke"]))
    def act(self, who: Principal, action: str) -> None:
        if self.grant is None:
            return
        before = self.grant
        try:
            if action == "approve":
                self.grant = rules.approve(before, who, self.now)
                assert who.id != REQ.id
            elif action == "deny":
                self.grant = rules.deny(before, who, self.now)
            elif action == "reveal":
                self.grant = rules.complete(rules.claim(before, who, self.now), "fp-x")
                self.reveals += 1
                assert who.id == REQ.id
                assert before.effective_status(self.now) is GrantStatus.approved
            elif action == "review":
                self.grant = rules.review(before, who, self.now)
            else:
                self.grant = rules.revoke(before, self.now, "codes rotated")
        except CustodyError:
            assert self.grant == before  # a refused action changes nothing

    @invariant()
    def at_most_one_reveal(self) -> None:
        assert self.reveals <= 1

    @invariant()
    def revealed_only_with_enough_distinct_approvals(self) -> None:
        g = self.grant
        if g is not None and g.status is GrantStatus.revealed:
            approvers = {a.by_id for a in g.approvals}
            assert REQ.id not in approvers
            assert g.emergency or len(approvers) >= self.required

    @invariant()
    def requester_never_approves(self) -> None:
        if self.grant is not None:
            assert all(a.by_id != self.grant.requester_id for a in self.grant.approvals)


GrantMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)
TestGrantMachine = GrantMachine.TestCase
