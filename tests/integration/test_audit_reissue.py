"""The audit summary of reveals handed out again (``custody access reveal --again``), over a real OpenBao log.

A stack of its own, whose wrapping tokens live 3 seconds, so that a token nobody unwrapped has expired by the end
of the log (the summary then reports it never unwrapped): three grants whose first reveal's answer is lost.

- re-issued: the service revokes the first token and hands the code out again; the first shows as revoked for
  that reason, with no anomaly;
- unwrapped before by someone else: the service refuses to hand it out again; the unwrap stays what it is;
- revoked by someone else (root): the service refuses too; the first token is never unwrapped, an anomaly;
- unrecorded: Vault fails the write that records the hand-out, so the service revokes the token it made and
  records that it did with the failure; the token shows as revoked for that reason, with no anomaly, and the
  requester's retry hands the code out in a new token.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from custody.auditlog import render, summarize
from custody.auditlog.model import AnomalyKind, Summary, UnwrapStatus
from custody.config import PolicySettings
from custody.errors import StoreError
from tests.docblocks import auditor_reissue_block
from tests.helpers import DEPOSITED, REASON, Stack, in_process, new_codes, private_stack, uniq

pytestmark = pytest.mark.integration
WRAP_TTL = 3  # seconds


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with private_stack(tmp_path_factory.mktemp("audit-reissue"), {"CUSTODY_WRAP_TTL": f"{WRAP_TTL}s"}) as stack:
        yield stack


class Scenario:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.account = f"pypi/{uniq('reissue')}"
        self.start = datetime.now(UTC)
        self.grants: dict[str, str] = {}

    def lost_reveal(self, case: str) -> dict[str, str]:
        """A grant of engineer2's, revealed through the API: the answer (its wrapping token) goes nowhere."""
        api = self.stack.client("engineer2")
        grant = api.call("POST", f"accounts/{self.account}/grants", {"reason": REASON})["data"]
        self.grants[case] = str(grant["id"])
        wrap: dict[str, str] = api.call("POST", f"grants/{grant['id']}/reveal")["wrap_info"]
        return wrap

    def cli_reveal(self, case: str, *flags: str) -> tuple[int, str]:
        r = self.stack.cli("engineer2", "access", "reveal", self.grants[case], *flags, "--format", "json")
        return r.exit_code, r.err if r.exit_code else str(r.json()["code"])

    def unrecorded_reveal(self, case: str) -> None:
        """A reveal, made by the service's use cases in this process over the stack's Vault, whose write recording
        the hand-out Vault fails (once): the reveal fails after it made its token."""
        store = self.stack.service_store()
        real_write = store.write
        failed: list[str] = []

        def write(path: str, data: dict[str, object], cas: int) -> int:
            if not failed and data.get("event") == "grant.revealed":
                failed.append(path)
                raise StoreError("Vault is unreachable (test)")
            return real_write(path, data, cas)

        store.write = write  # type: ignore[method-assign]
        uc = in_process(store, settings=PolicySettings(wrap_ttl=timedelta(seconds=WRAP_TTL)))
        token = self.stack.token("engineer2")
        grant = uc.access.request(token, self.account, REASON)
        self.grants[case] = grant.id
        with pytest.raises(StoreError):
            uc.access.reveal(token, grant.id)
        assert failed, "the hand-out's record was never written"

    def vault(self, who: str, path: str, body: object) -> int:
        return httpx.post(f"{self.stack.vault_addr}/v1/{path}", json=body,
                          headers={"X-Vault-Token": self.stack.token(who)}, timeout=30).status_code

    def run(self) -> Scenario:
        s = self
        assert s.stack.cli("security", "accounts", "add", s.account, "--owner", "o@example.com").exit_code == 0
        assert s.stack.cli("security", "codes", "deposit", s.account, stdin="\n".join(new_codes(8))).exit_code == 0

        s.lost_reveal("reissued")
        code, said = s.cli_reveal("reissued", "--again")  # the CLI unwraps the new token with engineer2's own token
        assert code == 0 and said in DEPOSITED, said

        wrap = s.lost_reveal("unwrapped")
        assert s.vault("engineer", "sys/wrapping/unwrap", {"token": wrap["token"]}) == 200  # not the requester
        code, said = s.cli_reveal("unwrapped", "--again")
        assert code == 1 and "no longer valid: it was unwrapped" in said

        wrap = s.lost_reveal("revoked")
        assert s.vault("root", "auth/token/revoke-accessor", {"accessor": wrap["accessor"]}) == 204
        code, said = s.cli_reveal("revoked", "--again")
        assert code == 1 and "no longer valid" in said

        s.unrecorded_reveal("unrecorded")
        code, said = s.cli_reveal("unrecorded")  # a plain retry: the attempt before was abandoned, so it begins at once
        assert code == 0 and said in DEPOSITED, said

        s.unrecorded_reveal("unrecorded-alone")  # and one whose requester never retries

        time.sleep(WRAP_TTL + 1)  # every first token has expired by the next entry, the end of the log
        late = s.stack.client("engineer2").call("POST", f"accounts/{s.account}/grants", {"reason": REASON})
        s.grants["last"] = str(late["data"]["id"])
        return s


