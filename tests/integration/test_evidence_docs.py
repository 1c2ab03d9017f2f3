"""docs/evidence.md runs as written: every ``sh`` block, in order, in a fresh directory, with its own
`custody dev up`; and what the guide says the commands print, they print."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from custody.evidence.controls import RULES
from tests.docblocks import evidence_blocks

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "evidence.md"
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_evidence_guide_runs_as_written(tmp_path: Path) -> None:
    blocks = [b.text for b in evidence_blocks()]
    assert len(blocks) >= 10
    bindir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "CUSTODY_"))}
    env.update(PATH=f"{bindir}:{env['PATH']}", HOME=str(tmp_path))
    try:
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(blocks)], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=240)
    finally:
        subprocess.run([f"{bindir}/custody", "dev", "down", "--dir", ".custody-dev"], cwd=tmp_path, env=env,
                       capture_output=True, timeout=60)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "valid: signed by vault:custody-transit/custody-evidence:v1" in out.stdout
    assert "Signature Verified Successfully" in out.stdout
    assert "audit.log no longer matches the pack" in out.stderr  # the `!` step fails for the reason it shows
    assert re.search(r"valid: signed by vault:\S+, \S*auditor\.pem\.pub", out.stdout), out.stdout
    assert re.search(r"valid: signed by \S*offline\.pem\.pub", out.stdout)
    for rule in RULES:
        assert re.search(rf"^{re.escape(rule.control)} (pass|fail|not-applicable) ", out.stdout, flags=re.M)
    page = (tmp_path / "pack.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "Controls" in page
    assert (tmp_path / "pack.md").read_text().startswith("# Evidence pack")
    assert json.loads((tmp_path / "statement-indented.json").read_text())["_type"] == "https://in-toto.io/Statement/v1"
    pack = json.loads((tmp_path / "pack.json").read_text())
    assert len(pack["signatures"]) == 2  # the service's and the auditor's co-signature
