"""The web console over HTTP, against the session's real custody server and OpenBao: signing in through Vault, the
sealed session cookie, CSRF and Origin checks, escaping, the headers every page carries, self-approval, signing
out, ended sessions, replicas. (The whole flow in a real browser: test_console_browser.py.)"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

import httpx
import pytest

from custody.bootstrap import add_group_member
from custody.console.seal import new_key
from custody.devkit import child_env, free_port, start_server, stop, wait_http
from tests.consolekit import Person, grant_id_from
from tests.helpers import REASON, Stack

pytestmark = pytest.mark.integration


def password_user(stack: Stack, name: str, *groups: str) -> str:
    """A userpass person in ``groups``; their password."""
    admin = stack.admin()
    password = secrets.token_urlsafe(12)
    admin.call("POST", f"auth/userpass/users/{name}", {"password": password})
    auth = admin.call("POST", f"auth/userpass/login/{name}", {"password": password})["auth"]
    for group in groups:
        add_group_member(admin, group, auth["entity_id"])
    return password


def person(stack: Stack, who: str) -> Person:
    p = Person(stack.custody_addr)
    p.sign_in(who, stack.state["passwords"][who])
    return p


def request_grant(p: Person, account: str, reason: str = REASON, **extra: str) -> str:
    p.get("/ui/requests")
    resp = p.post("/ui/requests", {"account": account, "reason": reason, **extra})
    assert resp.status_code == 303, resp.text[:800]
    return grant_id_from(resp.headers["location"])


# ---- signing in -------------------------------------------------------------------------------------------------
def test_a_password_is_forwarded_to_vault_and_the_token_is_sealed_in_a_strict_httponly_cookie(stack: Stack) -> None:
    p = Person(stack.custody_addr)
    resp = p.sign_in("engineer", stack.state["passwords"]["engineer"])
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith("custody-session=v1.")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; under TLS: Secure and the __Host- prefix (unit-tested)
    page = p.get("/ui/requests")
    assert page.status_code == 200 and "Signed in as" in page.text and "userpass-engineer" in page.text
    # Vault's audit log names the person: the login went to Vault's userpass method.
    audit = (stack.dir / "audit.log").read_text()
    assert '"path":"auth/userpass/login/engineer"' in audit


def test_a_wrong_password_signs_nobody_in_and_says_what_to_do(stack: Stack) -> None:
    p = Person(stack.custody_addr)
    p.get("/ui/sign-in")
    resp = p.post("/ui/sign-in", {"method": "userpass", "username": "engineer", "password": "not-the-password"})
    assert resp.status_code == 403
    assert "Vault refused the sign-in" in resp.text and "check the name and password" in resp.text
    assert p.session_cookie() is None
    assert p.get("/ui/requests").headers["location"] == "/ui/sign-in"


@pytest.mark.parametrize(("username", "why"), [("../../sys/seal", "not a username"), ("", "not a username")])
def test_a_username_that_is_no_path_segment_never_reaches_vault(stack: Stack, username: str, why: str) -> None:
    p = Person(stack.custody_addr)
    p.get("/ui/sign-in")
    resp = p.post("/ui/sign-in", {"method": "userpass", "username": username, "password": "x"})
    assert resp.status_code == 400 and why in resp.text


def test_a_pasted_token_signs_in_as_its_owner(stack: Stack) -> None:
    p = Person(stack.custody_addr)
    assert p.sign_in_with_token(stack.token("auditor")).status_code == 303
    page = p.get("/ui/grants")
    assert page.status_code == 200 and "userpass-auditor" in page.text
    assert stack.token("auditor") not in page.text and stack.token("auditor") not in (p.session_cookie() or "")


def test_signing_in_needs_the_sign_in_pages_own_csrf_token(stack: Stack) -> None:
    p = Person(stack.custody_addr)
    p.get("/ui/sign-in")
    forged = p.post("/ui/sign-in", {"method": "token", "token": stack.token("engineer")}, csrf="guessed")
    assert forged.status_code == 403 and p.session_cookie() is None
    elsewhere = p.post("/ui/sign-in", {"method": "token", "token": stack.token("engineer")},
                       origin="http://evil.example")
    assert elsewhere.status_code == 403 and p.session_cookie() is None


# ---- headers ------------------------------------------------------------------------------------------------------
def test_every_page_carries_a_csp_without_inline_scripts_and_the_api_keeps_no_store(stack: Stack) -> None:
    p = person(stack, "approver")
    for path in ("/ui/sign-in", "/ui/queue", "/ui/grants", "/ui/reviews", "/ui/static/console.css"):
        resp = p.get(path)
        csp = resp.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert resp.headers["x-frame-options"] == "DENY" and resp.headers["cache-control"] == "no-store"
        if resp.headers["content-type"].startswith("text/html"):
            assert re.search(r"<script(?![^>]*\bsrc=\"/ui/static/console\.js\")", resp.text) is None
            assert " style=" not in resp.text and "<style" not in resp.text
    api = httpx.get(f"{stack.custody_addr}/v1/custody/whoami", headers={"X-Vault-Token": stack.token("approver")})
    assert api.headers["cache-control"] == "no-store" and "content-security-policy" not in api.headers


# ---- state changes ------------------------------------------------------------------------------------------------
def test_a_request_without_the_sessions_csrf_token_or_from_another_origin_changes_nothing(
        stack: Stack, critical_account: str) -> None:
    p = person(stack, "engineer")
    p.get("/ui/requests")
    form = {"account": critical_account, "reason": REASON}
    for resp in (p.post("/ui/requests", form, csrf=None), p.post("/ui/requests", form, csrf="x" * 32),
                 p.post("/ui/requests", form, origin="http://evil.example"),
                 p.post("/ui/requests", form, origin=None)):
        assert resp.status_code == 403, resp.text[:300]
        assert "not sent from the console's own page" in resp.text
    grants = stack.client("security").call("GET", "grants", params={"list": "true", "account": critical_account})
    assert grants["data"]["grants"] == []


def test_a_bad_reason_gets_the_clis_message_and_hint_and_the_form_keeps_what_was_typed(
        stack: Stack, critical_account: str) -> None:
    p = person(stack, "engineer")
    p.get("/ui/requests")
    resp = p.post("/ui/requests", {"account": critical_account, "reason": "test test", "ticket": "SEC-9"})
    assert resp.status_code == 400
    assert "the reason is too short" in resp.text and "say what happened and why you need the code" in resp.text
    assert 'value="SEC-9"' in resp.text and ">test test</textarea>" in resp.text


def test_html_in_a_reason_or_a_comment_is_shown_as_text(stack: Stack, critical_account: str) -> None:
    engineer, approver = person(stack, "engineer"), person(stack, "approver")
    script = '<script>alert("reason")</script>'
    gid = request_grant(engineer, critical_account, reason=f"{REASON} {script}")
    approver.get(f"/ui/grants/{gid}")
    comment = '<img src=x onerror=alert(1)> "quoted" & more'
    assert approver.post(f"/ui/grants/{gid}/approve", {"comment": comment, "next": "grant"}).status_code == 303
    for page in (approver.get(f"/ui/grants/{gid}").text, approver.get("/ui/grants").text,
                 engineer.get("/ui/requests").text):
        assert script not in page and "<img src=x" not in page
    page = approver.get(f"/ui/grants/{gid}").text
    assert "&lt;script&gt;alert(&quot;reason&quot;)&lt;/script&gt;" in page or \
        '&lt;script&gt;alert("reason")&lt;/script&gt;' in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_an_approver_cannot_approve_their_own_request_from_the_console(stack: Stack, critical_account: str) -> None:
    name = f"both-{secrets.token_hex(3)}"
    p = Person(stack.custody_addr)
    p.sign_in(name, password_user(stack, name, "custody-requesters", "custody-approvers"))
    gid = request_grant(p, critical_account)
    assert gid not in p.get("/ui/queue").text  # not offered
    assert "Your decision" not in p.get(f"/ui/grants/{gid}").text
    resp = p.post(f"/ui/grants/{gid}/approve", {"comment": "me", "next": "grant"})  # and refused if forced
    assert resp.status_code == 403 and "you cannot approve your own request" in resp.text
    grant = stack.client("security").call("GET", f"grants/{gid}")["data"]
    assert grant["approvals"] == [] and grant["status"] == "pending"


def test_the_queue_lists_what_the_approver_may_approve_with_what_they_need(stack: Stack,
                                                                           critical_account: str) -> None:
    gid = request_grant(person(stack, "engineer"), critical_account, ticket="SEC-77")
    approver = person(stack, "approver")
    page = approver.get("/ui/queue").text
    row = page[page.index(f">{gid}</a>"):].split("</tr>")[0]
    for cell in (critical_account, "critical", "userpass-engineer", "SEC-77", "0 of 2", "min", "Approve", "Deny"):
        assert cell in row, cell
    assert approver.post(f"/ui/grants/{gid}/approve", {"comment": "ok", "next": "queue"}).headers["location"] == \
        "/ui/queue?done=approved"
    assert f">{gid}</a>" not in approver.get("/ui/queue").text  # approved by them: off their queue
    assert f">{gid}</a>" in person(stack, "approver2").get("/ui/queue").text


def test_a_requester_sees_no_queue_nor_other_peoples_grants(stack: Stack, critical_account: str) -> None:
    gid = request_grant(person(stack, "engineer"), critical_account)
    other = person(stack, "engineer2")
    assert "Approvals" not in other.get("/ui/requests").text.split("</nav>")[0]
    page = other.get(f"/ui/grants/{gid}")
    assert page.status_code == 403 and "is not one of yours, or does not exist" in page.text
    assert other.get("/ui/audit").status_code == 403


# ---- ending sessions ----------------------------------------------------------------------------------------------
def test_signing_out_revokes_the_token_so_a_copied_cookie_cannot_act(stack: Stack, critical_account: str) -> None:
    token = stack.make_user(f"leaver-{secrets.token_hex(3)}", "custody-requesters")
    p = Person(stack.custody_addr)
    assert p.sign_in_with_token(token).status_code == 303
    p.get("/ui/requests")
    copied, csrf = p.session_cookie(), p.csrf
    assert p.post("/ui/sign-out", {}).headers["location"] == "/ui/sign-in?done=signed-out"
    lookup = httpx.get(f"{stack.vault_addr}/v1/auth/token/lookup-self", headers={"X-Vault-Token": token})
    assert lookup.status_code == 403  # revoked in Vault, not only forgotten by the browser
    thief = Person(stack.custody_addr)
    thief.http.cookies.set("custody-session", copied or "")
    thief.csrf = csrf
    assert thief.get("/ui/requests").headers["location"].startswith("/ui/sign-in")
    resp = thief.post("/ui/requests", {"account": critical_account, "reason": REASON})
    assert resp.status_code == 303 and resp.headers["location"].startswith("/ui/sign-in")
    grants = stack.client("security").call("GET", "grants", params={"list": "true", "account": critical_account})
    assert grants["data"]["grants"] == []


def test_a_session_ends_with_its_token(stack: Stack, critical_account: str) -> None:
    # 6 s: a loaded machine can take more than a second or two to sign in, and the cookie keeps what is left
    auth = stack.admin().call("POST", "auth/token/create", {"policies": ["custody-requester"], "ttl": "6s",
                                                           "no_parent": True})["auth"]
    p = Person(stack.custody_addr)
    resp = p.sign_in_with_token(auth["client_token"])
    left = re.search(r"Max-Age=([1-6]);", resp.headers["set-cookie"])
    assert left, resp.headers["set-cookie"]
    p.get("/ui/requests")
    time.sleep(int(left.group(1)) + 0.6)
    assert p.get("/ui/requests").headers["location"] == "/ui/sign-in"
    resp = p.post("/ui/requests", {"account": critical_account, "reason": REASON})
    assert resp.headers["location"] == "/ui/sign-in"


def test_a_tampered_cookie_is_no_session(stack: Stack) -> None:
    p = person(stack, "engineer")
    value = p.session_cookie() or ""
    flipped = value[:-3] + ("A" if value[-3] != "A" else "B") + value[-2:]
    p.http.cookies.set("custody-session", flipped)
    assert p.get("/ui/requests").headers["location"] == "/ui/sign-in"


# ---- replicas -----------------------------------------------------------------------------------------------------
def _replica(stack: Stack, key_file: str, log: str) -> tuple[int, str]:
    port = free_port()
    role_id = stack.admin().call("GET", "auth/approle/role/custody-service/role-id")["data"]["role_id"]
    env = child_env(stack.dir) | {"CUSTODY_VAULT_ADDR": stack.vault_addr, "CUSTODY_ROLE_ID": role_id,
           "CUSTODY_SECRET_ID_FILE": str(stack.dir / "service-secret-id"), "CUSTODY_LISTEN_PORT": str(port),
           "CUSTODY_CONSOLE_KEY_FILE": key_file}
    pid = start_server(env, stack.dir / log)
    addr = f"http://127.0.0.1:{port}"
    wait_http(f"{addr}/v1/custody/health", 20)
    return pid, addr


def test_a_session_signed_in_on_one_replica_is_open_on_another_and_not_with_another_key(stack: Stack,
                                                                                      tmp_path: Path) -> None:
    other_key = tmp_path / "other.key"
    other_key.write_text(new_key() + "\n")
    p = person(stack, "approver")
    cookie = p.session_cookie() or ""
    same, addr = _replica(stack, str(stack.dir / "console.key"), "replica-same.log")
    other, other_addr = _replica(stack, str(other_key), "replica-other.log")
    try:
        on_same = Person(addr)
        on_same.http.cookies.set("custody-session", cookie)
        page = on_same.get("/ui/queue")
        assert page.status_code == 200 and "userpass-approver" in page.text
        on_other = Person(other_addr)
        on_other.http.cookies.set("custody-session", cookie)
        assert on_other.get("/ui/queue").headers["location"] == "/ui/sign-in"
    finally:
        stop(same)
        stop(other)


def test_dev_up_prints_the_console_and_how_each_demo_person_signs_in(stack: Stack) -> None:
    r = stack.cli(None, "dev", "up", "--dir", str(stack.dir))
    assert r.exit_code == 0, r.err
    assert f"# web console: {stack.custody_addr}/ui/" in r.out
    for name in ("engineer", "approver", "approver2", "auditor", "security"):
        assert re.search(rf"#   {name}\s+{re.escape(stack.state['passwords'][name])}$", r.out, re.M), name
    shown = json.loads(stack.cli(None, "dev", "up", "--dir", str(stack.dir), "--format", "json").out)
    assert shown["console_url"] == f"{stack.custody_addr}/ui/" and set(shown["passwords"]) >= {"engineer"}


def test_an_emergency_grant_is_reviewed_from_the_review_list(stack: Stack, critical_account: str) -> None:
    engineer = person(stack, "engineer")
    gid = request_grant(engineer, critical_account, emergency="yes")
    assert "approved" in engineer.get(f"/ui/grants/{gid}").text  # no approvals needed: an emergency
    approver = person(stack, "approver")
    listing = approver.get("/ui/reviews").text
    assert f">{gid}</a>" in listing and f"Review of grant {gid}" in listing
    resp = approver.post(f"/ui/grants/{gid}/review", {"comment": "called the on-call; it was real", "next": "reviews"})
    assert resp.headers["location"] == "/ui/reviews?done=reviewed"
    assert f">{gid}</a>" not in approver.get("/ui/reviews").text
    story = approver.get(f"/ui/grants/{gid}").text
    assert "emergency access reviewed" in story and "called the on-call; it was real" in story
    grant = stack.client("security").call("GET", f"grants/{gid}")["data"]
    assert grant["emergency"] and grant["review"]["comment"] == "called the on-call; it was real"


def test_a_form_with_too_many_fields_is_refused_as_a_page(stack: Stack) -> None:
    p = person(stack, "engineer")
    p.get("/ui/requests")
    resp = p.post("/ui/requests", {f"f{i}": "x" for i in range(30)})
    assert resp.status_code == 400 and "too many form fields" in resp.text
    assert resp.headers["content-type"].startswith("text/html")
