"""The built wheel runs on its own: installed (not editable) in a fresh virtualenv, away from the source tree, its
`custody dev up` bootstraps OpenBao with the policies the wheel carries, serves, and one access goes from request
to reveal; `custody dev down`, typed in another directory, stops it.

The wheel is built from a copy of the project files (``pip wheel --no-deps``, without build isolation: setuptools
is a dev dependency), so no build directory is left in, or read from, the working tree. The fresh virtualenv has no
pip of its own; the project's pip installs the wheel and its dependencies into it (from pip's cache where it can).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from custody import devkit
from tests.helpers import REASON, new_codes

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass
class Installed:
    bin: Path
    env: dict[str, str]
    home: Path

    def run(self, *args: str, cwd: Path, token: str | None = None, stdin: str = "",
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        extra = {"VAULT_TOKEN": token} if token else {}
        return subprocess.run([str(self.bin / "custody"), *args], cwd=cwd, env=self.env | extra | (env or {}),
                              input=stdin, capture_output=True, text=True, timeout=120)


def build_wheel(out: Path) -> Path:
    src = out / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "custody", src / "custody", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(out / "dist"), str(src)], check=True, capture_output=True, timeout=300)
    (wheel,) = (out / "dist").glob("custody-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(base)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                           str(wheel)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    home = base / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VAULT_", "BAO_", "CUSTODY_", "PYTHON", "VIRTUAL_ENV"))}
    env |= {"HOME": str(home), "XDG_STATE_HOME": str(home / "state"), "PATH": f"{venv / 'bin'}:{env['PATH']}"}
    yield Installed(venv / "bin", env, home)
    shutil.rmtree(venv, ignore_errors=True)  # about 200 MB, most of it the bao binary


@pytest.fixture
def workdirs(installed: Installed, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A directory to start the stack from and another one to stop it from; nothing of the stack survives."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    yield project, elsewhere
    installed.run("dev", "down", "--dir", str(project / "stack"), cwd=tmp_path)
    devkit.stop_all([], project / "stack")


def exports(text: str) -> dict[str, str]:
    return dict(re.findall(r"^export (\w+)=(\S+)$", text, flags=re.M))


def test_the_installed_wheel_runs_dev_up_an_access_and_dev_down(installed: Installed,
                                                                workdirs: tuple[Path, Path]) -> None:
    project, elsewhere = workdirs
    origin = subprocess.run([str(installed.bin / "python"), "-c", "import custody; print(custody.__file__)"],
                            cwd=project, env=installed.env, capture_output=True, text=True, timeout=60)
    assert "site-packages" in origin.stdout and str(ROOT) not in origin.stdout
    # the audit reader's C line walk was compiled into the wheel (from source: the copy above holds no .so)
    walk = subprocess.run([str(installed.bin / "python"), "-c", "from custody.auditlog import _scan; print(_scan)"],
                          cwd=project, env=installed.env, capture_output=True, text=True, timeout=60)
    assert walk.returncode == 0 and "site-packages" in walk.stdout, walk.stderr

    # The policies are in the package: the plan lists every one, with no Vault and no source tree around.
    plan = installed.run("bootstrap", "--vault-addr", "http://127.0.0.1:9", "--dry-run", cwd=project)
    assert plan.returncode == 0, plan.stderr
    assert len(re.findall(r"write policy custody-", plan.stdout)) == 7

    up = installed.run("dev", "up", "--dir", "stack", cwd=project)  # a relative directory
    assert up.returncode == 0, up.stderr[-3000:]
    stack = (project / "stack").resolve()
    assert f"# stop with: custody dev down --dir {stack}" in up.stdout
    env = exports(up.stdout)
    addrs = {"CUSTODY_ADDR": env["CUSTODY_ADDR"], "VAULT_ADDR": env["VAULT_ADDR"]}

    account = "pypi/wheel-check"
    codes = new_codes(8)
    added = installed.run("accounts", "add", account, "--owner", "o@example.com", cwd=elsewhere,
                          token=env["SECURITY_TOKEN"], env=addrs)
    assert added.returncode == 0, added.stderr
    deposited = installed.run("codes", "deposit", account, cwd=elsewhere, token=env["SECURITY_TOKEN"], env=addrs,
                              stdin="\n".join(codes))
    assert deposited.returncode == 0, deposited.stderr
    asked = installed.run("access", "request", account, "--reason", REASON, "--format", "json", cwd=elsewhere,
                          token=env["ENGINEER_TOKEN"], env=addrs)
    assert asked.returncode == 0, asked.stderr
    grant = json.loads(asked.stdout)
    assert grant["status"] == "approved"  # a standard account needs no approval
    revealed = installed.run("access", "reveal", grant["id"], "--format", "json", cwd=elsewhere,
                             token=env["ENGINEER_TOKEN"], env=addrs)
    assert revealed.returncode == 0, revealed.stderr
    assert json.loads(revealed.stdout)["code"] in codes

    pids = devkit.started_for(stack)
    commands = [Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[:3] for p in pids]
    assert [str(installed.bin / "python").encode(), b"-m", b"custody"] in commands  # the server is the wheel's
    assert len(pids) == 2  # and OpenBao
    down = installed.run("dev", "down", "--format", "json", cwd=elsewhere)  # no --dir, another directory
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout) == {"stopped": True, "dir": str(stack)}
    assert not any(devkit.alive(p) for p in pids) and devkit.started_for(stack) == []
