"""The grant state machine and the code picker, with a hypothesis rule-based test against a model.

The model below is written from the rules as a person states them, not from ``custody.domain.grants``: each step
asks it what must happen (which grant state, which code, or which refusal), runs the real function, and fails on any
difference. So a broken rule (a requester approving, a grant revealed twice, a code given to two grants) is found.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from custody.domain import grants as rules
from custody.domain.models import Account, CodeSet, Grant, GrantStatus, Principal, Tier
from custody.errors import CodesChanged, Conflict, CustodyError, Exhausted, PermissionDenied, PreconditionFailed

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
        rules.begin(g, REQ, T0 + timedelta(hours=2), "n1")


def test_emergency_only_matters_when_approvals_are_needed() -> None:
    assert not rules.request(account(0), REQ, "r" * 20, None, T0, timedelta(hours=1), emergency=True).emergency
    g = rules.request(account(2), REQ, "r" * 20, None, T0, timedelta(hours=1), emergency=True)
    assert g.emergency and g.status is GrantStatus.approved


# ---- the model -------------------------------------------------------------------------------------------------
OPEN = ("pending", "approved")
ACTIONS = ("approve", "approve", "approve", "begin", "begin", "begin", "again", "pick_code", "pick_code", "pick_code",
           "pick_code", "complete", "complete", "complete", "complete_other", "complete_stale", "abandon", "unclaim",
           "review", "deny", "expire", "revoke", "replace_same", "replace_new", "reveal", "reveal", "reveal")


@dataclass
class Expected:
    """What a grant must be, in words: ``claimed`` is taken for a reveal whose code is not recorded yet,
    ``revealed`` has its code's fingerprint. ``nonce`` names its latest attempt at a reveal, begun at ``started``;
    ``attempt`` is running, handed_out (its wrapping token went out) or abandoned."""

    required: int
    emergency: bool
    expires_at: datetime
    generation: int
    status: str
    approvers: list[str] = field(default_factory=list)
    denied_by: str | None = None
    reviewed: bool = False
    fp: str | None = None
    nonce: str | None = None
    started: datetime = T0
    attempt: str = ""

    def running(self, now: datetime) -> bool:
        return self.attempt == "running" and now - self.started < rules.REVEAL_LEASE

    def delivered(self) -> bool:
        return self.status == "revealed" and self.attempt != "abandoned" and self.attempt != "running"

    def effective(self, now: datetime) -> str:
        return "expired" if self.status in OPEN and now >= self.expires_at else self.status


def stored_status(g: Grant) -> str:
    if g.status is GrantStatus.revealed:
        return "revealed" if g.code_fp else "claimed"
    return g.status.value


class GrantMachine(RuleBasedStateMachine):
    """Every transition and the code picker, by random people at random times, on up to four grants that share
    one account's code set (which can be replaced, by the same codes or new ones)."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.cs = CodeSet.new("pypi/acme", [f"{i:016x}" for i in range(2)], "sec", T0)
        self.grants: list[Grant] = []
        self.model: list[Expected] = []
        self.holder: dict[str, str] = {}  # the model's code set: code fingerprint -> the grant holding it
        self.live = True
        self.nonces = 0

    def step(self, i: int, call: object, refusal: type[CustodyError] | None) -> Grant | None:
        """Run ``call``; it must be refused with ``refusal`` (None: it must succeed). The grant it returns."""
        if refusal is not None:
            with pytest.raises(refusal):
                call()  # type: ignore[operator]
            return None
        result: Grant = call()  # type: ignore[operator]
        self.grants[i] = result
        return result

    def pick(self, index: int) -> tuple[int, Expected] | None:
        """The grant ``index`` points at: among those still in play when ``self.live``, else among all."""
        in_play = [i for i, m in enumerate(self.model) if m.status in ("pending", "approved", "claimed")]
        candidates = in_play if self.live and in_play else list(range(len(self.model)))
        if not candidates:
            return None
        i = candidates[index % len(candidates)]
        return i, self.model[i]

    # ---- the rules --------------------------------------------------------------------------------------
    @initialize(codes=st.integers(1, 3), approvals=st.integers(0, 2), emergency=st.booleans(),
                hours=st.integers(1, 6))
    def first_request(self, codes: int, approvals: int, emergency: bool, hours: int) -> None:
        self.cs = CodeSet.new("pypi/acme", [f"{i:016x}" for i in range(codes)], "sec", T0)
        self.request(approvals, emergency, hours)

    @rule(approvals=st.sampled_from([0, 0, 1, 2, 3]), emergency=st.booleans(), hours=st.integers(1, 6))
    @precondition(lambda self: len(self.grants) < 6)
    def request(self, approvals: int, emergency: bool, hours: int) -> None:
        g = rules.request(account(approvals), REQ, "a good reason for access", None, self.now, timedelta(hours=hours),
                          emergency=emergency, codes_generation=self.cs.generation)
        urgent = emergency and approvals > 0
        expected = Expected(approvals, urgent, self.now + timedelta(hours=hours), self.cs.generation,
                            "approved" if approvals == 0 or urgent else "pending")
        assert (stored_status(g), g.emergency, g.expires_at) == (expected.status, urgent, expected.expires_at)
        self.grants.append(g)
        self.model.append(expected)

    @rule(minutes=st.integers(0, 60))
    def tick(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(action=st.sampled_from(ACTIONS), index=st.integers(0, 5), who=st.sampled_from(PEOPLE),
          mine=st.booleans(), live=st.booleans())
    def act(self, action: str, index: int, who: Principal, mine: bool, live: bool) -> None:
        """One transition (the steps of a reveal more often than the ones that end a grant) by ``who``, or for
        the steps of a reveal by the requester when ``mine``; on a grant still in play when ``live``."""
        self.live = live
        if mine and action in ("begin", "again"):
            who = REQ
        if action == "reveal":  # what the use case does: each step still checked on its own
            for step in (self.begin, self.pick_code, self.complete):
                step(index, REQ)
        elif action == "again":
            self.begin(index, who, again=True)
        elif action in ("complete_other", "complete_stale"):
            self.complete(index, who, other=action == "complete_other", stale=action == "complete_stale")
        elif action.startswith("replace"):
            self.replace_codes(same_codes=action == "replace_same")
        else:
            getattr(self, action)(index, who)

    def approve(self, index: int, who: Principal) -> None:
        if (found := self.pick(index)) is None:
            return
        i, m = found
        refusal = (PermissionDenied if who.id == REQ.id else Conflict if who.id in m.approvers
                   else None if m.effective(self.now) == "pending" else PreconditionFailed)
        if self.step(i, lambda: rules.approve(self.grants[i], who, self.now), refusal):
            m.approvers.append(who.id)
            m.status = "approved" if len(m.approvers) >= m.required else "pending"

    def deny(self, index: int, who: Principal) -> None:
        if (found := self.pick(index)) is None:
            return
        i, m = found
        refusal = (Conflict if m.denied_by == who.id else None if m.effective(self.now) in OPEN
                   else PreconditionFailed)
        if self.step(i, lambda: rules.deny(self.grants[i], who, self.now), refusal):
            m.status, m.denied_by = "denied", who.id

    def review(self, index: int, who: Principal) -> None:
        if (found := self.pick(index)) is None:
            return
        i, m = found
        refusal = (PreconditionFailed if not m.emergency else Conflict if m.reviewed
                   else PermissionDenied if who.id == REQ.id else None)
        if self.step(i, lambda: rules.review(self.grants[i], who, self.now), refusal):
            m.reviewed = True

    def begin(self, index: int, who: Principal, again: bool = False) -> None:
        if (found := self.pick(index)) is None:
            return
        i, m = found
        self.nonces += 1
        nonce = f"n{self.nonces}"
        effective = m.effective(self.now)
        enough = len(set(m.approvers) - {REQ.id}) >= m.required or m.emergency
        if who.id != REQ.id:
            refusal: type[CustodyError] | None = PermissionDenied
        elif m.running(self.now):
            refusal = Conflict
        elif m.status in ("claimed", "revealed"):
            resumes = m.status == "claimed" or not m.delivered() or again
            refusal = (Conflict if not resumes else PreconditionFailed if self.now >= m.expires_at else None)
        else:
            refusal = PreconditionFailed if effective != "approved" or not enough else None
        if self.step(i, lambda: rules.begin(self.grants[i], who, self.now, nonce, again), refusal):
            if m.status not in ("claimed", "revealed"):
                m.status = "claimed"
            m.nonce, m.started, m.attempt = nonce, self.now, "running"

    def abandon(self, index: int, who: Principal) -> None:
        if (found := self.pick(index)) is None or found[1].nonce is None:
            return
        i, m = found
        self.step(i, lambda: rules.abandon(self.grants[i], str(m.nonce)), None)
        if m.attempt:
            m.attempt = "abandoned"

    def pick_code(self, index: int, who: Principal) -> None:
        """What the reveal does once an attempt began: its code, the same one again if it holds one."""
        if (found := self.pick(index)) is None or found[1].attempt != "running":
            return
        i, m = found
        gid = self.grants[i].id
        held = [fp for fp, holder in self.holder.items() if holder == gid]
        free = [c.fp for c in self.cs.codes if c.fp not in self.holder]
        if not held and m.generation != self.cs.generation:
            with pytest.raises(CodesChanged):
                rules.pick_code(self.cs, self.grants[i], self.now)
            return
        if not held and not free:
            with pytest.raises(Exhausted):
                rules.pick_code(self.cs, self.grants[i], self.now)
            return
        picked = rules.pick_code(self.cs, self.grants[i], self.now)
        assert (picked.code.fp, picked.fresh) == ((held[0], False) if held else (free[0], True))
        self.cs = picked.codes
        self.holder[picked.code.fp] = gid

    def complete(self, index: int, who: Principal, other: bool = False, stale: bool = False) -> None:
        """Record the fingerprint of the code the grant holds (or, ``other``, of a code it does not hold) for its
        latest attempt (or, ``stale``, for an attempt that is not its latest)."""
        if (found := self.pick(index)) is None or found[1].nonce is None:
            return
        i, m = found
        gid = self.grants[i].id
        held = [fp for fp, holder in self.holder.items() if holder == gid]
        if not held and not other:
            return  # a reveal records a code it was given, never one it was not
        fp = held[0] if held and not other else "fp-someone-elses"
        nonce = "n-stale" if stale else str(m.nonce)
        accessor = f"acc-{m.nonce}"
        repeat = not stale and m.attempt == "handed_out" and m.fp == fp
        refusal = None if repeat or (not stale and m.attempt == "running" and m.status in ("claimed", "revealed")) \
            else Conflict
        if self.step(i, lambda: rules.complete(self.grants[i], nonce, fp, accessor), refusal):
            m.status, m.fp, m.attempt = "revealed", fp, "handed_out"

    def unclaim(self, index: int, who: Principal) -> None:
        if (found := self.pick(index)) is None or found[1].nonce is None:
            return
        i, m = found
        self.step(i, lambda: rules.unclaim(self.grants[i], str(m.nonce)), None)
        if m.attempt in ("running", "handed_out"):
            m.attempt = "abandoned"
            if m.status == "claimed":
                m.status = "approved"

    def expire(self, index: int, who: Principal) -> None:
        if (found := self.pick(index)) is None:
            return
        i, m = found
        due = m.status in OPEN and self.now >= m.expires_at
        assert rules.expirable(self.grants[i], self.now) == due
        if self.step(i, lambda: rules.expire(self.grants[i], self.now), None if due else PreconditionFailed):
            m.status = "expired"

    def revoke(self, index: int, who: Principal) -> None:
        if (found := self.pick(index)) is None:
            return
        i, m = found
        allowed = m.effective(self.now) in OPEN or m.status == "claimed"
        assert rules.revocable(self.grants[i], self.now) == allowed
        if self.step(i, lambda: rules.revoke(self.grants[i], self.now, "codes rotated"),
                     None if allowed else PreconditionFailed):
            m.status = "revoked"

    def replace_codes(self, same_codes: bool) -> None:
        """A deposit with --replace (the same file: what was handed out stays handed out) or a rotation."""
        codes = [c.code for c in self.cs.codes] if same_codes else [f"{i + 16 * self.cs.generation:016x}"
                                                                   for i in range(self.cs.total)]
        self.cs = CodeSet.new("pypi/acme", codes, "sec", self.now, self.cs.generation + 1, previous=self.cs)
        if not same_codes:
            self.holder = {}

    # ---- what must always hold ----------------------------------------------------------------------------
    @invariant()
    def every_grant_is_what_the_model_says(self) -> None:
        for g, m in zip(self.grants, self.model, strict=True):
            assert stored_status(g) == m.status and g.code_fp in (m.fp, "", None)
            assert stored_status(g) != "revealed" or g.code_fp == m.fp
            assert g.effective_status(self.now).value == {"claimed": "revealed"}.get(m.effective(self.now),
                                                                                    m.effective(self.now))
            assert [a.by_id for a in g.approvals] == m.approvers and (g.review is not None) == m.reviewed

    @invariant()
    def each_grant_knows_its_latest_attempt_and_the_token_it_handed_out(self) -> None:
        for g, m in zip(self.grants, self.model, strict=True):
            a = g.attempt
            assert ((a.nonce, a.state.value) if a else (None, "")) == (m.nonce, m.attempt)
            assert rules.handed_out(g) == (f"acc-{m.nonce}" if m.attempt == "handed_out" else "")
            assert rules.running(g, self.now) == m.running(self.now)

    @invariant()
    def a_code_is_held_by_one_grant_and_a_grant_holds_one_code(self) -> None:
        holders = {c.fp: c.grant_id for c in self.cs.codes if c.grant_id}
        assert {fp: h for fp, h in holders.items() if fp in self.holder} == {
            fp: h for fp, h in self.holder.items() if fp in holders}
        assert all(n == 1 for n in Counter(holders.values()).values())

    @invariant()
    def a_code_goes_only_to_an_approved_requester(self) -> None:
        for g, m in zip(self.grants, self.model, strict=True):
            assert REQ.id not in {a.by_id for a in g.approvals}
            if m.status in ("claimed", "revealed"):
                assert m.emergency or len(set(m.approvers)) >= m.required


GrantMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
TestGrantMachine = GrantMachine.TestCase
