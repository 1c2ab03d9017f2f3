"""What the CLI imports: ``--help`` and client commands load neither the server side nor the audit reader.

Each command runs in a fresh interpreter (this process has imported everything already) against a throwaway HTTP
server that answers like custody and, for the reveal, like the caller's Vault. The child reports ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from custody.cli.main import COMMANDS, every_command, load
from tests.helpers import local_http, send_json

# Never for --help or a client command: the server, its settings and web stack, Vault's SDK, the audit reader,
# structlog (and the console renderer it brings) when nothing is logged.
SERVER_SIDE = ("custody.server", "custody.api", "custody.usecases", "custody.repo", "custody.store",
               "custody.config", "custody.callers", "custody.notify", "custody.devstack",
               "custody.bootstrap", "custody.auditlog", "custody.domain.models", "fastapi", "starlette", "uvicorn",
               "pydantic", "pydantic_core", "pydantic_settings", "hvac", "requests", "urllib3", "structlog", "rich",
               "pygments")
# Not for --help either: the HTTP library.
CLIENT_SIDE = ("httpx", "httpcore", "h11", "anyio", "certifi", "custody.cli.client", "custody.cli.unwrap")

GRANT = "gr_abcdefghijklmnop"
GRANT_JSON = {"id": GRANT, "status": "revealed", "account": "pypi/acme", "requester": "alice", "reason": "r" * 20,
              "approvals_required": 1, "approvals": [{"approver": "bob", "at": "2030-01-01T00:00:00Z",
                                                      "comment": "ok"}],
              "created_at": "2030-01-01T00:00:00Z", "expires_at": "2030-01-02T00:00:00Z",
              "revealed_at": "2030-01-01T00:01:00Z"}


DRILL_REPORT = {"at": "2030-01-01T00:00:00Z", "target": "15m00s", "target_seconds": 900, "drills": [], "flagged": [],
                "accounts_without_pass": [], "median_time_to_recovery_seconds": None, "ok": True,
                "counts": {"drills": 0, "passed": 0, "failed": 0, "open": 0, "flagged": 0, "accounts_without_pass": 0}}


class _CustodyAndVault(BaseHTTPRequestHandler):
    """Custody's answers for the commands below, and Vault's for the wrapping lookup and unwrap of a reveal."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        path = self.path.split("?")[0]
        if path == "/v1/custody/accounts":
            send_json(self, {"data": {"accounts": [{"id": "pypi/acme", "owner": "o@example.com", "tier": "standard",
                                               "approvals_required": 0}]}})
        elif path == f"/v1/custody/grants/{GRANT}/reveal":
            send_json(self, {"data": {"grant": GRANT, "account": "pypi/acme", "remaining": 7, "vault_addr": ""},
                        "wrap_info": {"token": "s.wrappingtoken", "ttl": 300}})
        elif path == f"/v1/custody/grants/{GRANT}":
            send_json(self, {"data": GRANT_JSON})
        elif path == "/v1/custody/keys/check":
            send_json(self, {"data": {"checked": 0, "ok": True, "not_ok": [], "accounts": []}})
        elif path == "/v1/custody/drills/report":
            send_json(self, {"data": DRILL_REPORT})
        elif path == "/v1/sys/wrapping/lookup":
            send_json(self, {"data": {"creation_path": f"custody-kv/data/reveals/{GRANT}", "creation_ttl": 300}})
        elif path == "/v1/sys/wrapping/unwrap":
            send_json(self, {"data": {"data": {"code": "0123456789abcdef"}, "metadata": {}}})
        else:
            self.send_error(404)

    do_GET = do_POST = do_LIST = _answer

    def log_message(self, *_args: object) -> None:
        pass


