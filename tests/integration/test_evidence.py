"""The evidence pack on the real OpenBao and the real server: a period with deposits, reveals, a rotation, a drill
and a leaver, built by the service and signed with its Vault transit key, then verified, co-signed, tampered with
and checked against the audit log it was built from. The server that builds reads a frozen copy of the audit log
(as it would read rotated logs), so the digest in the pack can be checked against that file."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody import bootstrap as boot
from custody.evidence import dsse
from custody.evidence.keys import from_raw, load_public, public_pem
from custody.evidence.statement import parse_statement
from tests.helpers import REASON, Result, Stack, another_server, new_codes, uniq

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("evidence")]
TODAY = datetime.now(UTC).date().isoformat()
PERIOD = f"{TODAY}/{TODAY}"


def ok(result: Result, code: int = 0) -> Any:
    assert result.exit_code == code, (result.exit_code, result.out, result.err)
    return result.json() if result.out.startswith(("{", "[")) else result.out


@dataclass
class Built:
    account: str
    leaver: str
    grants: list[str]
    drill: str
    frozen: Path  # the audit log the pack was built from
    addr: str  # the custody server that reads it
    pack: Path


def _story(stack: Stack) -> tuple[str, str, list[str], str]:
    """Deposits, a reveal, a rotation, a drill with its own reveal, and a leaver offboarded."""
    acct = f"pypi/{uniq('ev')}"
    ok(stack.cli("security", "accounts", "add", acct, "--owner", "owner@acme.example", "--approvals", "1",
                 "--format", "json"))
    ok(stack.cli("security", "codes", "deposit", acct, "--format", "json", stdin="\n".join(new_codes())))
    grants = []
    g = ok(stack.cli("engineer2", "access", "request", acct, "--reason", REASON, "--ticket", "SEC-42", "--format",
                     "json"))
    ok(stack.cli("approver", "access", "approve", g["id"], "--comment", "checked with the owner", "--format", "json"))
    ok(stack.cli("engineer2", "access", "reveal", g["id"], "--format", "json"))
    grants.append(g["id"])
    ok(stack.cli("security", "codes", "rotate", acct, "--format", "json", stdin="\n".join(new_codes())))
    d = ok(stack.cli("security", "drill", "start", acct, "--scenario", "owner lost both keys", "--format", "json"))
    g = ok(stack.cli("engineer2", "access", "request", acct, "--drill", d["id"], "--reason", REASON, "--format",
                     "json"))
    ok(stack.cli("approver", "access", "approve", g["id"], "--comment", "drill", "--format", "json"))
    ok(stack.cli("engineer2", "access", "reveal", g["id"], "--format", "json"))
    ok(stack.cli("security", "drill", "finish", d["id"], "--result", "pass", "--format", "json"))
    grants.append(g["id"])
    leaver = f"{uniq('leaver')}@acme.example"
    stack.make_user(leaver.split("@")[0], "custody-requesters", email=leaver)
    ok(stack.cli(leaver.split("@")[0], "access", "request", acct, "--reason", REASON, "--format", "json"))
    ok(stack.cli("security", "people", "offboard", leaver, "--reason", "left the company (HR-7)", "--apply",
                 "--format", "json"))
    return acct, leaver, grants, d["id"]


@pytest.fixture(scope="module")
def built(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    acct, leaver, grants, drill = _story(stack)
    frozen_dir = tmp_path_factory.mktemp("frozen")
    frozen = frozen_dir / "audit.log"
    shutil.copyfile(stack.dir / "audit.log", frozen)
    with another_server(stack, "evidence", {"CUSTODY_AUDIT_LOGS": str(frozen)}) as addr:
        pack = frozen_dir / "pack.json"
        done = ok(stack.cli("auditor", "evidence", "build", "--period", PERIOD, "--out", str(pack), "--format",
                            "json", custody_addr=addr))
        assert done["out"] == str(pack) and len(done["signatures"]) == 1
        yield Built(acct, leaver, grants, drill, frozen, addr, pack)


def _stmt(pack: Path) -> dict[str, Any]:
    return parse_statement(dsse.parse(pack.read_bytes()).payload)


def _vault_key(stack: Stack) -> dsse.PublicKey:
    """The transit key's public half as Vault itself answers it to an auditor: no custody in between."""
    resp = httpx.get(f"{stack.vault_addr}/v1/custody-transit/keys/custody-evidence",
                     headers={"X-Vault-Token": stack.token("auditor")}, timeout=10)
    resp.raise_for_status()
    keys = resp.json()["data"]["keys"]
    latest = max(keys, key=int)
    return from_raw(base64.b64decode(keys[latest]["public_key"]), f"vault v{latest}")


