"""The store's HTTP/1.1 on the socket, against throwaway servers that answer the ways a Vault (or something in
front of it) may: chunked bodies, HTTP/1.0 without a length, a 100 before the answer, kept-alive connections the
server closes, and answers cut short."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from custody.errors import NotFound, StoreError
from custody.store import Store
from tests.helpers import local_http, send_json


class Vaultish(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, bytes]] = []

    def do_GET(self) -> None:
        Vaultish.seen.append((self.command, self.path, b""))
        if self.path.endswith("/chunked"):
            raw = json.dumps({"data": {"data": {"big": "x" * 20000}, "metadata": {"version": 3}}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(raw), 7000):
                part = raw[i:i + 7000]
                self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\nX-Trailer: t\r\n\r\n")
        elif self.path.endswith("/continue"):
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            send_json(self, {"data": {"data": {"n": 1}, "metadata": {"version": 1}}})
        elif self.path.endswith("/large"):  # what a proxy in front of Vault may send: one length, a large body
            send_json(self, {"data": {"data": {"big": "y" * (6 << 20)}, "metadata": {"version": 4}}})
        elif self.path.endswith("/missing"):
            send_json(self, {"errors": []}, status=404)
        else:
            send_json(self, {"data": {"data": {"path": self.path}, "metadata": {"version": 1}}})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Vaultish.seen.append((self.command, self.path, body))
        send_json(self, {"data": {"version": 2}})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def store() -> Iterator[Store]:
    Vaultish.seen = []
    with local_http(Vaultish) as url:
        s = Store(url, retries=0)
        s.use_token("s.test")
        yield s


def test_answers_with_a_length_chunked_or_after_a_100_are_read_whole(store: Store) -> None:
    assert store.read("plain") == store.read("plain")  # (the second on the same connection)
    chunked = store.read("chunked")
    assert chunked is not None and chunked.data == {"big": "x" * 20000} and chunked.version == 3
    large = store.read("large")  # received in many pieces, joined once
    assert large is not None and large.data == {"big": "y" * (6 << 20)} and large.version == 4
    assert store.read("plain") is not None  # the connection is still in step after it
    after = store.read("continue")
    assert after is not None and after.data == {"n": 1}
    assert store.read("missing") is None


def test_a_write_sends_its_body_and_a_path_is_sent_encoded(store: Store) -> None:
    assert store.write("a b/é", {"k": "v"}, cas=1) == 2
    method, path, body = Vaultish.seen[-1]
    assert (method, path) == ("POST", "/v1/custody-kv/data/a%20b/%C3%A9")
    assert json.loads(body) == {"data": {"k": "v"}, "options": {"cas": 1}}


def test_a_header_with_a_line_break_is_never_sent(store: Store) -> None:
    with pytest.raises(StoreError):
        store.capabilities("s.x\r\nX-Injected: 1", "custody/accounts")
    assert Vaultish.seen == []


class OldServer(BaseHTTPRequestHandler):
    """HTTP/1.0, no Content-Length: the body ends when the connection does."""

    def do_GET(self) -> None:
        self.wfile.write(b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"data": {"data": {"n": 5}, '
                         b'"metadata": {"version": 4}}}')

    def log_message(self, *args: object) -> None:
        pass


def test_an_answer_that_ends_with_its_connection_is_read_and_the_connection_not_kept() -> None:
    with local_http(OldServer) as url:
        store = Store(url, retries=0)
        store.use_token("s.test")
        for _ in range(2):
            entry = store.read("x")
            assert entry is not None and entry.data == {"n": 5} and entry.version == 4


def _raw_server(answer: bytes, answers: int) -> tuple[str, threading.Thread, threading.Semaphore]:
    """A server that reads one request per connection, writes ``answer`` and closes, ``answers`` times; the
    semaphore is released as each connection is closed."""
    listener = socket.create_server(("127.0.0.1", 0))
    closed = threading.Semaphore(0)

    def serve() -> None:
        with listener:
            for _ in range(answers):
                conn, _ = listener.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(answer)
                closed.release()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", thread, closed


def test_a_kept_alive_connection_the_server_closed_is_not_reused() -> None:
    body = b'{"data":{"data":{},"metadata":{"version":1}}}'
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    url, thread, closed = _raw_server(ok, 2)  # says keep-alive, then closes: the next call needs a new connection
    store = Store(url, retries=0)
    store.use_token("s.test")
    for _ in range(2):
        entry = store.read("x")
        assert entry is not None and entry.version == 1
        assert closed.acquire(timeout=5)
    thread.join(5)


@pytest.mark.parametrize("answer", [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"data\"", b"garbage\r\n\r\n",
                                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b""])
def test_an_answer_cut_short_or_not_http_is_vault_unreachable(answer: bytes) -> None:
    url, thread, _ = _raw_server(answer, 1)
    store = Store(url, retries=0)
    store.use_token("s.test")
    with pytest.raises(StoreError, match="Vault is unreachable") as err:
        store.read("x")
    assert err.value.retryable and not isinstance(err.value, NotFound)
    thread.join(5)


def test_a_tls_connection_cut_mid_handshake_is_vault_unreachable_not_an_untrusted_certificate() -> None:
    """Only a certificate that fails verification is "not trusted" (and not retried): a TLS connection the other
    end closes is a Vault that cannot be reached right now, retried like any other."""
    url, thread, _ = _raw_server(b"", 1)  # reads the ClientHello, then closes
    store = Store(url.replace("http://", "https://"), retries=0)
    store.use_token("s.test")
    with pytest.raises(StoreError, match="Vault is unreachable") as err:
        store.read("x")
    assert err.value.retryable and "certificate" not in err.value.message
    thread.join(5)
