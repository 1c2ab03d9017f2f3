"""Hostile input: thousands of generated requests from the published OpenAPI spec (schemathesis), then the attacks
worth naming one by one. No answer may be a 5xx, hold a stack trace, or echo a token."""

from __future__ import annotations

import http.client
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from custody.devstack import DevStack
from tests.helpers import DEPOSITED, REASON, Stack, uniq

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = {GenerationMode.POSITIVE: 60, GenerationMode.NEGATIVE: 30}


def assert_safe(status: int, body: str, *tokens: str) -> None:
    assert status < 500, (status, body[:300])
    assert "Traceback" not in body and 'File "/' not in body, body[:300]
    for token in tokens:
        assert token not in body, "an answer echoed a token"
    if status >= 400 and body:
        import json

        assert json.loads(body)["errors"], body[:300]


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own: generated requests create accounts and grants nobody else should see."""
    directory = Path(tmp_path_factory.mktemp("custody-fuzz"))
    dev = DevStack(directory)
    state = dev.up()
    stack = Stack(state=state, dir=directory)
    try:
        yield stack
        for name, text in stack.logs().items():
            for who in ("security", "engineer", "approver"):
                assert stack.token(who) not in text, (name, who)
            assert not any(code in text for code in DEPOSITED), name
    finally:
        dev.down()


def test_generated_requests_never_crash(fuzz_stack: Stack) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_stack.custody_addr}/v1/custody/openapi.json")
    tokens = {who: fuzz_stack.token(who) for who in ("security", "engineer", "approver")}
    statuses: Counter[int] = Counter()
    session = __import__("requests").Session()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        who = "security" if "/grants" not in operation.path else ("approver" if "approve" in operation.path
                                                                   else "engineer")
        token = tokens[who]
        for mode, examples in EXAMPLES.items():

            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                case.headers = {**(case.headers or {}), "X-Vault-Token": token}  # noqa: B023 - run() runs in this iteration
                resp = case.call(base_url=fuzz_stack.custody_addr, session=session)
                statuses[resp.status_code] += 1
                assert_safe(resp.status_code, resp.text, *tokens.values())

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing in this operation can be made invalid
    total = sum(statuses.values())
    print(f"\nschemathesis: {total} generated requests over {len(operations)} operations: {dict(statuses)}")
    assert total >= 1500


# ---- named attacks, on the session stack ---------------------------------------------------------------------
def raw(stack: Stack, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
        token: str | None = None) -> tuple[int, str]:
    """A request whose path is sent byte for byte (no client-side normalisation of ``..`` or ``%2e``)."""
    url = urlsplit(stack.custody_addr)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=15)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in ({"X-Vault-Token": token or stack.token("engineer"), "Content-Type": "application/json",
                             "Content-Length": str(len(body))} | (headers or {})).items():
            conn.putheader(name, value)
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


@pytest.mark.parametrize("path", [
    "/v1/custody/accounts/pypi/../x/grants",
    "/v1/custody/accounts/pypi/%2e%2e/grants",
    "/v1/custody/accounts/pypi/%2e%2e%2fsecurity/grants",
    "/v1/custody/accounts/pypi%2F..%2F..%2Fsys/x/grants",
    "/v1/custody/accounts/..%2f..%2fcustody-kv/codes/grants",
    "/v1/custody/accounts/pypi/a%00b/grants",
    "/v1/custody/grants/..%2F..%2Fsys%2Fseal/reveal",
    "/v1/custody/grants/%2e%2e/approve",
    "/v1/custody/accounts/pypi/%D0%B0cme/grants",  # Cyrillic a: a homoglyph of "acme"
    "/v1/custody/accounts/pypi/%E2%80%AEemca/grants",  # RTL override
])
def test_path_traversal_and_odd_names_are_refused(stack: Stack, path: str) -> None:
    status, body = raw(stack, "POST", path, b'{"reason": "' + REASON.encode() + b'"}')
    assert_safe(status, body, stack.token("engineer"))
    assert 400 <= status < 500


@pytest.mark.parametrize(("field", "value"), [
    ("reason", REASON + "\u202e"),
    ("reason", "\u202e" + REASON),
    ("reason", REASON + "\u2066hidden\u2069"),
    ("reason", REASON + "\x00"),
    ("reason", REASON + "\r\nX-Injected: 1"),
    ("reason", REASON + "\u2028second line"),
    ("ticket", "SEC-1\r\nX-Injected: 1"),
    ("ticket", "SEC\u202e1"),
])
def test_unicode_and_header_injection_in_requests(stack: Stack, account: str, field: str, value: str) -> None:
    body = {"reason": REASON, field: value}
    resp = httpx.post(f"{stack.custody_addr}/v1/custody/accounts/{account}/grants", json=body,
                      headers={"X-Vault-Token": stack.token("engineer")})
    assert_safe(resp.status_code, resp.text)
    assert resp.status_code == 400
    assert "\r" not in str(resp.headers) and "X-Injected" not in resp.headers


@pytest.mark.parametrize("value", ["99999999999999999999", "999999999w", "\u00b2", "3000000d", "9" * 5000])
def test_absurd_durations_are_a_400(stack: Stack, account: str, value: str) -> None:
    """A ttl, max_age, grace or since that overflows a date is the caller's mistake, never a 500."""
    token = {"X-Vault-Token": stack.token("engineer")}
    before = httpx.get(f"{stack.custody_addr}/v1/custody/accounts/{account}/codes",
                       headers={"X-Vault-Token": stack.token("security")}).json()["data"]
    resp = httpx.post(f"{stack.custody_addr}/v1/custody/accounts/{account}/grants",
                      json={"reason": REASON, "ttl": value}, headers=token)
    assert_safe(resp.status_code, resp.text)
    assert resp.status_code == 400 and "duration" in resp.json()["errors"][0]
    rotation = {"X-Vault-Token": stack.token("rotation")}
    for param in ("max_age", "grace"):
        resp = httpx.get(f"{stack.custody_addr}/v1/custody/rotation/sweep", params={param: value}, headers=rotation)
        assert_safe(resp.status_code, resp.text)
        assert resp.status_code == 400, resp.text
    resp = httpx.get(f"{stack.custody_addr}/v1/custody/audit/summary", params={"since": value + "d"},
                     headers={"X-Vault-Token": stack.token("auditor")})
    assert_safe(resp.status_code, resp.text)
    assert resp.status_code == 400, resp.text
    after = httpx.get(f"{stack.custody_addr}/v1/custody/accounts/{account}/codes",
                      headers={"X-Vault-Token": stack.token("security")}).json()["data"]
    assert after == before  # nothing requested, nothing consumed


