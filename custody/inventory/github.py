"""GitHub Actions workflows: every publish step, with the identity and secrets it really gets.

- ``pypa/gh-action-pypi-publish`` steps (inputs ``password``, ``user``, ``repository-url``/``repository_url``,
  ``packages-dir``, ``attestations``) and publish commands in ``run:`` scripts;
- ``permissions:`` at workflow or job level (a job's own block replaces the workflow's): ``id-token: write`` or
  ``write-all`` gives the OIDC identity Trusted Publishing needs;
- matrix jobs: each combination's ``${{ matrix.x }}`` substituted (``include``/``exclude`` as GitHub applies them);
- local reusable workflows (``jobs.<id>.uses: ./.github/workflows/x.yml``) are read where they are called, with the
  secrets the caller passes (``secrets: {name: ${{ secrets.X }}}`` or ``secrets: inherit``), its ``with:`` inputs,
  and an identity no wider than the caller's. A reusable workflow nobody here calls is read on its own.
  Remote ones (``owner/repo/...@ref``) cannot be read: a warning says what they are passed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace

from custody.inventory import projects
from custody.inventory.ci import Repo, ScriptState, env_of, items, mapping, run_script
from custody.inventory.model import Severity, WarningKind
from custody.inventory.publish import Site, decide
from custody.inventory.refs import Located, Ref, Scope, classify, plain, substitute_matrix
from custody.inventory.tools import PublishCall, index_of
from custody.inventory.yamlsafe import LineList, LineMap

ACTION = "pypa/gh-action-pypi-publish"
MAX_COMBINATIONS = 256
MAX_NESTING = 4  # GitHub's own limit on nested reusable workflows was 4 for years


@dataclass(frozen=True)
class Call:
    """How a reusable workflow was called: the caller's place, what it passes, what identity it allows."""

    file: str
    line: int
    job: str
    secrets: dict[str, Ref] | None  # None: the callee's own names (``inherit``, or no caller)
    inputs: dict[str, object]
    id_token: bool | None  # None: no caller (a top-level workflow's default permissions)
    chain: tuple[str, ...]


def id_token(permissions: object, inherited: bool | None) -> bool:
    """Whether a job gets the OIDC identity: its (or its workflow's) ``permissions`` grant ``id-token: write``,
    and, in a called workflow, the caller granted it too. No ``permissions`` at all: the default, which does not
    include it (or, in a called workflow, whatever the caller had)."""
    if permissions is None:
        return bool(inherited)
    if isinstance(permissions, str):
        granted = permissions.strip() == "write-all"
    else:
        granted = str(mapping(permissions).get("id-token", "")).strip() == "write"
    return granted and inherited is not False


def _values(axis: object) -> list[str] | None:
    if isinstance(axis, list):
        return [v if isinstance(v, str) else str(v) for v in axis]
    return None


def combinations(matrix: object) -> list[dict[str, str]] | None:
    """The matrix's combinations (each a name -> value map); None when the matrix is an expression."""
    if isinstance(matrix, str):
        return None
    m = mapping(matrix)
    axes = {k: _values(v) for k, v in m.items() if k not in ("include", "exclude")}
    if any(v is None for v in axes.values()):
        return None
    names = list(axes)
    combos = [dict(zip(names, vals, strict=True)) for vals in itertools.product(*(axes[n] or [] for n in names))]
    for ex in (mapping(e) for e in (m.get("exclude") or []) if isinstance(e, LineMap)):
        combos = [c for c in combos if not all(c.get(k) == str(v) for k, v in ex.items())]
    for inc in (mapping(e) for e in (m.get("include") or []) if isinstance(e, LineMap)):
        extra = {k: str(v) for k, v in inc.items()}
        matched = False
        for c in combos:
            if all(c.get(k, v) == v for k, v in extra.items() if k in axes):
                c.update({k: v for k, v in extra.items() if k not in axes})
                matched = True
        if not matched:
            combos.append(extra)
    return combos[:MAX_COMBINATIONS + 1] or [{}]


