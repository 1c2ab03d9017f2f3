"""Hostile and broken input: every problem is a warning naming the file (and line), the rest of the scan goes on,
nothing in a scanned repository is ever run, no symlink out of it is followed, and literal credentials are placed
but never shown."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from custody.inventory import render
from custody.inventory.reporting import build_report
from custody.inventory.scanning import scan

GOOD = """on: push
permissions:
  id-token: write
jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - uses: pypa/gh-action-pypi-publish@release/v1
"""
# Built from pieces so that no token-shaped string is ever committed.
TOKEN = "pypi-" + "AgEIcHlwaS5vcmc" + "CJDk0ZjNmYzE4LTRhYjgtNDBhNi1iZDQ3LTg1MmM0YTUwMmUwMQ" + "x7Qq"
PASSWORD = "hunter2-correct-horse"


def repo(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    root = tmp_path / "repo"
    (root / ".github" / "workflows").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "acme-bad"\n')
    (root / ".github" / "workflows" / "good.yml").write_text(GOOD)
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body)
    return root


def warned(root: Path) -> list[tuple[str, int | None, str]]:
    return [(w.file, w.line, w.kind.value) for w in scan([root]).warnings]


def assert_rest_goes_on(root: Path) -> None:
    result = scan([root])
    assert [(f.file, f.method, f.project) for f in result.findings] == [
        (".github/workflows/good.yml", "trusted-publishing", "acme-bad")]


def test_malformed_yaml_is_a_warning_with_its_line(tmp_path: Path) -> None:
    root = repo(tmp_path, {".github/workflows/broken.yml": "on: push\njobs:\n  a: [\n    b: c\n"})
    assert warned(root) == [(".github/workflows/broken.yml", 5, "unparsable")]
    assert_rest_goes_on(root)


def test_billion_laughs_is_refused_quickly_and_small(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(9)]
    root = repo(tmp_path, {".github/workflows/bomb.yml": "\n".join(lines) + "\n"})
    tracemalloc.start()
    started = time.monotonic()
    found = warned(root)
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (".github/workflows/bomb.yml", 6, "unparsable") in found
    assert elapsed < 2.0
    assert peak < 20_000_000
    message = next(w.message for w in scan([root]).warnings if w.file.endswith("bomb.yml"))
    assert "expands to more than 200000 nodes" in message
    assert_rest_goes_on(root)


def test_recursive_alias_and_deep_nesting_are_refused(tmp_path: Path) -> None:
    root = repo(tmp_path, {".github/workflows/self.yml": "a: &x [*x]\n",
                           ".github/workflows/deep.yml": "a: " + "[" * 200 + "]" * 200 + "\n"})
    assert sorted(warned(root)) == [(".github/workflows/deep.yml", 1, "unparsable"),
                                    (".github/workflows/self.yml", 1, "unparsable")]
    assert_rest_goes_on(root)


def test_huge_and_binary_files_are_not_read(tmp_path: Path) -> None:
    root = repo(tmp_path, {".github/workflows/huge.yml": "# " + "x" * 1_100_000 + "\n",
                           ".github/workflows/binary.yml": b"\x7fELF\x00\x01\x02 on: push",
                           ".github/workflows/latin1.yml": "name: caf\xe9\n".encode("latin-1")})
    assert sorted(warned(root)) == [(".github/workflows/binary.yml", None, "refused"),
                                    (".github/workflows/huge.yml", None, "refused"),
                                    (".github/workflows/latin1.yml", None, "refused")]
    assert_rest_goes_on(root)


def test_symlinks_out_of_the_tree_are_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.yml").write_text(f"env:\n  TWINE_PASSWORD: {TOKEN}\n" + GOOD.replace("on: push", ""))
    (outside / "pyproject.toml").write_text('[project]\nname = "not-ours"\n')
    root = repo(tmp_path, {})
    (root / ".github" / "workflows" / "evil.yml").symlink_to(outside / "evil.yml")
    (root / "sub").mkdir()
    (root / "sub" / "pyproject.toml").symlink_to(outside / "pyproject.toml")
    (root / ".gitlab-ci.yml").symlink_to(outside / "evil.yml")
    result = scan([root])
    assert sorted((w.file, w.kind.value) for w in result.warnings) == [
        (".github/workflows/evil.yml", "symlink outside the tree"), (".gitlab-ci.yml", "symlink outside the tree"),
        ("sub/pyproject.toml", "symlink outside the tree")]
    assert result.repos[0].projects == ("acme-bad",)
    assert TOKEN not in render.as_json(result.as_dict())
    assert_rest_goes_on(root)


def test_a_workflows_folder_that_is_a_symlink_out_is_not_entered(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.yml").write_text(GOOD)
    root = tmp_path / "r"
    (root / ".github").mkdir(parents=True)
    (root / ".github" / "workflows").symlink_to(outside, target_is_directory=True)
    result = scan([root])
    assert result.findings == []
    assert [(w.file, w.kind.value) for w in result.warnings] == [(".github/workflows", "symlink outside the tree")]


def test_metadata_that_does_not_parse_names_file_and_line(tmp_path: Path) -> None:
    root = repo(tmp_path, {"pkg/pyproject.toml": '[project]\nname = "x"\nversion = \n',
                           "old/setup.py": "from setuptools import setup\nsetup(name=\n",
                           "cfg/setup.cfg": "[metadata\nname = y\n"})
    assert sorted(warned(root)) == [("cfg/setup.cfg", 1, "unparsable"), ("old/setup.py", None, "unparsable"),
                                    ("pkg/pyproject.toml", 3, "unparsable")]
    assert_rest_goes_on(root)


def test_nothing_in_a_scanned_repository_is_ever_run(tmp_path: Path) -> None:
    canary = tmp_path / "ran"
    root = repo(tmp_path, {
        "setup.py": f"import pathlib\npathlib.Path({str(canary)!r}).touch()\nfrom setuptools import setup\n"
                    "setup(name='acme-bad')\n",
        ".github/workflows/sneaky.yml": f"on: push\njobs:\n  j:\n    steps:\n      - run: touch {canary} && "
                                        f"twine upload -p $(touch {canary}) dist/*\n",
        ".gitlab-ci.yml": f"job:\n  script:\n    - touch {canary}; python -m twine upload `touch {canary}`\n"})
    result = scan([root])
    assert not canary.exists()
    assert {(f.file, f.method) for f in result.findings} >= {(".github/workflows/sneaky.yml", "unknown"),
                                                             (".gitlab-ci.yml", "unknown")}


def test_unclosed_quote_in_a_script_is_a_warning_and_the_rest_is_read(tmp_path: Path) -> None:
    wf = "on: push\njobs:\n  j:\n    steps:\n      - run: |\n          echo \"oops\n          twine upload dist/*\n"
    root = repo(tmp_path, {".github/workflows/q.yml": wf})
    assert (".github/workflows/q.yml", 6, "unparsable") in warned(root)


def literal_repo(tmp_path: Path) -> Path:
    return repo(tmp_path, {
        ".github/workflows/leak.yml": (
            "on: push\n"                                            # 1
            "jobs:\n"                                               # 2
            "  upload:\n"                                           # 3
            "    env:\n"                                            # 4
            f"      TWINE_PASSWORD: {TOKEN}\n"                      # 5
            "    steps:\n"                                          # 6
            "      - run: twine upload dist/*\n"                    # 7
            f"      - run: uv publish --password {PASSWORD}\n"      # 8
            "      - uses: pypa/gh-action-pypi-publish@v1\n"        # 9
            "        with:\n"                                       # 10
            f"          password: {PASSWORD}\n"),                   # 11
        ".gitlab-ci.yml": f"variables:\n  UV_PUBLISH_TOKEN: {PASSWORD}\njob:\n  script:\n    - uv publish\n",
        ".pypirc": f"[pypi]\nusername = __token__\npassword = {PASSWORD}\n"})


def test_literal_credentials_are_placed_at_top_severity(tmp_path: Path) -> None:
    result = scan([literal_repo(tmp_path)])
    literal = sorted((w.file, w.line, w.severity.value) for w in result.warnings
                     if w.kind.value == "literal credential")
    assert literal == [(".github/workflows/leak.yml", 5, "critical"), (".github/workflows/leak.yml", 8, "critical"),
                       (".github/workflows/leak.yml", 11, "critical"), (".gitlab-ci.yml", 2, "critical"),
                       (".pypirc", 3, "critical")]
    steps = [(f.file, f.line, f.method, f.secret, f.literal) for f in result.findings
             if f.file != ".github/workflows/good.yml"]
    assert steps == [(".github/workflows/leak.yml", 7, "token", None, True),
                     (".github/workflows/leak.yml", 8, "token", None, True),
                     (".github/workflows/leak.yml", 9, "token", None, True),
                     (".gitlab-ci.yml", 5, "token", None, True)]


def test_a_literal_value_appears_in_no_output_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUSTODY_ADDR", raising=False)
    root = literal_repo(tmp_path)
    data = scan([root]).as_dict()
    outputs = [render.as_json(data), render.scan_markdown(data), render.scan_csv(data)]
    report = build_report([], [root], [], False, [])
    outputs += [render.as_json(report), render.report_markdown(report), render.report_csv(report),
                render.report_html(report)]
    assert any("literal credential" in o for o in outputs)
    for secret in (TOKEN, PASSWORD, TOKEN[5:], PASSWORD[:8], TOKEN[-12:]):
        assert all(secret not in o for o in outputs), secret
