"""Faults: Vault slow or cut off mid-request, sealed, stopped, unable to write its audit log; a webhook that hangs.

Each must give a clean answer (HTTP 503 with Vault-style ``errors``, CLI exit 1 with a hint) or a degraded-but-safe
one, leave nothing half-written, and show in ``/v1/custody/health``. The destructive ones run on a throwaway dev
stack of their own (never the session's), in file order on one worker.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from custody.api.app import create_app
from custody.cli.client import Client
from custody.config import PolicySettings, ServerSettings
from custody.errors import StoreError
from custody.notify import Notifier
from custody.store import Store
from tests.helpers import (
    DEPOSITED,
    REASON,
    SESSION_LIMITS,
    Clock,
    Stack,
    in_process,
    local_http,
    new_codes,
    private_stack,
    uniq,
)
from tests.integration.test_notify_and_secrecy import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("faults")]


class Proxy:
    """A loopback TCP proxy in front of Vault that passes, delays each answer, or drops connections."""

    def __init__(self, target: str) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.mode = "pass"
        self.delay = 0.0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.addr = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.mode == "drop":
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self._conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, answer: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := src.recv(65536):
                if self.mode == "drop":
                    break
                if answer and self.delay:
                    time.sleep(self.delay)  # the request reached Vault; its answer is late
                dst.sendall(chunk)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.close()

    def cut(self) -> None:
        """Drop every open connection now (keep-alive ones too)."""
        for s in self._conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self._conns.clear()

    def close(self) -> None:
        self.listener.close()
        self.cut()


@pytest.fixture(scope="module")
def fragile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A dev stack of this module's own, which the tests below seal, break and stop."""
    with private_stack(Path(tmp_path_factory.mktemp("custody-fragile")), {"CUSTODY_VAULT_RETRIES": "2"}) as stack:
        yield stack


def account_with_codes(stack: Stack, n: int = 8) -> str:
    account = f"pypi/{uniq('fault')}"
    assert stack.cli("security", "accounts", "add", account, "--owner", "o@example.com").exit_code == 0
    assert stack.cli("security", "codes", "deposit", account, stdin="\n".join(new_codes(n))).exit_code == 0
    return account


def grant_keys(stack: Stack) -> set[str]:
    resp = httpx.request("LIST", f"{stack.vault_addr}/v1/custody-kv/metadata/grants",
                         headers={"X-Vault-Token": stack.token("root")})
    return set(resp.json()["data"]["keys"]) if resp.status_code == 200 else set()


def assert_clean_503(resp: httpx.Response, *words: str) -> None:
    assert resp.status_code == 503, resp.text
    errors = resp.json()["errors"]
    assert isinstance(errors, list) and errors and any(m.startswith("hint: ") for m in errors)
    assert "Traceback" not in resp.text
    for word in words:
        assert word in resp.text, (word, resp.text)


def health(stack: Stack, expect: int | None = None) -> httpx.Response:
    """The readiness answer; with ``expect``, the first one with that status within 3 s (the server asks Vault at
    most once a second, so a change shows within about a second)."""
    deadline = time.monotonic() + 3
    while True:
        resp = httpx.get(f"{stack.custody_addr}/v1/custody/health", timeout=15)
        if expect is None or resp.status_code == expect or time.monotonic() > deadline:
            return resp
        time.sleep(0.2)


def request_grant(stack: Stack, account: str) -> httpx.Response:
    return httpx.post(f"{stack.custody_addr}/v1/custody/accounts/{account}/grants", json={"reason": REASON},
                      headers={"X-Vault-Token": stack.token("engineer")}, timeout=30)


