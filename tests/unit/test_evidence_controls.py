"""The controls of an evidence pack, drawn from the raw sections alone: each rule, passing and failing, with
pointers that lead to the raw items."""

from __future__ import annotations

from typing import Any

import pytest

from custody.evidence.controls import RULES, evaluate
from tests.evidencekit import REVEAL, predicate, reveal


def _status(p: dict[str, Any]) -> dict[str, str]:
    return {c["control"]: c["status"] for c in evaluate(p)}


def _control(p: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in evaluate(p) if c["control"] == name)


def _resolve(doc: dict[str, Any], pointer: str) -> Any:
    node: Any = {"predicate": doc}
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def test_every_control_of_both_frameworks_passes_on_good_evidence() -> None:
    controls = evaluate(predicate())
    assert [(c["framework"], c["control"]) for c in controls] == [
        ("SOC 2", "CC6.1"), ("SOC 2", "CC6.2"), ("SOC 2", "CC6.3"), ("ISO/IEC 27001:2022", "A.5.15"),
        ("ISO/IEC 27001:2022", "A.5.16"), ("ISO/IEC 27001:2022", "A.5.17"), ("ISO/IEC 27001:2022", "A.5.18"),
        ("ISO/IEC 27001:2022", "A.8.2"), ("ISO/IEC 27001:2022", "A.8.5")]
    assert {c["status"] for c in controls} == {"pass"}, controls
    for c in controls:
        assert c["why"] and c["evidence"], c
        for pointer in c["evidence"]:
            _resolve(predicate(), pointer)  # every pointer leads somewhere


@pytest.mark.parametrize(("change", "failing"), [
    ({"reason": ""}, "no reason"),
    ({"approvers": []}, "0 of 1 approvals"),
    ({"approvers": [REVEAL["approvers"][0] | {"approver_entity": "e-alice"}]}, "approved by its own requester"),
    ({"emergency": True, "approvers": []}, "emergency access not reviewed"),
    ({"grant_status_at_handout": "pending"}, "grant was pending"),
])
def test_an_access_decision_without_a_documented_rationale_fails(change: dict[str, Any], failing: str) -> None:
    p = predicate(access={"reveals": [REVEAL, reveal(**change)], "anomalies": []})
    c = _control(p, "CC6.2")
    assert c["status"] == "fail" and failing in c["why"], c
    assert c["evidence"] == ["/predicate/access/reveals/1"]
    assert _resolve(p, c["evidence"][0])["grant_id"] == REVEAL["grant_id"]
    assert {x["status"] for x in evaluate(p) if x["control"] in ("A.5.17", "A.5.18", "A.8.2")} == {"fail"}


def test_a_reviewed_emergency_passes() -> None:
    p = predicate(access={"reveals": [reveal(emergency=True, approvers=[], review={"by": "carol", "comment": "ok"})],
                          "anomalies": []})
    assert _status(p)["CC6.2"] == "pass" and _status(p)["A.8.2"] == "pass"


def test_without_reveals_or_leavers_the_access_controls_do_not_apply() -> None:
    s = _status(predicate(access={"reveals": [], "anomalies": []}, offboardings=[]))
    assert s["CC6.2"] == s["CC6.3"] == s["A.5.18"] == s["A.8.2"] == "not-applicable"
    assert s["CC6.1"] == s["A.5.15"] == s["A.5.16"] == s["A.5.17"] == s["A.8.5"] == "pass"


def test_missing_keys_fail_mfa_and_secure_authentication() -> None:
    check = {"ok": False, "accounts": [{"account": "pypi/acme", "ok": False, "problems": [{"message": "one key"}]}]}
    c = _control(predicate(keys={"rosters": [], "check": check}), "CC6.1")
    assert c["status"] == "fail" and c["evidence"] == ["/predicate/keys/check/accounts/0"]
    assert _status(predicate(keys={"rosters": [], "check": check}))["A.8.5"] == "fail"


@pytest.mark.parametrize("status", [{"total": 0}, {"total": 8, "overdue": True},
                                    {"total": 8, "interrupted_rotation": {"number": 2}}])
def test_codes_not_in_custody_or_overdue_fail_authentication_information(status: dict[str, Any]) -> None:
    p = predicate(custody=[{"account": "pypi/acme", "status": status, "rotations": []}])
    assert _status(p)["A.5.17"] == "fail" and _status(p)["CC6.1"] == "fail"


def test_a_leaver_with_access_left_fails_removal() -> None:
    left = {"email": "l@example.com", "now": {"revoke_grants": ["gr_x"], "keys": [], "owned": []}}
    p = predicate(offboardings=[left])
    c = _control(p, "CC6.3")
    assert c["status"] == "fail" and c["evidence"] == ["/predicate/offboardings/0"]
    keys_left = {"email": "l@example.com", "now": {"revoke_grants": [], "owned": [],
                                                   "keys": [{"account": "pypi/acme", "status": "active"}]}}
    assert _status(predicate(offboardings=[keys_left]))["CC6.3"] == "fail"


def test_anomalies_fail_access_control_and_identity() -> None:
    access = {"reveals": [REVEAL], "anomalies": [{"kind": "direct_access", "severity": "critical"},
                                                 {"kind": "approval_without_identity", "severity": "high"}],
              "not_listed": {"anomalies": [{"kind": "direct_access", "total": 900, "listed": 500}]}}
    p = predicate(access=access)
    c = _control(p, "A.5.15")
    assert c["status"] == "fail" and "401" in c["why"]
    assert c["evidence"] == ["/predicate/access/anomalies/0", "/predicate/access/not_listed/anomalies/0"]
    assert _status(p)["A.5.16"] == "fail"


def test_a_service_account_without_a_human_owner_fails_identity() -> None:
    accounts = [{"account": "pypi/acme", "owner": "ci@example.com", "ownership": "service", "human_owner": None,
                 "approvals_required": 1}]
    assert _status(predicate(accounts=accounts))["A.5.16"] == "fail"


def test_a_failed_drill_fails_secure_authentication() -> None:
    drills = {"drills": [{"id": "dr_x", "result": "fail", "flags": []}], "accounts_without_pass": []}
    assert _status(predicate(drills=drills))["A.8.5"] == "fail"


def test_the_rules_are_the_documented_ones() -> None:
    """docs/evidence.md has a section per control: a rule added without its explanation fails here."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "evidence.md").read_text()
    for rule in RULES:
        assert f"### {rule.framework} {rule.control}" in doc, rule.control
