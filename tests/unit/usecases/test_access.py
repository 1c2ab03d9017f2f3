"""Requests, approvals, denials, reviews, and who sees which grant."""

from __future__ import annotations

import pytest

from custody.config import PolicySettings
from custody.domain.models import GrantStatus
from custody.errors import (
    AuthError,
    Conflict,
    Exhausted,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ValidationError,
)
from tests.fakes import REASON, World, an_account, world


def test_a_request_is_recorded_with_who_why_and_the_codes_it_may_take(w: World) -> None:
    an_account(w, tier="critical")
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, ticket="SEC-1", ttl="2h")
    assert (g.status, g.requester, g.approvals_required, g.codes_generation) == (
        GrantStatus.pending, "userpass-engineer", 2, 1)
    record = w.kv.read(f"grants/{g.id}")
    assert record is not None
    assert (record.data["event"], record.data["reason"], record.data["ticket"], record.data["requester_entity"]) == (
        "grant.requested", REASON, "SEC-1", "entity-engineer")
    assert (g.created_at, str(g.expires_at - g.created_at)) == (w.clock.now, "2:00:00")


@pytest.mark.parametrize(("kw", "error", "message"), [
    ({"reason": "x"}, ValidationError, "reason"),
    ({"ttl": "30s"}, ValidationError, "ttl must be between 1m and 3d"),
    ({"ttl": "4d"}, ValidationError, "ttl must be between 1m and 3d"),
    ({"ttl": "soon"}, ValidationError, "not a duration"),
])
def test_bad_requests_are_refused_and_write_nothing(w: World, kw: dict, error: type, message: str) -> None:
    an_account(w)
    before = len(w.kv.writes())
    with pytest.raises(error, match=message):
        w.uc.access.request(w.token["engineer"], "pypi/acme", kw.pop("reason", REASON), **kw)
    assert len(w.kv.writes()) == before


def test_a_ticket_pattern_is_enforced() -> None:
    w = world(PolicySettings(ticket_pattern=r"SEC-\d+"))
    an_account(w)
    with pytest.raises(ValidationError, match="ticket"):
        w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, ticket="JIRA")
    assert w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, ticket="SEC-12").ticket == "SEC-12"


def test_no_request_without_codes_and_no_emergency_without_its_policy(w: World) -> None:
    w.uc.accounts.add(w.token["security"], "pypi/empty", "o@example.com")
    with pytest.raises(Exhausted, match="no codes left") as caught:
        w.uc.access.request(w.token["engineer"], "pypi/empty", REASON)
    assert "codes rotate" in (caught.value.hint or "")
    an_account(w, tier="critical")
    with pytest.raises(PermissionDenied, match="emergency") as denied:
        w.uc.access.request(w.token["engineer2"], "pypi/acme", REASON, emergency=True)
    assert "custody-emergency" in (denied.value.hint or "")
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, emergency=True)
    assert g.emergency and g.status is GrantStatus.approved


def test_an_emergency_on_an_account_needing_no_approval_is_an_ordinary_grant(w: World) -> None:
    an_account(w, approvals=0)
    first = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, emergency=True)
    assert first.status is GrantStatus.approved and not first.emergency  # nothing was skipped
    second = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, emergency=True)  # not held against the limit
    assert second.status is GrantStatus.approved and not second.emergency
    assert w.uc.access.list_grants(w.token["approver"], unreviewed=True) == []  # nothing to review


def test_approvals_by_distinct_people_other_than_the_requester(w: World) -> None:
    an_account(w, tier="critical")
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    with pytest.raises(PermissionDenied):
        w.uc.access.approve(w.token["engineer"], g.id)  # no approver policy at all
    g1 = w.uc.access.approve(w.token["approver"], g.id, "called them")
    assert g1.status is GrantStatus.pending and g1.approvals[0].comment == "called them"
    with pytest.raises(Conflict, match="you already approved"):
        w.uc.access.approve(w.token["approver"], g.id)
    g2 = w.uc.access.approve(w.token["approver2"], g.id)
    assert g2.status is GrantStatus.approved and [a.by for a in g2.approvals] == ["userpass-approver",
                                                                                  "userpass-approver2"]
    record = w.kv.read(f"grants/{g.id}")
    assert record is not None and record.data["event"] == "grant.approved" and record.data["actor"] == (
        "userpass-approver2")


