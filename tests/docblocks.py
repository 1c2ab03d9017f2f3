"""The commands the docs show, and which test runs each.

Every ```console, ```sh and ```bash block of README.md and docs/*.md is either run by a test (the selectors in
``RUNNERS``, which those tests use to pick their blocks) or preceded by ``<!-- not run: why -->``;
tests/unit/test_doc_commands.py fails on any other. Every ``custody ...`` command line the docs show, run or not,
in a block or inline, must parse with the real click tree.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from custody.cli.main import every_command

ROOT = Path(__file__).resolve().parents[1]
SHELL = ("console", "sh", "bash")
FENCE = re.compile(r"^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
NOT_RUN = re.compile(r"<!--\s*not run:(.*?)-->\s*\Z", re.S)


def doc_files() -> list[Path]:
    """README.md and every page of docs/, those written later included."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # the line of the opening fence, 1-based
    lang: str
    text: str
    not_run: str | None  # the reason given in `<!-- not run: ... -->` just before the block, if any

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"

    @property
    def shell(self) -> str:
        """The shell text: a console block's ``$`` lines (and their continuations), a script block as it is."""
        if self.lang != "console":
            return self.text
        lines, continued = [], False
        for line in self.text.splitlines():
            if line.startswith("$ ") or continued:
                lines.append(line.removeprefix("$ ") if not continued else line)
                continued = line.endswith("\\")
        return "\n".join(lines) + "\n"


def blocks(doc: Path) -> list[Block]:
    text = doc.read_text()
    found = []
    for m in FENCE.finditer(text):
        before = NOT_RUN.search(text[:m.start()].rstrip("\n"))
        reason = before.group(1).strip() if before else None
        found.append(Block(doc, text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2), reason))
    return found


def shown_after(block: Block) -> str | None:
    """The output shown in a bare block right after ``block`` (nothing but blank lines between), if any."""
    later = [b for b in blocks(block.doc) if b.line > block.line]
    end = block.line + block.text.count("\n") + 1
    if later and later[0].lang == "" and later[0].line == end + 1:
        return later[0].text
    return None


def shell_blocks(doc: Path) -> list[Block]:
    return [b for b in blocks(doc) if b.lang in SHELL]


def runnable(doc: Path) -> list[Block]:
    return [b for b in shell_blocks(doc) if b.not_run is None]


# Which blocks of each doc its test runs. A doc not named here has every shell block marked "not run".
def readme_tour() -> Block:
    """tests/integration/test_docs.py::test_readme_tour_runs."""
    return next(b for b in runnable(ROOT / "README.md") if "custody dev up" in b.text)


def readme_demo() -> Block:
    """tests/integration/test_docs.py::test_make_demo_runs."""
    return next(b for b in runnable(ROOT / "README.md") if b.text.startswith("make demo"))


RUNBOOK = ROOT / "docs" / "runbook.md"
RUNBOOK_SECTIONS = ("## 0.", "## 9.")  # tests/integration/test_runbook.py runs from the first, up to the last


def runbook_blocks() -> list[Block]:
    """tests/integration/test_runbook.py: every console block of the steps it walks, not marked "not run"."""
    text = RUNBOOK.read_text()
    first, last = (text.index(f"\n{heading}") for heading in RUNBOOK_SECTIONS)
    start, end = text.count("\n", 0, first) + 1, text.count("\n", 0, last) + 1
    return [b for b in runnable(RUNBOOK) if b.lang == "console" and start < b.line < end]


def inventory_blocks() -> list[Block]:
    """tests/integration/test_inventory_docs.py: every sh block, in order."""
    return [b for b in runnable(ROOT / "docs" / "inventory.md") if b.lang == "sh"]


def auditor_jq_blocks() -> list[Block]:
    """tests/unit/test_doc_recipes.py: the jq recipes over tests/fixtures/audit/scenario.log."""
    return [b for b in runnable(ROOT / "docs" / "auditor-guide.md") if "scenario.log" in b.text]


def auditor_reissue_block() -> Block:
    """tests/integration/test_audit_reissue.py::test_the_guide_follows_a_reveal_handed_out_again_by_hand."""
    return next(b for b in runnable(ROOT / "docs" / "auditor-guide.md") if "reveal_attempt" in b.text)


def auditor_hash_block() -> Block:
    """tests/integration/test_docs.py::test_audit_hash_recipe_runs."""
    return next(b for b in runnable(ROOT / "docs" / "auditor-guide.md") if "sys/audit-hash" in b.text)


def console_key_block() -> Block:
    """tests/unit/test_doc_recipes.py::test_console_key_recipe_makes_a_key."""
    return next(b for b in runnable(ROOT / "docs" / "console.md") if "console.key" in b.text)


def engineer_emergency_block() -> Block:
    """tests/integration/test_docs.py::test_engineer_guide_emergency_runs."""
    return next(b for b in runnable(ROOT / "docs" / "engineer-guide.md") if "--emergency" in b.text)


def evidence_blocks() -> list[Block]:
    """tests/integration/test_evidence_docs.py: every sh block, in order, as one script."""
    return [b for b in runnable(ROOT / "docs" / "evidence.md") if b.lang == "sh"]


RUNNERS: dict[str, Callable[[], list[Block]]] = {
    "README.md": lambda: [readme_tour(), readme_demo()],
    "docs/runbook.md": runbook_blocks,
    "docs/inventory.md": inventory_blocks,
    "docs/auditor-guide.md": lambda: [*auditor_jq_blocks(), auditor_hash_block(), auditor_reissue_block()],
    "docs/console.md": lambda: [console_key_block()],
    "docs/engineer-guide.md": lambda: [engineer_emergency_block()],
    "docs/evidence.md": evidence_blocks,
}


