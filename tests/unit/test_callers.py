"""The caller-identity cache: bounded in time (its own limit and the token's), in size, and holding no token."""

from __future__ import annotations

import pickle

from custody.callers import CallerCache
from custody.domain.models import Principal

ALICE = Principal(id="ent-a", display_name="userpass-alice", entity_id="ent-a")
BOB = Principal(id="ent-b", display_name="userpass-bob", entity_id="ent-b")
TOKEN = "s.AliceTokenAliceTokenAlice01"


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_remembers_until_its_own_limit() -> None:
    clock = FakeClock()
    cache = CallerCache(max_age=60, clock=clock)
    assert cache.get(TOKEN) is None
    cache.put(TOKEN, ALICE, token_ttl=0)  # a token that never expires: the cache's own limit applies
    clock.t += 59
    assert cache.get(TOKEN) == ALICE
    clock.t += 1
    assert cache.get(TOKEN) is None
    assert len(cache) == 0  # an expired entry is dropped, not kept


def test_never_past_the_tokens_own_expiry() -> None:
    clock = FakeClock()
    cache = CallerCache(max_age=300, clock=clock)
    cache.put(TOKEN, ALICE, token_ttl=5)
    clock.t += 4.9
    assert cache.get(TOKEN) == ALICE
    clock.t += 0.2
    assert cache.get(TOKEN) is None


def test_tokens_do_not_share_entries() -> None:
    cache = CallerCache()
    cache.put(TOKEN, ALICE, 0)
    cache.put(TOKEN + "x", BOB, 0)
    assert cache.get(TOKEN) == ALICE and cache.get(TOKEN + "x") == BOB
    assert cache.get(TOKEN[:-1]) is None
    cache.forget(TOKEN)
    assert cache.get(TOKEN) is None and cache.get(TOKEN + "x") == BOB


def test_bounded_size_drops_least_recently_used() -> None:
    cache = CallerCache(size=3)
    for i in range(3):
        cache.put(f"tok-{i}", ALICE, 0)
    assert cache.get("tok-0") == ALICE  # now the most recently used
    cache.put("tok-3", BOB, 0)
    assert len(cache) == 3
    assert cache.get("tok-1") is None  # the least recently used went
    assert cache.get("tok-0") == ALICE and cache.get("tok-3") == BOB


def test_zero_max_age_disables_it() -> None:
    cache = CallerCache(max_age=0)
    cache.put(TOKEN, ALICE, 0)
    assert cache.get(TOKEN) is None and len(cache) == 0


def test_holds_no_token_anywhere() -> None:
    cache = CallerCache()
    cache.put(TOKEN, ALICE, 0)
    assert TOKEN not in repr(cache)
    state = pickle.dumps(dict(cache._entries))
    assert TOKEN.encode() not in state
    # Keys are keyed digests: another process (another key) derives different keys for the same token.
    other = CallerCache()
    other.put(TOKEN, ALICE, 0)
    assert set(cache._entries) != set(other._entries)