@pytest.fixture(scope="module")
def scenario(own_stack: Stack) -> Scenario:
    return Scenario(own_stack).run()


@pytest.fixture(scope="module")
def summary(scenario: Scenario) -> Summary:
    """From the scenario's start on (root set the mount and policies up before it)."""
    return summarize([Path(scenario.stack.state["audit_log"])], since=scenario.start)


def reveals_of(summary: Summary, grant: str) -> list[UnwrapStatus]:
    return [r.unwrap_status for r in summary.reveals if r.grant_id == grant]


def anomalies_of(summary: Summary, grant: str) -> list[AnomalyKind]:
    return [a.kind for a in summary.anomalies if a.grant_id == grant]


def test_a_token_revoked_to_hand_the_code_out_again_says_so_and_is_no_anomaly(
    summary: Summary, scenario: Scenario
) -> None:
    grant = scenario.grants["reissued"]
    assert reveals_of(summary, grant) == [UnwrapStatus.REVOKED_REISSUED, UnwrapStatus.BY_REQUESTER]
    assert anomalies_of(summary, grant) == []
    first = next(r for r in summary.reveals if r.grant_id == grant)
    assert first.unwraps == [] and first.requester.display_name == "userpass-engineer2"
    rows = [line for line in render(summary, "markdown").splitlines() if grant in line and "revoked_reissued" in line]
    assert len(rows) == 1


def test_a_token_unwrapped_before_is_reported_unwrapped_and_handed_out_once(
    summary: Summary, scenario: Scenario
) -> None:
    grant = scenario.grants["unwrapped"]
    assert reveals_of(summary, grant) == [UnwrapStatus.WRONG_PRINCIPAL]  # --again was refused: nothing more left
    assert anomalies_of(summary, grant) == [AnomalyKind.UNWRAP_WRONG_PRINCIPAL]


def test_a_token_someone_else_revoked_stays_never_unwrapped(summary: Summary, scenario: Scenario) -> None:
    """Not the service's doing: the requester never had that code, and the summary cannot say who revoked it."""
    grant = scenario.grants["revoked"]
    assert reveals_of(summary, grant) == [UnwrapStatus.NEVER]
    assert anomalies_of(summary, grant) == [AnomalyKind.NEVER_UNWRAPPED]


def test_a_token_revoked_because_its_hand_out_could_not_be_recorded_says_so_and_is_no_anomaly(
    summary: Summary, scenario: Scenario
) -> None:
    """Before, nothing in the record named that token: it read as never unwrapped once its TTL ran out."""
    retried, alone = scenario.grants["unrecorded"], scenario.grants["unrecorded-alone"]
    assert reveals_of(summary, retried) == [UnwrapStatus.REVOKED_UNRECORDED, UnwrapStatus.BY_REQUESTER]
    assert reveals_of(summary, alone) == [UnwrapStatus.REVOKED_UNRECORDED]
    assert anomalies_of(summary, retried) == [] and anomalies_of(summary, alone) == []
    first = next(r for r in summary.reveals if r.grant_id == alone)
    assert first.unwraps == [] and first.requester.display_name == "userpass-engineer2"


def test_nothing_else_is_reported(summary: Summary, scenario: Scenario) -> None:
    assert summary.totals.reveals == 7 and summary.totals.requests == 6
    assert sorted(a.kind for a in summary.anomalies) == [AnomalyKind.NEVER_UNWRAPPED,
                                                         AnomalyKind.UNWRAP_WRONG_PRINCIPAL]
    assert summary.warnings == [] and summary.input.lines_invalid == 0


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_the_guide_follows_a_reveal_handed_out_again_by_hand(
    scenario: Scenario, own_stack: Stack, tmp_path: Path
) -> None:
    """The auditor guide's jq recipe: the first hand-out's accessor is the one attempt 1 recorded, and attempt 2
    began (grant.reveal_resumed) before the second hand-out, whose accessor attempt 2 recorded."""
    (tmp_path / "audit.log").symlink_to(own_stack.state["audit_log"])
    block = auditor_reissue_block()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")} | {"G": scenario.grants["reissued"]}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.shell], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(event, n) for _, event, n, _ in rows] == [
        ("grant.revealing", 1), ("hand-out", None), ("grant.revealed", 1),
        ("grant.reveal_resumed", 2), ("hand-out", None), ("grant.revealed", 2),
    ]
    accessor = [a for *_, a in rows]
    assert accessor[1] == accessor[2] != accessor[4] == accessor[5]
