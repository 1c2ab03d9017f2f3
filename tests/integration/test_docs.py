"""The README's tour runs as written, against its own `custody dev up`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def shell_blocks(doc: Path) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", doc.read_text(), flags=re.S)


def test_readme_tour_runs(tmp_path: Path) -> None:
    tour = next(b for b in shell_blocks(ROOT / "README.md") if "custody dev up" in b)
    tour = tour.replace("make install && . .venv/bin/activate\n", "")  # the test already runs inside the venv
    bindir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "CUSTODY_"))}
    env["PATH"] = f"{bindir}:{env['PATH']}"
    try:
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", tour], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
    finally:
        subprocess.run([f"{bindir}/custody", "dev", "down"], cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"^[0-9a-f]{16}$", out.stdout, flags=re.M), "the tour ends with a revealed code"
    assert "[approved]" in out.stdout
