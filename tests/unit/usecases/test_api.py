"""The routers over the same in-memory use cases: Vault's envelope and methods, the token dependency, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from custody.api.app import create_app
from tests.fakes import REASON, World, an_account, world

SCENARIO = Path(__file__).resolve().parents[2] / "fixtures" / "audit" / "scenario.log"


def client(w: World) -> TestClient:
    return TestClient(create_app(w.uc, vault_addr="http://vault.example:8200"))


def test_the_envelope_and_both_ways_of_listing(w: World) -> None:
    an_account(w)
    api = client(w)
    headers = {"X-Vault-Token": w.token["auditor"]}
    for method, url in (("LIST", "/v1/custody/accounts"), ("GET", "/v1/custody/accounts?list=true")):
        resp = api.request(method, url, headers=headers)
        body = resp.json()
        assert resp.status_code == 200 and body["data"]["keys"] == ["pypi/acme"]
        assert set(body) == {"request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info",
                             "warnings", "auth"}
        assert resp.headers["x-request-id"] == body["request_id"] and resp.headers["cache-control"] == "no-store"
    account = api.get("/v1/custody/accounts/pypi/acme", headers={"Authorization": f"Bearer {w.token['auditor']}"})
    assert account.json()["data"] | {"created_at": None} == {
        "id": "pypi/acme", "platform": "pypi", "username": "acme", "owner": "owner@example.com", "tier": "standard",
        "approvals_required": 0, "notes": "", "created_at": None, "created_by": "userpass-security",
        "updated_at": None, "ownership": None, "human_owner": None}


@pytest.mark.parametrize(("headers", "body", "status", "message"), [
    ({}, {"reason": REASON}, 403, "missing client token"),
    ({"X-Vault-Token": "has space"}, {"reason": REASON}, 403, "malformed client token"),
    ({}, {"reason": REASON, "extra": 1}, 400, "invalid request: extra"),  # the body first, whoever sends it
    ({"X-Vault-Token": "hvs.never-issued"}, {"reason": REASON}, 403, "invalid or expired"),
])
def test_tokens_and_bodies_are_checked_in_vaults_order(w: World, headers: dict, body: dict, status: int,
                                                       message: str) -> None:
    an_account(w)
    resp = client(w).post("/v1/custody/accounts/pypi/acme/grants", json=body, headers=headers)
    assert resp.status_code == status and message in resp.json()["errors"][0], resp.text
    assert w.uc.access.list_grants(w.token["auditor"]) == []


def test_a_reveal_answers_with_a_wrapping_token_only(w: World) -> None:
    deposited = an_account(w)
    api = client(w)
    eng = {"X-Vault-Token": w.token["engineer"]}
    grant = api.post("/v1/custody/accounts/pypi/acme/grants", json={"reason": REASON}, headers=eng).json()["data"]
    assert grant["status"] == "approved" and grant["review_overdue"] is False and "requester_entity" not in grant
    resp = api.post(f"/v1/custody/grants/{grant['id']}/reveal", headers=eng)
    body = resp.json()
    assert resp.status_code == 200 and not any(c in resp.text for c in deposited)
    assert body["data"] == {"grant": grant["id"], "account": "pypi/acme", "remaining": 7,
                            "vault_addr": "http://vault.example:8200", "unwrap": "sys/wrapping/unwrap"}
    assert body["wrap_info"]["creation_path"] == f"custody/grants/{grant['id']}/reveal"
    assert w.kv.unwrap(body["wrap_info"]["token"])["code"] in deposited
    again = api.post(f"/v1/custody/grants/{grant['id']}/reveal", headers=eng)
    assert again.status_code == 409 and again.json()["errors"][1].startswith("hint: ")


def test_decisions_errors_and_unknown_paths(w: World) -> None:
    an_account(w, tier="critical")
    api = client(w)
    grant = api.post("/v1/custody/accounts/pypi/acme/grants", json={"reason": REASON},
                     headers={"X-Vault-Token": w.token["engineer"]}).json()["data"]
    approve = f"/v1/custody/grants/{grant['id']}/approve"
    assert api.post(approve, headers={"X-Vault-Token": w.token["engineer"]}).status_code == 403
    ok = api.put(approve, json={"comment": "ok"}, headers={"X-Vault-Token": w.token["approver"]})
    assert ok.status_code == 200 and ok.json()["data"]["approvals"][0]["comment"] == "ok"
    bare = api.post(approve.replace("approve", "deny"), headers={"X-Vault-Token": w.token["security"]})
    assert bare.status_code == 200 and bare.json()["data"]["status"] == "denied"
    assert api.get("/v1/custody/nowhere").json()["errors"] == ["unsupported path"]
    assert api.delete("/v1/custody/accounts").status_code == 405
    assert api.get("/v1/custody/grants/nope", headers={"X-Vault-Token": w.token["auditor"]}).status_code == 400


def test_the_sweep_routes_and_health(w: World) -> None:
    api = client(w)
    rot = {"X-Vault-Token": w.token["rotation"]}
    read = api.get("/v1/custody/rotation/sweep", params={"min_remaining": 2}, headers=rot)
    assert read.status_code == 200 and "expired_grants" not in read.json()["data"]
    written = api.post("/v1/custody/rotation/sweep", headers=rot)
    assert written.status_code == 200 and written.json()["data"]["expired_grants"] == []
    assert api.post("/v1/custody/rotation/sweep", json={"max_age": "bogus"}, headers=rot).status_code == 400
    assert api.get("/v1/custody/health").status_code == 200
    w.vault.healthy = False
    assert api.get("/v1/custody/health").status_code == 200  # Vault is asked at most once a second
    later = w.uc.health.clock() + 1
    w.uc.health.clock = lambda: later
    sick = api.get("/v1/custody/health")
    assert sick.status_code == 503 and sick.json()["data"]["status"] == "degraded"
    assert api.get("/v1/custody/health/live").status_code == 200  # the process is alive: no restart would help


def test_the_audit_summary_reads_the_configured_logs() -> None:
    w = world(audit_logs=[str(SCENARIO)])
    api = client(w)
    auditor = {"X-Vault-Token": w.token["auditor"]}
    summary = api.get("/v1/custody/audit/summary", headers=auditor)
    assert summary.status_code == 200 and summary.json()["data"]["mount"] == "custody-kv"
    md = api.get("/v1/custody/audit/summary", params={"format": "markdown"}, headers=auditor)
    assert md.headers["content-type"].startswith("text/markdown") and md.text.startswith("# Custody access summary")
    assert api.get("/v1/custody/audit/summary", headers={"X-Vault-Token": w.token["engineer"]}).status_code == 403
    w2 = world()  # a server that reads no audit logs
    nothing = client(w2).get("/v1/custody/audit/summary", headers={"X-Vault-Token": w2.token["auditor"]})
    assert nothing.status_code == 404 and "CUSTODY_AUDIT_LOGS" in nothing.json()["errors"][1]


@pytest.mark.filterwarnings("ignore:Duplicate Operation ID")  # one route, two methods (POST and PUT, as Vault)
def test_no_route_redirects_or_names_the_host_header(w: World) -> None:
    """Every route, every method, with a trailing slash and a forged Host: answered in place like the path
    without the slash (routed, so never 'unsupported path'), never with a redirect."""
    an_account(w)
    app = create_app(w.uc, vault_addr="http://vault.example:8200")
    api = TestClient(app, base_url="http://evil.example")
    values = {"platform": "pypi", "username": "acme", "grant_id": "gr_aaaaaaaaaaaaaaaa", "drill_id": "dr_aaaaaaaaaaaa",
              "name": "wave-1", "email": "someone@example.com"}
    routes = app.openapi()["paths"]
    assert len(routes) >= 15
    headers = {"X-Vault-Token": w.token["security"], "Host": "evil.example"}
    for template, methods in routes.items():
        path = template.format(**values)
        for method in sorted(methods):
            resp = api.request(method.upper(), path + "/", headers=headers, json={}, follow_redirects=False)
            assert not 300 <= resp.status_code < 400 and "location" not in resp.headers, (method, path, resp.headers)
            assert "unsupported path" not in resp.text and "evil.example" not in resp.text, (method, path, resp.text)


def test_an_unknown_account_answer_suggests_what_the_caller_may_list(w: World) -> None:
    an_account(w, "pypi/Acme-Publisher")
    api = client(w)
    for method, path, who, body in [("GET", "accounts/pypi/acme-publisher", "auditor", None),
                                    ("POST", "accounts/pypi/acme-publsher/grants", "engineer", {"reason": REASON}),
                                    ("POST", "accounts/pypi/acme-publishr/codes", "security", {"codes": "x"})]:
        resp = api.request(method, f"/v1/custody/{path}", headers={"X-Vault-Token": w.token[who]}, json=body)
        assert resp.status_code == 404, resp.text
        assert resp.json()["errors"][1] == "hint: did you mean pypi/Acme-Publisher?", resp.text
    reader = w.vault.add("reader", rules=(("custody/accounts/+/+", {"read"}),))
    resp = api.get("/v1/custody/accounts/pypi/acme-publisher", headers={"X-Vault-Token": reader})
    assert resp.json()["errors"] == ["unknown account pypi/acme-publisher", "hint: see `custody accounts list`"]
