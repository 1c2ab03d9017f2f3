"""The in-memory KV the unit tests use answers like OpenBao's KV v2: the same script, run on both, gives the same
outcomes (versions, check-and-set refusals, metadata, listings, deletion and destruction, the body size limit, the
service token's cubbyhole, wrapping and revoking a wrapping token)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from custody.errors import CustodyError
from custody.repo.kv import KV, KVEntry, WrapInfo
from tests.helpers import Stack, uniq
from tests.memkv import MemKV

pytestmark = pytest.mark.integration


def _shape(value: Any) -> Any:
    """What the script compares: data and versions, not timestamps or tokens."""
    if isinstance(value, KVEntry):
        return ("entry", value.data, value.version)
    if isinstance(value, WrapInfo):
        return ("wrapped", value.ttl, bool(value.token))
    if isinstance(value, dict) and "current_metadata_version" in value:
        versions = {v: (m["destroyed"], bool(m["deletion_time"]), bool(m["created_time"]))
                    for v, m in value["versions"].items()}
        return ("meta", value["current_version"], value["current_metadata_version"], value["custom_metadata"],
                versions)
    return value


def script(kv: KV, base: str, soft_delete: Callable[[str], None]) -> list[tuple[str, Any]]:
    a, b = f"{base}/a", f"{base}/dir/b"
    leaf = base.rsplit("/", 1)[-1]
    wrapped: list[WrapInfo] = []
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("nothing there", lambda: [kv.read(a), kv.metadata(a), kv.current_version(a), kv.list_keys(base)]),
        ("update what does not exist", lambda: kv.write(a, {"v": 0}, cas=1)),
        ("create", lambda: kv.write(a, {"v": 1, "nested": {"x": [1, "y"]}}, cas=0)),
        ("create again", lambda: kv.write(a, {"v": 1}, cas=0)),
        ("update a stale version", lambda: kv.write(a, {"v": 2}, cas=5)),
        ("update", lambda: kv.write(a, {"v": 2}, cas=1)),
        ("read", lambda: [kv.read(a), kv.read(a, version=1), kv.read(a, version=9)]),
        ("custom metadata", lambda: kv.write_custom_metadata(a, {"k": "1"}, 0)),
        ("custom metadata, stale", lambda: kv.write_custom_metadata(a, {"k": "2"}, 0)),
        ("custom metadata again", lambda: kv.write_custom_metadata(a, {"k": "2"}, 1)),
        ("a data write leaves the metadata version", lambda: [kv.write(a, {"v": 3}, cas=2), kv.metadata(a)]),
        ("destroy", lambda: [kv.destroy_versions(a, [1]), kv.read(a, version=1), kv.metadata(a)]),
        ("metadata before data", lambda: [kv.write_custom_metadata(b, {"k": "x"}, 0), kv.metadata(b),
                                          kv.write(b, {"v": 1}, cas=0), kv.metadata(b)]),
        ("list", lambda: [kv.list_keys(base), kv.list_keys(base + "/"), kv.list_keys(f"{base}/dir")]),
        ("stage and wrap", lambda: [kv.stage(f"reveals/{leaf}", {"code": "c0de", "n": 1}),
                                    wrapped.append(kv.wrap_staged(f"reveals/{leaf}", timedelta(seconds=60))),
                                    kv.unstage(f"reveals/{leaf}"), kv.unstage(f"reveals/{leaf}")]),
        ("wrap what is not staged", lambda: kv.wrap_staged(f"reveals/{leaf}", timedelta(seconds=60))),
        ("revoke the wrapping token, then again", lambda: [kv.revoke_wrapping(wrapped[0].accessor),
                                                          kv.revoke_wrapping(wrapped[0].accessor)]),
        ("revoke a token that never was", lambda: kv.revoke_wrapping("no-such-accessor-000000")),
        ("soft delete", lambda: [soft_delete(a), kv.read(a), kv.current_version(a), kv.metadata(a)]),
        ("create over a deleted version", lambda: kv.write(a, {"v": 4}, cas=0)),
        ("update a deleted version", lambda: [kv.write(a, {"v": 4}, cas=3), kv.read(a)]),
        ("delete all", lambda: [kv.delete_all(a), kv.delete_all(a), kv.metadata(a), kv.read(a)]),
        ("create after delete all", lambda: [kv.write(a, {"v": 5}, cas=0), kv.metadata(a)]),
        ("new metadata at a later version", lambda: kv.write_custom_metadata(f"{base}/c", {"k": "1"}, 3)),
        # With "data", "options", "cas" and "ids": 1,000 strings in the body, then one too many.
        ("the most strings a body may hold", lambda: kv.write(f"{base}/big", {"ids": [str(i) for i in range(996)]},
                                                              cas=0)),
        ("one string more", lambda: kv.write(f"{base}/bigger", {"ids": [str(i) for i in range(997)]}, cas=0)),
    ]
    out: list[tuple[str, Any]] = []
    for label, step in steps:
        try:
            result = step()
        except CustodyError as exc:
            result = type(exc).__name__
        out.append((label, [_shape(r) for r in result] if isinstance(result, list) else _shape(result)))
    return out


def test_memkv_answers_like_openbao(stack: Stack) -> None:
    base = f"memkv-agreement/{uniq()}"

    def root_soft_delete(path: str) -> None:
        resp = httpx.delete(f"{stack.vault_addr}/v1/custody-kv/data/{path}",
                            headers={"X-Vault-Token": stack.token("root")})
        assert resp.status_code == 204

    real = script(stack.service_store(), base, root_soft_delete)
    mem = MemKV()
    fake = script(mem, base, mem.soft_delete)
    for (label, want), (_, got) in zip(real, fake, strict=True):
        assert got == want, label