# ---- slow or cut-off Vault, in-process service behind the proxy ---------------------------------------------------
def test_slow_vault_times_out_cleanly_and_the_reveal_resumes(stack: Stack, clock: Clock, account: str) -> None:
    proxy = Proxy(stack.vault_addr)
    try:
        store = Store(proxy.addr, timeout=0.5, retries=1, retry_base=0.05)
        store.use_token(stack.service_store()._refresh())
        svc = in_process(store, settings=PolicySettings(**SESSION_LIMITS), clock=clock)
        grant = svc.access.request(stack.token("engineer"), account, REASON)
        proxy.delay = 1.0  # every Vault answer now arrives after the 0.5 s timeout
        start = time.monotonic()
        with pytest.raises(StoreError) as caught:
            svc.access.reveal(stack.token("engineer"), grant.id)
        assert time.monotonic() - start < 10 and "unreachable" in caught.value.message
        assert caught.value.hint and "Traceback" not in caught.value.diagnostics()
        proxy.delay = 0.0
        proxy.cut()
        # Whatever Vault did before the answers came too late, the grant is intact: still approved, or claimed
        # and resumable by its requester with one and the same code.
        shown = svc.access.show(stack.token("engineer"), grant.id)
        assert shown.status.value in ("approved", "revealed") and not shown.code_fp
        result = svc.access.reveal(stack.token("engineer"), grant.id)
        code = Client(stack.custody_addr, stack.token("engineer")).unwrap(stack.vault_addr, result.wrap.token)["code"]
        assert code in DEPOSITED
        status = svc.codes.status(stack.token("security"), account)[0]
        assert (status["consumed"], status["remaining"]) == (1, 7)
    finally:
        proxy.close()


def test_a_vault_that_never_answers_is_given_up_on_within_the_deadline(stack: Stack) -> None:
    """Retries x timeout could hold one request for over a minute (longer than the CLI waits); the call's deadline
    bounds it, and the server's default deadline ends before the CLI gives up."""
    proxy = Proxy(stack.vault_addr)
    try:
        proxy.delay = 60.0  # connections are accepted, answers never arrive in time
        store = Store(proxy.addr, timeout=1.0, retries=6, retry_base=0.05, deadline=3.0)
        start = time.monotonic()
        with pytest.raises(StoreError) as caught:
            store.lookup_caller(stack.token("engineer"))
        took = time.monotonic() - start
        assert 2.5 <= took < 5.5, took  # without the deadline: 7 attempts of 1 s plus backoff
        assert "unreachable" in caught.value.message and caught.value.status == 503
    finally:
        proxy.close()
    assert ServerSettings().vault_deadline + 5 <= inspect.signature(Client).parameters["timeout"].default


def test_dropped_connections_give_a_clean_503_and_write_nothing(stack: Stack, clock: Clock, account: str) -> None:
    proxy = Proxy(stack.vault_addr)
    try:
        store = Store(proxy.addr, timeout=2, retries=2, retry_base=0.05)
        store.use_token(stack.service_store()._refresh())
        app = TestClient(create_app(in_process(store, settings=PolicySettings(**SESSION_LIMITS), clock=clock)))
        before = grant_keys(stack)
        proxy.mode = "drop"
        proxy.cut()
        resp = app.post(f"/v1/custody/accounts/{account}/grants", json={"reason": REASON},
                        headers={"X-Vault-Token": stack.token("engineer")})
        assert_clean_503(httpx.Response(resp.status_code, content=resp.content), "unreachable")
        assert grant_keys(stack) == before
        unhealthy = app.get("/v1/custody/health")
        assert unhealthy.status_code == 503 and unhealthy.json()["data"]["vault"]["reachable"] is False
        proxy.mode = "pass"
        resp = app.post(f"/v1/custody/accounts/{account}/grants", json={"reason": REASON},
                        headers={"X-Vault-Token": stack.token("engineer")})
        assert resp.status_code == 200 and grant_keys(stack) == before | {resp.json()["data"]["id"]}
    finally:
        proxy.close()


# ---- a throwaway stack: audit device broken, sealed, stopped ------------------------------------------------------
def test_audit_device_unable_to_write(fragile: Stack) -> None:
    """OpenBao refuses every request it cannot audit: custody answers 503 and health says why."""
    account = account_with_codes(fragile)
    audit = Path(fragile.state["audit_log"])
    saved = audit.with_suffix(".saved")
    bao_pid = int(fragile.state["bao_pid"])
    before = grant_keys(fragile)
    # Tests run as root, so chmod would not stop the writes; a full disk does. /dev/full fails every write.
    audit.rename(saved)
    audit.symlink_to("/dev/full")
    os.kill(bao_pid, signal.SIGHUP)  # OpenBao reopens its audit files on SIGHUP
    try:
        time.sleep(0.5)
        assert_clean_503(request_grant(fragile, account), "internal error")
        h = health(fragile, expect=503)
        assert h.status_code == 503
        vault = h.json()["data"]["vault"]
        assert vault["reachable"] and not vault["sealed"] and vault["serving"] is False
        assert "audit" in vault["problem"]
        r = fragile.cli("engineer", "access", "request", account, "--reason", REASON)
        assert r.exit_code == 1 and "hint:" in r.err and "Traceback" not in r.err
    finally:
        audit.unlink()
        saved.rename(audit)
        os.kill(bao_pid, signal.SIGHUP)
        time.sleep(0.5)
    assert grant_keys(fragile) == before, "a refused request left a grant behind"
    assert health(fragile, expect=200).status_code == 200
    assert request_grant(fragile, account).status_code == 200


