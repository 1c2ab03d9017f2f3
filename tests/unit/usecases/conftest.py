"""Fixtures for the use cases' unit tests: an in-memory KV and a fake Vault (``tests.fakes``)."""

from __future__ import annotations

import pytest

from tests.fakes import World, world


@pytest.fixture
def w() -> World:
    return world()
