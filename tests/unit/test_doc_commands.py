"""Every command the docs show runs as written, or says why not; every custody command line they show parses.

A shell block (```console, ```sh, ```bash) of README.md or docs/*.md is run by the test tests/docblocks.py names
for it, or is preceded by ``<!-- not run: why -->``. A bare block that starts like a command must say what it is
(```sh for a command, ```text for a usage line). And every ``custody ...`` line, in any block or inline code, names
commands and options the real click tree has, with values its choices allow.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docblocks import (
    ROOT,
    RUNNERS,
    SHELL,
    Block,
    blocks,
    click_error,
    custody_calls,
    doc_files,
    inline_commands,
    shell_blocks,
    synopsis_calls,
)

COMMAND_START = re.compile(r"^(\$ |custody |make |python3? |export |bao |vault |jq |curl |terraform )")
DOCS = [pytest.param(doc, id=str(doc.relative_to(ROOT))) for doc in doc_files()]


def name(doc: Path) -> str:
    return str(doc.relative_to(ROOT))


@pytest.mark.parametrize("doc", DOCS)
def test_every_shell_block_is_run_or_marked(doc: Path) -> None:
    runner = RUNNERS.get(name(doc))
    ran = {b.line for b in runner()} if runner else set()
    problems = []
    for block in shell_blocks(doc):
        if block.not_run is not None:
            if not block.not_run:
                problems.append(f"{block.where}: `<!-- not run: -->` needs a reason")
            if block.line in ran:
                problems.append(f"{block.where}: marked not run, but its test runs it: drop the mark")
        elif block.line not in ran:
            problems.append(f"{block.where}: a ```{block.lang} block no test runs: run it in a test (add it to "
                            "RUNNERS in tests/docblocks.py) or put `<!-- not run: why -->` just before it")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS)
def test_a_bare_block_that_shows_a_command_says_so(doc: Path) -> None:
    untagged = [b.where for b in blocks(doc) if b.lang == "" and COMMAND_START.match(b.text)]
    assert not untagged, f"tag these blocks ```sh (a command) or ```text (a usage line): {untagged}"


def custody_lines(block: Block) -> list[list[str]]:
    if block.lang in SHELL:
        return list(custody_calls(block.shell))
    if block.lang in ("", "text"):
        return list(synopsis_calls(block.text))
    return []


@pytest.mark.parametrize("doc", DOCS)
def test_every_custody_command_line_parses(doc: Path) -> None:
    problems = []
    for block in blocks(doc):
        for argv in custody_lines(block):
            if problem := click_error(argv):
                problems.append(f"{block.where}: custody {' '.join(argv)}\n    {problem}")
    for line, span in inline_commands(doc):
        for argv in synopsis_calls(span):
            if problem := click_error(argv):
                problems.append(f"{name(doc)}:{line}: `{span}`\n    {problem}")
    assert not problems, "\n".join(problems)


def test_the_docs_show_custody_commands_in_blocks_and_inline() -> None:
    found = sum(len(custody_lines(b)) for doc in doc_files() for b in blocks(doc))
    inline = sum(1 for doc in doc_files() for _ in inline_commands(doc))
    assert found > 100 and inline > 60, (found, inline)


@pytest.mark.parametrize(("line", "complaint"), [
    ("custody access reveal --agian GRANT", "No such option '--agian'"),
    ("custody acces list", "No such command 'acces'"),
    ("custody accounts add pypi/x --owner o@example.com --tier crit", "'crit' is not one of"),
    ("custody audit summary --log a.log --format pdf", "'pdf' is not one of"),
    ("custody rotation sweep --min-remaining three", "'three' is not a valid integer"),
    ("X=$(VAULT_TOKEN=$T custody access lst --format json | jq .)", "No such command 'lst'"),
    ("custody dev up  # then `custody dev dwon`\ncustody dev dwon", "No such command 'dwon'"),
])
def test_a_wrong_command_line_is_caught(line: str, complaint: str) -> None:
    problems = [click_error(argv) for argv in custody_calls(line)]
    assert any(p and complaint in p for p in problems), problems


@pytest.mark.parametrize("line", [
    "custody access approve $GRANT --comment 'confirmed on a call'",
    "custody access show GRANT --format json",
    "custody codes deposit pypi/acme --file codes-you-do-not-have.txt",
    "custody audit summary --log ...",
    "custody access ...",
    "custody --help",
    "custody bootstrap --ca-cert",
])
def test_placeholders_and_asides_parse(line: str) -> None:
    assert [click_error(argv) for argv in synopsis_calls(line)] == [None]


def test_usage_lines_check_every_choice() -> None:
    (argv,) = synopsis_calls("custody rotation sweep [--max-age 365d] [--format json|markdown]")
    assert "'markdown' is not one of" in (click_error(argv) or "")
    (argv,) = synopsis_calls("custody accounts add ACCOUNT --owner EMAIL [--tier standard|critical] [--approvals N]")
    assert click_error(argv) is None


def benchmark_lines() -> list[tuple[str, list[str]]]:
    """``python -m benchmarks...`` command lines of the docs' shell blocks, with where they are."""
    found = []
    for doc in doc_files():
        for block in shell_blocks(doc):
            for line in block.shell.splitlines():
                words = line.split("#", 1)[0].split()
                if words[:3] in (["python", "-m", "benchmarks"], ["python3", "-m", "benchmarks"]) or \
                        (words[:2] in (["python", "-m"], ["python3", "-m"]) and words[2].startswith("benchmarks.")):
                    found.append((block.where, words[2:]))
    return found


def test_benchmark_commands_name_real_benchmarks_and_options() -> None:
    """The benchmarks are too slow to run here; what the docs tell you to type must still exist."""
    from benchmarks.__main__ import BENCHES

    lines = benchmark_lines()
    assert len(lines) >= 4
    helps: dict[str, str] = {}
    for where, (module, *args) in lines:
        if module == "benchmarks":
            assert set(args) <= set(BENCHES), (where, args)
            continue
        assert module in BENCHES.values(), (where, module)
        if module not in helps:
            done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True,
                                  timeout=60)
            assert done.returncode == 0, done.stderr
            helps[module] = done.stdout
        for option in (a for a in args if a.startswith("--")):
            assert re.search(rf"(^|\s){re.escape(option)}\b", helps[module]), (where, option)
