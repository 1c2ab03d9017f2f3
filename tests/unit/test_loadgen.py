"""The load benchmark's HTTP client reads every body shape it meets (length, chunked, none) and keeps connections
alive: a client that hangs or misreads would make `make bench` hang or report nonsense."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from benchmarks.loadgen import Pool
from tests.helpers import local_http


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn and OpenBao speak
    connections: set[int] = set()

    def do_GET(self) -> None:
        Handler.connections.add(self.client_address[1])
        if self.path.endswith("/chunked"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'{"a": ', b'[1, 2, 3]', b"}"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path.endswith("/empty"):
            self.send_response(204)
            self.end_headers()
        else:
            body = b'{"path": "%s"}' % self.path.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_POST(self) -> None:
        Handler.connections.add(self.client_address[1])
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Handler.connections = set()
    with local_http(Handler) as base:
        yield f"{base}/v1"


def test_lengths_chunks_and_empty_bodies_on_one_connection(server: str) -> None:
    async def run() -> list[tuple[int, object]]:
        pool = Pool()
        conn = pool(server)
        try:
            return [
                await asyncio.wait_for(conn.request("GET", "/x"), 5),
                await asyncio.wait_for(conn.request("GET", "/chunked"), 5),
                await asyncio.wait_for(conn.request("GET", "/empty"), 5),
                await asyncio.wait_for(conn.request("POST", "/echo", {"X-Vault-Token": "t"}, {"k": [1]}), 5),
            ]
        finally:
            await pool.close()

    answers = asyncio.run(run())
    assert answers == [(200, {"path": "/v1/x"}), (200, {"a": [1, 2, 3]}), (204, None), (200, {"k": [1]})]
    assert len(Handler.connections) == 1  # one keep-alive connection served all four
