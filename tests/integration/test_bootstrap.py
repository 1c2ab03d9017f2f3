"""``custody bootstrap`` against a fresh OpenBao of its own: the plan, refusals that change nothing, idempotence,
and the whole break-glass flow on a server set up by bootstrap alone (no dev stack)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from custody.bootstrap import APPROLES, GROUPS, KV_MAX_VERSIONS, Admin, add_group_member
from custody.devkit import bao_binary, free_port, start, stop, until, wait_http
from custody.errors import StoreError
from custody.repo.records import NON_HMAC_KEYS
from tests.helpers import DEPOSITED, REASON, new_codes, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass
class Fresh:
    addr: str
    root: str
    dir: Path

    def admin(self, token: str | None = None) -> Admin:
        return Admin(self.addr, token or self.root)


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Fresh]:
    """A brand-new OpenBao dev server, nothing configured, stopped at the end of the test."""
    port, root = free_port(), "root-" + secrets.token_urlsafe(12)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    with (tmp_path / "bao.log").open("ab") as log:
        proc = subprocess.Popen([bao_binary(), "server", "-dev", "-dev-no-store-token", f"-dev-root-token-id={root}",
                                 f"-dev-listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        addr = f"http://127.0.0.1:{port}"
        wait_http(f"{addr}/v1/sys/health", 20)
        yield Fresh(addr, root, tmp_path)
    finally:
        stop(proc.pid)
        proc.wait(timeout=10)


def cli(token: str | None, *args: str, custody_addr: str = "", vault_addr: str = "",
        stdin: str = "") -> tuple[int, str, str]:
    """The real CLI in-process with a given Vault token; returns (exit code, stdout, stderr)."""
    env = {"VAULT_TOKEN": token, "CUSTODY_ADDR": custody_addr or None, "VAULT_ADDR": vault_addr or None,
           "BAO_TOKEN": None, "BAO_ADDR": None, "CUSTODY_VAULT_ADDR": None, "HOME": "/nonexistent"}
    return run_cli(env, args, stdin)


def snapshot(f: Fresh) -> dict[str, Any]:
    """Everything bootstrap may touch, read with the root token."""
    a = f.admin()
    mounts = {k: (v["type"], v.get("options")) for k, v in a.call("GET", "sys/mounts")["data"].items()}
    auths = {k: v["type"] for k, v in a.call("GET", "sys/auth")["data"].items()}
    pols = {n: a.call("GET", f"sys/policies/acl/{n}")["data"]["policy"]
            for n in a.call("LIST", "sys/policies/acl")["data"]["keys"]}
    groups = a.call("LIST", "identity/group/name", ok404=True).get("data", {}).get("keys", [])
    snap: dict[str, Any] = {"mounts": mounts, "auths": auths, "policies": pols, "groups": {}}
    for g in groups:
        data = a.call("GET", f"identity/group/name/{g}")["data"]
        snap["groups"][g] = (data["policies"], data["member_entity_ids"])
    if "custody-kv/" in mounts:
        snap["tune"] = a.call("GET", "sys/mounts/custody-kv/tune")["data"]
        snap["kv_config"] = a.call("GET", "custody-kv/config", ok404=True).get("data")
    if "approle/" in auths:
        for role in APPROLES:
            snap[role] = a.call("GET", f"auth/approle/role/{role}", ok404=True).get("data")
            snap[f"{role}/secret-ids"] = a.call("LIST", f"auth/approle/role/{role}/secret-id",
                                                ok404=True).get("data", {}).get("keys")
    return snap


def bootstrap(f: Fresh, *args: str, token: str | None = None) -> tuple[int, str, str]:
    return cli(token or f.root, "bootstrap", "--vault-addr", f.addr, *args)


def test_dry_run_changes_nothing(fresh: Fresh) -> None:
    before = snapshot(fresh)
    code, out, err = bootstrap(fresh, "--dry-run", "--format", "json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["dry_run"] is True and plan["changed"] == len(plan["changes"])
    assert {c["action"] for c in plan["changes"]} == {"create"}
    assert plan["approles"] == {}  # no secret is minted by a dry run
    steps = " ".join(c["step"] for c in plan["changes"])
    assert all(name in steps for name in (*APPROLES, *GROUPS, "custody-service", "custody-kv/"))
    assert snapshot(fresh) == before
    # without any token it still prints the full plan, and touches no Vault at all
    code, out, err = cli(None, "bootstrap", "--vault-addr", "http://127.0.0.1:9", "--dry-run")
    assert code == 0, err
    assert "write policy custody-requester" in out and "no token" in out


def test_unprivileged_tokens_fail_clearly_and_change_nothing(fresh: Fresh) -> None:
    a = fresh.admin()
    # a token with only the default policy cannot even look
    weak = a.call("POST", "auth/token/create", {"policies": ["default"], "ttl": "10m"})["auth"]["client_token"]
    # a token that may read everything but write nothing passes the reads and is stopped before the first write
    a.call("PUT", "sys/policies/acl/reader", {"policy": 'path "*" { capabilities = ["read", "list"] }'})
    reader = a.call("POST", "auth/token/create", {"policies": ["reader"], "ttl": "10m"})["auth"]["client_token"]
    before = snapshot(fresh)
    code, out, err = bootstrap(fresh, token=weak)
    assert code == 1 and out == ""
    assert "refused GET sys/mounts" in err and "admin token" in err
    code, out, err = bootstrap(fresh, token=reader)
    assert code == 1 and out == ""
    assert "the admin token may not" in err and "nothing was changed" in err and "sys/mounts/custody-kv" in err
    assert snapshot(fresh) == before


def test_unreachable_vault_and_wrong_mount_type(fresh: Fresh) -> None:
    code, out, err = cli("whatever", "bootstrap", "--vault-addr", f"http://127.0.0.1:{free_port()}")
    assert code == 1 and out == ""
    assert "unreachable" in err and "--vault-addr" in err
    fresh.admin().call("POST", "sys/mounts/custody-kv", {"type": "kv", "options": {"version": "1"}})
    before = snapshot(fresh)
    code, out, err = bootstrap(fresh)
    assert code == 1 and "not KV v2" in err and "--mount" in err
    assert snapshot(fresh) == before


@pytest.fixture
def tls_vault(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A fresh OpenBao serving HTTPS with a CA of its own (-dev-tls); yields (address, CA file)."""
    port, certs = free_port(), tmp_path / "tls"
    certs.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))} | {"HOME": str(certs)}
    pid = start([bao_binary(), "server", "-dev", "-dev-tls", "-dev-no-store-token", "-dev-root-token-id=tls-root",
                 f"-dev-tls-cert-dir={certs}", f"-dev-listen-address=127.0.0.1:{port}"], tmp_path / "bao.log", env)
    try:
        until(lambda: (certs / "vault-ca.pem").exists(), 20, "the TLS dev server's CA")
        yield f"https://127.0.0.1:{port}", certs / "vault-ca.pem"
    finally:
        stop(pid)


