"""The CLI's single exit point: usage errors, settings errors and unreachable servers, no server needed."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from custody.cli.main import main
from tests.helpers import local_http, send_json


def test_bad_server_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / "custody.env"
    env.write_text("CUSTODY_LISTEN_PORT=notaport\n")
    assert main(["serve", "--config", str(env)]) == 1
    err = capsys.readouterr().err
    assert "invalid server setting listen_port" in err


def test_serve_without_approle(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("CUSTODY_ROLE_ID", "CUSTODY_SECRET_ID", "CUSTODY_SECRET_ID_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["serve"]) == 1
    assert "needs AppRole credentials" in capsys.readouterr().err


def test_usage_error_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["access", "request", "pypi/acme"]) == 2
    assert "--reason" in capsys.readouterr().err


def test_json_errors_go_to_stderr(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CUSTODY_ADDR", "http://127.0.0.1:9")
    monkeypatch.setenv("VAULT_TOKEN", "s.unusedtokenvalue000000000")
    assert main(["accounts", "list", "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "unreachable" in captured.err
    assert "s.unusedtokenvalue" not in captured.err


def test_no_token_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("VAULT_TOKEN", "BAO_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["accounts", "list"]) == 1
    assert "no Vault token" in capsys.readouterr().err


def test_token_file_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from custody.cli.settings import client_token

    for name in ("VAULT_TOKEN", "BAO_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".vault-token").write_text("s.fromfile\n")
    assert client_token() == "s.fromfile"
    monkeypatch.setenv("BAO_TOKEN", "s.frombao")
    assert client_token() == "s.frombao"
    monkeypatch.setenv("VAULT_TOKEN", "s.fromvault")
    assert client_token() == "s.fromvault"


def test_dev_down_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dev", "down", "--dir", str(tmp_path), "--format", "json"]) == 0
    assert capsys.readouterr().out.strip().replace(" ", "").replace("\n", "") == '{"stopped":false}'


def test_every_command_takes_format_json() -> None:
    """The contract: every command takes --format json (serve runs a server and prints logs, not answers)."""
    import click

    from custody.cli.main import every_command

    cli = every_command()

    def walk(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
        found = []
        for name, cmd in group.commands.items():
            if isinstance(cmd, click.Group):
                found += walk(cmd, f"{prefix}{name} ")
            else:
                found.append((f"{prefix}{name}", cmd))
        return found

    commands = walk(cli, "")
    assert len(commands) >= 20
    missing = [name for name, cmd in commands if name != "serve"
               and not any("--format" in p.opts and "json" in getattr(p.type, "choices", ()) for p in cmd.params)]
    assert missing == []


@pytest.mark.parametrize(("status", "ctype", "body"), [
    (200, "text/html", b"<html>welcome</html>"),  # a web page where custody should be
    (404, "text/html", b"<html>not found</html>"),
    (200, "application/json", b"[1, 2]"),  # JSON, but not custody's envelope
    (502, "text/plain", b"bad gateway"),  # a proxy in front of a stopped server
])
def test_a_server_that_is_not_custody_is_named_as_such(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str],
                                                       status: int, ctype: str, body: bytes) -> None:
    from http.server import BaseHTTPRequestHandler

    class NotCustody(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with local_http(NotCustody) as addr:
        monkeypatch.setenv("CUSTODY_ADDR", addr)
        monkeypatch.setenv("VAULT_TOKEN", "s.unusedtokenvalue000000000")
        assert main(["accounts", "list"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"did not answer like custody (HTTP {status}, {ctype})" in captured.err
    assert "CUSTODY_ADDR" in captured.err and "Traceback" not in captured.err


class _Recorder(BaseHTTPRequestHandler):
    """Remembers that a request arrived, and answers like an empty custody server."""

    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        send_json(self, {"data": {"accounts": []}})

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(("env", "named"), [
    ({"VAULT_TOKEN": ""}, "VAULT_TOKEN"),
    ({"VAULT_TOKEN": "  "}, "VAULT_TOKEN"),
    ({"BAO_TOKEN": ""}, "BAO_TOKEN"),
])
def test_an_empty_token_variable_is_called_empty(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str], env: dict[str, str],
                                                  named: str) -> None:
    """``VAULT_TOKEN=$UNSET_VARIABLE`` is a mistake to name, not a reason to use a stale ~/.vault-token."""
    for name in ("VAULT_TOKEN", "BAO_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".vault-token").write_text("s.staletokenfromthefile0000\n")
    _Recorder.seen = []
    with local_http(_Recorder) as addr:
        monkeypatch.setenv("CUSTODY_ADDR", addr)
        assert main(["accounts", "list"]) == 1
    err = capsys.readouterr().err
    assert f"error: {named} is set but empty" in err and f"unset {named}" in err
    assert "invalid or expired" not in err
    assert _Recorder.seen == []  # nothing was sent, neither an empty token nor the file's


def test_an_empty_vault_token_beside_a_bao_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from custody.cli.settings import client_token

    monkeypatch.setenv("VAULT_TOKEN", "")
    monkeypatch.setenv("BAO_TOKEN", "s.frombao")
    assert client_token() == "s.frombao"


def test_every_command_and_group_has_a_description() -> None:
    """`custody X --help` lists every command of X with a line saying what it does."""
    import click

    from custody.cli.main import every_command

    cli = every_command()

    def walk(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
        found: list[tuple[str, click.Command]] = []
        for name, cmd in group.commands.items():
            found.append((f"{prefix}{name}", cmd))
            if isinstance(cmd, click.Group):
                found += walk(cmd, f"{prefix}{name} ")
        return found

    commands = walk(cli, "")
    assert len(commands) >= 25
    assert [name for name, cmd in commands if not cmd.get_short_help_str().strip()] == []


@pytest.mark.parametrize("group", ["access", "accounts", "audit", "codes", "dev", "rotation"])
def test_group_help_lists_each_command_with_a_description(capsys: pytest.CaptureFixture[str], group: str) -> None:
    assert main([group, "--help"]) == 0
    listing = capsys.readouterr().out.split("Commands:\n", 1)[1]
    rows = [line.split(None, 1) for line in listing.splitlines() if line.strip()]
    assert rows and all(len(row) == 2 and row[1].strip() for row in rows), listing


@pytest.mark.parametrize("ttl", ["2h", "0s"])
def test_a_wrap_ttl_the_cli_would_refuse_stops_the_server(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str], ttl: str) -> None:
    monkeypatch.setenv("CUSTODY_WRAP_TTL", ttl)
    assert main(["serve"]) == 1
    err = capsys.readouterr().err
    assert "invalid server setting wrap_ttl (CUSTODY_WRAP_TTL): a wrapping token must live between 1s and 1h" in err