def _sub(value: object, combo: dict[str, str]) -> object:
    return substitute_matrix(value, combo) if isinstance(value, str) and combo else value


def _located(value: object, combo: dict[str, str]) -> object:
    return replace(value, value=_sub(value.value, combo)) if isinstance(value, Located) else value


def _workdir(step: LineMap, job: LineMap, workflow: LineMap) -> str:
    for holder in (step, mapping(mapping(job.get("defaults")).get("run")),
                   mapping(mapping(workflow.get("defaults")).get("run"))):
        wd = holder.get("working-directory")
        if isinstance(wd, str):
            return wd
    return ""


def _action_call(step: LineMap, scope: Scope) -> PublishCall:
    with_ = mapping(step.get("with"))
    password = with_.get("password")
    raw_url = with_.get("repository-url", with_.get("repository_url"))
    url = plain(raw_url, scope)
    index, shown = index_of(url) if url else ("pypi", None)
    packages = with_.get("packages-dir", with_.get("packages_dir"))
    credential = classify(password, scope)
    if credential.kind == "literal":
        credential = Ref("literal", None, with_.source, with_.line_of("password"))
    return PublishCall("gh-action-pypi-publish", credential, "with: password" if password else "none", index, shown,
                       None, (packages if isinstance(packages, str) else "dist/",), "")


def _steps(repo: Repo, file: str, job_id: str, job: LineMap, workflow: LineMap, site: Site, scope: Scope,
           combo: dict[str, str]) -> None:
    state = ScriptState()
    for step, _ in items(job.get("steps")):
        if not isinstance(step, LineMap):
            continue
        env = {k: _located(v, combo) for k, v in {**scope.env, **env_of(step.get("env"))}.items()}
        here = Scope(env, scope.secrets, scope.inputs, "github")
        uses = step.get("uses")
        if isinstance(uses, str) and uses.strip().lower().startswith(ACTION):
            subbed = _substituted(step, combo)
            call = _action_call(subbed, here)
            at = site.at(step.line, call.index)
            repo.add(decide(call, at, projects.project_for(call.paths, "", repo.projects), repo.warn))
        run = step.get("run")
        if isinstance(run, str):
            state.cwd = _workdir(step, job, workflow)
            run_script(repo, _sub(run, combo), step.marks.get("run"), step.line_of("run"),  # type: ignore[arg-type]
                       site, here, state)


def _substituted(step: LineMap, combo: dict[str, str]) -> LineMap:
    if not combo:
        return step
    with_ = mapping(step.get("with"))
    out = LineMap()
    out.source, out.line = with_.source, with_.line
    for k, v in with_.items():
        out[k] = _sub(v, combo)
        out.key_lines[k] = with_.line_of(k)
    copy = LineMap()
    copy.update(step)
    copy["with"] = out
    copy.source, copy.line, copy.key_lines, copy.marks = step.source, step.line, step.key_lines, step.marks
    return copy


def _job(repo: Repo, file: str, job_id: str, job: LineMap, workflow: LineMap, call: Call) -> None:
    perms = job.get("permissions") if "permissions" in job else workflow.get("permissions")
    granted = id_token(perms, call.id_token)
    env = {**env_of(workflow.get("env")), **env_of(job.get("env"))}
    combos = combinations(mapping(job.get("strategy")).get("matrix")) if "strategy" in job else [{}]
    if combos is None or len(combos) > MAX_COMBINATIONS:
        repo.problem(file, mapping(job.get("strategy")).line_of("matrix"), WarningKind.MATRIX,
                     "the matrix is built by an expression or is too large: steps read without its values",
                     Severity.LOW)
        combos = [{}]
    via = f"{call.file}:{call.line} (job {call.job})" if call.chain else None
    name = f"{call.job}/{job_id}" if call.chain else job_id
    site = Site(repo.name, file, job.line, name, "github", granted, via)
    scope = Scope(env, call.secrets, call.inputs, "github")
    for combo in combos:
        _steps(repo, file, job_id, job, workflow, site, scope, combo)


