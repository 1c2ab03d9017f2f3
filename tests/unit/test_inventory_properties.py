"""No input crashes the scanner or a renderer: random YAML-ish text, random bytes, random nested structures made
of the keys CI files use."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody.inventory import github, gitlab, render, shell
from custody.inventory.ci import Repo
from custody.inventory.importing import ImportResult
from custody.inventory.pypi import ownership, parse_text
from custody.inventory.report import Inputs, build
from custody.inventory.scanning import scan
from custody.inventory.yamlsafe import LineList, LineMap, Mark, YamlRefused, load

KEYS = ["on", "jobs", "steps", "run", "uses", "with", "env", "permissions", "id-token", "secrets", "inputs",
        "strategy", "matrix", "include", "exclude", "password", "repository-url", "packages-dir", "user",
        "working-directory", "defaults", "script", "before_script", "variables", "id_tokens", "aud", "extends",
        "local", "TWINE_PASSWORD", "UV_PUBLISH_TOKEN", "value", "workflow_call", "x"]
WORDS = st.sampled_from(["twine", "upload", "uv", "publish", "uvx", "python", "-m", "poetry", "hatch", "pdm", "flit",
                         "maturin", "-p", "--token", "--password", "--repository-url", "-r", "testpypi", "&&", "|",
                         ";", "\\\n", "'", '"', "$X", "${{ secrets.T }}", "${{ matrix.a }}", "$(", ")", "`", "<<EOF",
                         "EOF", "\n", "#", "cd", "..", "export", "A=$B", "./.github/workflows/w.yml", "write",
                         "write-all", "inherit", "pypi", "https://test.pypi.org/legacy/", "*", "dist/*", "!reference"])
SCRIPT = st.lists(WORDS, max_size=30).map(" ".join)
SCALARS = st.one_of(st.none(), SCRIPT, st.text(max_size=20), st.integers(), st.booleans())
TREES = st.recursive(SCALARS, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                     st.dictionaries(st.sampled_from(KEYS), kids, max_size=5)),
                     max_leaves=40)


def line_tree(value: Any) -> Any:
    if isinstance(value, dict):
        m = LineMap()
        for k, v in value.items():
            m[k] = line_tree(v)
        return m
    if isinstance(value, list):
        seq = LineList()
        seq.extend(line_tree(v) for v in value)
        seq.marks = [Mark(i + 1, False) for i in range(len(seq))]
        return seq
    return value


STEP = st.one_of(TREES, st.fixed_dictionaries({}, optional={
    "uses": st.one_of(st.just("pypa/gh-action-pypi-publish@release/v1"), st.just("./.github/workflows/w.yml"), TREES),
    "run": st.one_of(SCRIPT, TREES), "with": TREES, "env": TREES, "working-directory": TREES}))
JOB = st.fixed_dictionaries({"steps": st.lists(STEP, max_size=4)}, optional={
    "permissions": TREES, "env": TREES, "strategy": TREES, "secrets": TREES, "with": TREES,
    "uses": st.one_of(st.just("./.github/workflows/w.yml"), st.just("o/r/.github/workflows/x.yml@v1"), TREES)})
GL_JOB = st.fixed_dictionaries({"script": st.one_of(st.lists(st.one_of(SCRIPT, TREES), max_size=3), TREES)}, optional={
    "before_script": TREES, "extends": st.one_of(st.just(".t"), TREES), "id_tokens": TREES, "variables": TREES})
WORKFLOW = st.fixed_dictionaries(
    {"jobs": st.dictionaries(st.sampled_from(["a", "b"]), st.one_of(JOB, TREES), min_size=1, max_size=3)},
    optional={"on": TREES, "permissions": TREES, "env": TREES})
PIPELINE = st.dictionaries(st.sampled_from(["a", ".t", "default", "variables", "include"]),
                           st.one_of(GL_JOB, TREES), max_size=4)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text(max_size=400))
def test_yaml_loader_refuses_or_returns(text: str) -> None:
    try:
        load(text, "x.yml")
    except YamlRefused as exc:
        assert exc.message


@FAST
@given(SCRIPT)
def test_shell_reader_never_crashes(script: str) -> None:
    commands, problems = shell.commands(script)
    assert all(c.line >= 0 for c in commands)
    assert all(p.line >= 0 for p in problems)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(WORKFLOW, TREES), st.one_of(PIPELINE, TREES))
def test_readers_take_any_structure(workflow: Any, other: Any) -> None:
    docs = {".github/workflows/w.yml": line_tree(workflow), ".gitlab-ci.yml": line_tree(other)}
    repo = Repo("r", [], lambda rel, asked_by, line: docs.get(rel))
    github.scan(repo, [".github/workflows/w.yml"])
    gitlab.scan(repo, True)
    for f in repo.findings:
        assert f.method in ("trusted-publishing", "token", "unknown")
        assert f.index in ("pypi", "testpypi", "other")


def _render_all(root: Path) -> None:
    data = scan([root]).as_dict()
    for out in (render.as_json(data), render.scan_markdown(data), render.scan_csv(data)):
        assert isinstance(out, str)
    result = scan([root])
    r = build(Inputs(result.findings, result.warnings, [], None, repos=1))
    for out in (render.report_markdown(r | {"warnings": data["warnings"]}), render.report_csv(r),
                render.report_html(r | {"warnings": data["warnings"]})):
        assert "Traceback" not in out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(TREES.map(lambda t: yaml.safe_dump(t, allow_unicode=True)), st.text(max_size=300)),
       st.binary(max_size=300))
def test_scan_and_every_renderer_survive_any_file(text: str, raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".github" / "workflows").mkdir(parents=True)
        (root / ".github" / "workflows" / "a.yml").write_text(text, encoding="utf-8")
        (root / ".github" / "workflows" / "b.yml").write_bytes(raw)
        (root / ".gitlab-ci.yml").write_text(text, encoding="utf-8")
        (root / "pyproject.toml").write_bytes(raw)
        _render_all(root)


@FAST
@given(st.recursive(st.one_of(st.none(), st.text(max_size=10), st.integers(), st.booleans()),
                    lambda kids: st.one_of(st.lists(kids, max_size=4),
                                           st.dictionaries(st.sampled_from(["info", "name", "ownership", "roles",
                                                                            "role", "user", "organization",
                                                                            "projects", "owners"]), kids,
                                                           max_size=4)), max_leaves=30))
def test_pypi_documents_of_any_shape(doc: Any) -> None:
    parsed = ownership(doc, "doc.json")
    result = ImportResult(parsed.projects, parsed.warnings).as_dict()
    render.import_markdown(result)
    render.import_csv(result)
    parse_text(render.as_json(doc), "doc.json")
