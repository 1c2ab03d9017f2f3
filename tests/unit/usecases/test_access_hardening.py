"""What one insider must not be able to do with break-glass access: act through tokens that name no person, drain
an account with emergency grants, flood it with open grants, or make every listing slow."""

from __future__ import annotations

import pytest

from custody.bootstrap import GROUPS
from custody.domain.models import GrantStatus
from custody.errors import PermissionDenied
from tests.fakes import REASON, World, an_account


def test_every_step_of_a_grant_needs_a_token_that_names_a_person(w: World) -> None:
    an_account(w, tier="critical")
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    orphans = [w.vault.add("orphan", GROUPS["custody-approvers"], entity=False) for _ in range(2)]
    for token in orphans:
        with pytest.raises(PermissionDenied, match="no Vault identity") as refused:
            w.uc.access.approve(token, g.id)
        assert "log in as yourself" in (refused.value.hint or "")
    for step in (w.uc.access.deny, w.uc.access.review):
        with pytest.raises(PermissionDenied, match="no Vault identity"):
            step(orphans[0], g.id)
    requester = w.vault.add("orphan-requester", GROUPS["custody-emergency"], entity=False)
    with pytest.raises(PermissionDenied, match="no Vault identity"):
        w.uc.access.request(requester, "pypi/acme", REASON)
    with pytest.raises(PermissionDenied, match="no Vault identity"):
        w.uc.access.reveal(requester, g.id)
    after = w.uc.access.show(w.token["auditor"], g.id)
    assert (after.status, after.approvals, after.version) == (GrantStatus.pending, (), 1)  # as requested
    assert [p for p in w.kv.list_keys("grants/")] == [g.id]
