"""The docs' commands that need a server run as written: the README's tour against its own `custody dev up`,
`make demo`, and the engineer's and auditor's guides' recipes against the session's OpenBao. Which blocks each test
runs is in tests/docblocks.py; tests/unit/test_doc_commands.py fails on a block that no test runs and that is not
marked "not run"."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from custody.cli.client import Client
from tests.docblocks import ROOT, auditor_hash_block, engineer_emergency_block, readme_demo, readme_tour
from tests.helpers import REASON, Stack, new_codes, uniq

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BINDIR = str(Path(sys.executable).parent)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any Vault or custody setting, with the project's executables first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "CUSTODY_"))}
    return env | {"PATH": f"{BINDIR}:{env['PATH']}"} | extra


def test_readme_tour_runs(tmp_path: Path) -> None:
    tour = readme_tour().shell
    tour = tour.replace("make install && . .venv/bin/activate\n", "")  # the test already runs inside the venv
    env = clean_env()
    try:
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", tour], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
    finally:
        subprocess.run([f"{BINDIR}/custody", "dev", "down"], cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"^[0-9a-f]{16}$", out.stdout, flags=re.M), "the tour ends with a revealed code"
    assert "[approved]" in out.stdout


def test_make_demo_runs(tmp_path: Path) -> None:
    """The README's first command, in the checkout (its stack in a temp dir): the tour ends with a revealed code,
    the refused attempts and the audit summary, and stops everything."""
    demo = tmp_path / "demo"
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", readme_demo().shell], cwd=ROOT,
                         env=clean_env(CUSTODY_DEMO_DIR=str(demo), MAKEFLAGS="-s", HOME=str(tmp_path)),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert re.search(r"^[0-9a-f]{16}$", out.stdout, flags=re.M), "the demo reveals one code"
    assert out.stdout.count("(refused, as it should be)") == 2 and "(403, as it should be)" in out.stdout
    assert "1 reveals" in out.stdout and "Done: stopping everything" in out.stdout
    after = subprocess.run([f"{BINDIR}/custody", "dev", "down", "--dir", str(demo)], env=clean_env(HOME=str(tmp_path)),
                           capture_output=True, text=True, timeout=60)
    assert "nothing was running" in after.stdout + after.stderr


def test_engineer_guide_emergency_runs(stack: Stack, tmp_path: Path) -> None:
    """The on-call engineer's request, as they would type it, logged in with their own Vault token."""
    account = "pypi/acme-publisher"
    if stack.cli("security", "accounts", "show", account).exit_code != 0:
        assert stack.cli("security", "accounts", "add", account, "--owner", "pypi@acme.example", "--tier",
                         "critical").exit_code == 0  # as in the README: emergencies skip its approvals
        assert stack.cli("security", "codes", "deposit", account, stdin="\n".join(new_codes(8))).exit_code == 0
    oncall = uniq("oncall")
    (tmp_path / ".vault-token").write_text(stack.make_user(oncall, "custody-emergency"))
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", engineer_emergency_block().shell], cwd=tmp_path,
                         env=clean_env(HOME=str(tmp_path), CUSTODY_ADDR=stack.custody_addr), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "[approved]" in out.stdout and "EMERGENCY" in out.stdout and "INC-311" in out.stdout
    grant = re.search(r"gr_[a-z2-7]{16}", out.stdout)
    assert grant and stack.cli("approver", "access", "review", grant.group(0), "--comment", "drill of the docs") \
        .exit_code == 0


def test_audit_hash_recipe_runs(stack: Stack, account: str) -> None:
    """The auditor guide's `bao write sys/audit-hash/file`: the HMAC it prints for a reveal's wrapping token is the
    one the audit log shows for that wrap."""
    engineer = Client(stack.custody_addr, stack.token("engineer"))
    grant = engineer.call("POST", f"accounts/{account}/grants", {"reason": REASON})["data"]
    wrapping = engineer.call("POST", f"grants/{grant['id']}/reveal")["wrap_info"]["token"]
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", auditor_hash_block().shell], capture_output=True,
                         text=True, timeout=60, env=clean_env(VAULT_ADDR=stack.vault_addr,
                                                              VAULT_TOKEN=stack.token("root"), WRAPPING_TOKEN=wrapping))
    assert out.returncode == 0, out.stderr
    hashed = out.stdout.strip()
    assert re.fullmatch(r"hmac-sha256:[0-9a-f]{64}", hashed)
    assert f'"token":"{hashed}"' in Path(stack.state["audit_log"]).read_text()
    assert engineer.unwrap(stack.vault_addr, wrapping)["code"]  # the hash did not spend the token
