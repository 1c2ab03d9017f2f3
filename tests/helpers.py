"""Shared test helpers: the stack handle, an in-process CLI runner, a throwaway HTTP server, a clock, unique names.

Imported by tests and by ``conftest.py`` (which only defines fixtures)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from custody.bootstrap import Admin
from custody.cli.client import Client
from custody.cli.main import main
from custody.devkit import DEMO_DOMAIN, add_person
from custody.store import Store
from custody.usecases.suite import UseCases

# Every code a test deposits: at the end of the session no log may contain any of them.
DEPOSITED: set[str] = set()

# The session's people request far more grants than one person would, and leave most of them open: the session's
# servers and in-process use cases let them hold more (tests of the limits themselves use fresh people and the
# defaults).
SESSION_LIMITS = {"open_grants_per_account": 100, "open_grants_total": 500, "emergency_unreviewed_max": 50}
SESSION_ENV = {f"CUSTODY_{name.upper()}": str(value) for name, value in SESSION_LIMITS.items()}


def new_codes(n: int = 8) -> list[str]:
    codes = [secrets.token_hex(8) for _ in range(n)]
    DEPOSITED.update(codes)
    return codes


def uniq(prefix: str = "acct") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def nobodys_grant(n: int) -> str:
    """The ``n``-th of many well-formed grant ids that no grant has."""
    return "gr_" + "".join("abcdefghijklmnopqrstuvwxyz234567"[(n >> (5 * i)) & 31] for i in range(16))


def run_cli(env: dict[str, str | None], args: Sequence[str], stdin: str = "") -> tuple[int, str, str]:
    """The real CLI in-process with ``env`` set (None: unset) and ``stdin`` as its input, all restored afterwards;
    returns (exit code, stdout, stderr)."""
    saved = {k: os.environ.get(k) for k in env}
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    try:
        _set_env(env)
        sys.stdin = io.StringIO(stdin)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        sys.stdin = old_stdin
        _set_env(saved)
    return code, out.getvalue(), err.getvalue()


def _set_env(env: dict[str, str | None]) -> None:
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@contextlib.contextmanager
def local_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A throwaway HTTP server on loopback answering with ``handler``; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def send_json(handler: BaseHTTPRequestHandler, body: object, status: int = 200) -> None:
    """Answer ``handler``'s request with ``body`` as JSON (the throwaway servers of ``local_http`` use it)."""
    raw = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(raw)))
    handler.end_headers()
    handler.wfile.write(raw)


@dataclass
class Result:
    exit_code: int
    out: str
    err: str

    def json(self) -> Any:
        import json

        return json.loads(self.out)


@dataclass
class Stack:
    state: dict[str, Any]
    dir: Path
    extra_tokens: dict[str, str] = field(default_factory=dict)

    @property
    def vault_addr(self) -> str:
        return str(self.state["vault_addr"])

    @property
    def custody_addr(self) -> str:
        return str(self.state["custody_addr"])

    def token(self, who: str) -> str:
        return self.extra_tokens.get(who) or str(self.state["tokens"][who])

    def client(self, who: str) -> Client:
        return Client(self.custody_addr, self.token(who))

    def admin(self) -> Admin:
        return Admin(self.vault_addr, self.token("root"))

    def cli(self, who: str | None, *args: str, stdin: str = "", custody_addr: str | None = None) -> Result:
        """Run the real CLI in-process, as ``who`` (None: no token at all), against this stack's server or
        ``custody_addr``."""
        env = {"CUSTODY_ADDR": custody_addr or self.custody_addr, "VAULT_ADDR": self.vault_addr, "HOME": str(self.dir),
               "BAO_TOKEN": None, "CUSTODY_VAULT_ADDR": None, "VAULT_TOKEN": None if who is None else self.token(who)}
        return Result(*run_cli(env, args, stdin))

    def make_user(self, name: str, *groups: str, email: str | None = "") -> str:
        """A userpass identity in the given identity groups, its entity's email ``name@acme.example`` unless given
        (None: no email); returns its token."""
        token, _ = add_person(self.admin(), name, groups,
                              email=None if email is None else email or f"{name}@{DEMO_DOMAIN}")
        self.extra_tokens[name] = token
        return token

    def service_store(self) -> Store:
        """A Store logged in as the custody service (same AppRole as the server)."""
        store = Store(self.vault_addr)
        secret = (self.dir / "service-secret-id").read_text().strip()
        role_id = self.admin().call("GET", "auth/approle/role/custody-service/role-id")["data"]["role_id"]
        store.use_approle(role_id, secret)
        return store

    def logs(self) -> dict[str, str]:
        return {p.name: p.read_text(errors="replace") for p in self.dir.glob("*.log")}


@contextlib.contextmanager
def another_server(stack: Stack, name: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """One more custody server on the session's OpenBao, logged in with the same AppRole and configured by ``env``
    (on top of the caller's environment); its log joins the stack's, so the session's secrecy scan reads it too.
    Yields its address."""
    from custody.devkit import free_port, stop, wait_http

    port = free_port()
    role_id = stack.admin().call("GET", "auth/approle/role/custody-service/role-id")["data"]["role_id"]
    child = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))} | {
        "CUSTODY_VAULT_ADDR": stack.vault_addr, "CUSTODY_ROLE_ID": role_id,
        "CUSTODY_SECRET_ID_FILE": str(stack.dir / "service-secret-id"), "CUSTODY_LISTEN_PORT": str(port),
        "CUSTODY_PUBLIC_VAULT_ADDR": stack.vault_addr,
    } | (env or {})
    with (stack.dir / f"custody-{name}.log").open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "custody", "serve"], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=child, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/custody/health", 20)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc.pid)


@contextlib.contextmanager
def private_stack(directory: Path, env: dict[str, str] | None = None) -> Iterator[Stack]:
    """A dev stack of a test module's own in ``directory`` (for what the session's must not see or suffer: a
    sealed Vault, a short wrapping TTL, a clean audit log), with ``env`` on top of its defaults; down at the end."""
    from custody.devstack import DevStack

    dev = DevStack(directory)
    state = dev.up(extra_env=env or {})
    try:
        yield Stack(state=state, dir=directory)
    finally:
        dev.down()


def in_process(store: Store, **kw: Any) -> UseCases:
    """The use cases in-process over ``store`` (for records and for callers' identities, as the server has them);
    ``kw`` as ``UseCases.build`` takes them (settings, clock, notifier, callers)."""
    return UseCases.build(store, store, **kw)


class Clock:
    """An injectable clock for the service: tests move time instead of sleeping."""

    def __init__(self) -> None:
        from custody.domain.models import utcnow

        self.now = utcnow()

    def __call__(self) -> Any:
        return self.now

    def advance(self, **kw: float) -> None:
        from datetime import timedelta

        self.now += timedelta(**kw)


REASON = "Lost my hardware key on the train; need to log in and revoke a leaked API token"
