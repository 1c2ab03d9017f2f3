"""The join and its flags: each flag with its evidence, undetermined (not guessed) when ownership or custody
itself is missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from custody.cli.inventory import custody_source
from custody.inventory.custody_view import Held
from custody.inventory.importing import import_ownership
from custody.inventory.report import Inputs, build
from custody.inventory.reporting import build_report
from custody.inventory.scanning import scan
from tests.helpers import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inventory"
REPOS, PYPI = FIXTURES / "repos", FIXTURES / "pypi"


def report(custody: dict[str, Held] | None, critical: frozenset[str] = frozenset()) -> dict[str, Any]:
    s = scan([REPOS])
    return build(Inputs(s.findings, s.warnings, import_ownership([PYPI], []).projects, custody, critical,
                        len(s.repos)))


def flags(r: dict[str, Any], name: str) -> list[tuple[str, bool, list[str]]]:
    return [(f["subject"], f["determined"], f["evidence"]) for f in r["flags"] if f["flag"] == name]


HELD = {
    "pypi/alice-acme": Held("pypi/alice-acme", "critical", 8, "personal", None),
    "pypi/acme-release-bot": Held("pypi/acme-release-bot", "standard", 7, "service", None),
    "pypi/carol": Held("pypi/carol", "standard", None, "personal", None),
    "pypi/dave": Held("pypi/dave", "standard", 8, None, None),
    "pypi/ops-bot": Held("pypi/ops-bot", "standard", 8, "service", "ops@example.com"),
}


def test_step_flags_carry_their_evidence() -> None:
    r = report(None)
    assert flags(r, "tp-misconfigured") == [
        ("acme-legacy", True, ["legacy/.github/workflows/publish.yaml:27: gh-action-pypi-publish publish step with no "
                               "password and without `id-token: write`: Trusted Publishing cannot work here"]),
        ("acme-reusable", True, ["reusable/.github/workflows/trusted.yml:7: Trusted Publishing from a reusable "
                                 "workflow (called from .github/workflows/release.yml:19 (job trusted)): PyPI does not "
                                 "accept reusable workflows as trusted publishers yet"])]
    legacy = [e for s, _, e in flags(r, "long-lived-token") if s == "acme-legacy"]
    assert legacy == [["legacy/.github/workflows/publish.yaml:11 job pypi: gh-action-pypi-publish uploads to pypi "
                       "with PYPI_API_TOKEN (with: password); Trusted Publishing would work here"]]
    assert [s for s, _, _ in flags(r, "long-lived-token")] == ["acme-gitlab", "acme-legacy", "acme-reusable",
                                                               "acme-tools", "acme_matrix"]
    assert flags(r, "unknown-project") == []
    assert flags(r, "unpublished-here") == [
        ("acme-abandoned", True, ["no publish step in the 6 scanned repositories uploads acme-abandoned"]),
        ("acme-old", True, ["no publish step in the 6 scanned repositories uploads acme-old"])]
    assert [s for s, _, _ in flags(r, "single-owner")] == ["acme-legacy", "acme-tools", "acme_matrix"]
    assert flags(r, "single-owner")[0][2] == [
        "the only Owner is pypi/carol (team-granted roles are not listed by PyPI)"]


def test_without_custody_the_custody_flags_are_undetermined() -> None:
    r = report(None)
    assert r["summary"]["custody"] == "not consulted"
    assert all(not d for _, d, _ in flags(r, "no-custody") + flags(r, "personal-only"))
    assert flags(r, "no-custody")[0] == ("pypi/acme-release-bot", False, [
        "Owner of acme_matrix; Owner of acme-widgets; custody not consulted (set CUSTODY_ADDR and VAULT_TOKEN to "
        "include it)"])
    assert all(a["custody"] is None and "no-custody" not in a["flags"] for a in r["accounts"])


def test_custody_join_and_ownership_flags() -> None:
    r = report(HELD, frozenset({"acme-legacy"}))
    assert flags(r, "no-custody") == [
        ("pypi/bob-dev", True, ["Maintainer of acme-widgets; custody does not hold this account"]),
        ("pypi/carol", True, ["Owner of acme-abandoned; Owner of acme-legacy; custody holds the account but no "
                              "recovery codes are deposited"]),
        ("pypi/erin", True, ["Owner of acme-abandoned; custody does not hold this account"])]
    assert flags(r, "personal-only") == [
        ("acme-legacy", True, ["pypi/carol is a personal account"]),
        ("acme-tools", True, ["pypi/alice-acme is a personal account"]),
        ("acme-abandoned", False, ["ownership not recorded for pypi/erin"])]
    assert flags(r, "service-without-human-owner") == [
        ("pypi/acme-release-bot", True, ["pypi/acme-release-bot is a service account with no human owner named"]),
        ("pypi/bob-dev", False, ["ownership not recorded: cannot tell whether pypi/bob-dev is a service account"]),
        ("pypi/dave", False, ["ownership not recorded: cannot tell whether pypi/dave is a service account"]),
        ("pypi/erin", False, ["ownership not recorded: cannot tell whether pypi/erin is a service account"])]
    # acme-tools and acme-widgets are critical through alice's critical-tier account, acme-legacy by --critical
    assert flags(r, "personal-owns-critical") == [
        ("pypi/alice-acme", True, ["pypi/alice-acme is a personal account and an Owner of critical project "
                                   "acme-tools"]),
        ("pypi/alice-acme", True, ["pypi/alice-acme is a personal account and an Owner of critical project "
                                   "acme-widgets"]),
        ("pypi/carol", True, ["pypi/carol is a personal account and an Owner of critical project acme-legacy"])]
    alice = next(a for a in r["accounts"] if a["account"] == "pypi/alice-acme")
    assert alice["custody"] == {"held": True, "tier": "critical", "codes": 8, "ownership": "personal",
                                "human_owner": None}
    assert alice["flags"] == ["personal-owns-critical"]
    assert r["flags"][0]["severity"] == "high" and r["flags"][-1]["determined"] is False


def test_report_from_saved_scan_and_import_matches_one_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"CUSTODY_ADDR": None}
    code, scan_json, _ = run_cli(env, ["inventory", "scan", str(REPOS), "--format", "json"])
    assert code == 0
    (tmp_path / "scan.json").write_text(scan_json)
    code, pypi_json, _ = run_cli(env, ["inventory", "import", str(PYPI), "--format", "json"])
    (tmp_path / "pypi.json").write_text(pypi_json)
    code, saved, err = run_cli(env, ["inventory", "report", "--scan", str(tmp_path / "scan.json"), "--pypi",
                                     str(tmp_path / "pypi.json"), "--format", "json"])
    assert code == 0, err
    monkeypatch.delenv("CUSTODY_ADDR", raising=False)
    one_call = build_report([], [REPOS], [PYPI], False, [], custody_source(skip=False))
    assert json.loads(saved)["flags"] == one_call["flags"]
    assert "custody was not consulted: CUSTODY_ADDR is not set" in one_call["notes"]


def test_a_file_that_is_not_a_scan_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"findings": [{"repo": 1}]}')
    code, out, err = run_cli({}, ["inventory", "report", "--scan", str(tmp_path / "x.json"), "--format", "json"])
    assert code == 1 and out == ""
    assert "is not the JSON of `custody inventory scan --format json`" in err
    assert "hint: make it with: custody inventory scan PATH... --format json > scan.json" in err
    code, out, err = run_cli({}, ["inventory", "report"])
    assert code == 1 and "nothing to report on" in err


def test_unknown_project_and_literal_credential_flags(tmp_path: Path) -> None:
    root = tmp_path / "mono"
    for sub in ("a", "b"):
        (root / sub).mkdir(parents=True)
        (root / sub / "pyproject.toml").write_text(f'[project]\nname = "mono-{sub}"\n')
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "p.yml").write_text(
        "on: push\njobs:\n  up:\n    steps:\n      - run: twine upload dist/*\n"
        "        env:\n          TWINE_PASSWORD: not-a-reference\n      - run: twine upload b/dist/*\n"
        "        env:\n          TWINE_PASSWORD: ${{ secrets.B }}\n")
    r = build_report([], [root], [], False, [])
    got = [(f["flag"], f["severity"], f["subject"], f["subject_kind"], f["evidence"]) for f in r["flags"]]
    assert got == [
        ("literal-credential", "critical", "mono", "repository", [
            "mono/.github/workflows/p.yml:7: literal credential (value not shown) in TWINE_PASSWORD: revoke it on "
            "PyPI now, then move it to a secret or to Trusted Publishing"]),
        ("long-lived-token", "high", "mono-b", "project", [
            "mono/.github/workflows/p.yml:8 job up: twine uploads to pypi with B (env: TWINE_PASSWORD); Trusted "
            "Publishing would work here"]),
        ("unknown-project", "medium", "mono/.github/workflows/p.yml:5", "step", [
            "job up: twine to pypi; which project it uploads cannot be told"]),
    ]
    assert "not-a-reference" not in json.dumps(r)