def _passed_secrets(job: LineMap, call: Call) -> dict[str, Ref] | None:
    given = job.get("secrets")
    if isinstance(given, str) and given.strip() == "inherit":
        return call.secrets
    caller_scope = Scope({}, call.secrets, call.inputs, "github")
    return {k: classify(v, caller_scope) for k, v in mapping(given).items()}


def _reusable(repo: Repo, file: str, job_id: str, job: LineMap, workflow: LineMap, call: Call) -> None:
    uses = str(job.get("uses")).strip()
    line = job.line_of("uses")
    if not uses.startswith("./"):
        passed = ", ".join(sorted(mapping(job.get("secrets")))) or str(job.get("secrets") or "none")
        repo.problem(file, line, WarningKind.REMOTE_WORKFLOW,
                     f"job {job_id} calls the remote reusable workflow {uses[:200]} (secrets passed: {passed}); it "
                     "cannot be read from here: scan its repository too", Severity.MEDIUM)
        return
    target = uses[2:].split("@", 1)[0]
    if target in call.chain or len(call.chain) >= MAX_NESTING:
        repo.problem(file, line, WarningKind.UNRESOLVED, f"reusable workflow {target} calls itself or nests deeper "
                     f"than {MAX_NESTING} levels: not followed further")
        return
    callee = repo.load(target, file, line)
    if not isinstance(callee, LineMap):
        return
    perms = job.get("permissions") if "permissions" in job else workflow.get("permissions")
    caller_scope = Scope({}, call.secrets, call.inputs, "github")
    inputs: dict[str, object] = {k: plain(v, caller_scope) for k, v in mapping(job.get("with")).items()}
    inner = Call(file, line, job_id, _passed_secrets(job, call), inputs, id_token(perms, call.id_token),
                 (*call.chain, file))
    workflow_jobs(repo, target, callee, inner)


def workflow_jobs(repo: Repo, file: str, workflow: LineMap, call: Call) -> None:
    jobs = workflow.get("jobs")
    if not isinstance(jobs, LineMap):
        repo.problem(file, workflow.line or None, WarningKind.UNPARSABLE, "no `jobs:` mapping: not a workflow",
                     Severity.LOW)
        return
    for job_id, job in jobs.items():
        if not isinstance(job, LineMap):
            continue
        if isinstance(job.get("uses"), str):
            _reusable(repo, file, job_id, job, workflow, call)
        else:
            _job(repo, file, job_id, job, workflow, call)


def called_locally(workflows: Iterable[tuple[str, object]]) -> set[str]:
    """Workflow files that some workflow of the same repository calls with ``uses: ./...``."""
    out: set[str] = set()
    for _, doc in workflows:
        for job in mapping(mapping(doc).get("jobs")).values():
            uses = mapping(job).get("uses")
            if isinstance(uses, str) and uses.strip().startswith("./"):
                out.add(uses.strip()[2:].split("@", 1)[0])
    return out


def triggers(doc: LineMap) -> set[str]:
    on = doc.get("on")
    if isinstance(on, str):
        return {on}
    return {str(t) for t in on} if isinstance(on, LineMap | LineList) else set()


def scan(repo: Repo, files: list[str]) -> None:
    """Every workflow in ``files`` (paths relative to the repository), reusable ones through their callers."""
    docs = [(f, repo.load(f, f, 0)) for f in files]
    called = called_locally(docs)
    top = Call("", 0, "", None, {}, None, ())
    for file, doc in docs:
        if not isinstance(doc, LineMap):
            if doc is not None:
                repo.problem(file, 1, WarningKind.UNPARSABLE, "not a workflow (the document is not a mapping)",
                             Severity.LOW)
            continue
        events = triggers(doc)
        if file in called and events <= {"workflow_call"}:
            continue  # read where it is called, with what it is passed
        if events == {"workflow_call"}:
            repo.problem(file, doc.line_of("on"), WarningKind.UNCALLED_REUSABLE,
                         "a reusable workflow no workflow here calls: read on its own, secrets named as it declares "
                         "them", Severity.LOW)
        workflow_jobs(repo, file, doc, top)
