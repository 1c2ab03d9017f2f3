"""Fetching ``/pypi/<project>/json`` from an index, politely: one request at a time, at least
``CUSTODY_PYPI_INTERVAL`` seconds apart, ``Retry-After`` honoured once, and every answer cached on disk under
``<cache dir>/pypi/<index>/<project>.json`` (fresh for ``CUSTODY_PYPI_CACHE_SECONDS``, then revalidated with its
ETag). When the index cannot be reached, a cached copy is used with a warning; without one, the error says so."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from custody.errors import StoreError, ValidationError
from custody.inventory.projects import normalize, valid_name
from custody.inventory.pypi import MAX_DOCUMENT_BYTES

USER_AGENT = "custody-inventory (ownership inventory; one request at a time)"
MAX_RETRY_AFTER = 30.0


@dataclass
class Fetched:
    project: str
    text: str | None
    source: str  # the URL, or the cache file when offline
    note: str | None = None  # a warning to pass on


class PyPIIndex:
    def __init__(self, base_url: str, cache_dir: Path, interval: float = 0.5, max_age: float = 3600.0,
                 timeout: float = 20.0, transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        digest = hashlib.sha256(self.base_url.encode()).hexdigest()[:12]
        self.cache = cache_dir / "pypi" / digest
        self.interval, self.max_age, self.clock, self.sleep = interval, max_age, clock, sleep
        self._last: float | None = None
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=True, max_redirects=3,
                                  headers={"User-Agent": USER_AGENT, "Accept": "application/json"})

    def __repr__(self) -> str:
        return f"PyPIIndex({self.base_url!r})"

    def _paths(self, project: str) -> tuple[Path, Path]:
        stem = self.cache / normalize(project)
        return stem.with_suffix(".json"), stem.with_suffix(".meta")

    def _cached(self, project: str) -> tuple[str | None, dict[str, object]]:
        doc, meta = self._paths(project)
        try:
            return doc.read_text(encoding="utf-8"), json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None, {}

    def _store(self, project: str, text: str, etag: str | None) -> None:
        doc, meta = self._paths(project)
        try:
            self.cache.mkdir(parents=True, exist_ok=True)
            for path, body in ((doc, text), (meta, json.dumps({"etag": etag, "fetched": time.time()}))):
                fd, tmp = tempfile.mkstemp(dir=self.cache, prefix=".tmp-")
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(body)
                os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs a request next time

    def _wait(self) -> None:
        if self._last is not None:
            delay = self._last + self.interval - self.clock()
            if delay > 0:
                self.sleep(delay)
        self._last = self.clock()

    def _get(self, url: str, etag: object) -> httpx.Response:
        headers = {"If-None-Match": etag} if isinstance(etag, str) else {}
        for attempt in (1, 2):
            self._wait()
            resp = self._http.get(url, headers=headers)
            if resp.status_code not in (429, 503) or attempt == 2:
                return resp
            self.sleep(_retry_after(resp))
        raise AssertionError("unreachable")

    def fetch(self, project: str) -> Fetched:
        """The project's document: from the cache when fresh, else from the index."""
        if not valid_name(project):
            raise ValidationError(f"not a PyPI project name: {project[:60]!r}",
                                  hint="project names are letters, digits, '.', '_' and '-'")
        url = f"{self.base_url}/pypi/{normalize(project)}/json"
        cached, meta = self._cached(project)
        fetched = meta.get("fetched")
        if cached is not None and isinstance(fetched, float) and time.time() - fetched < self.max_age:
            return Fetched(project, cached, url)
        try:
            resp = self._get(url, meta.get("etag") if cached is not None else None)
        except httpx.HTTPError as exc:
            return self._offline(project, url, cached, exc)
        return self._answer(project, url, resp, cached)

    def _answer(self, project: str, url: str, resp: httpx.Response, cached: str | None) -> Fetched:
        if resp.status_code == 304 and cached is not None:
            self._store(project, cached, resp.headers.get("etag"))
            return Fetched(project, cached, url)
        if resp.status_code == 404:
            return Fetched(project, None, url, f"{project}: not found on {self.base_url}")
        if resp.status_code != 200:
            return Fetched(project, None, url, f"{project}: {self.base_url} answered HTTP {resp.status_code}")
        if len(resp.content) > MAX_DOCUMENT_BYTES:
            return Fetched(project, None, url, f"{project}: the document is larger than {MAX_DOCUMENT_BYTES} bytes")
        text = resp.content.decode("utf-8", errors="replace")
        self._store(project, text, resp.headers.get("etag"))
        return Fetched(project, text, url)

    def _offline(self, project: str, url: str, cached: str | None, exc: httpx.HTTPError) -> Fetched:
        if cached is not None:
            doc, _ = self._paths(project)
            return Fetched(project, cached, str(doc), f"{project}: {self.base_url} unreachable "
                           f"({type(exc).__name__}): used the copy cached at {doc}")
        raise StoreError(f"cannot reach the package index at {self.base_url} ({type(exc).__name__}) and no copy of "
                         f"{project} is cached", hint="check the network (or CUSTODY_PYPI_URL), or save the "
                         "documents and pass them as files: custody inventory import FILE...")


def _retry_after(resp: httpx.Response) -> float:
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(resp.headers.get("retry-after", "1"))))
    except ValueError:
        return 1.0
