"""Reading files of a scanned tree: only regular files inside the tree, never through a symlink that leaves it,
never a file too large or not UTF-8 text. Every refusal is a ``Refusal`` the scan turns into a warning."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_FILE_BYTES = 1_000_000
MAX_GLOB = 200  # files one wildcard include may bring in
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "venv", ".tox", ".nox", "__pycache__",
                       "build", "dist", ".mypy_cache", ".ruff_cache", ".pytest_cache"})


@dataclass(frozen=True)
class Refusal(Exception):
    kind: str  # "symlink", "too large", "binary", "unreadable", "not a file"
    message: str


def inside(root: Path, path: Path) -> bool:
    """Whether ``path``, with every symlink resolved, is ``root`` or under it (``root`` already resolved)."""
    try:
        return path.resolve(strict=False).is_relative_to(root)
    except (OSError, RuntimeError):  # a symlink loop
        return False


def read_text(root: Path, path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """The file's text; Refusal when it leaves ``root`` (a symlink), is not a regular file, is larger than
    ``limit`` bytes, or is not UTF-8 text (a NUL byte counts as binary)."""
    if not inside(root, path):
        raise Refusal("symlink", "a symlink to outside the repository: not followed")
    try:
        real = path.resolve(strict=True)
        if not real.is_file():
            raise Refusal("not a file", "not a regular file")
        with real.open("rb") as f:
            raw = f.read(limit + 1)
    except Refusal:
        raise
    except (OSError, RuntimeError) as exc:
        raise Refusal("unreadable", f"cannot read: {getattr(exc, 'strerror', None) or type(exc).__name__}") from None
    if len(raw) > limit:
        raise Refusal("too large", f"larger than {limit} bytes: not read")
    if b"\x00" in raw:
        raise Refusal("binary", "binary data, not text: not read")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise Refusal("binary", f"not UTF-8 text (line {line}): not read") from None


def walk(root: Path, start: Path, max_depth: int) -> Iterator[Path]:
    """Files under ``start`` to ``max_depth`` levels, skipping tool and VCS directories and never entering a
    directory through a symlink (files that are symlinks are yielded: ``read_text`` checks where they lead)."""
    for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
        depth = len(Path(dirpath).relative_to(start).parts)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and depth < max_depth)
        for name in sorted(filenames):
            yield Path(dirpath) / name


def relative(root: Path, path: Path) -> str:
    """``path`` relative to the repository root, with forward slashes."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
