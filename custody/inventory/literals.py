"""Credentials written into files as values. Only where they are is reported, never what they are.

- PyPI API tokens anywhere in a scanned file (``pypi-`` followed by a macaroon, which always starts ``AgE``);
- literal values of credential variables (``TWINE_PASSWORD: ...`` and the rest of ``tools.CREDENTIAL_VARIABLES``)
  in any mapping of a CI file;
- ``password`` entries of a committed ``.pypirc``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from custody.inventory.refs import Scope, classify
from custody.inventory.tools import CREDENTIAL_VARIABLES
from custody.inventory.yamlsafe import LineList, LineMap

PYPI_TOKEN = re.compile(r"pypi-AgE[A-Za-z0-9_-]{16,}")
_PYPIRC_PASSWORD = re.compile(r"^\s*password\s*[:=]\s*(\S.*?)\s*$", re.I | re.M)


def token_lines(text: str) -> list[int]:
    """1-based lines holding something shaped like a PyPI API token."""
    return sorted({text.count("\n", 0, m.start()) + 1 for m in PYPI_TOKEN.finditer(text)})


def pypirc_lines(text: str) -> list[int]:
    """1-based lines of ``password = <value>`` in a ``.pypirc`` (a ``$VAR`` reference is not a value)."""
    return [text.count("\n", 0, m.start()) + 1 for m in _PYPIRC_PASSWORD.finditer(text)
            if classify(m.group(1), Scope()).kind == "literal"]


def credential_entries(doc: object) -> Iterator[tuple[str, int, str]]:
    """(file, line, variable) of each credential variable given a literal value anywhere in ``doc``."""
    seen: set[int] = set()
    stack = [doc]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, LineMap):
            for key, value in node.items():
                if key in CREDENTIAL_VARIABLES and _literal(value):
                    yield node.source, node.line_of(key), key
                stack.append(value)
        elif isinstance(node, LineList):
            stack.extend(node)


def _literal(value: object) -> bool:
    if isinstance(value, LineMap):  # GitLab's {value: ..., description: ...}
        value = value.get("value")
    return isinstance(value, str) and classify(value, Scope()).kind == "literal"
