"""`custody dev down` without `--dir` finds the stack this user started, from any directory, and never stops a
stack it was not pointed at when there is more than one.

The stacks here are real processes marked the way a dev stack marks its own (no OpenBao needed): `dev down` finds
and stops processes by that mark and by the per-user list `custody dev up` keeps. The user's list is a temporary
one (``XDG_STATE_HOME``), so the stacks of whoever runs the suite are never seen.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from custody import devkit
from tests.helpers import run_cli

pytestmark = pytest.mark.integration


@pytest.fixture
def user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user with their own list of stacks, standing in a directory that holds none."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return tmp_path


class FakeStack:
    """Two long-running processes carrying a stack's mark, with the state file a single-node stack writes."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True)
        self.dir = directory.resolve()
        env = devkit.child_env(self.dir)
        self.procs = [subprocess.Popen(["sleep", "300"], env=env, start_new_session=True) for _ in range(2)]
        devkit.save_state(self.dir, {"bao_pid": self.procs[0].pid, "custody_pid": self.procs[1].pid,
                                     "dir": str(self.dir)})
        devkit.remember(self.dir)

    def running(self) -> bool:
        return any(p.poll() is None for p in self.procs)

    def kill(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()


@pytest.fixture
def stacks() -> Iterator[list[FakeStack]]:
    made: list[FakeStack] = []
    yield made
    for s in made:
        s.kill()


def down(*args: str) -> tuple[int, str, str]:
    return run_cli({}, ["dev", "down", *args, "--format", "json"])


def test_down_without_dir_stops_the_one_stack_started_elsewhere(user: Path, stacks: list[FakeStack]) -> None:
    stacks.append(FakeStack(user / "project" / ".custody-dev"))
    code, out, err = down()
    assert code == 0, err
    assert json.loads(out) == {"stopped": True, "dir": str(stacks[0].dir)}
    assert not stacks[0].running()
    assert devkit.remembered() == []
    code, out, _ = down()  # idempotent
    assert code == 0 and json.loads(out) == {"stopped": False}


def test_down_names_every_stack_when_there_are_several_and_stops_none(user: Path, stacks: list[FakeStack]) -> None:
    stacks += [FakeStack(user / "a"), FakeStack(user / "b")]
    code, out, err = down()
    assert code == 1 and out == ""
    assert "2 dev stacks are running" in err and str(stacks[0].dir) in err and str(stacks[1].dir) in err
    assert "--dir" in err
    assert all(s.running() for s in stacks)
    code, out, err = down("--dir", str(stacks[1].dir))
    assert code == 0, err
    assert json.loads(out)["dir"] == str(stacks[1].dir)
    assert stacks[0].running() and not stacks[1].running()


def test_a_stack_in_the_current_directory_comes_first(user: Path, stacks: list[FakeStack],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    stacks += [FakeStack(user / "other"), FakeStack(user / "here" / ".custody-dev")]
    monkeypatch.chdir(user / "here")
    code, out, err = down()
    assert code == 0, err
    assert json.loads(out)["dir"] == str(stacks[1].dir)
    assert stacks[0].running() and not stacks[1].running()


def test_stacks_that_have_gone_are_dropped_from_the_list(user: Path, stacks: list[FakeStack]) -> None:
    gone, live = FakeStack(user / "gone"), FakeStack(user / "live")
    stacks += [gone, live]
    gone.kill()
    assert devkit.remembered() == [live.dir]
    assert len(list(devkit.registry().iterdir())) == 1
    code, out, err = down()
    assert code == 0, err
    assert json.loads(out)["dir"] == str(live.dir)