def test_sealed_vault(fragile: Stack) -> None:
    account = account_with_codes(fragile)
    before = grant_keys(fragile)
    key = re.search(r"Unseal Key: (\S+)", (fragile.dir / "bao.log").read_text())
    assert key, "the dev server prints its unseal key"
    admin = fragile.admin()
    admin.call("POST", "sys/seal")
    try:
        assert_clean_503(request_grant(fragile, account), "sealed", "unseal")
        h = health(fragile, expect=503)
        assert h.status_code == 503 and h.json()["data"]["vault"]["sealed"] is True
        r = fragile.cli("engineer", "access", "request", account, "--reason", REASON)
        assert r.exit_code == 1 and "sealed" in r.err and "hint: unseal" in r.err
    finally:
        httpx.put(f"{fragile.vault_addr}/v1/sys/unseal", json={"key": key.group(1)}, timeout=10)
    deadline = time.monotonic() + 15
    while health(fragile).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert grant_keys(fragile) == before
    assert request_grant(fragile, account).status_code == 200, "the server did not recover after the unseal"


def test_vault_stopped(fragile: Stack) -> None:
    """Last in this module: the stack's OpenBao does not come back."""
    account = account_with_codes(fragile)
    os.kill(int(fragile.state["bao_pid"]), signal.SIGKILL)
    time.sleep(0.2)
    assert_clean_503(request_grant(fragile, account), "unreachable")
    h = health(fragile, expect=503)
    assert h.status_code == 503 and h.json()["data"]["status"] == "degraded"
    assert h.json()["data"]["vault"]["reachable"] is False
    r = fragile.cli("engineer", "access", "request", account, "--reason", REASON, "--format", "json")
    assert r.exit_code == 1 and r.out == "" and "unreachable" in r.err and "hint:" in r.err
    failed = [ln for ln in fragile.logs()["custody.log"].splitlines() if '"request.failed"' in ln]
    assert failed and all('"error_code": "vault_unavailable"' in ln for ln in failed), failed[:2]


# ---- a webhook endpoint that hangs --------------------------------------------------------------------------------
def test_hanging_webhook_is_degraded_but_safe(stack: Stack, clock: Clock, account: str) -> None:
    receiver = Receiver(hang=3)
    try:
        notifier = Notifier([receiver.url], timeout=0.3, attempts=1)
        app = TestClient(create_app(in_process(stack.service_store(), settings=PolicySettings(**SESSION_LIMITS),
                                            notifier=notifier, clock=clock)))
        start = time.monotonic()
        for _ in range(3):
            resp = app.post(f"/v1/custody/accounts/{account}/grants", json={"reason": REASON},
                            headers={"X-Vault-Token": stack.token("engineer")})
            assert resp.status_code == 200
        assert time.monotonic() - start < 3, "a hanging webhook slowed requests down"
        deadline = time.monotonic() + 5
        while notifier.failed == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        h = app.get("/v1/custody/health")
        assert h.status_code == 200  # Vault is fine: requests are served, notifications lag
        hooks = h.json()["data"]["webhooks"]
        assert hooks["failed"] >= 1 and hooks["pending"] + hooks["failed"] >= 1
    finally:
        receiver.close()


def test_proxy_and_netrc_in_the_environment_are_not_used_for_vault(stack: Stack, account: str, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """custody reaches Vault at the address it was configured with, never through a proxy variable or with
    ~/.netrc credentials that happen to be in the service's environment."""
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))  # bound, never listening: a proxy here refuses every connection
    port = dead.getsockname()[1]
    store = stack.service_store()
    try:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        netrc = tmp_path / "netrc"
        netrc.write_text("machine 127.0.0.1 login intruder password hunter2\n")
        monkeypatch.setenv("NETRC", str(netrc))
        assert store.read(f"accounts/{account}") is not None
    finally:
        dead.close()