def test_concurrent_approvals_are_both_kept(w: World) -> None:
    """An approval lands between another's read and its write: the loser re-reads and adds its own."""
    an_account(w, tier="critical")
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)

    def competing() -> None:
        w.uc.access.approve(w.token["approver2"], g.id)

    w.kv.after_once("read", f"grants/{g.id}", competing)
    done = w.uc.access.approve(w.token["approver"], g.id)
    assert done.status is GrantStatus.approved
    assert sorted(a.by for a in done.approvals) == ["userpass-approver", "userpass-approver2"]


def test_deny_and_review(w: World) -> None:
    an_account(w, tier="critical")
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    denied = w.uc.access.deny(w.token["security"], g.id, "no ticket")
    assert denied.status is GrantStatus.denied and denied.denial is not None and denied.denial.comment == "no ticket"
    with pytest.raises(PreconditionFailed, match="is denied; it cannot be approved"):
        w.uc.access.approve(w.token["approver"], g.id)
    e = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, emergency=True)
    with pytest.raises(PreconditionFailed, match="not an emergency grant"):
        w.uc.access.review(w.token["approver"], g.id)
    reviewed = w.uc.access.review(w.token["approver"], e.id, "looked fine")
    assert reviewed.review is not None and reviewed.review.by == "userpass-approver"
    with pytest.raises(Conflict, match="already reviewed"):
        w.uc.access.review(w.token["approver2"], e.id)


def test_an_emergency_grant_is_overdue_for_review_after_72_hours(w: World) -> None:
    an_account(w, tier="critical")
    e = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, emergency=True)
    assert w.uc.access.overdue_reviews(w.token["auditor"]) == []
    w.clock.advance(hours=73)
    assert [g.id for g in w.uc.access.overdue_reviews(w.token["auditor"])] == [e.id]
    assert w.uc.access.review_overdue(w.uc.access.show(w.token["auditor"], e.id))


def test_expiry_is_enforced_without_being_written(w: World) -> None:
    an_account(w, tier="critical")
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, ttl="1h")
    w.clock.advance(hours=1)
    with pytest.raises(PreconditionFailed, match="expired"):
        w.uc.access.approve(w.token["approver"], g.id)
    assert w.uc.access.show(w.token["engineer"], g.id).status is GrantStatus.expired
    record = w.kv.read(f"grants/{g.id}")
    assert record is not None and record.data["status"] == "pending"


def test_listing_shows_a_requester_only_their_own_grants(w: World) -> None:
    an_account(w)
    mine = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    w.clock.advance(minutes=1)
    theirs = w.uc.access.request(w.token["engineer2"], "pypi/acme", REASON)
    assert [g.id for g in w.uc.access.list_grants(w.token["engineer"])] == [mine.id]
    assert [g.id for g in w.uc.access.list_grants(w.token["approver"])] == [mine.id, theirs.id]
    assert [g.id for g in w.uc.access.list_grants(w.token["auditor"], status="approved",
                                                  account="pypi/acme")] == [mine.id, theirs.id]
    assert w.uc.access.list_grants(w.token["auditor"], status="denied") == []
    with pytest.raises(ValidationError, match="unknown status 'bogus'"):
        w.uc.access.list_grants(w.token["auditor"], status="bogus")
    with pytest.raises(AuthError, match="invalid or expired"):
        w.uc.access.list_grants("hvs.never-issued")


def test_showing_someone_elses_grant_looks_like_showing_none(w: World) -> None:
    an_account(w)
    theirs = w.uc.access.request(w.token["engineer2"], "pypi/acme", REASON)
    assert w.uc.access.show(w.token["engineer2"], theirs.id).id == theirs.id
    assert w.uc.access.show(w.token["approver"], theirs.id).id == theirs.id
    refusals = []
    for gid in (theirs.id, "gr_aaaaaaaaaaaaaaaa"):
        with pytest.raises(PermissionDenied) as caught:
            w.uc.access.show(w.token["engineer"], gid)
        refusals.append(caught.value.message.replace(gid, "<id>"))
    assert refusals[0] == refusals[1] == "permission denied: grant <id> is not one of yours, or does not exist"
    assert [d["path"] for d in w.denials()] == [f"custody/grants/{theirs.id}", "custody/grants/gr_aaaaaaaaaaaaaaaa"]
    with pytest.raises(ValidationError, match="not a grant id"):
        w.uc.access.show(w.token["engineer"], "../codes/pypi/acme")
    with pytest.raises(NotFound, match="unknown grant"):
        w.uc.access.show(w.token["approver"], "gr_aaaaaaaaaaaaaaaa")
