"""The routes of keys, waves, drills, people and leaked codes over in-memory use cases: paths, methods, bodies,
answers and the status of each error."""

from __future__ import annotations

from fastapi.testclient import TestClient

from custody.api.app import create_app
from tests.fakes import REASON, World, an_account


def api(w: World, who: str) -> tuple[TestClient, dict[str, str]]:
    return TestClient(create_app(w.uc, vault_addr="http://vault.example:8200")), {"X-Vault-Token": w.token[who]}


def test_the_roster_routes(w: World) -> None:
    an_account(w)
    client, sec = api(w, "security")
    base = "/v1/custody/accounts/pypi/acme/keys"
    added = client.post(base, json={"label": "A key/with a slash", "custodian": "engineer@acme.example",
                                    "serial": "1"}, headers=sec)
    assert added.status_code == 200 and added.json()["data"]["keys"][0]["label"] == "A key/with a slash"
    dup = client.post(base, json={"label": "A key/with a slash", "custodian": "engineer@acme.example",
                                  "serial": "2"}, headers=sec)
    assert dup.status_code == 409 and "hint: labels are unique per account" in dup.json()["errors"][1]
    long = client.post(base, json={"label": "x" * 65, "custodian": "e@acme.example", "serial": "2"}, headers=sec)
    assert long.status_code == 400 and "at most 64" in long.json()["errors"][0]
    eng = {"X-Vault-Token": w.token["engineer"]}
    verified = client.post(base + "/verify", json={"label": "A key/with a slash"}, headers=eng)
    assert verified.status_code == 200 and verified.json()["data"]["keys"][0]["verified_by"] == "userpass-engineer"
    for method in ("LIST", "GET"):
        listed = client.request(method, "/v1/custody/keys?list=true", headers=sec).json()["data"]
        assert listed["keys"] == ["pypi/acme"] and listed["rosters"][0]["account"] == "pypi/acme"
    check = client.get("/v1/custody/keys/check", headers={"X-Vault-Token": w.token["rotation"]}).json()["data"]
    assert check["not_ok"] == ["pypi/acme"] and set(check["accounts"][0]) == {
        "account", "keys", "distinct_tokens", "custodians", "ok", "problems"}
    gone = client.post(base + "/remove", json={"label": "A key/with a slash", "reason": "lost it on a train"},
                       headers=sec)
    assert gone.json()["data"]["keys"] == [] and gone.json()["data"]["removed"][0]["reason"] == "lost it on a train"
    assert client.post(base + "/remove", json={"label": "nope", "reason": "lost it on a train"},
                       headers=sec).status_code == 404


def test_the_wave_and_drill_routes(w: World) -> None:
    an_account(w)
    client, sec = api(w, "security")
    wave = client.post("/v1/custody/rollout/waves/wave-1", json={"accounts": ["pypi/acme"]}, headers=sec)
    assert wave.status_code == 200 and wave.json()["data"]["accounts"] == ["pypi/acme"]
    again = client.post("/v1/custody/rollout/waves/wave-1", json={"accounts": ["pypi/acme"]}, headers=sec)
    assert again.status_code == 409
    status = client.get("/v1/custody/rollout/status?wave=wave-1", headers=sec).json()["data"]
    assert status["waves"][0]["accounts"][0]["stage"] == "codes-deposited"
    started = client.post("/v1/custody/drills", json={"account": "pypi/acme", "scenario": "lost both keys abroad"},
                          headers=sec).json()["data"]
    eng = {"X-Vault-Token": w.token["engineer"]}
    grant = client.post("/v1/custody/accounts/pypi/acme/grants", json={"reason": REASON, "drill": started["id"]},
                        headers=eng).json()["data"]
    assert grant["drill"] == started["id"]
    done = client.post(f"/v1/custody/drills/{started['id']}/finish", json={"result": "pass"}, headers=sec)
    assert done.json()["data"]["status"] == "finished"
    twice = client.post(f"/v1/custody/drills/{started['id']}/finish", json={"result": "pass"}, headers=sec)
    assert twice.status_code == 409
    aud = {"X-Vault-Token": w.token["auditor"]}
    assert client.get("/v1/custody/drills/dr_aaaaaaaaaaaa", headers=aud).status_code == 404
    assert client.get("/v1/custody/drills/not-a-drill", headers=aud).status_code == 400
    listed = client.request("LIST", "/v1/custody/drills", headers=aud).json()["data"]
    assert listed["keys"] == [started["id"]]
    report = client.get("/v1/custody/drills/report", headers=aud).json()["data"]
    assert report["drills"][0]["id"] == started["id"]
    html = client.get("/v1/custody/drills/report?format=html", headers=aud)
    assert html.headers["content-type"].startswith("text/html") and html.text.startswith("<!DOCTYPE html>")
    md = client.get("/v1/custody/drills/report?format=markdown", headers=aud)
    assert md.text.startswith("# Recovery drills")


def test_the_people_and_leak_routes(w: World) -> None:
    deposited = an_account(w)
    client, sec = api(w, "security")
    w.uc.keys.add(w.token["security"], "pypi/acme", "k", "engineer@acme.example", "1")
    dry = client.post("/v1/custody/people/engineer@acme.example/offboard", json={"reason": "left the company"},
                      headers=sec)
    assert dry.status_code == 200 and dry.json()["data"]["applied"] is False
    unknown = client.get("/v1/custody/people/nobody@acme.example", headers=sec)
    assert unknown.status_code == 404
    found = client.post("/v1/custody/codes/identify", json={"code": deposited[2]}, headers=sec)
    assert found.json()["data"]["account"] == "pypi/acme" and deposited[2] not in found.text
    burned = client.post("/v1/custody/accounts/pypi/acme/codes/burn", json={"code": deposited[2]}, headers=sec)
    assert burned.json()["data"]["status"] == "burned" and deposited[2] not in burned.text
    bad = client.post("/v1/custody/codes/identify", json={"code": "not a code at all"}, headers=sec)
    assert bad.status_code == 400 and "not a code at all" not in bad.text
    refused = client.post("/v1/custody/codes/identify", json={"code": deposited[3]},
                          headers={"X-Vault-Token": w.token["auditor"]})
    assert refused.status_code == 403 and deposited[3] not in refused.text
