"""Refused calls: each is on the record in Vault's audit log (with the caller, the path and the capability), yet a
flood of them costs a bounded number of KV records, so no Vault user can grow custody's storage at will."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from custody.auditlog import summarize_lines
from custody.repo.denials import SLOTS
from custody.store import Store
from tests.helpers import Stack, nobodys_grant

pytestmark = pytest.mark.integration


def denied_keys(store: Store) -> set[str]:
    return {f"{day}{key}" for day in store.list_keys("denied/") for key in store.list_keys(f"denied/{day}")}


def tail(path: Path, offset: int) -> list[bytes]:
    """The audit log's lines written after ``offset``."""
    with path.open("rb") as f:
        f.seek(offset)
        return f.read().splitlines()


def test_300_refused_reads_add_a_bounded_number_of_records(stack: Stack) -> None:
    store, audit_log = stack.service_store(), Path(stack.state["audit_log"])
    before, offset = denied_keys(store), audit_log.stat().st_size
    engineer = stack.token("engineer2")  # a requester: someone else's grant (or none) is refused

    def refused(n: int) -> int:
        return httpx.get(f"{stack.custody_addr}/v1/custody/grants/{nobodys_grant(n)}",
                         headers={"X-Vault-Token": engineer}, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(refused, range(300)))
    assert statuses == [403] * 300

    added = denied_keys(store) - before
    assert len(added) <= SLOTS, sorted(added)  # was one record per refusal: 300

    # Each refusal is still in Vault's audit log, and the audit summary counts every one.
    lines = tail(audit_log, offset)
    entries = [json.loads(line) for line in lines]
    recorded = [e for e in entries if e["type"] == "response" and not e.get("error")
                and e["request"]["operation"] in ("create", "update") and "/data/denied/" in e["request"]["path"]]
    assert len(recorded) == 300
    assert {e["request"]["data"]["data"]["path"] for e in recorded} == {
        f"custody/grants/{nobodys_grant(n)}" for n in range(300)}
    summary = summarize_lines(lines)
    assert summary.totals.access_denied == 300
    (who,) = [p for p in summary.principals if p.access_denied]
    assert who.access_denied == 300 and who.principal.display_name == "userpass-engineer2"
