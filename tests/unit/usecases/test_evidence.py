"""The evidence use case over the in-memory KV, a fake Vault and a transit engine in memory: who may build, what the
pack holds, and every bad input refused with nothing made. The audit log is the recorded scenario of
tests/fixtures/audit (a real OpenBao log)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from custody.errors import NotFound, PermissionDenied, ValidationError
from custody.evidence import dsse
from custody.evidence.dsse import InvalidEvidence
from custody.evidence.keys import load_public
from custody.evidence.statement import parse_statement
from tests.evidencekit import MemTransit
from tests.fakes import World, an_account, codes, world

SCENARIO = Path(__file__).resolve().parents[2] / "fixtures" / "audit" / "scenario.log"
PERIOD = "2026-11-01/2026-12-31"  # the scenario was recorded on 2026-11-25


@pytest.fixture
def transit() -> MemTransit:
    return MemTransit()


@pytest.fixture
def ew(transit: MemTransit) -> World:
    return world(signer=transit, audit_logs=[str(SCENARIO)])


def _keys(w: World) -> list[dsse.PublicKey]:
    return [load_public(k["public_key"].encode(), k["name"]) for k in w.uc.evidence.public_keys(w.token["auditor"])]


def test_an_auditor_builds_a_signed_pack_that_verifies(ew: World) -> None:
    an_account(ew)
    pack = ew.uc.evidence.build(ew.token["auditor"], PERIOD, [])
    env = dsse.parse(json.dumps(pack).encode())
    assert dsse.verify(env, _keys(ew)).signers == ("vault:custody-transit/custody-evidence:v1",)
    stmt = parse_statement(env.payload)
    assert stmt["subject"][0]["name"] == "scenario.log"
    p = stmt["predicate"]
    assert p["inputs"]["built_by"]["display_name"] == "userpass-auditor"
    assert p["inputs"]["audit_logs"][0]["size"] == SCENARIO.stat().st_size
    assert [a["account"] for a in p["accounts"]] == ["pypi/acme"]
    assert p["custody"][0]["status"]["total"] == 8
    assert len(p["access"]["reveals"]) == 8  # the scenario's, with reasons and approvers
    assert {c["control"] for c in p["controls"] if c["status"] == "fail"} >= {"CC6.2", "A.5.15"}


def test_a_rotation_in_the_period_is_in_the_pack_and_one_before_is_not(ew: World) -> None:
    an_account(ew)
    sec = ew.token["security"]
    ew.uc.rotation.rotate(sec, "pypi/acme", "\n".join(codes()), reason="yearly rotation of the recovery codes")
    p = parse_statement(dsse.parse(json.dumps(ew.uc.evidence.build(sec, PERIOD, [])).encode()).payload)["predicate"]
    (rotation,) = p["custody"][0]["rotations"]
    assert rotation["status"] == "completed" and rotation["reason"].startswith("yearly")
    later = "2027-01-01/2027-01-31"
    with pytest.raises(ValidationError, match="hold nothing of the period"):
        ew.uc.evidence.build(sec, later, [])


@pytest.mark.parametrize("who", ["engineer", "engineer2", "approver", "rotation"])
def test_only_security_and_auditors_may_build(ew: World, who: str, transit: MemTransit) -> None:
    with pytest.raises(PermissionDenied):
        ew.uc.evidence.build(ew.token[who], PERIOD, [])
    with pytest.raises(PermissionDenied):
        ew.uc.evidence.public_keys(ew.token[who])
    assert transit.signed == []


def test_unsigned_for_a_local_key(ew: World, transit: MemTransit) -> None:
    pack = ew.uc.evidence.build(ew.token["security"], PERIOD, [], sign=False)
    assert pack["signatures"] == [] and transit.signed == []


def test_a_missing_transit_key_is_named(ew: World, transit: MemTransit) -> None:
    transit.missing = True
    with pytest.raises(NotFound, match="custody-transit/keys/custody-evidence does not exist") as e:
        ew.uc.evidence.build(ew.token["auditor"], PERIOD, [])
    assert "custody bootstrap" in (e.value.hint or "") and "--key" in (e.value.hint or "")
    unsigned = world(audit_logs=[str(SCENARIO)])  # a server given no transit engine at all
    with pytest.raises(NotFound, match="does not exist"):
        unsigned.uc.evidence.build(unsigned.token["auditor"], PERIOD, [])


def test_logs_are_only_those_the_server_reads(ew: World, tmp_path: Path) -> None:
    assert ew.uc.evidence.build(ew.token["auditor"], PERIOD, ["scenario.log"])["signatures"]
    with pytest.raises(ValidationError, match="not one of the audit logs this server reads") as e:
        ew.uc.evidence.build(ew.token["auditor"], PERIOD, ["/etc/passwd"])
    assert "scenario.log" in (e.value.hint or "")
    none = world()
    with pytest.raises(NotFound, match="reads no audit logs"):
        none.uc.evidence.build(none.token["auditor"], PERIOD, [])


@pytest.mark.parametrize("content", [b'{"hello": "world"}\n', b"\n\nplain text\n", b"", b"\xff\xfe"])
def test_a_file_that_is_not_an_audit_log_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.log"
    path.write_bytes(content)
    w = world(signer=MemTransit(), audit_logs=[str(path)])
    with pytest.raises(ValidationError, match=r"notes\.log is not a Vault audit log"):
        w.uc.evidence.build(w.token["auditor"], PERIOD, [])


def test_bad_periods_are_refused(ew: World) -> None:
    for bad in ("2026", "2026-12-01/2026-11-01", "yesterday/today"):
        with pytest.raises(InvalidEvidence):
            ew.uc.evidence.build(ew.token["auditor"], bad, [])
    with pytest.raises(ValidationError, match=r"they run from 2026-11-25"):
        ew.uc.evidence.build(ew.token["auditor"], "2025-01-01/2025-12-31", [])


def test_an_inventory_is_a_subject_and_a_section(ew: World) -> None:
    inventory = json.dumps({"findings": [], "repos": 3})
    pack = ew.uc.evidence.build(ew.token["auditor"], PERIOD, [], inventory, "inv.json")
    stmt = parse_statement(dsse.parse(json.dumps(pack).encode()).payload)
    assert stmt["subject"][-1]["name"] == "inv.json" and stmt["predicate"]["inventory"] == {"findings": [],
                                                                                            "repos": 3}
    assert stmt["predicate"]["inputs"]["inventory"]["size"] == len(inventory)
    for bad, why in (("[1, 2]", "not a JSON object"), ("{", "not JSON"), ("x" * 60_000, "larger than")):
        with pytest.raises(ValidationError, match=why):
            ew.uc.evidence.build(ew.token["auditor"], PERIOD, [], bad, "inv.json")
