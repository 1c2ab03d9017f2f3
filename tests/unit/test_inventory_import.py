"""PyPI ownership: saved documents of every shape, and --online against a local index (never the internet)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from custody.errors import StoreError, ValidationError
from custody.inventory.importing import import_ownership
from custody.inventory.pypi_client import PyPIIndex
from custody.inventory.settings import InventorySettings
from tests.helpers import local_http, run_cli

PYPI = Path(__file__).resolve().parents[1] / "fixtures" / "inventory" / "pypi"


def test_saved_documents_give_projects_and_accounts() -> None:
    data = import_ownership([PYPI], []).as_dict()
    assert [(p["project"], p["owners"], p["maintainers"], p["organization"], p["ownership_known"])
            for p in data["projects"]] == [
        ("acme-abandoned", ["carol", "erin"], [], None, True),
        ("acme-legacy", ["carol"], [], None, True),
        ("acme_matrix", ["acme-release-bot"], [], None, True),
        ("acme-old", None, None, None, False),
        ("acme-tools", ["alice-acme"], ["dave"], "acme", True),
        ("acme-widgets", ["alice-acme", "acme-release-bot"], ["bob-dev"], "acme", True),
    ]
    assert data["accounts"][1] == {"account": "pypi/alice-acme", "user": "alice-acme", "projects": [
        {"project": "acme-tools", "role": "Owner"}, {"project": "acme-widgets", "role": "Owner"}]}
    assert any("Organization's teams do not appear" in n for n in data["notes"])


def test_older_shape_and_unexpected_types_are_warnings_naming_the_file() -> None:
    warnings = [(Path(w["file"]).name, w["message"]) for w in import_ownership([PYPI], []).as_dict()["warnings"]]
    assert warnings == [
        ("acme-matrix.json", "ownership.roles[1] is not a {role: Owner|Maintainer, user: <username>} entry: skipped"),
        ("acme-matrix.json", "ownership.roles[2] is not a {role: Owner|Maintainer, user: <username>} entry: skipped"),
        ("acme-matrix.json", "ownership.roles[3] is not a {role: Owner|Maintainer, user: <username>} entry: skipped"),
        ("acme-matrix.json", "acme_matrix: ownership.organization is not a name: ignored"),
        ("acme-old.json", "acme-old: the document has no `ownership` (an older shape): its owners are unknown; "
                          "fetch it again with --online"),
    ]


def test_broken_files_are_warnings_and_the_rest_goes_on(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"info": {"name": "ok-one"}, "ownership": {"roles": [], "organization": null}}')
    (tmp_path / "b.json").write_text('{"info": \n {"name": ')
    (tmp_path / "c.json").write_bytes(b"\xff\xfe\x00binary")
    (tmp_path / "d.json").write_text('{"info": {"name": "two"}, "ownership": {"roles": "Owner"}}')
    (tmp_path / "e.json").write_text("[1, 2]")
    data = import_ownership([tmp_path], []).as_dict()
    assert [p["project"] for p in data["projects"]] == ["ok-one", "two"]
    assert [(Path(w["file"]).name, w["line"]) for w in data["warnings"]] == [
        ("b.json", 2), ("c.json", None), ("d.json", None), ("e.json", None)]


class Index(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []
    docs: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        Index.hits.append(self.path)
        name = self.path.removeprefix("/pypi/").removesuffix("/json")
        if self.headers.get("If-None-Match") == '"v1"' and name in self.docs:
            self.send_response(304)
            self.end_headers()
            return
        body = self.docs.get(name)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("ETag", '"v1"')
        self.end_headers()
        self.wfile.write(body or b'{"message": "Not Found"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def index() -> dict[str, bytes]:
    Index.hits.clear()
    Index.docs = {"acme-widgets": (PYPI / "acme-widgets.json").read_bytes()}
    return Index.docs


def test_online_fetches_caches_and_is_polite(tmp_path: Path, index: dict[str, bytes]) -> None:
    slept: list[float] = []
    now = [100.0]
    with local_http(Index) as url:
        def fetcher(max_age: float) -> PyPIIndex:
            return PyPIIndex(url, tmp_path, interval=0.5, max_age=max_age, clock=lambda: now[0], sleep=slept.append)

        data = import_ownership([], ["Acme_Widgets", "missing-one"], index=fetcher(3600)).as_dict()
        assert [p["owners"] for p in data["projects"]] == [["alice-acme", "acme-release-bot"]]
        assert [w["message"] for w in data["warnings"]] == [f"missing-one: not found on {url}"]
        assert Index.hits == ["/pypi/acme-widgets/json", "/pypi/missing-one/json"]
        assert slept == [0.5]  # the second request waited its turn
        import_ownership([], ["acme-widgets"], index=fetcher(3600))
        assert len(Index.hits) == 2  # fresh in the cache: no request
        import_ownership([], ["acme-widgets"], index=fetcher(0))
        assert len(Index.hits) == 3  # stale: revalidated with its ETag (answered 304)
    cached = list((tmp_path / "pypi").glob("*/acme-widgets.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text())["info"]["name"] == "acme-widgets"


def test_offline_is_a_clear_error_or_the_cached_copy(tmp_path: Path, index: dict[str, bytes]) -> None:
    with local_http(Index) as url:
        import_ownership([], ["acme-widgets"], index=PyPIIndex(url, tmp_path, interval=0))
    # the server is gone now: same URL, nothing listening
    data = import_ownership([], ["acme-widgets"], index=PyPIIndex(url, tmp_path, interval=0, max_age=0)).as_dict()
    assert data["projects"][0]["project"] == "acme-widgets"
    assert "unreachable (ConnectError): used the copy cached at" in data["warnings"][0]["message"]
    with pytest.raises(StoreError) as err:
        import_ownership([], ["never-cached"], index=PyPIIndex(url, tmp_path, interval=0))
    assert "cannot reach the package index" in err.value.message
    assert "custody inventory import FILE" in (err.value.hint or "")


def test_project_names_are_checked_before_any_request(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        PyPIIndex("http://127.0.0.1:9", tmp_path).fetch("../../etc/passwd")


def test_cli_online_uses_the_index_setting(tmp_path: Path, index: dict[str, bytes]) -> None:
    with local_http(Index) as url:
        env = {"CUSTODY_PYPI_URL": url, "CUSTODY_CACHE_DIR": str(tmp_path), "CUSTODY_PYPI_INTERVAL": "0"}
        code, out, err = run_cli(env, ["inventory", "import", "--online", "acme-widgets", "--format", "json"])
    assert code == 0, err
    assert json.loads(out)["index"] == url
    assert Index.hits == ["/pypi/acme-widgets/json"]
    code, out, err = run_cli({"CUSTODY_PYPI_URL": "ftp://nope"}, ["inventory", "import", "--online", "x"])
    assert code == 1 and "invalid inventory setting pypi_url (CUSTODY_PYPI_URL)" in err and out == ""


def test_settings_defaults() -> None:
    s = InventorySettings()
    assert s.pypi_url == "https://pypi.org"
    assert s.cache_root().name == "custody"
