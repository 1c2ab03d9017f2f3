"""docs/commands.md's JSON shapes are what the commands print: every command with ``--format json`` runs once
against the session's OpenBao (in a small walk: an account, its codes, grants, keys, a wave, a drill, a leaver, the
audit and the inventory), and the keys of its answer are the ones the reference lists (``"key"?`` for a key that is
not always there). tests/unit/test_commands_doc.py checks the reference lists every command, and only those."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from custody import devstack
from tests.commandsdoc import Shape, documented
from tests.helpers import REASON, Stack, new_codes, uniq

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "inventory"


class Walk:
    """Runs custody commands with ``--format json`` and keeps each answer under its command's name."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.answers: dict[str, Any] = {}

    def __call__(self, who: str | None, *args: str, stdin: str = "", ok: tuple[int, ...] = (0,)) -> Any:
        words = [a for a in args if not a.startswith("-")]
        done = self.stack.cli(who, *args, "--format", "json", stdin=stdin)
        assert done.exit_code in ok, (args, done.err)
        answer = json.loads(done.out)
        name = " ".join(words[:3] if words[:2] == ["rollout", "wave"] else words[:2] if words[0] in GROUPS
                        else words[:1])
        self.answers.setdefault(name, answer)
        return answer


GROUPS = {"access", "accounts", "audit", "codes", "dev", "drill", "evidence", "inventory", "keys", "people", "rollout",
          "rotation"}


def walk(stack: Stack, tmp: Path) -> dict[str, Any]:  # one long story, told in order: see the module docstring
    run = Walk(stack)
    today = datetime.now(UTC).date().isoformat()
    person = uniq("walker")
    stack.make_user(person, "custody-emergency")  # a requester who may also ask in an emergency
    acct = f"pypi/{uniq('ref')}"
    run("security", "accounts", "add", acct, "--owner", "o@acme.example", "--tier", "critical")
    run("security", "accounts", "update", acct, "--notes", "the reference's walk")
    run("auditor", "accounts", "list")
    run("auditor", "accounts", "show", acct)
    codes = new_codes(8)
    run("security", "codes", "deposit", acct, stdin="\n".join(codes))
    run("auditor", "codes", "status")
    run("security", "codes", "identify", stdin=codes[-1])
    run("security", "codes", "burn", acct, stdin=codes[-1])
    grant = run(person, "access", "request", acct, "--reason", REASON)["id"]
    run("approver", "access", "approve", grant, "--comment", "checked")
    run("approver2", "access", "approve", grant)
    run(person, "access", "reveal", grant)
    run("auditor", "access", "show", grant)
    run("auditor", "access", "list", "--account", acct)
    other = run(person, "access", "request", acct, "--reason", REASON)["id"]
    run("approver", "access", "deny", other, "--comment", "not needed")
    emergency = run(person, "access", "request", acct, "--emergency", "--reason", REASON)["id"]
    run("approver", "access", "review", emergency, "--comment", "confirmed")
    new_set = tmp / "codes.txt"
    new_set.write_text("\n".join(new_codes(8)))
    run("security", "codes", "rotate", acct, "--file", str(new_set))
    run("rotation", "rotation", "sweep", ok=(0, 3))
    email = f"{person}@acme.example"
    run("security", "keys", "add", acct, "--label", "k1", "--custodian", email, "--serial", uniq("s"))
    run("security", "keys", "add", acct, "--label", "k2", "--custodian", "o@acme.example", "--serial", uniq("s"))
    run(person, "keys", "verify", acct, "k1")
    run("security", "keys", "reassign", acct, "k2", "--custodian", email, "--reason", "o left the team")
    run("security", "keys", "remove", acct, "k2", "--reason", "token lost")
    run("auditor", "keys", "list", acct)
    run("auditor", "keys", "check", ok=(0, 3))
    wave = uniq("wave")
    run("security", "rollout", "wave", "add", wave, "--accounts", acct)
    run("auditor", "rollout", "status", "--wave", wave)
    drill = run("security", "drill", "start", acct, "--scenario", "maintainer lost their key",
                "--witness", "a@acme.example")["id"]
    run("security", "drill", "show", drill)
    run("security", "drill", "finish", drill, "--result", "fail", "--notes", "nobody came")
    run("auditor", "drill", "list")
    run("auditor", "drill", "report", ok=(0, 3))
    run("security", "people", "show", email)
    run("security", "people", "offboard", email, "--reason", "left the company")
    run("auditor", "whoami")
    run("root", "bootstrap", "--vault-addr", stack.vault_addr, "--dry-run")
    run(None, "audit", "summary", "--log", str(stack.state["audit_log"]))
    key = tmp / "walker.pem"
    run(None, "evidence", "keygen", "--out", str(key))
    pack = tmp / "pack.json"
    run("auditor", "evidence", "build", "--period", f"{today}/{today}", "--out", str(pack))
    run(None, "evidence", "sign", str(pack), "--key", str(key))
    run("auditor", "evidence", "verify", str(pack), "--public-key", f"{key}.pub", "--vault")
    run(None, "evidence", "render", str(pack))
    scan = run(None, "inventory", "scan", str(FIXTURES / "repos" / "widgets"))
    (tmp / "scan.json").write_text(json.dumps(scan))
    pypi = str(FIXTURES / "pypi" / "acme-widgets.json")
    run(None, "inventory", "import", pypi)
    run(None, "inventory", "report", "--scan", str(tmp / "scan.json"), "--pypi", pypi, "--skip-custody")
    run("security", "inventory", "sync", "--pypi", pypi)
    run(None, "dev", "down", "--dir", str(tmp / "nothing-here"))
    run.answers.setdefault("dev up", devstack.public_view(stack.state))  # what `dev up --format json` prints
    return run.answers


def keys_of(value: Any, shape: Shape) -> set[str]:
    if shape.is_list:
        assert isinstance(value, list) and value, f"a non-empty list, got {value!r:.200}"
        value = value[0]
    assert isinstance(value, dict), f"an object, got {value!r:.200}"
    return set(value)


def test_every_json_shape_in_the_reference_is_what_the_command_prints(stack: Stack, tmp_path: Path) -> None:
    answers = walk(stack, tmp_path)
    shapes = documented()
    assert set(answers) == {name for name, shape in shapes.items() if shape is not None}
    wrong = []
    for name, answer in sorted(answers.items()):
        shape = shapes[name]
        assert shape is not None
        printed = keys_of(answer, shape)
        if not shape.required <= printed or not printed <= shape.required | shape.optional:
            wrong.append(f"custody {name}: prints {sorted(printed)}; the reference says {shape}")
    assert not wrong, "\n".join(wrong)
