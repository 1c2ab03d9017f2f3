"""Benchmarks: each prints ratios against a baseline measured in the same run (``make bench``)."""

from __future__ import annotations

import signal
import sys
from types import FrameType


def stop_cleanly_on_sigterm() -> None:
    """Turn SIGTERM (a CI timeout, ``kill``) into SystemExit, so ``finally`` blocks stop the dev stack a benchmark
    started instead of leaving OpenBao and the server running."""

    def handler(signum: int, frame: FrameType | None) -> None:
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