@pytest.fixture(scope="module")
def tls_vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A throwaway OpenBao in -dev-tls mode: HTTPS with a CA of its own. Yields (address, CA file)."""
    from custody.devstack import bao_binary, free_port

    certs = tmp_path_factory.mktemp("tls")
    port = free_port()
    proc = subprocess.Popen(
        [bao_binary(), "server", "-dev", "-dev-tls", "-dev-no-store-token", "-dev-root-token-id=tls-root",
         f"-dev-tls-cert-dir={certs}", f"-dev-listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ | {"HOME": str(certs)},
    )
    ca = certs / "vault-ca.pem"
    health = f"https://127.0.0.1:{port}/v1/sys/health"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if ca.exists() and httpx.get(health, verify=ssl.create_default_context(cafile=str(ca))).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the TLS dev server did not start"
            time.sleep(0.1)
        yield f"https://127.0.0.1:{port}", ca
    finally:
        proc.kill()
        proc.wait()


def test_tls_vault_needs_its_ca(tls_vault: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    addr, ca = tls_vault
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    # Without the CA: a clear, non-retried error that says what to set (and no retry loop first).
    store = Store(addr, retries=3)
    store.use_token("tls-root")
    started = time.monotonic()
    with pytest.raises(StoreError, match="certificate is not trusted") as err:
        store.read("anything")
    assert "CUSTODY_VAULT_CACERT" in (err.value.hint or "") and time.monotonic() - started < 2
    # With the CA configured, as CUSTODY_VAULT_CACERT does.
    trusted = Store(addr, verify=str(ca))
    trusted.use_token("tls-root")
    assert trusted.capabilities("tls-root", "custody/accounts") == {"root"}
    # With the CA bundle named the way requests and curl read it (e.g. a corporate CA bundle): still honoured.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    via_env = Store(addr)
    via_env.use_token("tls-root")
    assert via_env.capabilities("tls-root", "custody/accounts") == {"root"}


def test_a_standby_redirect_is_followed_with_method_body_and_token(stack: Stack, account: str) -> None:
    """A Raft standby answers 307 with the active node's address. The store follows it, keeping the method, the
    body and the X-Vault-Token header, so a check-and-set write lands exactly once on the active node."""
    from http.server import BaseHTTPRequestHandler

    seen: list[str] = []

    class Standby(BaseHTTPRequestHandler):
        def redirect(self) -> None:
            seen.append(self.command)
            self.send_response(307)
            self.send_header("Location", stack.vault_addr + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_DELETE = do_LIST = redirect

        def log_message(self, *args: object) -> None:
            pass

    with local_http(Standby) as standby:
        direct = stack.service_store()
        via = Store(standby, retries=0)
        via._token, via._token_expires = direct._refresh(), float("inf")
        key = f"probe/{uniq('redirect')}"
        version = via.write(key, {"n": 1}, cas=0)
        assert via.write(key, {"n": 2}, cas=version) == version + 1
        entry = direct.read(key)
        assert entry is not None and entry.data == {"n": 2} and entry.version == 2
        assert via.read(key) == entry
        assert sorted(set(seen)) == ["GET", "POST"]


def test_a_server_that_is_not_vault_is_named_as_such(account: str) -> None:
    """CUSTODY_VAULT_ADDR pointing at a web server that answers 200 with a page: reads must not turn into
    'unknown account', and writes must not crash; the error says the address is wrong."""
    from http.server import BaseHTTPRequestHandler

    class WebPage(BaseHTTPRequestHandler):
        def answer(self) -> None:
            body = b"<html><body>Welcome</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = answer

        def log_message(self, *args: object) -> None:
            pass

    with local_http(WebPage) as web:
        store = Store(web, retries=3)
        store.use_token("s.whatever")
        started = time.monotonic()
        for attempt in (lambda: store.read(f"accounts/{account}"), lambda: store.write("probe/x", {"a": 1}, cas=0)):
            with pytest.raises(StoreError, match="did not answer like Vault") as err:
                attempt()
            assert "CUSTODY_VAULT_ADDR" in (err.value.hint or "")
        assert time.monotonic() - started < 1, "a wrong address is not worth retrying"
