"""The CLI never shows a traceback: hostile environments, files, stdin and arguments get a clear error on stderr,
a non-zero exit and nothing on stdout under --format json. No OpenBao needed: a throwaway HTTP server records what
the CLI would have sent."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from custody.cli.main import main
from tests.helpers import local_http, run_cli

TOKEN = "s.robustnesstoken0000000000"
GRANT = {"id": "gr_abcdefghijklmnop", "status": "pending", "account": "pypi/acme-publisher", "requester": "alice",
         "reason": "r", "approvals_required": 0, "expires_at": "2030-01-01T00:00:00Z"}


class _Recorder(BaseHTTPRequestHandler):
    """Answers every request like an empty custody server would, and remembers what was asked."""

    seen: list[tuple[str, str, str | None]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self.seen.append((self.command, self.path, self.headers.get("x-vault-token")))
        body = json.dumps({"data": GRANT}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def _server_url() -> Iterator[str]:
    with local_http(_Recorder) as url:
        yield url


@pytest.fixture
def server(_server_url: str) -> str:
    _Recorder.seen = []
    return _server_url


def _env(addr: str, home: Path, **extra: str | None) -> dict[str, str | None]:
    env: dict[str, str | None] = {"CUSTODY_ADDR": addr, "HOME": str(home), "VAULT_TOKEN": TOKEN, "BAO_TOKEN": None,
                                  "CUSTODY_CLI_LOG_LEVEL": None}
    env.update(extra)
    return env


def _refused(code: int, out: str, err: str, *needles: str) -> None:
    assert code != 0
    assert out == ""
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


# ---- the caller's token -------------------------------------------------------------------------------------
@pytest.mark.parametrize("token", ["tök", "abc\nX: 1", "abc def"], ids=["non-ascii", "header-injection", "space"])
def test_malformed_vault_token_refused_before_sending(server: str, tmp_path: Path, token: str) -> None:
    code, out, err = run_cli(_env(server, tmp_path, VAULT_TOKEN=token), ["whoami", "--format", "json"])
    _refused(code, out, err, "VAULT_TOKEN is not a valid Vault token")
    assert "unreachable" not in err
    assert token not in err
    assert _Recorder.seen == []


def test_malformed_bao_token_names_bao_token(server: str, tmp_path: Path) -> None:
    code, out, err = run_cli(_env(server, tmp_path, VAULT_TOKEN=None, BAO_TOKEN="tök"), ["whoami", "--format", "json"])
    _refused(code, out, err, "BAO_TOKEN is not a valid Vault token")
    assert _Recorder.seen == []


def test_token_file_not_utf8(server: str, tmp_path: Path) -> None:
    (tmp_path / ".vault-token").write_bytes(b"s.\xff\xfe\xfa")
    code, out, err = run_cli(_env(server, tmp_path, VAULT_TOKEN=None), ["whoami", "--format", "json"])
    _refused(code, out, err, "~/.vault-token is not a valid Vault token")
    assert _Recorder.seen == []


def test_token_file_with_non_ascii(server: str, tmp_path: Path) -> None:
    (tmp_path / ".vault-token").write_text("s.tök\n", encoding="utf-8")
    code, out, err = run_cli(_env(server, tmp_path, VAULT_TOKEN=None), ["whoami", "--format", "json"])
    _refused(code, out, err, "~/.vault-token is not a valid Vault token")
    assert "tök" not in err
    assert _Recorder.seen == []


# ---- the server address -------------------------------------------------------------------------------------
@pytest.mark.parametrize("addr", ["http://[::1", "http://127.0.0.1:99999", "127.0.0.1:8400", "ftp://127.0.0.1"])
def test_invalid_custody_addr(tmp_path: Path, addr: str) -> None:
    code, out, err = run_cli(_env(addr, tmp_path), ["whoami", "--format", "json"])
    _refused(code, out, err, "CUSTODY_ADDR is not a valid URL", "http(s)://host:port")


# ---- codes files and stdin ----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["deposit", "rotate"])
def test_codes_file_not_utf8(server: str, tmp_path: Path, command: str) -> None:
    codes = tmp_path / "codes.txt"
    codes.write_bytes(b"\xff\xfe0123456789abcdef\n")
    code, out, err = run_cli(_env(server, tmp_path),
                             ["codes", command, "pypi/acme-publisher", "--file", str(codes), "--format", "json"])
    _refused(code, out, err, "not UTF-8 text")
    assert _Recorder.seen == []


@pytest.mark.parametrize("args", [["deposit"], ["rotate"], ["rotate", "--resume"]], ids=lambda a: "-".join(a))
def test_codes_stdin_not_utf8(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    for name, value in _env(server, tmp_path).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\xff\xfe0123456789abcdef\n"), encoding="utf-8"))
    code = main(["codes", args[0], "pypi/acme-publisher", *args[1:], "--format", "json"])
    captured = capsys.readouterr()
    _refused(code, captured.out, captured.err, "not UTF-8 text")
    assert _Recorder.seen == []


# ---- server settings ----------------------------------------------------------------------------------------
_NO_APPROLE: dict[str, str | None] = {
    name: None for name in ("CUSTODY_ROLE_ID", "CUSTODY_SECRET_ID", "CUSTODY_SECRET_ID_FILE", "CUSTODY_CONFIG",
                            "CUSTODY_VAULT_ADDR", "VAULT_ADDR", "BAO_ADDR")}


@pytest.mark.parametrize(("name", "value"), [
    ("CUSTODY_TICKET_PATTERN", "("),
    ("CUSTODY_LOG_LEVEL", "verbose"),
    ("CUSTODY_GRANT_TTL", "99999999999999999999"),
    ("CUSTODY_WRAP_TTL", "soon"),
    ("VAULT_ADDR", "not a url"),
    ("CUSTODY_PUBLIC_VAULT_ADDR", "http://[::1"),
])
def test_invalid_server_setting_named(name: str, value: str) -> None:
    code, out, err = run_cli({**_NO_APPROLE, name: value}, ["serve"])
    _refused(code, out, err, name)
    assert "AppRole" not in err  # refused while reading settings, before anything else


def test_invalid_setting_in_config_file(tmp_path: Path) -> None:
    config = tmp_path / "custody.env"
    config.write_text("CUSTODY_LOG_LEVEL=loud\n")
    code, out, err = run_cli({**_NO_APPROLE, "CUSTODY_LOG_LEVEL": None}, ["serve", "--config", str(config)])
    _refused(code, out, err, "CUSTODY_LOG_LEVEL")


def test_config_file_not_utf8(tmp_path: Path) -> None:
    config = tmp_path / "custody.env"
    config.write_bytes(b"CUSTODY_LOG_LEVEL=\xff\xfe\n")
    code, out, err = run_cli(dict(_NO_APPROLE), ["serve", "--config", str(config)])
    _refused(code, out, err, str(config))


def test_invalid_cli_log_level(server: str, tmp_path: Path) -> None:
    code, out, err = run_cli(_env(server, tmp_path, CUSTODY_CLI_LOG_LEVEL="verbose"), ["whoami", "--format", "json"])
    _refused(code, out, err, "CUSTODY_CLI_LOG_LEVEL")


# ---- arguments that become URL path segments ----------------------------------------------------------------
ESCAPES = ["../../../sys/health", "..", "gr_aaaaaaaaaaaaaaaa/../../../../sys/health", "gr_%2e%2e", "gr_x?list=true",
           "GR_AAAAAAAAAAAAAAAA"]


@pytest.mark.parametrize("grant", ESCAPES)
@pytest.mark.parametrize("command", ["show", "approve", "deny", "review", "reveal"])
def test_grant_argument_cannot_leave_custody(server: str, tmp_path: Path, command: str, grant: str) -> None:
    code, out, err = run_cli(_env(server, tmp_path), ["access", command, grant, "--format", "json"])
    _refused(code, out, err, "not a grant id")
    assert _Recorder.seen == []


ACCOUNT_ESCAPES = ["../../sys/health", "pypi/..", "pypi/../../../sys/health", "pypi/%2e%2e", "pypi/x?list=true",
                   "../sys"]


@pytest.mark.parametrize("account", ACCOUNT_ESCAPES)
@pytest.mark.parametrize("args", [
    ["accounts", "show"], ["accounts", "add", "--owner", "a@example.com"], ["codes", "status"],
    ["codes", "deposit"], ["codes", "rotate"],
    ["access", "request", "--reason", "a reason that is long enough to pass"],
], ids=lambda a: "-".join(a[:2]))
def test_account_argument_cannot_leave_custody(server: str, tmp_path: Path, args: list[str], account: str) -> None:
    argv = [*args[:2], account, *args[2:], "--format", "json"]
    code, out, err = run_cli(_env(server, tmp_path), argv, stdin="0123456789abcdef\n")
    _refused(code, out, err)
    assert "not an account id" in err or "not a PyPI username" in err, err
    assert _Recorder.seen == []


def test_valid_arguments_still_reach_custody(server: str, tmp_path: Path) -> None:
    """The validation lets real ids through, to the custody API and nowhere else."""
    assert run_cli(_env(server, tmp_path), ["access", "show", "gr_abcdefghijklmnop", "--format", "json"])[0] == 0
    assert run_cli(_env(server, tmp_path), ["accounts", "show", "pypi/acme-publisher", "--format", "json"])[0] == 0
    assert [p for _m, p, _t in _Recorder.seen] == ["/v1/custody/grants/gr_abcdefghijklmnop",
                                                   "/v1/custody/accounts/pypi/acme-publisher"]
