"""What the GitHub and GitLab readers share: the repository being read (its name, its projects, how to load a
file of it, where findings and warnings go) and the handling of one script's commands."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from custody.inventory import projects, shell
from custody.inventory.model import Finding, ScanWarning, Severity, WarningKind
from custody.inventory.publish import Site, decide
from custody.inventory.refs import Located, Scope
from custody.inventory.tools import CREDENTIAL_VARIABLES, analyse, identify
from custody.inventory.yamlsafe import LineList, LineMap, Mark

# (path relative to the repository, the file asking for it, its line) -> the parsed document, or None (the loader
# has said why in a warning)
Load = Callable[[str, str, int], Any]


@dataclass
class Repo:
    name: str
    projects: list[projects.Located]
    load: Load
    glob: Callable[[str], list[str]] = lambda pattern: []
    findings: list[Finding] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)

    def warn(self, warning: ScanWarning) -> None:
        """Record ``warning`` once (a literal credential once per file and line, whoever saw it)."""
        if warning.kind == WarningKind.LITERAL_CREDENTIAL and any(
                w.kind == warning.kind and (w.file, w.line) == (warning.file, warning.line) for w in self.warnings):
            return
        if warning not in self.warnings:
            self.warnings.append(warning)

    def add(self, finding: Finding) -> None:
        if finding not in self.findings:
            self.findings.append(finding)

    def problem(self, file: str, line: int | None, kind: WarningKind, message: str,
                severity: Severity = Severity.MEDIUM) -> None:
        self.warn(ScanWarning(self.name, file, line, kind, severity, message))


def mapping(value: object) -> LineMap:
    return value if isinstance(value, LineMap) else LineMap()


def items(value: object) -> list[tuple[object, Mark | None]]:
    if isinstance(value, LineList):
        return list(zip(value, value.marks, strict=True))
    return [(v, None) for v in value] if isinstance(value, list) else []


def env_of(block: object) -> dict[str, Located]:
    """An ``env:``/``variables:`` block as name -> Located value (GitLab's ``{value: ...}`` form unwrapped)."""
    m = mapping(block)
    out: dict[str, Located] = {}
    for name, value in m.items():
        if isinstance(value, LineMap):
            value = value.get("value")
        if value is None or isinstance(value, str):
            out[name] = Located(value, m.source, m.line_of(name))
    return out


@dataclass
class ScriptState:
    """What earlier commands of a job set: exported variables, the directory, poetry's configured tokens (below
    the step's environment: poetry reads its environment first) and repositories."""

    env: dict[str, object] = field(default_factory=dict)
    config: dict[str, object] = field(default_factory=dict)
    cwd: str = ""
    repositories: dict[str, str] = field(default_factory=dict)


def script_line(mark: Mark | None, fallback: int, offset: int) -> int:
    if mark is None:
        return fallback
    return mark.line + (1 if mark.block else 0) + offset


def _poetry_config(argv: tuple[str, ...], state: ScriptState, where: Located) -> bool:
    """``poetry config pypi-token.NAME X`` / ``http-basic.NAME U P`` / ``repositories.NAME URL``."""
    words = [w for w in argv[2:] if not w.startswith("-")]
    if len(argv) < 2 or _base(argv[0]) != "poetry" or argv[1] != "config" or len(words) < 2:
        return False
    key, *values = words
    kind, _, name = key.partition(".")
    env_name = re.sub(r"[^A-Z0-9]", "_", name.upper())
    if kind == "pypi-token":
        state.config[f"POETRY_PYPI_TOKEN_{env_name}"] = Located(values[0], where.file, where.line)
    elif kind == "http-basic" and len(values) >= 2:
        state.config[f"POETRY_HTTP_BASIC_{env_name}_PASSWORD"] = Located(values[1], where.file, where.line)
    elif kind == "repositories":
        state.repositories[name] = values[0]
    return True


def _base(word: str) -> str:
    return word.rsplit("/", 1)[-1].lower()


def _follow(cmd: shell.Command, state: ScriptState, where: Located) -> None:
    """Track ``export``, ``cd`` and ``echo NAME=value >> $GITHUB_ENV`` style lines."""
    if cmd.export or not cmd.argv:
        state.env.update({k: Located(v, where.file, where.line) for k, v in cmd.assigns})
    elif cmd.argv[0] == "cd" and len(cmd.argv) == 2 and not cmd.argv[1].startswith(("-", "$", "~", "/")):
        state.cwd = posixpath.normpath(posixpath.join(state.cwd or ".", cmd.argv[1])).removeprefix(".")
    elif cmd.argv[0] in ("echo", "printf"):
        for word in cmd.argv[1:]:
            name, eq, value = word.partition("=")
            if eq and name in CREDENTIAL_VARIABLES:
                state.env[name] = Located(value, where.file, where.line)
    else:
        _poetry_config(cmd.argv, state, where)


def run_script(repo: Repo, text: str, mark: Mark | None, fallback_line: int, site: Site, scope: Scope,
               state: ScriptState) -> None:
    """Every publish command in one script, as findings of ``site`` at the line each command starts on."""
    commands, problems = shell.commands(text)
    for p in problems:
        repo.problem(site.file, script_line(mark, fallback_line, p.line), WarningKind.UNPARSABLE,
                     f"shell script: {p.message}; the rest of it was read")
    for cmd in commands:
        line = script_line(mark, fallback_line, cmd.line)
        inv = identify(cmd.argv)
        if inv is None:
            _follow(cmd, state, Located(None, site.file, line))
            continue
        extra: Mapping[str, object] = {**state.env, **{k: Located(v, site.file, line) for k, v in cmd.assigns}}
        base = Scope({**state.config, **scope.env}, scope.secrets, scope.inputs, scope.platform)
        call = analyse(inv, base, extra, state.repositories)
        here = site.at(line, call.index)
        project = projects.project_for(call.paths, state.cwd, repo.projects)
        repo.add(decide(call, here, project, repo.warn))