def _modules(tmp_path: Path, addr: str, *args: str, exit_code: int = 0, **env_extra: str) -> set[str]:
    """The modules loaded by ``custody ARGS`` in a fresh interpreter, which must exit with ``exit_code``."""
    report = tmp_path / "modules.json"
    code = ("import json, sys\nfrom custody.cli.main import main\ncode = main(sys.argv[2:])\n"
            "open(sys.argv[1], 'w').write(json.dumps(sorted(sys.modules)))\nraise SystemExit(code)\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CUSTODY_ADDR": addr, "VAULT_ADDR": addr,
           "VAULT_TOKEN": "s.importsettoken000000000", **env_extra}
    done = subprocess.run([sys.executable, "-c", code, str(report), *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == exit_code, done.stderr
    return set(json.loads(report.read_text()))


def _loaded(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


@pytest.fixture(scope="module")
def server() -> object:
    with local_http(_CustodyAndVault) as addr:
        yield addr


@pytest.mark.parametrize("args", [["--help"], ["access", "--help"], ["audit", "summary", "--help"], ["keys", "--help"],
                                  ["drill", "report", "--help"], ["evidence", "--help"],
                                  ["evidence", "build", "--help"]],
                         ids=lambda a: " ".join(a))
def test_help_imports_neither_server_nor_http(tmp_path: Path, server: str, args: list[str]) -> None:
    modules = _modules(tmp_path, server, *args)
    assert _loaded(modules, SERVER_SIDE + CLIENT_SIDE) == []


@pytest.mark.parametrize("args", [
    ["accounts", "list", "--format", "json"],
    ["accounts", "list"],
    ["access", "show", GRANT],
    ["access", "reveal", GRANT, "--format", "json"],
    ["keys", "check"],
    ["drill", "report", "--format", "html"],
], ids=lambda a: " ".join(a))
def test_client_commands_import_no_server_side(tmp_path: Path, server: str, args: list[str]) -> None:
    modules = _modules(tmp_path, server, *args)
    assert "httpx" in modules  # the command did talk to the server
    assert _loaded(modules, SERVER_SIDE) == []
    # only its own group of commands: the others are imported when they are used (or listed by --help)
    groups = {f"custody.cli.{module}" for module in COMMANDS.values()}
    assert modules & groups == {f"custody.cli.{COMMANDS[args[0]]}"}


def test_help_lists_every_command(tmp_path: Path, server: str) -> None:
    modules = _modules(tmp_path, server, "--help")
    assert {f"custody.cli.{module}" for module in COMMANDS.values()} <= modules


def test_every_command_is_found_under_its_name() -> None:
    group = every_command()
    assert sorted(group.commands) == sorted(COMMANDS)
    for name in COMMANDS:
        assert load(name).name == name


def test_local_evidence_commands_import_neither_server_nor_http(tmp_path: Path, server: str) -> None:
    """Verifying, co-signing and rendering a pack need the file and keys only."""
    from custody.evidence.dsse import Envelope, sign
    from custody.evidence.keys import LocalSigner, generate
    from custody.evidence.statement import payload_bytes, statement
    from tests.evidencekit import predicate

    private, public = generate()
    (tmp_path / "k.pem").write_bytes(private)
    (tmp_path / "k.pub").write_text(public)
    pack = sign(Envelope(payload_bytes(statement([], predicate(controls=[])))), [LocalSigner(private, "k")])
    (tmp_path / "pack.json").write_bytes(pack.dumps())
    for args in (["verify", "pack.json", "--public-key", "k.pub"], ["render", "pack.json", "--format", "html"],
                 ["keygen", "--out", "new.pem"]):
        modules = _modules(tmp_path, server, "evidence", *[str(tmp_path / a) if a.endswith((".json", ".pub",
                                                                                           ".pem")) else a
                                                           for a in args])
        assert _loaded(modules, SERVER_SIDE + CLIENT_SIDE) == [], args


def test_the_guard_sees_a_server_import(tmp_path: Path, server: str) -> None:
    """The check can fail: ``serve`` reads its settings with pydantic (refused here before it starts anything)."""
    modules = _modules(tmp_path, server, "serve", exit_code=1, CUSTODY_LISTEN_PORT="notaport")
    assert {"pydantic", "pydantic_settings", "custody.config"} <= set(_loaded(modules, SERVER_SIDE))