# --- custody command lines, found in shell text, synopses and inline code ---
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PUNCTUATION = "();<>|&\n"


def custody_calls(shell: str) -> Iterator[list[str]]:
    """The argument lists of every ``custody`` invocation in shell text (command substitutions included)."""
    lex = shlex.shlex(_without_comments(shell.replace("\\\n", " ")), posix=True, punctuation_chars=_PUNCTUATION)
    lex.whitespace, lex.whitespace_split, lex.commenters = " \t\r", True, ""
    current: list[str] | None = None
    at_start = True
    for token in lex:
        for inner in _substitutions(token):
            yield from custody_calls(inner)
        if set(token) <= set(_PUNCTUATION):
            if current is not None:
                if token[0] in "<>" and current and current[-1].isdigit():
                    current.pop()  # the 2 of 2>
                yield current
                current = None
            at_start = token[0] not in "<>"
            continue
        if current is not None:
            current.append(token)
        elif at_start and (token == "custody" or token.endswith("/bin/custody")):
            current = []
        elif not (at_start and _ASSIGNMENT.match(token)):
            at_start = False
    if current is not None:
        yield current


def _without_comments(shell: str) -> str:
    """Shell text with its ``#`` comments blanked (a ``#`` outside quotes at the start of a word)."""
    out, quote, escaped, comment = [], "", False, False
    for i, ch in enumerate(shell):
        if comment:
            comment = ch != "\n"
            if comment:
                continue
        elif escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or shell[i - 1] in " \t\n"):
            comment = True
            continue
        out.append(ch)
    return "".join(out)


def _substitutions(token: str) -> Iterator[str]:
    """The text inside each ``$(...)`` of a word (quoted substitutions stay one word for shlex)."""
    start = token.find("$(")
    while start != -1:
        depth, i = 0, start + 1
        for i in range(start + 1, len(token)):
            depth += {"(": 1, ")": -1}.get(token[i], 0)
            if depth == 0:
                break
        yield token[start + 2:i]
        start = token.find("$(", i)


def synopsis_calls(text: str) -> Iterator[list[str]]:
    """``custody ...`` lines of a non-shell block or inline code: a usage line (``[--opt V]``, ``a|b``) or an
    example; ``...`` stands for what is left out."""
    for line in text.replace("\\\n", " ").replace("\\|", "|").splitlines():
        line = line.removeprefix("$ ")
        if line.startswith("custody "):
            # Brackets mark what is optional; a | between words is a choice, one with spaces around it a pipe.
            yield from custody_calls(re.sub(r"(?<=\S)\|(?=\S)", "¦", line.replace("[", " ").replace("]", " ")))


def inline_commands(doc: Path) -> Iterator[tuple[int, str]]:
    """Inline code spans that show a custody command, with their line."""
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), doc.read_text())
    for n, line in enumerate(text.splitlines(), 1):
        for span in re.findall(r"`(custody [^`]*)`", line):
            yield n, span


# --- checking a command line against the real click tree ---
_PLACEHOLDER = re.compile(r"^(<.*>|[A-Z][A-Z0-9_/]*|.*\$.*|\.\.\.|.*\.\.\.)$")


def click_error(argv: list[str]) -> str | None:
    """Why ``custody ARGV`` does not parse (an unknown command or option, a value a choice does not allow), or
    None. Placeholders (``GRANT``, ``<token>``, ``$VAR``, ``...``) stand for any value; files need not exist."""
    variants = max((t.count("¦") + 1 for t in argv), default=1)
    for i in range(variants):
        args = [t.split("¦")[min(i, t.count("¦"))] for t in argv]
        problem = _parse(args)
        if problem:
            return problem
    return None


def _parse(args: list[str]) -> str | None:
    command: click.Command = every_command()
    name, parent = "custody", None
    if "--help" in args or "-h" in args:
        args = args[:min(args.index(h) for h in ("--help", "-h") if h in args)]
    while isinstance(command, click.Group):
        if not args:
            return None  # a group named alone, e.g. in prose
        if args[0].startswith("-") or _PLACEHOLDER.match(args[0]):
            return _problem(command, name, args, parent)  # its own options, `custody access ...`, `custody COMMAND`
        ctx = command.make_context(name, [], parent=parent, resilient_parsing=True)  # no "missing command" yet
        ctx.resilient_parsing = False
        try:
            found_name, found, args = command.resolve_command(ctx, args)
        except click.UsageError as exc:
            return exc.format_message()
        assert found_name is not None and found is not None
        command, name, parent = found, found_name, ctx
    return _problem(command, name, args, parent)


def _problem(command: click.Command, name: str, args: list[str], parent: click.Context | None) -> str | None:
    try:
        command.make_context(name, list(args), parent=parent)
    except click.MissingParameter:
        return None  # a usage line or an aside may leave out what is required
    except click.BadParameter as exc:
        if exc.param is not None and isinstance(exc.param.type, click.Path):
            return None  # the files of an example are not here
        value = _bad_value(exc.param, args)
        if value is not None and _PLACEHOLDER.match(value):
            return None
        return exc.format_message()
    except click.UsageError as exc:
        if args and args[-1].startswith("-") and "requires an argument" in exc.format_message():
            return None  # an option named in prose: `custody bootstrap --ca-cert`
        return exc.format_message()
    return None


def _bad_value(param: object, args: list[str]) -> str | None:
    if not isinstance(param, click.Option):
        return None
    for i, arg in enumerate(args[:-1]):
        if arg in param.opts:
            return args[i + 1]
    return next((a.split("=", 1)[1] for a in args if a.split("=", 1)[0] in param.opts), None)
