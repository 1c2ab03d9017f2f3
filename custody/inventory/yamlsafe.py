"""YAML loading that a hostile file cannot abuse, keeping the line of every key and list item.

PyYAML's C-accelerated parser (``CSafeLoader``: safe tags only, never an object constructed from the document)
with limits of our own, checked before anything is built:

1. the event stream is read once: nesting depth, alias count and event count are capped;
2. the node graph is composed and its size *with every alias expanded* is counted without expanding it
   (each node's size is computed once), so a "billion laughs" document is refused in time and memory
   proportional to its text, and a recursive alias is refused outright;
3. only then are Python values built. Scalars stay strings (``on``, ``yes``, ``3.10`` are not turned into
   booleans or floats); ``null``/``~``/empty become None; GitLab's ``!reference`` becomes a ``Reference``; any
   other tag is read as its plain value.

Mappings come back as ``LineMap`` and sequences as ``LineList``, which remember the file they came from and the
line of each key or item, so that findings can name a file and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

MAX_DEPTH = 64
MAX_ALIASES = 2_000
MAX_EVENTS = 500_000
MAX_EXPANDED_NODES = 200_000


class YamlRefused(Exception):
    """The text is not YAML, or not YAML we accept; ``line`` (1-based) when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based line where the value starts
    block: bool  # a ``|`` or ``>`` block scalar: its text starts on the next line


class LineMap(dict[str, Any]):
    """A mapping with the line of each key and the mark of each value."""

    source: str = ""
    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.key_lines: dict[str, int] = {}
        self.marks: dict[str, Mark] = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    source: str = ""
    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[Mark] = []


@dataclass(frozen=True)
class Reference:
    """GitLab's ``!reference [.job, key, ...]``."""

    path: tuple[str, ...]
    line: int


def _check_events(text: str) -> None:
    depth = aliases = 0
    for events, event in enumerate(yaml.parse(text, Loader=yaml.CSafeLoader), start=1):
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlRefused(f"nested deeper than {MAX_DEPTH} levels", line)
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlRefused(f"more than {MAX_ALIASES} aliases", line)
        if events > MAX_EVENTS:
            raise YamlRefused(f"more than {MAX_EVENTS} YAML events", line)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def expanded_size(root: yaml.Node, limit: int = MAX_EXPANDED_NODES) -> int:
    """How many nodes the document has once every alias is expanded; YamlRefused past ``limit`` or on a cycle.
    Each distinct node is visited once (iteratively: alias chains can be longer than Python's stack)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            sizes[key] = min(limit + 1, 1 + sum(sizes[id(c)] for c in _children(node)))
            if sizes[key] > limit:
                raise YamlRefused(f"expands to more than {limit} nodes (aliases)", node.start_mark.line + 1)
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise YamlRefused("an alias refers to itself", node.start_mark.line + 1)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    return sizes[id(root)]


class _Loader(yaml.CSafeLoader):
    source = ""


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"))


def _map(loader: _Loader, node: yaml.MappingNode) -> Iterator[LineMap]:
    data = LineMap()
    data.source, data.line = loader.source, node.start_mark.line + 1
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue  # a list or mapping as a key: nothing a CI file means by it
        key = str(key_node.value)
        data[key] = loader.construct_object(value_node, deep=False)
        data.key_lines[key] = key_node.start_mark.line + 1
        data.marks[key] = _mark(value_node)


def _seq(loader: _Loader, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList()
    data.source, data.line = loader.source, node.start_mark.line + 1
    yield data
    for child in node.value:
        data.append(loader.construct_object(child, deep=False))
        data.marks.append(_mark(child))


def _str(loader: _Loader, node: yaml.Node) -> str:
    return str(node.value)


def _null(loader: _Loader, node: yaml.Node) -> None:
    return None


def _any(loader: _Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return next(_map(loader, node)) if not node.value else _build(loader, node)
    if isinstance(node, yaml.SequenceNode):
        return _build(loader, node)
    return str(node.value)


def _build(loader: _Loader, node: yaml.Node) -> Any:
    gen = _map(loader, node) if isinstance(node, yaml.MappingNode) else _seq(loader, node)  # type: ignore[arg-type]
    data = next(gen)
    for _ in gen:
        pass
    return data


def _reference(loader: _Loader, node: yaml.Node) -> Reference | str:
    if isinstance(node, yaml.SequenceNode) and all(isinstance(c, yaml.ScalarNode) for c in node.value):
        return Reference(tuple(str(c.value) for c in node.value), node.start_mark.line + 1)
    return "!reference"


_Loader.add_constructor("tag:yaml.org,2002:map", _map)
_Loader.add_constructor("tag:yaml.org,2002:omap", _any)
_Loader.add_constructor("tag:yaml.org,2002:pairs", _any)
_Loader.add_constructor("tag:yaml.org,2002:set", _any)
_Loader.add_constructor("tag:yaml.org,2002:seq", _seq)
_Loader.add_constructor("tag:yaml.org,2002:null", _null)
for _tag in ("str", "bool", "int", "float", "timestamp", "binary", "value", "merge"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _str)
_Loader.add_constructor("!reference", _reference)
_Loader.add_constructor(None, _any)


def load(text: str, source: str = "") -> Any:
    """The one document in ``text`` (None for an empty one); YamlRefused for anything else."""
    try:
        _check_events(text)
        loader = _Loader(text)
        loader.source = source
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            expanded_size(node)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlRefused(f"not valid YAML: {exc.problem or exc.context or 'parse error'}",
                          mark.line + 1 if mark else None) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
        raise YamlRefused("not valid YAML: a character YAML does not allow (control or binary data)", line) from None
    except yaml.YAMLError as exc:
        raise YamlRefused(f"not valid YAML: {type(exc).__name__}") from None
    except RecursionError:
        raise YamlRefused("nested too deeply") from None
