"""What a credential value refers to: a secret, a variable, a value made at run time, or a literal.

GitHub expressions are read, not evaluated: ``${{ secrets.NAME }}``, ``${{ secrets['NAME'] }}``,
``${{ vars.NAME }}``, ``${{ env.NAME }}``, ``${{ inputs.NAME }}``, ``${{ matrix.NAME }}`` (after the matrix is
substituted) and ``a || b`` chains. Shell values: ``$NAME``, ``${NAME}``, ``${NAME:-...}``, ``$(...)``.
A name is looked up in the environment the step sees (``Scope``), following at most a few hops.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["secret", "variable", "runtime", "literal", "none"]

EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)
_CONTEXT = re.compile(r"^\s*(secrets|vars|env|inputs|matrix)\s*"
                      r"(?:\.\s*([A-Za-z_][\w-]*)|\[\s*(['\"])([^'\"]+)\3\s*\])\s*$")
_SHELL_VAR = re.compile(r"^\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?+=-][^}]*)?\})$")
_MATRIX = re.compile(r"\bmatrix\s*\.\s*([A-Za-z_][\w-]*)")
MAX_HOPS = 6


@dataclass(frozen=True)
class Ref:
    kind: Kind
    name: str | None = None
    file: str | None = None  # for a literal: where it is written
    line: int | None = None


@dataclass(frozen=True)
class Located:
    """A value with the file and line it is written on (environment entries, so a literal can be placed)."""

    value: object
    file: str
    line: int


NONE = Ref("none")


@dataclass
class Scope:
    """What names mean where a step runs: environment variables, the secrets a reusable workflow was passed
    (None: its own names, as with ``secrets: inherit`` or no caller), its inputs, and the platform."""

    env: Mapping[str, object] = field(default_factory=dict)
    secrets: Mapping[str, Ref] | None = None
    inputs: Mapping[str, object] = field(default_factory=dict)
    platform: str = "github"


def substitute_matrix(text: str, combo: Mapping[str, str]) -> str:
    """``${{ matrix.x }}`` replaced by the combination's value; inside a larger expression, by a quoted one."""
    def one(m: re.Match[str]) -> str:
        body = m.group(1)
        whole = re.fullmatch(r"\s*matrix\s*\.\s*([A-Za-z_][\w-]*)\s*", body)
        if whole and whole.group(1) in combo:
            return combo[whole.group(1)]
        swapped = _MATRIX.sub(lambda x: repr(combo[x.group(1)]) if x.group(1) in combo else x.group(0), body)
        return "${{" + swapped + "}}"
    return EXPR.sub(one, text)


def _expr(body: str, scope: Scope, hops: int) -> Ref:
    for part in body.split("||"):
        m = _CONTEXT.match(part)
        if not m:
            continue
        ctx, name = m.group(1), m.group(2) or m.group(4)
        if ctx == "secrets":
            if scope.secrets is None:
                return Ref("secret", name)
            if name in scope.secrets:
                return scope.secrets[name]
            continue
        if ctx == "vars":
            return Ref("variable", name)
        if ctx == "env":
            return lookup(name, scope, hops)
        if ctx == "inputs" and name in scope.inputs:
            return classify(scope.inputs[name], Scope(platform=scope.platform), hops + 1)
    return Ref("runtime") if body.strip() else NONE


def lookup(name: str, scope: Scope, hops: int = 0) -> Ref:
    """What the environment variable ``name`` holds; an unknown name is a variable set outside the file (a GitLab
    CI/CD variable, or a GitHub runner's environment)."""
    if name in scope.env and hops < MAX_HOPS:
        return classify(scope.env[name], scope, hops + 1)
    return Ref("variable", name)


def classify(value: object, scope: Scope, hops: int = 0) -> Ref:
    """What ``value`` (a YAML value or a shell word) refers to."""
    if isinstance(value, Located):
        ref = classify(value.value, scope, hops)
        return Ref("literal", None, value.file, value.line) if ref.kind == "literal" and ref.line is None else ref
    if value is None or value == "":
        return NONE
    if not isinstance(value, str):
        return Ref("literal") if isinstance(value, int | float) else Ref("runtime")
    text = value.strip()
    if m := EXPR.fullmatch(text):
        return _expr(m.group(1), scope, hops)
    if m := _SHELL_VAR.match(text):
        return lookup(m.group(1) or m.group(2), scope, hops)
    if EXPR.search(text):
        inner = [_expr(x.group(1), scope, hops) for x in EXPR.finditer(text)]
        return next((r for r in inner if r.kind in ("secret", "variable")), Ref("runtime"))
    if text.startswith(("$(", "`")) or re.search(r"\$\{?[A-Za-z_]", text):
        named = re.search(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text)
        return lookup(named.group(1), scope, hops) if named and not text.startswith(("$(", "`")) else Ref("runtime")
    return Ref("literal")


def plain(value: object, scope: Scope, hops: int = 0) -> str | None:
    """A non-secret setting (an index URL or name) as far as it can be told: variables and ``env.``/``inputs.``
    expressions followed; None when it is empty."""
    if isinstance(value, Located):
        return plain(value.value, scope, hops)
    if value is None or not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    m = _SHELL_VAR.match(text)
    e = EXPR.fullmatch(text)
    ctx = _CONTEXT.match(e.group(1)) if e else None
    name = (m.group(1) or m.group(2)) if m else (ctx.group(2) or ctx.group(4)) if ctx else None
    if name is None or hops >= MAX_HOPS:
        return text
    if ctx is not None and ctx.group(1) == "inputs":
        return plain(scope.inputs.get(name), scope, hops + 1) if name in scope.inputs else text
    if (m or (ctx is not None and ctx.group(1) == "env")) and name in scope.env:
        return plain(scope.env[name], scope, hops + 1)
    return text
