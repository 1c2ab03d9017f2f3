"""Commands in a CI script (a GitHub ``run:`` or a GitLab ``script:`` line), read, never run.

Tokenizing is the standard library's ``shlex`` in POSIX mode with ``punctuation_chars``, which handles quoting and
escapes like a POSIX shell and returns ``&&``, ``||``, ``;``, ``|``, ``&``, ``(``, ``)`` and redirections as tokens
of their own. ``bashlex`` would give a full bash syntax tree, but it is GPL-licensed, refuses many scripts that bash
runs, and a publish command needs words, not a tree. What ``shlex`` does not do is done here, around it:

- ``\\``-newline continuations are joined, and a quote left open runs on to the next line, keeping the line on
  which each command starts;
- ``${{ ... }}`` (GitHub expressions, substituted before any shell runs), ``$( ... )`` and backquoted command
  substitutions are set aside before tokenizing and put back after, so their insides are not split;
- here-documents are skipped; ``#`` starts a comment at the start of a word.

Each ``Command`` is the words of one simple command with its ``NAME=value`` prefixes split off; ``export NAME=value``
and ``cd DIR`` come back as commands too, so callers can follow the environment and the directory.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

OPERATORS = frozenset({"&&", "||", ";", ";;", "|", "|&", "&", "(", ")", "!", "{", "}"})
REDIRECTS = re.compile(r"^[<>]+&?$|^&>>?$|^>[|&]$")
KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "time", "exec",
                      "command", "nohup", "builtin"})
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_NEWLINE = "\ue000"  # stands for a physical line break inside one logical line
_HOLE = "\ue001"  # brackets the number of a span set aside
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
_CONTINUED = re.compile(r"(?<!\\)(?:\\\\)*\\$")


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    assigns: tuple[tuple[str, str], ...]
    line: int  # 0-based offset from the script's first line
    export: bool = False


@dataclass(frozen=True)
class Problem:
    line: int
    message: str


def _set_aside(text: str, spans: list[str]) -> str:
    """Replace ``${{ }}``, ``$( )`` and backquoted spans with numbered holes (their text kept in ``spans``)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        end = _span_end(text, i)
        if end > i:
            spans.append(text[i:end])
            out.append(f"{_HOLE}{len(spans) - 1}{_HOLE}")
            i = end
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _span_end(text: str, i: int) -> int:
    if text.startswith("${{", i):
        end = text.find("}}", i + 3)
        return end + 2 if end >= 0 else i
    if text.startswith("$(", i):
        depth, j = 0, i + 1
        while j < len(text):
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            if depth == 0:
                return j + 1
            j += 1
        return i
    if text[i] == "`":
        end = text.find("`", i + 1)
        return end + 1 if end > i else i
    return i


def _restore(word: str, spans: list[str]) -> str:
    return re.sub(f"{_HOLE}(\\d+){_HOLE}", lambda m: spans[int(m.group(1))], word)


def _tokens(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    return list(lexer)


def _logical_lines(lines: list[str], problems: list[Problem]) -> list[tuple[int, list[str]]]:
    """(first line, tokens) per logical line: continuations joined, open quotes carried on, heredocs skipped."""
    out: list[tuple[int, list[str]]] = []
    i = 0
    while i < len(lines):
        start, buf = i, lines[i]
        while _CONTINUED.search(buf) and i + 1 < len(lines):
            i += 1
            buf = buf[:-1] + " " + _NEWLINE + " " + lines[i]
        while True:
            try:
                tokens = _tokens(buf)
                break
            except ValueError:  # an open quote: the string goes on on the next line
                if i + 1 >= len(lines):
                    problems.append(Problem(start, "a quote is never closed"))
                    tokens = []
                    break
                i += 1
                buf = buf + "\n" + _NEWLINE + lines[i]
        out.append((start, tokens))
        if heredoc := _HEREDOC.search(buf):
            while i + 1 < len(lines) and lines[i + 1].strip() != heredoc.group(2):
                i += 1
            i += 1
        i += 1
    return out


def _commands(start: int, tokens: list[str], spans: list[str]) -> list[Command]:
    out: list[Command] = []
    words: list[str] = []
    line = first = start
    skip_next = False
    for raw in [*tokens, ";"]:
        breaks = raw.count(_NEWLINE)
        tok = raw.replace(_NEWLINE, "").strip("\n") if breaks else raw
        line += breaks
        if breaks and not tok:
            continue  # only a line break of a continuation
        if skip_next:
            skip_next = False
            continue
        if tok.startswith("#"):
            tok = ";"  # a comment runs to the end of the line
        if tok in OPERATORS:
            if words:
                out.append(_command(words, first, spans))
            words = []
            if raw.startswith("#"):
                break
            continue
        if REDIRECTS.match(tok) or tok == "<<":
            skip_next = True
            continue
        if not words:
            first = line - breaks if tok else line
        words.append(tok)
    return out


def _command(words: list[str], line: int, spans: list[str]) -> Command:
    words = [_restore(w, spans) for w in words]
    while words and words[0] in KEYWORDS:
        words = words[1:]
    export = bool(words) and words[0] in ("export", "declare", "typeset", "readonly", "local")
    if export:
        words = [w for w in words[1:] if not w.startswith("-")]
    assigns: list[tuple[str, str]] = []
    while words and (m := ASSIGNMENT.match(words[0])):
        assigns.append((m.group(1), m.group(2)))
        words = words[1:]
    return Command(tuple(words), tuple(assigns), line, export)


def commands(script: str) -> tuple[list[Command], list[Problem]]:
    """The simple commands of ``script`` in order, with the 0-based line each starts on."""
    spans: list[str] = []
    clean = _set_aside(script.replace(_NEWLINE, "").replace(_HOLE, ""), spans)
    problems: list[Problem] = []
    out: list[Command] = []
    for start, tokens in _logical_lines(clean.split("\n"), problems):
        out.extend(c for c in _commands(start, tokens, spans) if c.argv or c.assigns)
    return out, problems
