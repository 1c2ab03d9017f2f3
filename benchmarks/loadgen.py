"""A small asyncio HTTP/1.1 keep-alive client for the load benchmark.

The load generator shares the machine's cores with the server and with Vault, so every millisecond of CPU it spends
is taken from what it measures. A general-purpose client (httpx, with 50 threads or 50 tasks) cost 5-6 ms of CPU per
custody request here, as much as the server itself; this one writes the request line and reads a Content-Length or
chunked body, which is all the benchmark needs, for a fraction of that.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

import orjson


class Connection:
    """One keep-alive connection to one server; requests on it are sequential."""

    def __init__(self, base: str) -> None:
        url = urlsplit(base)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.prefix = url.path.rstrip("/")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                      body: Any = None) -> tuple[int, Any]:
        """Send one request; return (status, parsed JSON body or None)."""
        payload = b"" if body is None else orjson.dumps(body)
        lines = [f"{method} {self.prefix}{path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 f"Content-Length: {len(payload)}"]
        if payload:
            lines.append("Content-Type: application/json")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(data)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
        chunked = fields.get("transfer-encoding", "").lower() == "chunked"
        if status in (204, 304) or 100 <= status < 200 or method == "HEAD":
            content = b""
        elif "content-length" in fields:
            content = await self._reader.readexactly(int(fields["content-length"]))
        elif chunked:
            content = await self._chunked()
        else:  # the body runs to the end of the connection
            content = await self._reader.read()
            await self.close()
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status, (orjson.loads(content) if content else None)

    async def _chunked(self) -> bytes:
        assert self._reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


class Pool:
    """A client's connections: one per server it talks to."""

    def __init__(self) -> None:
        self._conns: dict[str, Connection] = {}

    def __call__(self, base: str) -> Connection:
        if base not in self._conns:
            self._conns[base] = Connection(base)
        return self._conns[base]

    async def close(self) -> None:
        for conn in self._conns.values():
            await conn.close()
