"""``custody inventory scan``: read checkouts, find every publish step. Local and read-only: files are read,
nothing in them is run, and no symlink is followed out of the repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from custody.errors import ValidationError
from custody.inventory import files, github, gitlab, literals, projects
from custody.inventory.ci import Repo
from custody.inventory.model import RepoInfo, ScanResult, ScanWarning, Severity, WarningKind
from custody.inventory.yamlsafe import YamlRefused, load

REPO_MARKERS = (".git", ".github", ".gitlab-ci.yml", *projects.METADATA_FILES)
METADATA_DEPTH = 3
_REFUSAL_KIND = {"symlink": WarningKind.SYMLINK, "unreadable": WarningKind.UNREADABLE}


class _Reader:
    """Reads and parses a repository's files once each, turning every refusal into a warning on the file."""

    def __init__(self, root: Path, name: str) -> None:
        self.root, self.name = root, name
        self.repo = Repo(name, [], self.load, self.glob)
        self.read: list[str] = []
        self._docs: dict[str, Any] = {}

    def text(self, rel: str, asked_by: str, line: int) -> str | None:
        try:
            text = files.read_text(self.root, self.root / rel)
        except files.Refusal as r:
            kind = _REFUSAL_KIND.get(r.kind, WarningKind.REFUSED)
            missing = r.kind == "unreadable" and not (self.root / rel).exists()
            where, at = (asked_by, line or None) if missing or asked_by != rel else (rel, None)
            message = f"{rel}: {'not found' if missing else r.message}"
            self.repo.problem(where, at, WarningKind.UNRESOLVED if missing else kind, message,
                              Severity.LOW if kind == WarningKind.SYMLINK else Severity.MEDIUM)
            return None
        self.read.append(rel)
        for at in literals.token_lines(text):
            self.repo.problem(rel, at, WarningKind.LITERAL_CREDENTIAL, "literal credential (value not shown): a "
                              "PyPI API token is written in this file; revoke it on PyPI now", Severity.CRITICAL)
        return text

    def load(self, rel: str, asked_by: str, line: int) -> Any:
        if rel in self._docs:
            return self._docs[rel]
        self._docs[rel] = None
        text = self.text(rel, asked_by, line)
        if text is None:
            return None
        try:
            doc = load(text, rel)
        except YamlRefused as exc:
            self.repo.problem(rel, exc.line, WarningKind.UNPARSABLE, f"{exc.message}; the file was skipped")
            return None
        for file, at, name in literals.credential_entries(doc):
            self.repo.problem(file, at, WarningKind.LITERAL_CREDENTIAL,
                              f"literal credential (value not shown) in {name}: revoke it on PyPI now, then move it "
                              "to a secret or to Trusted Publishing", Severity.CRITICAL)
        self._docs[rel] = doc
        return doc

    def glob(self, pattern: str) -> list[str]:
        found = [files.relative(self.root, p) for p in sorted(self.root.glob(pattern)) if p.is_file()]
        return [f for f in found if files.inside(self.root, self.root / f)][:files.MAX_GLOB]


def _projects(reader: _Reader) -> list[projects.Located]:
    out: list[projects.Located] = []
    for path in files.walk(reader.root, reader.root, METADATA_DEPTH):
        if path.name not in projects.READERS and path.name != ".pypirc":
            continue
        rel = files.relative(reader.root, path)
        text = reader.text(rel, rel, 0)
        if text is None:
            continue
        if path.name == ".pypirc":
            for at in literals.pypirc_lines(text):
                reader.repo.problem(rel, at, WarningKind.LITERAL_CREDENTIAL, "literal credential (value not shown): "
                                    "a password in a committed .pypirc; revoke it on PyPI now", Severity.CRITICAL)
            continue
        try:
            name = projects.READERS[path.name](text)
        except projects.MetadataError as exc:
            reader.repo.problem(rel, exc.line, WarningKind.UNPARSABLE, f"{exc.message}; no project name read from it")
            continue
        if name:
            directory = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
            out.append(projects.Located(directory, name))
    return out


def _workflows(root: Path) -> list[str]:
    folder = root / ".github" / "workflows"
    if not folder.is_dir():
        return []
    found = [p for p in sorted(folder.iterdir()) if p.suffix in (".yml", ".yaml")]
    return [files.relative(root, p) for p in found]


def scan_repo(path: Path, name: str) -> tuple[Repo, RepoInfo]:
    root = path.resolve()
    reader = _Reader(root, name)
    reader.repo.projects = _projects(reader)
    workflows = _workflows(root)
    if workflows and not files.inside(root, root / ".github" / "workflows"):
        reader.repo.problem(".github/workflows", None, WarningKind.SYMLINK,
                            ".github/workflows is a symlink to outside the repository: not followed", Severity.LOW)
        workflows = []
    github.scan(reader.repo, workflows)
    gitlab_ci = root / gitlab.ROOT_FILE
    gitlab.scan(reader.repo, gitlab_ci.exists() or gitlab_ci.is_symlink())
    names = sorted({p.name for p in reader.repo.projects})
    return reader.repo, RepoInfo(name, str(path), tuple(names), tuple(dict.fromkeys(reader.read)))


def is_repo(path: Path) -> bool:
    return any((path / marker).exists() or (path / marker).is_symlink() for marker in REPO_MARKERS)


def repositories(path: Path) -> list[tuple[Path, str]]:
    """``path`` itself when it is a checkout, else the checkouts directly inside it (never through a symlink)."""
    if not path.is_dir():
        raise ValidationError(f"not a directory: {path}", hint="give the path of a repository checkout, or of a "
                              "folder of checkouts")
    if is_repo(path):
        return [(path, path.resolve().name)]
    subdirs = [p for p in sorted(path.iterdir()) if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]
    return [(p, p.name) for p in subdirs if is_repo(p)]


def scan(paths: list[Path]) -> ScanResult:
    """Scan every repository in ``paths``; problems with files are warnings, never errors."""
    result = ScanResult()
    seen: dict[str, int] = {}
    for given in paths:
        found = repositories(given)
        if not found:
            result.warnings.append(ScanWarning(given.name, ".", None, WarningKind.UNRESOLVED, Severity.LOW,
                                               f"no repository found in {given}"))
        for path, name in found:
            seen[name] = seen.get(name, 0) + 1
            unique = name if seen[name] == 1 else f"{name}~{seen[name]}"
            repo, info = scan_repo(path, unique)
            result.findings.extend(repo.findings)
            result.warnings.extend(repo.warnings)
            result.repos.append(info)
    return result
