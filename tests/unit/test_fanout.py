"""Calls at once: ``concurrently`` keeps the order of its items; ``ahead`` runs a call beside the code that goes on,
and hands back its result or its error where it is asked for."""

from __future__ import annotations

import contextvars
import threading

import pytest

from custody.errors import StoreError
from custody.fanout import ahead, concurrently

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def test_concurrently_keeps_the_order_of_its_items() -> None:
    assert concurrently(lambda n: n * n, range(20)) == [n * n for n in range(20)]


def test_a_call_started_ahead_runs_while_the_caller_goes_on() -> None:
    both_running = threading.Barrier(2, timeout=5)  # broken (an error) unless both sides reach it at once

    def read() -> str:
        both_running.wait()
        return "grant"

    started = ahead(read)
    both_running.wait()
    assert started.result() == "grant" and started.done()


def test_an_error_is_raised_where_the_result_is_asked_not_before() -> None:
    def unreachable() -> None:
        raise StoreError("Vault is unreachable (test)")

    started = ahead(unreachable)
    with pytest.raises(StoreError, match="unreachable"):
        started.result()
    with pytest.raises(StoreError):  # asked again: the same error
        started.result()


def test_a_call_started_ahead_and_never_asked_raises_nothing_and_holds_nobody() -> None:
    """As after an earlier step's refusal: the caller goes on at once, and the call's error is never raised."""
    release, ended = threading.Event(), threading.Event()

    def slow_failing_read() -> None:
        try:
            release.wait(5)
            raise StoreError("Vault is unreachable (test)")
        finally:
            ended.set()

    started = ahead(slow_failing_read)
    assert not started.done()
    release.set()
    assert ended.wait(5)


def test_a_call_started_ahead_sees_the_context_it_was_started_in() -> None:
    request_id.set("req-1")
    started = ahead(request_id.get)
    request_id.set("req-2")  # a change after the start is not seen
    assert started.result() == "req-1"