def test_the_pack_holds_the_period(built: Built) -> None:
    stmt = _stmt(built.pack)
    p = stmt["predicate"]
    assert stmt["subject"] == [{"name": "audit.log", "digest": {"sha256": p["inputs"]["audit_logs"][0]["sha256"]}}]
    assert p["inputs"]["built_by"]["display_name"] == "userpass-auditor" and p["inputs"]["custody_version"]
    assert any(a["account"] == built.account and a["tier"] == "standard" for a in p["accounts"])
    row = next(c for c in p["custody"] if c["account"] == built.account)
    assert row["status"]["generation"] == 2 and row["status"]["total"] == 8
    (rotation,) = row["rotations"]
    assert rotation["status"] == "completed" and rotation["actor"] == "userpass-security"
    drill = next(d for d in p["drills"]["drills"] if d["id"] == built.drill)
    assert drill["result"] == "pass" and drill["time_to_recovery_seconds"] is not None
    person = next(o for o in p["offboardings"] if o["email"] == built.leaver)
    assert person["runs"][0]["reason"] == "left the company (HR-7)" and person["now"]["revoke_grants"] == []
    reveals = {r["grant_id"]: r for r in p["access"]["reveals"]}
    first = reveals[built.grants[0]]
    assert first["reason"] == REASON and first["ticket"] == "SEC-42"
    assert first["requester"]["display_name"] == "userpass-engineer2"
    assert [(a["approver"], a["comment"]) for a in first["approvers"]] == [("userpass-approver",
                                                                            "checked with the owner")]
    assert reveals[built.grants[1]]["drill"] == built.drill
    controls = {c["control"]: c for c in p["controls"]}
    assert len(controls) == 9 and {c["status"] for c in controls.values()} <= {"pass", "fail", "not-applicable"}
    assert controls["CC6.3"]["status"] != "not-applicable"  # the leaver is in the period
    for c in controls.values():
        for pointer in c["evidence"]:
            node: Any = stmt
            for part in pointer.lstrip("/").split("/"):
                node = node[int(part)] if isinstance(node, list) else node[part.replace("~1", "/")]


def test_verify_with_vault_with_the_key_from_vault_and_against_the_log(built: Built, stack: Stack,
                                                                      tmp_path: Path) -> None:
    out = ok(stack.cli("auditor", "evidence", "verify", str(built.pack), "--vault", "--log", str(built.frozen),
                       custody_addr=built.addr))
    assert out.startswith("valid: signed by vault:custody-transit/custody-evidence:v") and TODAY in out
    assert "log " in out and "matches the pack" in out
    pem = tmp_path / "vault.pub"
    pem.write_text(public_pem(_vault_key(stack).key))
    data = ok(stack.cli(None, "evidence", "verify", str(built.pack), "--public-key", str(pem), "--format", "json"))
    assert data["valid"] is True and data["signers"] == [str(pem)] and data["period"]["start"].startswith(TODAY)


def test_a_log_changed_since_fails(built: Built, stack: Stack, tmp_path: Path) -> None:
    grown = tmp_path / "audit.log"
    shutil.copyfile(built.frozen, grown)
    with grown.open("a") as f:
        f.write("\n")
    r = stack.cli(None, "evidence", "verify", str(built.pack), "--public-key", str(_pub(stack, tmp_path)),
                  "--log", str(grown))
    assert r.exit_code == 1 and "audit.log no longer matches the pack" in r.err


def _pub(stack: Stack, tmp_path: Path) -> Path:
    pem = tmp_path / "vault.pub"
    pem.write_text(public_pem(_vault_key(stack).key))
    return pem


def test_a_second_signature_is_added_and_verified(built: Built, stack: Stack, tmp_path: Path) -> None:
    key = tmp_path / "auditor.pem"
    ok(stack.cli(None, "evidence", "keygen", "--out", str(key)))
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    cosigned = tmp_path / "cosigned.json"
    ok(stack.cli(None, "evidence", "sign", str(built.pack), "--key", str(key), "--out", str(cosigned)))
    data = ok(stack.cli("auditor", "evidence", "verify", str(cosigned), "--vault", "--public-key",
                        f"{key}.pub", "--format", "json", custody_addr=built.addr))
    assert len(data["signers"]) == 2 and data["unchecked"] == []
    only_mine = ok(stack.cli(None, "evidence", "verify", str(cosigned), "--public-key", f"{key}.pub",
                             "--format", "json"))
    assert only_mine["signers"] == [f"{key}.pub"] and len(only_mine["unchecked"]) == 1
    again = stack.cli(None, "evidence", "sign", str(cosigned), "--key", str(key))
    assert again.exit_code == 1 and "already signed" in again.err


