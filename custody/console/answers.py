"""The console's answers and the headers they carry.

Every page: a Content-Security-Policy that allows scripts, styles and everything else only from custody itself
(``/ui/static/``; no inline script or style, no ``unsafe-inline``), ``frame-ancestors 'none'`` (no other page frames
the console), no referrer beyond custody's own origin, and ``Cache-Control: no-store`` (set on every answer of the
server, the API's included, by ``custody.api.common.RequestContext``).

A report page (the audit summary, the inventory) is the CLI's self-contained HTML document, unchanged: it gets a
policy of its own that allows its own styles by hash, no script at all, and framing by the console only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html import unescape
from importlib import resources

from starlette.responses import HTMLResponse, Response

from custody.console.html import Html

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-src 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Same-origin: the POSTs of the console's own forms carry their Origin (checked); no other site learns a URL.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)
_STYLE_ATTR = re.compile(r'\sstyle="([^"]*)"')
_ASSETS = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8",
           "favicon.svg": "image/svg+xml"}


def html(markup: Html, status: int = 200, cookies_from: Response | None = None) -> Response:
    """A console page; ``cookies_from``: a response whose ``Set-Cookie`` headers go along."""
    response = HTMLResponse(str(markup), status_code=status, headers=HEADERS)
    if cookies_from is not None:
        for key, value in cookies_from.raw_headers:
            if key == b"set-cookie":
                response.raw_headers.append((key, value))
    return response


def redirect(path: str) -> Response:
    """See Other: to one of the console's own paths, after a POST or to the sign-in page."""
    if not path.startswith("/ui/"):
        raise ValueError(f"the console redirects to its own pages only, not {path[:40]!r}")
    return Response(status_code=303, headers=HEADERS | {"Location": path})


def _hash(css: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()}'"


def report(document: str, status: int = 200) -> Response:
    """A self-contained report document under a policy that allows exactly its own styles, by hash: its
    ``<style>`` blocks, and the few ``style`` attributes it has (``'unsafe-hashes'`` allows those hashed values
    only, never a script); no script at all."""
    blocks = {_hash(css) for css in _STYLE.findall(document)}
    attributes = {_hash(unescape(css)) for css in _STYLE_ATTR.findall(document)}
    sources = " ".join(sorted(blocks) + (["'unsafe-hashes'", *sorted(attributes)] if attributes else []))
    policy = (f"default-src 'none'; style-src {sources or chr(39) + 'none' + chr(39)}; img-src data:; "
              "script-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
    headers = HEADERS | {"Content-Security-Policy": policy, "X-Frame-Options": "SAMEORIGIN"}
    return HTMLResponse(document, status_code=status, headers=headers)


def static(name: str) -> Response:
    """One of custody's own assets (``custody/console/static/``)."""
    media = _ASSETS.get(name)
    if media is None:
        return Response("not found", status_code=404, media_type="text/plain", headers=HEADERS)
    body = resources.files("custody.console").joinpath("static", name).read_bytes()
    return Response(body, media_type=media, headers=HEADERS)
