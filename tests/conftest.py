"""Fixtures only. Integration tests share one real OpenBao + custody server per test session (per xdist worker)
and isolate themselves with unique account names. Helpers live in ``tests.helpers``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from custody.config import PolicySettings
from custody.devstack import DevStack
from custody.usecases.suite import UseCases
from tests.helpers import DEPOSITED, SESSION_ENV, SESSION_LIMITS, Clock, Stack, in_process, new_codes, uniq


@pytest.fixture(autouse=True)
def _logs_to_stderr() -> None:
    """In-process service code logs to stderr at info, as the server does, so captured stdout holds only answers
    (and a CLI call in an earlier test, which turns logs down to warnings, cannot hide events from the next)."""
    from custody import logging as clog

    clog.configure("console", "info")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("custody-stack")
    dev = DevStack(directory)
    state = dev.up(extra_env=SESSION_ENV)
    s = Stack(state=state, dir=directory)
    try:
        yield s
        leaks = [(name, code[:4] + "…") for name, text in s.logs().items() for code in DEPOSITED if code in text]
        assert not leaks, f"recovery codes found in logs: {leaks}"
    finally:
        dev.down()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(stack: Stack, clock: Clock) -> UseCases:
    """The use cases in-process, against the session's real OpenBao, with a clock the test controls."""
    return in_process(stack.service_store(), settings=PolicySettings(**SESSION_LIMITS), clock=clock)


@pytest.fixture
def account(stack: Stack) -> str:
    """A fresh standard PyPI account with 8 codes deposited."""
    acct = f"pypi/{uniq()}"
    assert stack.cli("security", "accounts", "add", acct, "--owner", "owner@example.com").exit_code == 0
    r = stack.cli("security", "codes", "deposit", acct, stdin="\n".join(new_codes(8)))
    assert r.exit_code == 0, r.err
    return acct


@pytest.fixture
def critical_account(stack: Stack) -> str:
    acct = f"pypi/{uniq('crit')}"
    added = stack.cli("security", "accounts", "add", acct, "--owner", "o@example.com", "--tier", "critical")
    assert added.exit_code == 0
    assert stack.cli("security", "codes", "deposit", acct, stdin="\n".join(new_codes(8))).exit_code == 0
    return acct
