"""docs/inventory.md runs as written: every ``sh`` block, in order, in a fresh directory beside a copy of the test
corpus, with its own `custody dev up`; the PyPI index is a local server (CUSTODY_PYPI_URL), never the internet."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.helpers import local_http

ROOT = Path(__file__).resolve().parents[2]
PYPI = ROOT / "tests" / "fixtures" / "inventory" / "pypi"
pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Index(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        name = self.path.removeprefix("/pypi/").removesuffix("/json")
        path = PYPI / f"{name}.json"
        body = path.read_bytes() if path.is_file() else b"{}"
        self.send_response(200 if path.is_file() else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_inventory_guide_runs_as_written(tmp_path: Path) -> None:
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "docs" / "inventory.md").read_text(), flags=re.S)
    assert len(blocks) >= 6
    (tmp_path / "tests").symlink_to(ROOT / "tests", target_is_directory=True)
    bindir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "CUSTODY_"))}
    env.update(PATH=f"{bindir}:{env['PATH']}", HOME=str(tmp_path), CUSTODY_CACHE_DIR=str(tmp_path / "cache"),
               CUSTODY_PYPI_INTERVAL="0")
    script = "\n".join(blocks)
    try:
        with local_http(Index) as url:
            env["CUSTODY_PYPI_URL"] = url
            out = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                                 capture_output=True, text=True, timeout=240)
    finally:
        subprocess.run([f"{bindir}/custody", "dev", "down", "--dir", ".custody-dev"], cwd=tmp_path, env=env,
                       capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "| high | no-custody | pypi/carol | Owner of acme-legacy; custody holds the account but no recovery " \
           "codes are deposited |" in out.stdout
    guide = (ROOT / "docs" / "inventory.md").read_text()
    shown = re.findall(r"```\n((?:# |updated ).*?)```", guide, flags=re.S)
    assert len(shown) == 6  # scan, import, report; then sync's plan, the updates, the report again
    for output in shown:  # the outputs the guide shows are the ones the commands print
        assert output in out.stdout
    assert (tmp_path / "inventory.html").read_text().startswith("<!DOCTYPE html>")
    assert '"owners": [\n        "alice-acme"' in (tmp_path / "pypi.json").read_text()
    synced = json.loads((tmp_path / "synced.json").read_text())
    assert synced["summary"] == {"found": 5, "to_create": 3, "held": 2, "refused": 0, "created": 3}