def test_bootstrap_verifies_vaults_certificate(tls_vault: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    addr, ca = tls_vault
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "VAULT_CACERT", "BAO_CACERT"):
        monkeypatch.delenv(name, raising=False)
    trusted = Admin(addr, "tls-root", verify=str(ca))

    def answers() -> bool:
        try:
            return bool(trusted.call("GET", "sys/health"))
        except StoreError:
            return False

    until(answers, 20, "the TLS dev server")
    code, out, err = cli("tls-root", "bootstrap", "--vault-addr", addr, "--dry-run")
    assert code == 1 and out == ""
    assert "certificate not trusted" in err and "--ca-cert" in err
    code, out, err = cli("tls-root", "bootstrap", "--vault-addr", addr, "--ca-cert", str(ca), "--dry-run")
    assert code == 0, err
    assert "would create" in out


def test_bad_options_are_refused_before_any_call(fresh: Fresh) -> None:
    code, _, err = bootstrap(fresh, "--service-cidr", "10.0.0.300/8")
    assert code == 1 and "not a CIDR block" in err
    code, _, err = bootstrap(fresh, "--secret-id-ttl", "soon")
    assert code == 1 and "not a duration" in err


def test_bootstrap_is_idempotent_and_keeps_members(fresh: Fresh) -> None:
    code, out, err = bootstrap(fresh, "--format", "json", "--service-cidr", "127.0.0.0/8",
                               "--rotation-cidr", "192.0.2.0/24", "--secret-id-ttl", "90d")
    assert code == 0, err
    first = json.loads(out)
    assert first["changed"] == len(first["changes"])
    assert all("secret_id" in creds for creds in first["approles"].values())
    a = fresh.admin()
    kv_config = a.call("GET", "custody-kv/config")["data"]
    assert kv_config["max_versions"] == KV_MAX_VERSIONS and kv_config["cas_required"] is True
    tune = a.call("GET", "sys/mounts/custody-kv/tune")["data"]
    assert sorted(tune["audit_non_hmac_request_keys"]) == sorted(NON_HMAC_KEYS)
    assert "code" not in tune["audit_non_hmac_response_keys"]
    service = a.call("GET", "auth/approle/role/custody-service")["data"]
    assert service["secret_id_bound_cidrs"] == ["127.0.0.0/8"] and service["secret_id_ttl"] == 90 * 86400
    # the rotation role is bound to another network: its own secret_id is refused from here
    rot = first["approles"]["custody-rotation"]
    resp = httpx.post(f"{fresh.addr}/v1/auth/approle/login", json={"role_id": rot["role_id"],
                                                                      "secret_id": rot["secret_id"]}, timeout=5)
    assert resp.status_code >= 400

    # people added to the groups between runs stay there; nothing changes, no secret is minted again
    a.call("POST", "sys/auth/userpass", {"type": "userpass"})
    a.call("POST", "auth/userpass/users/alice", {"password": "pw-alice-0123"})
    entity = a.call("POST", "auth/userpass/login/alice", {"password": "pw-alice-0123"})["auth"]["entity_id"]
    add_group_member(a, "custody-approvers", entity)
    before = snapshot(fresh)
    code, out, err = bootstrap(fresh, "--format", "json", "--service-cidr", "127.0.0.0/8",
                               "--rotation-cidr", "192.0.2.0/24", "--secret-id-ttl", "90d")
    assert code == 0, err
    second = json.loads(out)
    assert second["changed"] == 0, [c for c in second["changes"] if c["action"] != "unchanged"]
    assert all("secret_id" not in creds for creds in second["approles"].values())
    assert {r: c["role_id"] for r, c in second["approles"].items()} == \
           {r: c["role_id"] for r, c in first["approles"].items()}
    assert snapshot(fresh) == before
    assert a.call("GET", "identity/group/name/custody-approvers")["data"]["member_entity_ids"] == [entity]

    # drift is repaired: a loosened KV config and an edited policy are put back, members still kept
    a.call("POST", "custody-kv/config", {"cas_required": False, "max_versions": 0})
    a.call("PUT", "sys/policies/acl/custody-auditor", {"policy": 'path "custody-kv/*" { capabilities = ["read"] }'})
    code, out, err = bootstrap(fresh, "--format", "json", "--no-secret-ids", "--service-cidr", "127.0.0.0/8",
                               "--rotation-cidr", "192.0.2.0/24", "--secret-id-ttl", "90d")
    assert code == 0, err
    changed = {c["step"].split(":")[0] for c in json.loads(out)["changes"] if c["action"] != "unchanged"}
    assert changed == {"configure custody-kv/", "write policy custody-auditor"}
    assert snapshot(fresh) == before
    # --rotate-secret-ids mints new ones, and the old ones keep working until the operator destroys them
    code, out, err = bootstrap(fresh, "--format", "json", "--rotate-secret-ids", "--service-cidr", "127.0.0.0/8",
                               "--rotation-cidr", "192.0.2.0/24", "--secret-id-ttl", "90d")
    assert code == 0, err
    third = json.loads(out)
    assert third["changed"] == 0
    assert third["approles"]["custody-service"]["secret_id"] != first["approles"]["custody-service"]["secret_id"]

    # A re-run without the flags (the secret_id rotation the runbook gives) keeps the bindings and the TTL
    bound = {name: a.call("GET", f"auth/approle/role/{name}")["data"] for name in APPROLES}
    code, out, err = bootstrap(fresh, "--format", "json", "--rotate-secret-ids")
    assert code == 0, err
    assert json.loads(out)["changed"] == 0
    assert {name: a.call("GET", f"auth/approle/role/{name}")["data"] for name in APPROLES} == bound

    # Drift that would weaken the limits is repaired: a periodic service token, versions deleted on a timer
    a.call("POST", "auth/approle/role/custody-service", {"token_period": "720h"})
    a.call("POST", "custody-kv/config", {"delete_version_after": "1h"})
    code, out, err = bootstrap(fresh, "--format", "json", "--no-secret-ids")
    assert code == 0, err
    changed = {c["step"].split(" ->")[0].split(":")[0] for c in json.loads(out)["changes"]
               if c["action"] != "unchanged"}
    assert changed == {"configure custody-kv/", "write AppRole custody-service"}, changed
    assert a.call("GET", "auth/approle/role/custody-service")["data"]["token_period"] == 0
    assert a.call("GET", "custody-kv/config")["data"]["delete_version_after"] == "0s"
    assert a.call("GET", "auth/approle/role/custody-service")["data"]["secret_id_bound_cidrs"] == ["127.0.0.0/8"]

    # `any` removes a binding, on purpose
    code, out, err = bootstrap(fresh, "--format", "json", "--no-secret-ids", "--rotation-cidr", "any")
    assert code == 0, err
    assert a.call("GET", "auth/approle/role/custody-rotation")["data"]["secret_id_bound_cidrs"] == []
    assert a.call("GET", "auth/approle/role/custody-service")["data"]["secret_id_bound_cidrs"] == ["127.0.0.0/8"]


