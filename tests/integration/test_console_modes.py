"""The console as a deployment configures it, served in-process over the session's real OpenBao: reveals in the
browser turned off (the page gives the commands, or a wrapping token to unwrap with ``bao``), the inventory report,
the console off without a key, and the grant links in webhook events."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from custody.api.app import create_app
from custody.config import ConsoleSettings, PolicySettings
from custody.console.seal import KeyRing
from custody.domain.handout import code_of
from custody.notify import Notifier
from custody.store import Store
from tests.consolekit import Person, grant_id_from
from tests.helpers import DEPOSITED, REASON, SESSION_LIMITS, Stack, in_process, run_cli

pytestmark = pytest.mark.integration
BASE = "http://console.test"


def console(stack: Stack, notifier: Notifier | None = None, **settings: Any) -> TestClient:
    store = stack.service_store()
    config = ConsoleSettings(vault_addr=stack.vault_addr, **settings)
    uc = in_process(store, settings=PolicySettings(**SESSION_LIMITS), person_vault=store, console=config,
                    **({"notifier": notifier} if notifier else {}))
    app = create_app(uc, vault_addr=stack.vault_addr, console=config, console_keys=KeyRing([os.urandom(32)]))
    return TestClient(app, base_url=BASE, follow_redirects=False)


def signed_in(client: TestClient, stack: Stack, who: str) -> Person:
    p = Person(BASE, http=client)
    p.get("/ui/sign-in")
    resp = p.post("/ui/sign-in", {"method": "userpass", "username": who, "password": stack.state["passwords"][who]})
    assert resp.status_code == 303, resp.text[:400]
    return p


def approved_grant(p: Person, account: str) -> str:
    p.get("/ui/requests")
    resp = p.post("/ui/requests", {"account": account, "reason": REASON})
    assert resp.status_code == 303, resp.text[:400]
    return grant_id_from(resp.headers["location"])  # a standard account: approved at once


def test_with_browser_reveals_off_the_page_gives_the_commands_and_the_server_never_sees_the_code(
        stack: Stack, account: str) -> None:
    client = console(stack, reveal="command", url=f"{BASE}/ui/")
    engineer = signed_in(client, stack, "engineer")
    gid = approved_grant(engineer, account)
    page = engineer.get(f"/ui/grants/{gid}").text
    assert f"export CUSTODY_ADDR={BASE} VAULT_ADDR={stack.vault_addr}" in page
    assert f"custody access reveal {gid}" in page and "Reveal the code" not in page
    answer = engineer.post(f"/ui/grants/{gid}/reveal", {})
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    shown = re.search(rf"VAULT_ADDR={re.escape(stack.vault_addr)} bao unwrap -field=code (\S+)</code>", answer.text)
    assert shown, answer.text[:2000]
    assert not any(code in answer.text for code in DEPOSITED)  # only the wrapping token went through custody
    unwrapped = httpx.post(f"{stack.vault_addr}/v1/sys/wrapping/unwrap", json={"token": shown.group(1)},
                           headers={"X-Vault-Token": stack.token("engineer")}).json()["data"]
    assert code_of(unwrapped) in DEPOSITED  # at data.code, or at data.data.code (a KV v2 read)
    again = engineer.post(f"/ui/grants/{gid}/reveal", {})
    assert again.status_code == 409 and "already revealed" in again.text


def test_the_command_the_page_shows_takes_the_code(stack: Stack, account: str) -> None:
    client = console(stack, reveal="command")
    engineer = signed_in(client, stack, "engineer")
    gid = approved_grant(engineer, account)
    command = re.search(r"custody access reveal (gr_\w+)", engineer.get(f"/ui/grants/{gid}").text)
    assert command and command.group(1) == gid
    code, out, err = run_cli({"CUSTODY_ADDR": stack.custody_addr, "VAULT_ADDR": stack.vault_addr,
                              "VAULT_TOKEN": stack.token("engineer"), "BAO_TOKEN": None,
                              "CUSTODY_VAULT_ADDR": None, "HOME": str(stack.dir)},
                             ["access", "reveal", gid, "--format", "json"])
    assert code == 0, err
    assert json.loads(out)["code"] in DEPOSITED


@pytest.fixture(scope="module")
def inventory_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved ``custody inventory report --format json`` of the inventory fixtures (custody not consulted)."""
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "inventory"
    code, out, err = run_cli({}, ["inventory", "report", "--repo", str(fixtures / "repos" / "widgets"),
                                  "--pypi", str(fixtures / "pypi" / "acme-widgets.json"), "--skip-custody",
                                  "--format", "json"])
    assert code == 0, err
    path = tmp_path_factory.mktemp("inventory") / "report.json"
    path.write_text(out)
    return path


