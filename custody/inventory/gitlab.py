"""GitLab CI: ``.gitlab-ci.yml`` and its local ``include:``s, merged as GitLab merges them (included files first,
the including file wins, mappings merged deeply), hidden ``.templates`` applied through ``extends:``, ``default:``
and top-level ``before_script``, ``!reference`` tags resolved, ``variables:`` followed into the scripts.

A job has the OIDC identity for an index when one of its ``id_tokens`` has that ``aud`` (``pypi`` or
``testpypi``); then a plain ``twine upload`` (twine 6.1+) or ``uv publish`` uses Trusted Publishing.
Remote, project, template and component includes cannot be read here: each is a warning.
"""

from __future__ import annotations

from collections.abc import Iterator

from custody.inventory.ci import Repo, ScriptState, env_of, items, mapping, run_script
from custody.inventory.model import Severity, WarningKind
from custody.inventory.publish import Site
from custody.inventory.refs import Scope
from custody.inventory.yamlsafe import LineList, LineMap, Mark, Reference

ROOT_FILE = ".gitlab-ci.yml"
KEYWORDS = frozenset({"default", "include", "stages", "variables", "workflow", "image", "services", "cache",
                      "before_script", "after_script", "spec"})
MAX_INCLUDES = 150  # GitLab's own limit per pipeline
MAX_EXTENDS = 11
MAX_REFERENCE_DEPTH = 10


def merge(base: object, over: object) -> object:
    """GitLab's deep merge: mappings key by key (``over`` wins), anything else replaced."""
    if not (isinstance(base, LineMap) and isinstance(over, LineMap)):
        return over
    out = LineMap()
    out.source, out.line = over.source, over.line
    for src in (base, over):
        for key, value in src.items():
            out[key] = merge(out[key], value) if key in out else value
            out.key_lines[key] = src.line_of(key)
            if key in src.marks:
                out.marks[key] = src.marks[key]
    return out


def _include_entries(value: object) -> Iterator[tuple[object, int | None]]:
    if isinstance(value, LineList):
        yield from ((v, m.line) for v, m in zip(value, value.marks, strict=True))
    elif value is not None:
        yield value, None


def _includes(repo: Repo, file: str, doc: LineMap, budget: list[int], chain: tuple[str, ...]) -> list[LineMap]:
    """The documents ``doc`` includes, depth first, in order (each before the file that includes it)."""
    out: list[LineMap] = []
    for entry, line in _include_entries(doc.get("include")):
        line = line or doc.line_of("include")
        local = entry if isinstance(entry, str) else mapping(entry).get("local")
        if not isinstance(local, str) or local.startswith(("http://", "https://")):
            kind = next((k for k in ("remote", "project", "template", "component") if k in mapping(entry)), "remote")
            repo.problem(file, line, WarningKind.REMOTE_INCLUDE,
                         f"a {kind} include cannot be read from here: jobs it defines are not in this scan",
                         Severity.MEDIUM)
            continue
        for target in repo.glob(local.lstrip("/")) if "*" in local else [local.lstrip("/")]:
            budget[0] -= 1
            if target in chain or budget[0] < 0:
                repo.problem(file, line, WarningKind.UNRESOLVED,
                             f"include {target} loops or passes {MAX_INCLUDES} includes: not read again")
                continue
            included = repo.load(target, file, line)
            if isinstance(included, LineMap):
                out.extend(_includes(repo, target, included, budget, (*chain, target)))
                out.append(included)
    return out


def configuration(repo: Repo) -> LineMap | None:
    root = repo.load(ROOT_FILE, ROOT_FILE, 0)
    if not isinstance(root, LineMap):
        return None
    merged: object = LineMap()
    for doc in [*_includes(repo, ROOT_FILE, root, [MAX_INCLUDES], (ROOT_FILE,)), root]:
        merged = merge(merged, doc)
    return merged if isinstance(merged, LineMap) else None


def _extended(repo: Repo, config: LineMap, name: str, depth: int = 0) -> LineMap:
    job = mapping(config.get(name))
    parents = job.get("extends")
    names = [parents] if isinstance(parents, str) else [p for p in items(parents) if isinstance(p[0], str)]
    resolved: object = LineMap()
    for parent in names:
        parent_name = parent if isinstance(parent, str) else str(parent[0])
        if depth >= MAX_EXTENDS or parent_name not in config:
            repo.problem(job.source, job.line_of("extends"), WarningKind.UNRESOLVED,
                         f"job {name} extends {parent_name}, which is not defined here or nests too deeply")
            continue
        resolved = merge(resolved, _extended(repo, config, parent_name, depth + 1))
    return mapping(merge(resolved, job))


def _lines(config: LineMap, value: object, mark: Mark | None, depth: int = 0) -> Iterator[tuple[str, Mark | None,
                                                                                                  str]]:
    """(script text, its mark, the file it is in) for a script value: strings, nested lists, ``!reference``s."""
    if isinstance(value, str):
        yield value, mark, ""
    elif isinstance(value, Reference) and depth < MAX_REFERENCE_DEPTH:
        target: object = config
        for key in value.path:
            target = mapping(target).get(key)
        yield from _lines(config, target, None, depth + 1)
    elif isinstance(value, LineList) and depth < MAX_REFERENCE_DEPTH:
        for item, item_mark in zip(value, value.marks, strict=True):
            for text, m, src in _lines(config, item, item_mark, depth + 1):
                yield text, m, src or value.source


def _audiences(tokens: object) -> frozenset[str]:
    out: set[str] = set()
    for token in mapping(tokens).values():
        aud = mapping(token).get("aud")
        out.update([aud] if isinstance(aud, str) else [a for a, _ in items(aud) if isinstance(a, str)])
    return frozenset(a.strip() for a in out)


def _job(repo: Repo, config: LineMap, name: str) -> None:
    job = _extended(repo, config, name)
    default = mapping(config.get("default"))
    env = {**env_of(config.get("variables")), **env_of(job.get("variables"))}
    tokens = job.get("id_tokens", default.get("id_tokens"))
    audiences = _audiences(tokens)
    scope = Scope(env, None, {}, "gitlab")
    state = ScriptState()
    before = job.get("before_script", default.get("before_script", config.get("before_script")))
    for key, value in (("before_script", before), ("script", job.get("script"))):
        for text, mark, source in _lines(config, value, None):
            file = source or job.source
            site = Site(repo.name, file, job.line, name, "gitlab", False, None, audiences)
            run_script(repo, text, mark, job.line_of(key), site, scope, state)


def scan(repo: Repo, present: bool) -> None:
    """Every job of the repository's GitLab CI configuration, when it has one (``present``)."""
    config = configuration(repo) if present else None
    if config is None:
        return
    for name, job in config.items():
        if name in KEYWORDS or name.startswith(".") or not isinstance(job, LineMap):
            continue
        _job(repo, config, name)