@pytest.mark.parametrize("comment", ["ok\r\nX-Injected: 1", "ok\x00", "fine \u202edevorppa", "a\u2066b\u2069"])
def test_control_characters_in_comments(stack: Stack, critical_account: str, comment: str) -> None:
    grant = stack.client("engineer").call("POST", f"accounts/{critical_account}/grants", {"reason": REASON})["data"]
    resp = httpx.post(f"{stack.custody_addr}/v1/custody/grants/{grant['id']}/approve", json={"comment": comment},
                      headers={"X-Vault-Token": stack.token("approver")})
    assert_safe(resp.status_code, resp.text)
    assert resp.status_code == 400
    assert stack.client("auditor").call("GET", f"grants/{grant['id']}")["data"]["approvals"] == []


def test_homoglyph_account_name_is_not_the_real_account(stack: Stack, account: str) -> None:
    platform, name = account.split("/")
    fake = name.replace("a", "\u0430", 1)  # Cyrillic a
    resp = httpx.post(f"{stack.custody_addr}/v1/custody/accounts/{platform}/{fake}/grants", json={"reason": REASON},
                      headers={"X-Vault-Token": stack.token("engineer")})
    assert_safe(resp.status_code, resp.text)
    assert resp.status_code in (400, 404)


def test_oversized_bodies(stack: Stack, account: str) -> None:
    big = b'{"reason": "' + b"x" * 200_000 + b'"}'
    status, body = raw(stack, "POST", f"/v1/custody/accounts/{account}/grants", big)
    assert status == 413 and "larger than" in body
    status, body = raw(stack, "POST", f"/v1/custody/accounts/{account}/grants", b"{}",
                       headers={"Content-Length": "99999999999999999999"})
    assert_safe(status, body)
    assert status in (400, 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length at all: the limit must still hold
        yield b'{"reason": "'
        for _ in range(100):
            yield b"y" * 10_000
        yield b'"}'

    resp = httpx.post(f"{stack.custody_addr}/v1/custody/accounts/{account}/grants", content=chunks(),
                      headers={"X-Vault-Token": stack.token("engineer"), "Content-Type": "application/json"})
    assert_safe(resp.status_code, resp.text)
    assert resp.status_code in (411, 413)
    # A small Content-Length next to a chunked body: the body is read chunked, so the length must not pass it.
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks()) + b"0\r\n\r\n"
    status, body = raw(stack, "POST", f"/v1/custody/accounts/{account}/grants", chunked,
                       headers={"Content-Length": "10", "Transfer-Encoding": "chunked"})
    assert_safe(status, body)
    assert status in (411, 413), body  # refused before the body is read, not a 400 about what it held
    deep = b'{"reason": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    status, body = raw(stack, "POST", f"/v1/custody/accounts/{account}/grants", deep)
    assert_safe(status, body)
    status, body = raw(stack, "POST", f"/v1/custody/accounts/{account}/grants", b"\xff\xfe not json")
    assert_safe(status, body)
    assert status == 400