def test_an_auditor_sees_the_saved_inventory_report_and_a_requester_does_not(stack: Stack,
                                                                              inventory_report: Path) -> None:
    client = console(stack, inventory_report=inventory_report)
    auditor = signed_in(client, stack, "auditor")
    assert 'href="/ui/inventory"' in auditor.get("/ui/audit").text
    page = auditor.get("/ui/inventory/report")
    assert page.status_code == 200 and "Inventory report" in page.text and "acme-widgets" in page.text
    csp = page.headers["content-security-policy"]
    assert "style-src 'sha256-" in csp and "script-src 'none'" in csp and "frame-ancestors 'self'" in csp
    assert "unsafe-inline" not in csp
    engineer = signed_in(client, stack, "engineer")
    assert 'href="/ui/inventory"' not in engineer.get("/ui/requests").text
    refused = engineer.get("/ui/inventory/report")
    assert refused.status_code == 403 and "custody-auditor" in refused.text


def test_without_an_inventory_report_the_page_says_how_to_set_one(stack: Stack) -> None:
    auditor = signed_in(console(stack), stack, "auditor")
    page = auditor.get("/ui/inventory")
    assert page.status_code == 404 and "CUSTODY_CONSOLE_INVENTORY_REPORT" in page.text


def test_passwords_go_to_the_auth_method_the_deployment_names(stack: Stack) -> None:
    """LDAP sign-in is ``auth/<mount>/login/<user>`` with a password, as userpass is: here the LDAP mount is a
    userpass method mounted at ``directory`` (no LDAP server in the tests), which shows the console forwards to the
    mount it is given, and offers only what is configured."""
    admin = stack.admin()
    if "directory/" not in admin.call("GET", "sys/auth").get("data", {}):
        admin.call("POST", "sys/auth/directory", {"type": "userpass"})
    admin.call("POST", "auth/directory/users/dana", {"password": "dana-pw-1234", "token_policies": ["default"]})
    client = console(stack, userpass_mount="", ldap_mount="directory", token_signin=False)
    p = Person(BASE, http=client)
    page = p.get("/ui/sign-in").text
    assert "Directory (LDAP) account" in page and "Vault token" not in page
    refused = p.post("/ui/sign-in", {"method": "userpass", "username": "engineer",
                                     "password": stack.state["passwords"]["engineer"]})
    assert refused.status_code == 400 and "not offered here" in refused.text
    p.get("/ui/sign-in")
    resp = p.post("/ui/sign-in", {"method": "ldap", "username": "dana", "password": "dana-pw-1234"})
    assert resp.status_code == 303
    home = p.get("/ui/", follow_redirects=True)
    assert "directory-dana" in home.text and "no custody role" in home.text  # signed in; no custody policy
    assert '"path":"auth/directory/login/dana"' in (stack.dir / "audit.log").read_text()


def test_without_a_key_the_console_is_off_and_says_how_to_turn_it_on(stack: Stack) -> None:
    store = Store(stack.vault_addr)
    app = create_app(in_process(store), console=ConsoleSettings(), console_keys=None)
    page = TestClient(app, base_url=BASE).get("/ui/sign-in")
    assert page.status_code == 404 and "CUSTODY_CONSOLE_KEY_FILE" in page.text


class Hook:
    """A webhook endpoint that keeps what it is sent."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []


@pytest.fixture
def hook() -> Iterator[tuple[Hook, str]]:
    from http.server import BaseHTTPRequestHandler

    from tests.helpers import local_http

    got = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.events.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with local_http(Handler) as url:
        yield got, url


@pytest.mark.parametrize("fmt", ["json", "slack"])
def test_the_requester_is_told_the_decision_with_a_link_to_the_grant(stack: Stack, critical_account: str,
                                                                     hook: tuple[Hook, str], fmt: str) -> None:
    got, url = hook
    notifier = Notifier([url], fmt, console_url=f"{BASE}/ui/")
    client = console(stack, notifier=notifier, url=f"{BASE}/ui/")
    engineer = signed_in(client, stack, "engineer")
    engineer.get("/ui/requests")
    gid = grant_id_from(engineer.post("/ui/requests", {"account": critical_account,
                                                       "reason": REASON}).headers["location"])
    approver = signed_in(client, stack, "approver")
    approver.get(f"/ui/grants/{gid}")
    approver.post(f"/ui/grants/{gid}/deny", {"comment": "not this way", "next": "grant"})
    notifier.close(5)
    events = [e.get("custody_event", e) for e in got.events]
    denied = next(e for e in events if e["event"] == "grant.denied")
    assert denied["requester"] == "userpass-engineer" and denied["url"] == f"{BASE}/ui/grants/{gid}"
    assert next(e for e in events if e["event"] == "grant.requested")["url"] == f"{BASE}/ui/grants/{gid}"
    if fmt == "slack":
        text = next(e["text"] for e in got.events if e["custody_event"]["event"] == "grant.denied")
        assert "requested by userpass-engineer" in text and f"<{BASE}/ui/grants/{gid}|open the grant>" in text
