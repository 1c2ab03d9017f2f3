"""Rate-limited reporting: a log line that something happened, at most once per interval per kind of thing, with a
count of what was held back. A flood (a full webhook queue, a server out of file descriptors) then costs a few log
lines instead of one per event, and nothing goes uncounted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable


class Throttle:
    """Decides, per key, whether to report now; counts the reports it holds back."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[Hashable, float] = {}
        self._held: dict[Hashable, int] = {}

    def __call__(self, key: Hashable, weight: int = 1) -> int | None:
        """None: do not report this one (its ``weight`` is counted). Otherwise report it, with the weight held back
        since the previous report of ``key`` (0 for the first)."""
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._held[key] = self._held.get(key, 0) + weight
                return None
            self._last[key] = now
            return self._held.pop(key, 0)
