"""The scan over the corpus in tests/fixtures/inventory/repos: every tool, method and index, each finding exact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from custody.inventory.scanning import scan

REPOS = Path(__file__).resolve().parents[1] / "fixtures" / "inventory" / "repos"
WF = ".github/workflows/"


def F(file: str, line: int, job: str, tool: str, method: str, index: str, secret: str | None, project: str | None,
      platform: str, credential: str, id_token: bool, *, literal: bool = False, index_url: str | None = None,
      via: str | None = None) -> dict[str, Any]:
    return {"file": file, "line": line, "job": job, "tool": tool, "method": method, "index": index, "secret": secret,
            "project": project, "platform": platform, "credential": credential, "id_token": id_token,
            "literal": literal, "index_url": index_url, "via": via}


def findings(repo: str) -> list[dict[str, Any]]:
    result = scan([REPOS / repo]).as_dict()
    assert [r["repo"] for r in result["repos"]] == [repo]
    out = []
    for f in result["findings"]:
        assert f.pop("repo") == repo
        out.append(f)
    return out


def warnings(repo: str) -> list[tuple[str, int | None, str, str]]:
    return [(w["file"], w["line"], w["kind"], w["severity"]) for w in scan([REPOS / repo]).as_dict()["warnings"]]


def test_gh_action_trusted_publishing_to_pypi_and_testpypi() -> None:
    assert findings("widgets") == [
        F(WF + "release.yml", 22, "publish", "gh-action-pypi-publish", "trusted-publishing", "pypi", None,
          "acme-widgets", "github", "id-token", True),
        F(WF + "release.yml", 32, "publish-test", "gh-action-pypi-publish", "trusted-publishing", "testpypi", None,
          "acme-widgets", "github", "id-token", True, index_url="https://test.pypi.org/legacy/"),
    ]
    assert warnings("widgets") == []


def test_gh_action_with_token_private_index_and_missing_id_token() -> None:
    assert findings("legacy") == [
        F(WF + "publish.yaml", 11, "pypi", "gh-action-pypi-publish", "token", "pypi", "PYPI_API_TOKEN", "acme-legacy",
          "github", "with: password", False),
        F(WF + "publish.yaml", 19, "mirror", "gh-action-pypi-publish", "token", "other", "ACME_INDEX_TOKEN",
          "acme-legacy", "github", "with: password", False, index_url="https://pkgs.acme.example/simple/"),
        F(WF + "publish.yaml", 27, "forgotten-oidc", "gh-action-pypi-publish", "unknown", "pypi", None, "acme-legacy",
          "github", "none", False),
    ]
    assert warnings("legacy") == [(WF + "publish.yaml", 27, "trusted publishing misconfigured", "high")]


def test_every_tool_in_run_scripts() -> None:
    f, p = WF + "publish.yml", "acme-tools"
    assert findings("tools") == [
        # multi-line `|` script: `&&` chain and `\` continuations, `python -m twine`; workflow/job env credential
        F(f, 15, "twine", "twine", "token", "pypi", "PYPI_TOKEN", p, "github", "env: TWINE_PASSWORD", False),
        # folded `>-` script, -r testpypi, -p flag with an expression
        F(f, 20, "twine", "twine", "token", "testpypi", "TEST_PYPI_TOKEN", p, "github", "flag: -p", False),
        # uvx, uv run --with, pipx run; $VAR, ${VAR} and ${{ env.VAR }} followed to the secret
        F(f, 28, "wrappers", "twine", "token", "pypi", "WRAPPED_TOKEN", p, "github", "flag: --password", False),
        F(f, 29, "wrappers", "twine", "token", "pypi", "WRAPPED_TOKEN", p, "github", "flag: -p", False),
        F(f, 30, "wrappers", "twine", "token", "pypi", "WRAPPED_TOKEN", p, "github", "env: TWINE_PASSWORD", False),
        # uv: --trusted-publishing always with id-token, --token, UV_PUBLISH_PASSWORD, UV_PUBLISH_TOKEN
        F(f, 39, "uv", "uv", "trusted-publishing", "pypi", None, p, "github", "id-token", True),
        F(f, 40, "uv", "uv", "token", "testpypi", "UV_TOKEN", p, "github", "flag: --token", True,
          index_url="https://test.pypi.org/legacy/"),
        F(f, 41, "uv", "uv", "token", "pypi", "UV_PASSWORD", p, "github", "env: UV_PUBLISH_PASSWORD", True),
        F(f, 45, "uv", "uv", "token", "pypi", "UV_PUBLISH", p, "github", "env: UV_PUBLISH_TOKEN", True),
        # poetry: `poetry config pypi-token.pypi`, POETRY_HTTP_BASIC_PYPI_PASSWORD, POETRY_PYPI_TOKEN_PYPI
        F(f, 54, "poetry-config", "poetry", "token", "pypi", "POETRY_TOKEN", p, "github", "env: POETRY_PYPI_TOKEN_PYPI",
          False),
        F(f, 59, "poetry", "poetry", "token", "pypi", "POETRY_BASIC", p, "github",
          "env: POETRY_HTTP_BASIC_PYPI_PASSWORD", False),
        F(f, 62, "poetry", "poetry", "token", "pypi", "POETRY_ENV_TOKEN", p, "github", "env: POETRY_PYPI_TOKEN_PYPI",
          False),
        # hatch: HATCH_INDEX_AUTH, -r test -a
        F(f, 72, "hatch", "hatch", "token", "pypi", "HATCH_TOKEN", p, "github", "env: HATCH_INDEX_AUTH", False),
        F(f, 73, "hatch", "hatch", "token", "testpypi", "HATCH_TEST_TOKEN", p, "github", "flag: -a", False),
        # pdm: Trusted Publishing with id-token, then --password from PDM_PUBLISH_PASSWORD
        F(f, 81, "pdm", "pdm", "trusted-publishing", "pypi", None, p, "github", "id-token", True),
        F(f, 82, "pdm", "pdm", "token", "testpypi", "PDM_TEST_TOKEN", p, "github", "flag: --password", True),
        F(f, 89, "flit", "flit", "token", "pypi", "FLIT_TOKEN", p, "github", "env: FLIT_PASSWORD", False),
        # maturin publish with MATURIN_PYPI_TOKEN; maturin upload to a private index, continuation lines
        F(f, 97, "maturin", "maturin", "token", "pypi", "MATURIN_TOKEN", p, "github", "env: MATURIN_PYPI_TOKEN", False),
        F(f, 101, "maturin", "maturin", "token", "other", "ACME_INDEX_PASSWORD", p, "github", "flag: -p", False,
          index_url="https://pkgs.acme.example/simple/"),
    ]
    assert warnings("tools") == []


def test_matrix_job_gives_one_finding_per_combination() -> None:
    f = WF + "release.yml"
    assert findings("matrix") == [
        F(f, 18, "publish", "gh-action-pypi-publish", "token", "pypi", "PYPI_TOKEN", "acme_matrix", "github",
          "with: password", False, index_url="https://upload.pypi.org/legacy/"),
        F(f, 18, "publish", "gh-action-pypi-publish", "token", "testpypi", "TEST_PYPI_TOKEN", "acme_matrix", "github",
          "with: password", False, index_url="https://test.pypi.org/legacy/"),
    ]


def test_reusable_workflows_follow_the_secrets_they_are_passed() -> None:
    assert findings("reusable") == [
        F(WF + "upload.yml", 15, "with-token/upload", "twine", "token", "testpypi", "TEST_PYPI_API_TOKEN",
          "acme-reusable", "github", "env: TWINE_PASSWORD", False, index_url="https://test.pypi.org/legacy/",
          via=WF + "release.yml:10 (job with-token)"),
        F(WF + "trusted.yml", 7, "trusted/pypi", "gh-action-pypi-publish", "trusted-publishing", "pypi", None,
          "acme-reusable", "github", "id-token", True, via=WF + "release.yml:19 (job trusted)"),
    ]
    assert warnings("reusable") == [
        (WF + "trusted.yml", 7, "trusted publishing from a reusable workflow", "medium"),
        (WF + "release.yml", 23, "remote reusable workflow", "medium"),
    ]
    remote = scan([REPOS / "reusable"]).warnings[1]
    assert "acme/shared-workflows/.github/workflows/pypi.yml@v2" in remote.message
    assert "secrets passed: PYPI_TOKEN" in remote.message


def test_gitlab_includes_extends_references_and_id_tokens() -> None:
    p = "acme-gitlab"
    assert findings("gitlab") == [
        # from the local include: id_tokens aud testpypi, `|` script with a continuation
        F("ci/publish.yml", 15, "release-uv", "uv", "trusted-publishing", "testpypi", None, p, "gitlab", "id-token",
          True, index_url="https://test.pypi.org/legacy/"),
        F("ci/publish.yml", 20, "release-uv-token", "uv", "token", "pypi", "UV_PYPI_TOKEN", p, "gitlab",
          "flag: --token", False),
        # id_tokens aud pypi, a plain twine upload; `cd python` from the extended template's before_script
        F(".gitlab-ci.yml", 20, "publish-pypi", "twine", "trusted-publishing", "pypi", None, p, "gitlab", "id-token",
          True),
        F(".gitlab-ci.yml", 27, "publish-testpypi", "twine", "token", "testpypi", "TEST_PYPI_TOKEN", p, "gitlab",
          "env: TWINE_PASSWORD", False),
        # a !reference into the included file: GitLab's package registry with the job token
        F("ci/publish.yml", 4, "publish-registry", "twine", "token", "other", "CI_JOB_TOKEN", p, "gitlab",
          "env: TWINE_PASSWORD", False, index_url="${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/pypi"),
    ]
    assert warnings("gitlab") == [(".gitlab-ci.yml", 3, "remote include", "medium")]


def test_a_folder_of_checkouts_is_every_checkout_in_it() -> None:
    result = scan([REPOS])
    assert [r.repo for r in result.repos] == ["gitlab", "legacy", "matrix", "reusable", "tools", "widgets"]
    assert len(result.findings) == 33
    assert {f.tool for f in result.findings} == {"gh-action-pypi-publish", "twine", "uv", "poetry", "hatch", "pdm",
                                                 "flit", "maturin"}
    assert {f.method for f in result.findings} == {"trusted-publishing", "token", "unknown"}
    assert {f.index for f in result.findings} == {"pypi", "testpypi", "other"}
    assert result.repos[0].projects == ("acme-gitlab",)
    assert result.repos[0].files == ("python/pyproject.toml", ".gitlab-ci.yml", "ci/publish.yml")


@pytest.mark.parametrize("repo", ["widgets", "legacy", "tools", "matrix", "reusable", "gitlab"])
def test_no_secret_value_only_names(repo: str) -> None:
    for f in scan([REPOS / repo]).findings:
        assert f.secret is None or f.secret.replace("_", "").replace("-", "").isalnum()
