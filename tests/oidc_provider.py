"""A small OpenID Connect provider for tests: discovery, an authorization endpoint that signs in one person at once
(no login form), the token endpoint, JWKS and userinfo. ID tokens are RS256 JWTs signed with a fresh key.

Enough for OpenBao's OIDC auth method to trust it (``oidc_discovery_url``) and run its whole authorization code
flow against it; nothing a real provider would need beyond that (no consent, no client registration).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _int(n: int) -> str:
    return _b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))


@dataclass
class Provider:
    issuer: str
    client_id: str = "custody-console"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    person: dict[str, str] = field(default_factory=lambda: {"sub": "alice-1", "email": "alice@example.com"})
    refuse: bool = False  # answer the authorization request with error=access_denied
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    codes: dict[str, str] = field(default_factory=dict)  # code -> the nonce of its authorization request
    lock: threading.Lock = field(default_factory=threading.Lock)

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "userinfo_endpoint": f"{self.issuer}/userinfo", "response_types_supported": ["code"],
                "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email"], "token_endpoint_auth_methods_supported":
                    ["client_secret_basic", "client_secret_post"], "code_challenge_methods_supported": ["S256"]}

    def jwks(self) -> dict[str, Any]:
        pub = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": _int(pub.n),
                          "e": _int(pub.e)}]}

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        header = {"alg": "RS256", "kid": "k1", "typ": "JWT"}
        claims = {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 300, "nonce": nonce,
                  **self.person}
        signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing}.{_b64(signature)}"

    def authorize(self, query: dict[str, str]) -> str:
        """Where the person's browser goes next: back to the client with a code (or an error)."""
        back = query["redirect_uri"]
        if self.refuse:
            return f"{back}?{urlencode({'error': 'access_denied', 'state': query.get('state', '')})}"
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = query.get("nonce", "")
        return f"{back}?{urlencode({'code': code, 'state': query.get('state', '')})}"

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        secret = form.get("client_secret")
        if authorization.startswith("Basic "):
            secret = base64.b64decode(authorization[6:]).decode().partition(":")[2]
        with self.lock:
            nonce = self.codes.pop(form.get("code", ""), None)
        if secret != self.client_secret or nonce is None:
            return 400, {"error": "invalid_grant"}
        return 200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                     "id_token": self.id_token(nonce)}


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _json(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._json(200, provider.discovery())
            elif url.path == "/jwks":
                self._json(200, provider.jwks())
            elif url.path == "/userinfo":
                self._json(200, provider.person)
            elif url.path == "/authorize":
                self.send_response(302)
                self.send_header("Location", provider.authorize(query))
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path == "/token":
                self._json(*provider.token(form, self.headers.get("Authorization") or ""))
            else:
                self._json(404, {"error": "not_found"})

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def running(host: str = "localhost") -> Iterator[Provider]:
    """A provider on loopback, named ``host`` in its issuer (``localhost``: another site than ``127.0.0.1``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    provider = Provider(issuer=f"http://{host}:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(provider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
