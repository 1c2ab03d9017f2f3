"""`custody inventory` as people and scripts call it: JSON only on stdout with --format json, every format, files
written whole, clear errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inventory"
REPOS, PYPI = FIXTURES / "repos", FIXTURES / "pypi"
NO_SERVER = {"CUSTODY_ADDR": None}


@pytest.mark.parametrize("args", [
    ["inventory", "scan", str(REPOS)],
    ["inventory", "import", str(PYPI)],
    ["inventory", "report", "--repo", str(REPOS), "--pypi", str(PYPI)],
])
def test_json_is_only_json(args: list[str]) -> None:
    code, out, err = run_cli(NO_SERVER, [*args, "--format", "json"])
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data, dict)
    assert err == ""


def test_scan_json_shape() -> None:
    code, out, _ = run_cli(NO_SERVER, ["inventory", "scan", str(REPOS / "widgets"), "--format", "json"])
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"findings", "repos", "warnings"}
    assert set(data["findings"][0]) >= {"repo", "file", "line", "job", "tool", "method", "index", "secret", "project"}
    assert data["repos"] == [{"repo": "widgets", "path": str(REPOS / "widgets"), "projects": ["acme-widgets"],
                              "files": ["pyproject.toml", ".github/workflows/release.yml"]}]


def test_text_markdown_and_csv() -> None:
    code, text, _ = run_cli(NO_SERVER, ["inventory", "scan", str(REPOS / "legacy")])
    assert code == 0
    assert text.startswith("# Publishing inventory: 3 publish steps in 1 repositories")
    assert "| legacy | .github/workflows/publish.yaml | 11 | pypi | gh-action-pypi-publish | token | pypi | " \
           "PYPI_API_TOKEN | acme-legacy |" in text
    code, out, _ = run_cli(NO_SERVER, ["inventory", "scan", str(REPOS / "legacy"), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["line"], r["method"], r["secret"]) for r in rows] == [("11", "token", "PYPI_API_TOKEN"),
                                                                    ("19", "token", "ACME_INDEX_TOKEN"),
                                                                    ("27", "unknown", "")]
    code, out, _ = run_cli(NO_SERVER, ["inventory", "import", str(PYPI), "--format", "csv"])
    assert "acme-widgets,alice-acme,Owner,acme" in out.splitlines()
    assert "acme-old,,unknown," in out.splitlines()
    code, out, _ = run_cli(NO_SERVER, ["inventory", "report", "--repo", str(REPOS), "--pypi", str(PYPI)])
    assert "Roles granted through a PyPI Organization's teams do not appear" in out
    assert "## Undetermined (11): what is not recorded yet" in out


def test_output_file_is_written_whole(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    code, out, err = run_cli(NO_SERVER, ["inventory", "report", "--repo", str(REPOS), "--pypi", str(PYPI),
                                         "--format", "html", "--output", str(target)])
    assert code == 0 and out == ""
    assert err.startswith(f"wrote {target} (")
    assert target.read_text().startswith("<!DOCTYPE html>")
    code, _, err = run_cli(NO_SERVER, ["inventory", "scan", str(REPOS), "--output", str(tmp_path / "no" / "x")])
    assert code == 1 and "cannot write" in err and "hint:" in err


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    code, out, err = run_cli(NO_SERVER, ["inventory", "scan", str(tmp_path / "nope")])
    assert code == 2 and "does not exist" in err and out == ""
    code, out, err = run_cli(NO_SERVER, ["inventory", "import"])
    assert code == 1 and "nothing to import" in err
    code, out, err = run_cli(NO_SERVER, ["inventory", "import", "--online", "bad/name", "--format", "json"])
    assert code == 1 and "not a PyPI project name" in err and out == ""
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run_cli(NO_SERVER, ["inventory", "scan", str(empty), "--format", "json"])
    assert code == 0 and json.loads(out)["warnings"][0]["message"] == f"no repository found in {empty}"


def test_starting_the_cli_imports_no_inventory_module() -> None:
    probe = ("import sys, custody.cli.main; "
             "print(sorted(m for m in sys.modules if m.startswith('custody.inventory') or m == 'yaml'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