def test_a_wrong_key_fails(built: Built, stack: Stack, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    ok(stack.cli(None, "evidence", "keygen", "--out", str(other)))
    r = stack.cli(None, "evidence", "verify", str(built.pack), "--public-key", f"{other}.pub")
    assert r.exit_code == 1 and "no signature was made by a key given" in r.err and "valid" not in r.out


@pytest.fixture(scope="module")
def vault_key(stack: Stack, built: Built) -> dsse.PublicKey:
    return _vault_key(stack)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_single_byte_change_of_the_payload_fails(built: Built, vault_key: dsse.PublicKey,
                                                       data: st.DataObject) -> None:
    env = dsse.parse(built.pack.read_bytes())
    assert dsse.verify(env, [vault_key]).signers
    payload = bytearray(env.payload)
    i = data.draw(st.integers(0, len(payload) - 1), label="byte")
    payload[i] = (payload[i] + data.draw(st.integers(1, 255), label="delta")) % 256
    with pytest.raises(dsse.InvalidEvidence, match="does not verify"):
        dsse.verify(dsse.Envelope(bytes(payload), env.payload_type, env.signatures), [vault_key])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_single_character_change_of_the_file_fails(built: Built, vault_key: dsse.PublicKey,
                                                         data: st.DataObject) -> None:
    """One character of the payload's base64 or of the signature's, in the file as written."""
    doc = json.loads(built.pack.read_text())
    field = data.draw(st.sampled_from(["payload", "sig"]))
    text = doc["payload"] if field == "payload" else doc["signatures"][0]["sig"]
    i = data.draw(st.integers(0, len(text) - 1))
    new = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=!").filter(
        lambda c: c != text[i]))
    changed = text[:i] + new + text[i + 1:]
    if field == "payload":
        doc["payload"] = changed
    else:
        doc["signatures"][0]["sig"] = changed
    with pytest.raises(dsse.InvalidEvidence):
        dsse.verify(dsse.parse(json.dumps(doc).encode()), [vault_key])


def test_a_tampered_file_fails_through_the_cli(built: Built, stack: Stack, tmp_path: Path) -> None:
    doc = json.loads(built.pack.read_text())
    stmt = json.loads(base64.b64decode(doc["payload"]))
    stmt["predicate"]["controls"][1]["status"] = "pass"  # the edit someone would want to make
    doc["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))
    r = stack.cli("auditor", "evidence", "verify", str(tampered), "--vault", custody_addr=built.addr)
    assert r.exit_code == 1 and "signature 1" in r.err and "does not verify" in r.err
    (tmp_path / "garbage.json").write_text("{}")
    r = stack.cli(None, "evidence", "verify", str(tmp_path / "garbage.json"), "--public-key",
                  str(_pub(stack, tmp_path)))
    assert r.exit_code == 1 and "malformed envelope" in r.err


def test_an_air_gapped_build_is_signed_by_the_local_key_only(built: Built, stack: Stack, tmp_path: Path) -> None:
    key = tmp_path / "offline.pem"
    ok(stack.cli(None, "evidence", "keygen", "--out", str(key)))
    pack = tmp_path / "offline.json"
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"findings": [], "repos": [{"repo": "acme"}]}))
    done = ok(stack.cli("security", "evidence", "build", "--period", PERIOD, "--key", str(key), "--out", str(pack),
                        "--inventory", str(inventory), "--format", "json", custody_addr=built.addr))
    assert len(done["signatures"]) == 1
    stmt = _stmt(pack)
    assert stmt["subject"][-1]["name"] == "inventory.json" and stmt["predicate"]["inventory"]["repos"]
    inventory.write_text("not json")
    r = stack.cli("security", "evidence", "build", "--period", PERIOD, "--key", str(key), "--out",
                  str(tmp_path / "never.json"), "--inventory", str(inventory), custody_addr=built.addr)
    assert r.exit_code == 1 and "inventory.json is not JSON" in r.err and not (tmp_path / "never.json").exists()
    assert ok(stack.cli(None, "evidence", "verify", str(pack), "--public-key", f"{key}.pub", "--format",
                        "json"))["valid"]
    r = stack.cli("auditor", "evidence", "verify", str(pack), "--vault", custody_addr=built.addr)
    assert r.exit_code == 1 and "no signature was made by a key given" in r.err
    both = tmp_path / "both.json"
    done = ok(stack.cli("security", "evidence", "build", "--period", PERIOD, "--sign", "vault", "--key", str(key),
                        "--out", str(both), "--format", "json", custody_addr=built.addr))
    assert len(done["signatures"]) == 2  # the service's, then the security lead's
    data = ok(stack.cli("auditor", "evidence", "verify", str(both), "--vault", "--public-key", f"{key}.pub",
                        "--format", "json", custody_addr=built.addr))
    assert data["signers"][0].startswith("vault:") and data["signers"][1] == f"{key}.pub"


