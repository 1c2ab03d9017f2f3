"""The docs' recipes that need no server run as written: the auditor guide's jq queries over the recorded scenario
log print what the guide shows under them, and the console guide's key recipe makes a key the console accepts."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from custody.console.seal import KeyRing
from tests.docblocks import ROOT, Block, auditor_jq_blocks, console_key_block, shown_after

SCENARIO = ROOT / "tests" / "fixtures" / "audit" / "scenario.log"


def run(block: Block, cwd: Path) -> str:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.shell], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={k: v for k, v in os.environ.items() if not k.startswith("VAULT_")})
    assert done.returncode == 0, (block.where, done.stderr)
    return done.stdout


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
@pytest.mark.parametrize("block", auditor_jq_blocks(), ids=lambda b: b.where)
def test_auditor_guide_jq_recipe_prints_what_the_guide_shows(block: Block, tmp_path: Path) -> None:
    (tmp_path / "scenario.log").symlink_to(SCENARIO)
    printed = run(block, tmp_path).splitlines()
    shown = shown_after(block)
    assert shown is not None, f"{block.where}: the guide shows no output under this recipe"
    lines = shown.splitlines()
    cut = next((i for i, line in enumerate(lines) if line.startswith("...")), None)
    if cut is None:
        assert printed == lines, block.where
    else:  # "..." ends what the guide shows of a longer answer
        assert printed[:cut] == lines[:cut] and len(printed) > cut, block.where


def test_every_recipe_over_the_scenario_log_is_checked() -> None:
    assert len(auditor_jq_blocks()) == 7


def test_console_key_recipe_makes_a_key_the_console_accepts(tmp_path: Path) -> None:
    run(console_key_block(), tmp_path)
    key = tmp_path / "console.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    ring = KeyRing.from_file(key)  # refuses anything but 32 bytes of base64
    assert repr(ring) == "KeyRing(1 keys)"
    assert ring.open("session", ring.seal("session", {"who": "me"})) == {"who": "me"}