def _user(a: Admin, name: str, group: str) -> str:
    password = secrets.token_urlsafe(16)
    a.call("POST", f"auth/userpass/users/{name}", {"password": password})
    auth = a.call("POST", f"auth/userpass/login/{name}", {"password": password})["auth"]
    add_group_member(a, group, auth["entity_id"])
    # log in again so the token carries the group's policies from the start
    return str(a.call("POST", f"auth/userpass/login/{name}", {"password": password})["auth"]["client_token"])


def test_break_glass_flow_on_a_bootstrapped_vault(fresh: Fresh, tmp_path: Path) -> None:
    code, out, err = bootstrap(fresh, "--format", "json")
    assert code == 0, err
    creds = json.loads(out)["approles"]["custody-service"]
    a = fresh.admin()
    a.call("POST", "sys/auth/userpass", {"type": "userpass"})
    tokens = {name: _user(a, name, group) for name, group in
              [("sec", "custody-security"), ("eng", "custody-requesters"), ("ap1", "custody-approvers"),
               ("ap2", "custody-approvers"), ("aud", "custody-auditors")]}

    secret_file = tmp_path / "secret-id"
    secret_file.write_text(creds["secret_id"] + "\n")
    secret_file.chmod(0o600)
    port = free_port()
    custody_addr = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "CUSTODY_"))} | {
        "CUSTODY_VAULT_ADDR": fresh.addr, "CUSTODY_ROLE_ID": creds["role_id"],
        "CUSTODY_SECRET_ID_FILE": str(secret_file), "CUSTODY_LISTEN_PORT": str(port)}
    log_path = tmp_path / "custody.log"
    with log_path.open("ab") as log:
        server = subprocess.Popen([sys.executable, "-m", "custody", "serve"], stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        wait_http(f"{custody_addr}/v1/custody/health", 20)

        def run(who: str, *args: str, stdin: str = "") -> tuple[int, str, str]:
            return cli(tokens[who], *args, custody_addr=custody_addr, vault_addr=fresh.addr, stdin=stdin)

        acct = "pypi/acme-release-bot"
        codes = new_codes(7)
        assert run("sec", "accounts", "add", acct, "--owner", "release@example.com", "--tier", "critical")[0] == 0
        code, out, err = run("sec", "codes", "deposit", acct, "--format", "json", stdin="\n".join(codes))
        assert code == 0, err
        assert json.loads(out)["remaining"] == 7
        # the engineer may not deposit, the auditor may not request: Vault policy says so, through the server
        code, _, err = run("eng", "codes", "deposit", acct, stdin=codes[0])
        assert code == 1 and "permission denied" in err
        code, _, err = run("aud", "access", "request", acct, "--reason", REASON)
        assert code == 1 and "permission denied" in err

        code, out, err = run("eng", "access", "request", acct, "--reason", REASON, "--format", "json")
        assert code == 0, err
        grant = json.loads(out)["id"]
        assert json.loads(out)["status"] == "pending"
        assert run("ap1", "access", "approve", grant, "--comment", "ok")[0] == 0
        code, out, err = run("ap2", "access", "approve", grant, "--format", "json")
        assert code == 0, err
        assert json.loads(out)["status"] == "approved"
        code, out, err = run("eng", "access", "reveal", grant, "--format", "json")
        assert code == 0, err
        revealed = json.loads(out)
        assert revealed["code"] in codes and revealed["remaining"] == 6
        code, _, err = run("eng", "access", "reveal", grant)
        assert code == 1  # single use
        # state lives only where bootstrap put it: the engineer's own token cannot read the mount
        resp = httpx.get(f"{fresh.addr}/v1/custody-kv/data/codes/{acct}",
                            headers={"X-Vault-Token": tokens["eng"]}, timeout=5)
        assert resp.status_code == 403
    finally:
        stop(server.pid)
        server.wait(timeout=10)
    text = log_path.read_text(errors="replace")
    assert not [c for c in DEPOSITED if c in text]