def test_bad_input_writes_nothing(built: Built, stack: Stack, tmp_path: Path) -> None:
    out = tmp_path / "pack.json"
    cases = [
        (["--period", "2001-01-01/2001-12-31"], "hold nothing of the period"),
        (["--period", "last year"], "not a period"),
        (["--period", PERIOD, "--log", "/etc/passwd"], "not one of the audit logs this server reads"),
    ]
    for args, why in cases:
        r = stack.cli("auditor", "evidence", "build", *args, "--out", str(out), custody_addr=built.addr)
        assert r.exit_code == 1 and why in r.err, (args, r.err)
        assert list(tmp_path.iterdir()) == []
    r = stack.cli("auditor", "evidence", "build", "--period", PERIOD, "--out", str(tmp_path / "no" / "pack.json"),
                  custody_addr=built.addr)
    assert r.exit_code == 1 and "not a directory you may write to" in r.err
    # A directory nobody may create files in (not even root, who ignores mode bits): refused, nothing left.
    r = stack.cli("auditor", "evidence", "build", "--period", PERIOD, "--out", "/proc/pack.json",
                  custody_addr=built.addr)
    assert r.exit_code == 1 and "cannot write /proc/pack.json" in r.err and not Path("/proc/pack.json").exists()
    r = stack.cli("auditor", "evidence", "build", "--period", PERIOD, "--out", str(tmp_path), custody_addr=built.addr)
    assert r.exit_code == 2 and "is a directory" in r.err  # click refuses it as a usage error
    for who in ("engineer", "approver", "rotation"):
        r = stack.cli(who, "evidence", "build", "--period", PERIOD, "--out", str(out), custody_addr=built.addr)
        assert r.exit_code == 1 and "permission denied" in r.err.lower() and not out.exists()


def test_not_an_audit_log_is_refused(stack: Stack, tmp_path: Path) -> None:
    notes = tmp_path / "notes.log"
    notes.write_text("meeting notes, not an audit log\n")
    with another_server(stack, "evidence-notes", {"CUSTODY_AUDIT_LOGS": str(notes)}) as addr:
        r = stack.cli("auditor", "evidence", "build", "--period", PERIOD, "--out", str(tmp_path / "p.json"),
                      custody_addr=addr)
    assert r.exit_code == 1 and "notes.log is not a Vault audit log" in r.err
    assert not (tmp_path / "p.json").exists()


def test_a_missing_transit_key_is_named(built: Built, stack: Stack, tmp_path: Path) -> None:
    """Last in this module: the key is deleted (as root) and made again as bootstrap makes it."""
    admin = stack.admin()
    path = f"{boot.EVIDENCE_TRANSIT_MOUNT}/keys/{boot.EVIDENCE_KEY}"
    try:
        admin.call("POST", f"{path}/config", {"deletion_allowed": True})
        admin.call("DELETE", path)
        r = stack.cli("auditor", "evidence", "build", "--period", PERIOD, "--out", str(tmp_path / "p.json"),
                      custody_addr=built.addr)
        assert r.exit_code == 1 and "custody-transit/keys/custody-evidence does not exist" in r.err, r.err
        assert "custody bootstrap" in r.err and not (tmp_path / "p.json").exists()
    finally:
        for step in boot.transit_steps(admin):
            if step.action != "unchanged":
                step.run()
    assert load_public(public_pem(_vault_key(stack).key).encode(), "new").keyid
