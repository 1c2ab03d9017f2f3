"""Connection exhaustion without a token: sockets that connect and never finish a request cannot keep a real request
out, cannot hold a file descriptor for ever, and cannot flood the log.

A real `custody serve`, started the way the dev stack starts it against the session's OpenBao, but under the file
limit most Linux systems give a process (`ulimit -n 1024`), where 1,100 idle sockets used to exhaust its
descriptors: legitimate requests waited in the backlog until they timed out, and every failed `accept` was logged.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from custody import devkit
from tests.helpers import Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FILE_LIMIT = 1024
ATTACKERS = 1100
READ_TIMEOUT = 3.0
KEEP_ALIVE = 1.0


@dataclass
class Server:
    addr: str
    port: int
    log: Path


@pytest.fixture(scope="module")
def server(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = devkit.free_port()
    log = tmp_path_factory.mktemp("guarded") / "custody.log"
    role_id = stack.admin().call("GET", "auth/approle/role/custody-service/role-id")["data"]["role_id"]
    env = devkit.child_env(stack.dir) | {
        "CUSTODY_VAULT_ADDR": stack.vault_addr, "CUSTODY_ROLE_ID": role_id,
        "CUSTODY_SECRET_ID_FILE": str(stack.dir / "service-secret-id"), "CUSTODY_LISTEN_PORT": str(port),
        "CUSTODY_HEADER_READ_TIMEOUT": str(READ_TIMEOUT), "CUSTODY_KEEP_ALIVE_TIMEOUT": str(KEEP_ALIVE),
    }
    pid = devkit.start(["bash", "-c", f"ulimit -n {FILE_LIMIT} && exec {sys.executable} -m custody serve"], log, env)
    addr = f"http://127.0.0.1:{port}"
    try:
        devkit.wait_http(f"{addr}/v1/custody/health", 20)
        yield Server(addr, port, log)
    finally:
        devkit.stop(pid)


@pytest.fixture
def many_files() -> Iterator[None]:
    """This test process holds the attacking sockets: let it open that many."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = ATTACKERS + 512
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the hard open-files limit ({hard}) is below the {wanted} this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed ``sock`` (whatever it sent before is read and dropped)."""
    sock.setblocking(False)
    try:
        while sock.recv(65536):
            pass
    except BlockingIOError:
        return False
    except OSError:  # reset
        pass
    return True


def test_idle_connections_cannot_keep_a_request_out(server: Server, stack: Stack, many_files: None) -> None:
    before = server.log.stat().st_size
    attackers: list[socket.socket] = []
    try:
        for _ in range(ATTACKERS):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(b"GET /v1/custody/health HTTP/1.1\r\n")  # a request line, then nothing
            attackers.append(sock)
        time.sleep(0.5)  # the server has taken them all in
        for path, token in [("health", None), ("accounts?list=true", stack.token("security"))]:
            started = time.monotonic()
            resp = httpx.get(f"{server.addr}/v1/custody/{path}", timeout=2.0,
                             headers={"X-Vault-Token": token} if token else {})
            assert resp.status_code == 200, resp.text
            assert time.monotonic() - started < 2.0
        # None of them holds its descriptor past the read deadline.
        time.sleep(READ_TIMEOUT + 1.0)
        still_open = [s for s in attackers if not closed_by_server(s)]
        assert not still_open, f"{len(still_open)} idle connections still open after the read deadline"
    finally:
        for sock in attackers:
            sock.close()
    text = server.log.read_text(errors="replace")[before:]
    assert "Too many open files" not in text
    assert "connections.shed" in text  # what was shed is reported...
    assert len(text) < 10_000, f"the log grew by {len(text)} bytes"  # ...in a few lines, not one per connection


def test_a_kept_alive_connection_is_closed_when_idle_and_a_trickle_does_not_keep_one(server: Server) -> None:
    kept = socket.create_connection(("127.0.0.1", server.port))
    trickle = socket.create_connection(("127.0.0.1", server.port))
    with contextlib.closing(kept), contextlib.closing(trickle):
        kept.sendall(b"GET /v1/custody/health HTTP/1.1\r\nHost: x\r\n\r\n")
        kept.settimeout(5)
        assert kept.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        header = b"GET /v1/custody/health HTTP/1.1\r\nX-Padding: " + b"x" * 100
        sent = 0
        while not closed_by_server(trickle) and time.monotonic() - started < READ_TIMEOUT + 3:
            with contextlib.suppress(OSError):
                trickle.setblocking(True)
                trickle.sendall(header[sent:sent + 1])  # one byte every 0.25 s: never a whole request
                sent += 1
            time.sleep(0.25)
        assert closed_by_server(trickle)
        assert READ_TIMEOUT - 0.5 < time.monotonic() - started < READ_TIMEOUT + 1.5
        assert closed_by_server(kept)  # idle for longer than the keep-alive deadline
