"""docs/runbook.md runs as written: every command of steps 3 to 7 (accounts, waves, deposits, the key roster, a
timed drill, emergencies, a leaver, a leaked code), in order, in one shell, after step 0's `custody dev up`, and
each prints what the runbook shows, ids, times and addresses aside."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "runbook.md"
pytestmark = [pytest.mark.integration, pytest.mark.slow]
FIRST, LAST = "## 3.", "## 8."  # the steps run here: from the first, up to (not including) the last
MARK = "@@runbook-step"

# What differs from one run to the next, each replaced by a name before outputs are compared.
VOLATILE = [
    (re.compile(r"gr_[a-z2-7]{16}"), "GRANT"), (re.compile(r"dr_[a-z2-7]{12}"), "DRILL"),
    (re.compile(r"fp-[0-9a-f]{10}"), "FP"), (re.compile(r"\b[0-9a-f]{16}\b"), "CODE"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "UUID"),
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(\+00:00|Z| UTC)?"), "TIME"),
    (re.compile(r"\d{4}-\d\d-\d\d"), "DATE"), (re.compile(r"127\.0\.0\.1:\d+"), "ADDR"),
    (re.compile(r"\b\d+h\d\dm\b|\b\d+m\d\ds\b|\b\d+s\b"), "DURATION"),
]


@dataclass
class Step:
    command: str
    shown: list[str]  # the output the runbook shows under it


def steps(text: str) -> list[Step]:
    """The ``$`` commands of the console blocks from FIRST to LAST, each with the lines shown under it."""
    body = text.split(f"\n{FIRST}", 1)[1].split(f"\n{LAST}", 1)[0]
    found: list[Step] = []
    for block in re.findall(r"```console\n(.*?)```", body, flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append(Step(line[2:], []))
            elif found:
                found[-1].shown.append(line)
    return found


def normal(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        for pattern, name in VOLATILE:
            line = pattern.sub(name, line)
        if line.strip():
            out.append(" ".join(line.split()))
    return out


def script(found: list[Step]) -> str:
    """Step 0, then each command with its output and exit status marked, all in one shell (variables carry)."""
    setup = next(b for b in re.findall(r"```console\n(.*?)```", RUNBOOK.read_text(), flags=re.S)
                 if "custody dev up" in b).splitlines()[0][2:]
    lines = [setup]
    for i, s in enumerate(found):
        lines += [f"echo '{MARK} {i}'", "{ " + s.command + "\n} 2>&1", f"echo '{MARK}-status' $?"]
    return "\n".join(lines) + "\n"


def run(found: list[Step], cwd: Path) -> list[tuple[list[str], int]]:
    bindir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "CUSTODY_"))}
    # Unbuffered, as on a terminal: a message on stderr comes after the output printed before it.
    env.update(PATH=f"{bindir}:{env['PATH']}", HOME=str(cwd), PYTHONUNBUFFERED="1")
    try:
        done = subprocess.run(["bash", "-uo", "pipefail", "-c", script(found)], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run([f"{bindir}/custody", "dev", "down", "--dir", "./custody-dev"], cwd=cwd, env=env,
                       capture_output=True, timeout=60)
    results = []
    for chunk in done.stdout.split(f"{MARK} ")[1:]:
        text, status = chunk.rsplit(f"{MARK}-status ", 1)
        results.append((text.split("\n", 1)[1].splitlines() if "\n" in text else [], int(status.split()[0])))
    assert len(results) == len(found), done.stderr[-3000:]
    return results


def test_steps_three_to_seven_run_as_written(tmp_path: Path) -> None:
    found = steps(RUNBOOK.read_text())
    assert len(found) > 40
    for step, (output, status) in zip(found, run(found, tmp_path), strict=True):
        shown = normal(step.shown)
        fails = bool(step.shown) and step.shown[0].startswith(("error:", "Error"))
        assert (status != 0) == fails, (step.command, status, output)
        assert normal(output) == shown, f"$ {step.command}\n" + "\n".join(output)
