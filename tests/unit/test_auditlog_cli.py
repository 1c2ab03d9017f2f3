"""``custody audit summary`` through the CLI's ``main(argv)``: output streams, files, exit codes."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest

from custody.cli.audit import EXIT_ANOMALY
from custody.cli.common import EXIT_ERROR
from custody.cli.main import main as custody_main


def main(argv: list[str]) -> int:
    """``custody audit ARGV...``"""
    return custody_main(["audit", *argv])


SCENARIO = Path(__file__).resolve().parent.parent / "fixtures" / "audit" / "scenario.log"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["summary", "--log", str(SCENARIO), "--late-after", "2s", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_only_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["totals"]["reveals"] == 8
    assert data["totals"]["anomalies"] == 12
    assert err == ""


def test_markdown_is_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys)
    assert code == 0
    assert out.startswith("# Custody access summary")


def test_output_file_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "access.csv"
    code, out, err = run(capsys, "--format", "csv", "--output", str(target))
    assert code == 0 and out == ""
    assert "wrote" in err
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 21
    assert target.stat().st_mode & 0o044  # readable like any report, not mkstemp's 0600


def test_window_and_several_logs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = SCENARIO.read_bytes().splitlines(keepends=True)
    old = tmp_path / "audit.log.1.gz"
    with gzip.open(old, "wb") as f:
        f.writelines(lines[:150])
    new = tmp_path / "audit.log"
    new.write_bytes(b"".join(lines[150:]))
    code = main(["summary", "--log", str(new), "--log", str(old), "--format", "json", "--until", "2000-01-01"])
    out, _ = capsys.readouterr()
    assert code == 0
    data = json.loads(out)
    assert data["totals"]["reveals"] == 0
    assert data["input"]["lines_total"] == 442
    assert data["window"]["until"] == "2000-01-01T00:00:00.000000000Z"


def test_fail_on_exits_4_after_printing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--format", "json", "--fail-on", "critical")
    assert code == EXIT_ANOMALY
    assert json.loads(out)["totals"]["anomalies"] == 12
    assert "3 anomalies at or above critical" in err


def test_fail_on_passes_when_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quiet = tmp_path / "quiet.log"
    quiet.write_bytes(b"")
    assert main(["summary", "--log", str(quiet), "--fail-on", "low"]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--log", "/nonexistent/audit.log"], "cannot read audit log"),
        (["--log", str(SCENARIO), "--since", "yesterday-ish"], "cannot read 'yesterday-ish' as a time"),
        (["--log", str(SCENARIO), "--late-after", "soon"], "cannot read 'soon' as a duration"),
    ],
)
def test_errors_go_to_stderr_with_a_hint(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code = main(["summary", *args, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == EXIT_ERROR
    assert out == ""
    assert message in err and "hint:" in err


@pytest.mark.parametrize("mount", ["", "/", "//"])
def test_a_mount_without_a_name_is_refused(capsys: pytest.CaptureFixture[str], mount: str) -> None:
    # every line would hold the empty name: a summary of nothing, shown as if the log were clean
    code = main(["summary", "--log", str(SCENARIO), "--mount", mount, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "name the custody KV v2 mount" in err


def test_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "--output", str(tmp_path / "missing-dir" / "r.md"))
    assert code == EXIT_ERROR
    assert "cannot write" in err


def test_the_cli_spells_the_audit_readers_choices_as_it_does() -> None:
    """`custody --help` does not import the audit reader, so the CLI writes its choices out: they must agree."""
    from custody.auditlog import DEFAULT_LATE_AFTER, FORMATS
    from custody.auditlog.model import Severity
    from custody.auditlog.timeparse import parse_duration
    from custody.cli import audit

    assert sorted(audit.SEVERITIES) == sorted(s.value for s in Severity)
    ranks = {"low": 0, "medium": 1, "high": 2, "critical": 3}
    assert [ranks[s] for s in audit.SEVERITIES] == [0, 1, 2, 3]  # least to most severe
    assert parse_duration(audit.DEFAULT_LATE_AFTER) == DEFAULT_LATE_AFTER
    assert set(audit.FORMATS) == {*FORMATS, "text"}


@pytest.mark.parametrize("fail_on", [[], ["--fail-on", "low"]])
def test_the_executable_ends_at_once_with_all_its_output(tmp_path: Path, fail_on: list[str]) -> None:
    """The ``custody`` executable ends an audit summary without the interpreter's teardown: everything it printed
    or wrote is there all the same, with its exit code."""
    import subprocess
    import sys

    out = tmp_path / "s.json"
    base = [sys.executable, "-m", "custody", "audit", "summary", "--log", str(SCENARIO), "--late-after", "2s"]
    piped = subprocess.run([*base, "--format", "json", *fail_on], capture_output=True, timeout=60)
    to_file = [*base, "--format", "csv", "--output", str(out), *fail_on]
    written = subprocess.run(to_file, capture_output=True, timeout=60)
    want = EXIT_ANOMALY if fail_on else 0
    assert piped.returncode == written.returncode == want, (piped.stderr, written.stderr)
    assert json.loads(piped.stdout)["totals"]["reveals"] == 8
    assert len(list(csv.DictReader(io.StringIO(out.read_text())))) > 8
    assert b"wrote " in written.stderr and (b"anomalies at or above low" in piped.stderr) == bool(fail_on)