def test_wrapping_tokens_replayed_or_foreign(stack: Stack, account: str) -> None:
    engineer = stack.client("engineer")
    grant = engineer.call("POST", f"accounts/{account}/grants", {"reason": REASON})["data"]
    answer = engineer.call("POST", f"grants/{grant['id']}/reveal")
    ours = answer["wrap_info"]["token"]
    foreign = httpx.post(f"{stack.vault_addr}/v1/sys/wrapping/wrap", json={"code": "0123456789abcdef"},
                         headers={"X-Vault-Token": stack.token("root"), "X-Vault-Wrap-TTL": "60s"}
                         ).json()["wrap_info"]["token"]
    first = engineer.unwrap(stack.vault_addr, ours)
    assert first["code"] in DEPOSITED
    from custody.errors import PreconditionFailed

    with pytest.raises(PreconditionFailed):  # replayed
        engineer.unwrap(stack.vault_addr, ours)
    # Presented as a caller token (after use, or one custody never made), it is refused everywhere, never echoed.
    # (Before use it would be spent: Vault counts any call made with a wrapping token as its one use.)
    for token in (ours, foreign):
        for method, path in (("GET", "whoami"), ("POST", f"grants/{grant['id']}/reveal"), ("LIST", "grants"),
                             ("POST", f"accounts/{account}/grants")):
            body = {"reason": REASON} if path.startswith("accounts") else None  # what each path takes
            resp = httpx.request(method, f"{stack.custody_addr}/v1/custody/{path}", json=body,
                                 headers={"X-Vault-Token": token})
            assert_safe(resp.status_code, resp.text, token)
            assert resp.status_code == 403, (method, path, resp.text)
        # ...nor is it a grant id.
        resp = httpx.post(f"{stack.custody_addr}/v1/custody/grants/{token}/reveal",
                          headers={"X-Vault-Token": stack.token("engineer")})
        assert_safe(resp.status_code, resp.text, token)
        assert resp.status_code == 400
    # A second reveal of the same grant does not mint a new token for it.
    resp = httpx.post(f"{stack.custody_addr}/v1/custody/grants/{grant['id']}/reveal",
                      headers={"X-Vault-Token": stack.token("engineer")})
    assert resp.status_code == 409 and "wrap_info" not in resp.text.replace('"wrap_info":null', "")


def test_tokens_in_odd_places(stack: Stack) -> None:
    for token in ("", " ", "s.\r\nX-Injected: 1", "x" * 10_000, "\u202eroot", "hvs." + "A" * 90):
        try:
            resp = httpx.get(f"{stack.custody_addr}/v1/custody/whoami", headers={"X-Vault-Token": token})
        except (httpx.LocalProtocolError, UnicodeEncodeError):
            continue  # the client itself refuses to send it
        assert_safe(resp.status_code, resp.text)
        assert resp.status_code in (400, 403, 413, 431)
    resp = httpx.get(f"{stack.custody_addr}/v1/custody/whoami", headers={"Authorization": "Bearer " + uniq()})
    assert resp.status_code == 403


def test_every_answer_carries_one_request_id_and_no_store(stack: Stack, account: str) -> None:
    """Answers hold grants and wrapping tokens: no cache may keep them. And the request id a caller quotes to the
    security team is the one in the server's log, on success and on every kind of refusal."""
    url = f"{stack.custody_addr}/v1/custody"
    engineer = {"X-Vault-Token": stack.token("engineer")}
    answers = {
        "ok": httpx.get(f"{url}/accounts/{account}", headers=engineer),
        "created": httpx.post(f"{url}/accounts/{account}/grants", json={"reason": REASON}, headers=engineer),
        "invalid": httpx.post(f"{url}/accounts/{account}/grants", json={"reason": ""}, headers=engineer),
        "no token": httpx.get(f"{url}/accounts/{account}"),
        "unknown path": httpx.get(f"{url}/nowhere", headers=engineer),
        "too large": httpx.post(f"{url}/accounts/{account}/grants", content=b"x" * 70_000,
                                headers=engineer | {"Content-Type": "application/json"}),
        "chunked": httpx.post(f"{url}/accounts/{account}/grants", content=iter([b'{"reason": "x"}']),
                              headers=engineer | {"Content-Type": "application/json"}),
    }
    statuses = {name: r.status_code for name, r in answers.items()}
    assert statuses == {"ok": 200, "created": 200, "invalid": 400, "no token": 403, "unknown path": 404,
                        "too large": 413, "chunked": 411}
    for name, resp in answers.items():
        assert resp.headers.get_list("cache-control") == ["no-store"], name
        ids = resp.headers.get_list("x-request-id")
        assert len(ids) == 1 and len(ids[0]) == 36, (name, ids)
        if resp.status_code == 200:
            assert resp.json()["request_id"] == ids[0]
