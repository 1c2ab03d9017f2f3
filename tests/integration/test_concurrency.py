"""Many clients at once through two replicas of the server: correctness comes from check-and-set in KV, never
from a lock in one process, so a second process sharing the same OpenBao must not change any outcome."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from custody.cli.client import Client
from custody.errors import CustodyError, Exhausted
from tests.helpers import DEPOSITED, REASON, SESSION_ENV, Stack, another_server, new_codes, uniq

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def replica2(stack: Stack) -> Iterator[str]:
    """A second custody server on the session's OpenBao, logged in with the same AppRole."""
    with another_server(stack, "replica2", SESSION_ENV) as addr:
        yield addr


def test_200_concurrent_reveals_across_20_accounts(stack: Stack, replica2: str) -> None:
    servers = [stack.custody_addr, replica2]
    security = Client(stack.custody_addr, stack.token("security"))
    accounts = [f"pypi/{uniq('conc')}" for _ in range(20)]
    for n, account in enumerate(accounts):
        security.call("POST", f"accounts/{account}", {"owner": "o@example.com"})
        Client(servers[n % 2], stack.token("security")).call("POST", f"accounts/{account}/codes",
                                                             {"codes": new_codes(8)})

    def request(n: int) -> tuple[str, str]:
        account = accounts[n % 20]
        grant = Client(servers[n % 2], stack.token("engineer")).call(
            "POST", f"accounts/{account}/grants", {"reason": REASON})["data"]
        return grant["id"], account

    with ThreadPoolExecutor(max_workers=20) as pool:
        grants = list(pool.map(request, range(200)))  # 10 grants per account of 8 codes

    def reveal(item: tuple[int, tuple[str, str]]) -> tuple[str, str, str | None]:
        n, (gid, account) = item
        client = Client(servers[n % 2], stack.token("engineer"))
        try:
            answer = client.call("POST", f"grants/{gid}/reveal")
        except Exhausted:
            return gid, account, None
        return gid, account, str(client.unwrap(stack.vault_addr, answer["wrap_info"]["token"])["code"])

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(reveal, enumerate(grants)))

    codes = [code for _, _, code in results if code]
    assert len(codes) == 160 and len(set(codes)) == 160, "a code went to two grants, or one was lost"
    assert set(codes) <= DEPOSITED
    assert Counter(account for _, account, code in results if code) == dict.fromkeys(accounts, 8)
    auditor = Client(replica2, stack.token("auditor"))
    for gid, _, code in results:
        grant = auditor.call("GET", f"grants/{gid}")["data"]
        assert grant["status"] == ("revealed" if code else "approved"), gid
        assert bool(grant["code_fp"]) == bool(code)
    for account in accounts:
        status = security.call("GET", f"accounts/{account}/codes")["data"]
        assert (status["remaining"], status["consumed"]) == (0, 8)


def test_concurrent_approvals_by_distinct_approvers_are_all_recorded(stack: Stack, replica2: str) -> None:
    servers = [stack.custody_addr, replica2]
    approvers = [uniq("appr") for _ in range(5)]
    for name in approvers:
        stack.make_user(name, "custody-approvers")
    account = f"pypi/{uniq('quorum')}"
    security = Client(stack.custody_addr, stack.token("security"))
    security.call("POST", f"accounts/{account}", {"owner": "o@example.com", "tier": "critical", "approvals": 5})
    security.call("POST", f"accounts/{account}/codes", {"codes": new_codes(8)})
    engineer = Client(stack.custody_addr, stack.token("engineer"))
    grants = [engineer.call("POST", f"accounts/{account}/grants", {"reason": REASON})["data"]["id"]
              for _ in range(4)]

    def approve(item: tuple[int, tuple[str, str]]) -> str:
        n, (gid, who) = item
        try:
            Client(servers[n % 2], stack.token(who)).call("POST", f"grants/{gid}/approve", {"comment": who})
        except CustodyError as exc:
            return exc.message
        return "ok"

    jobs = [(gid, who) for gid in grants for who in approvers]  # 20 approvals racing on 4 grants
    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(approve, enumerate(jobs)))
    assert outcomes == ["ok"] * 20
    for gid in grants:
        grant = Client(replica2, stack.token("auditor")).call("GET", f"grants/{gid}")["data"]
        assert grant["status"] == "approved"
        assert sorted(a["approver"] for a in grant["approvals"]) == sorted(f"userpass-{a}" for a in approvers)
        assert [a["comment"] for a in grant["approvals"]] == [a["approver"].removeprefix("userpass-")
                                                               for a in grant["approvals"]]
