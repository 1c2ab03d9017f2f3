"""The audit summary from the API (auditor role) and from the CLI, over the session stack's real audit log."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import DEPOSITED, REASON, Stack

pytestmark = pytest.mark.integration


def reveal_once(stack: Stack, account: str) -> str:
    g = stack.cli("engineer", "access", "request", account, "--reason", REASON, "--ticket", "SEC-404",
                  "--format", "json").json()
    assert stack.cli("engineer", "access", "reveal", g["id"]).exit_code == 0
    return str(g["id"])


def test_auditor_gets_the_summary_from_the_api(stack: Stack, account: str) -> None:
    gid = reveal_once(stack, account)
    url = f"{stack.custody_addr}/v1/custody/audit/summary"
    resp = httpx.get(url, headers={"X-Vault-Token": stack.token("auditor")}, timeout=60)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["schema_version"] == "1"
    row = next(a for a in data["accounts"] if a["account"] == account)
    reveal = next(r for r in row["reveals"] if r["grant_id"] == gid)
    assert reveal["reason"] == REASON and reveal["ticket"] == "SEC-404"
    assert reveal["requester"]["display_name"] == "userpass-engineer"
    assert reveal["unwrap_status"] == "by_requester"
    assert not any(code in resp.text for code in DEPOSITED)

    md = httpx.get(url, params={"format": "markdown"}, headers={"X-Vault-Token": stack.token("auditor")}, timeout=60)
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert account in md.text

    denied = httpx.get(url, headers={"X-Vault-Token": stack.token("engineer")}, timeout=60)
    assert denied.status_code == 403 and "custody-auditor" in denied.json()["errors"][1]
    bad = httpx.get(url, params={"format": "pdf"}, headers={"X-Vault-Token": stack.token("auditor")}, timeout=60)
    assert bad.status_code == 400


def test_cli_summary_over_the_same_log(stack: Stack, account: str) -> None:
    gid = reveal_once(stack, account)
    r = stack.cli(None, "audit", "summary", "--log", stack.state["audit_log"], "--format", "json")
    assert r.exit_code == 0, r.err
    row = next(a for a in r.json()["accounts"] if a["account"] == account)
    assert [x["grant_id"] for x in row["reveals"]] == [gid]
    r = stack.cli(None, "audit", "summary", "--log", "/nonexistent/audit.log")
    assert r.exit_code == 1 and "nonexistent" in r.err


def test_bao_kv_get_refused_at_preflight_is_reported(stack: Stack, account: str) -> None:
    """`bao kv get` is refused at sys/internal/ui/mounts/... before it reaches the mount: still an anomaly."""
    import os
    import subprocess

    from custody.devstack import bao_binary

    env = {**os.environ, "BAO_ADDR": stack.vault_addr, "BAO_TOKEN": stack.token("engineer2")}
    env.pop("VAULT_TOKEN", None)
    out = subprocess.run([bao_binary(), "kv", "get", f"custody-kv/codes/{account}"], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode != 0
    r = stack.cli(None, "audit", "summary", "--log", stack.state["audit_log"], "--format", "json")
    refused = [a for a in r.json()["anomalies"] if a["kind"] == "permission_denied"
               and a["principal"]["display_name"] == "userpass-engineer2" and account in a["path"]]
    assert refused, "the refused preflight is reported"
