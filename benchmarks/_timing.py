"""Shared timing helper for the benchmark scripts."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(fn: Callable[[], object], *, repeats: int = 5, min_seconds: float = 0.05) -> float:
    """Best-of-``repeats`` seconds per call, each repeat looping until ``min_seconds`` elapse.

    The minimum is the least noisy estimate of the cost of a call on a shared machine.
    """
    fn()  # warm up (imports, allocations, torch lazy init)
    best = float("inf")
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / n)
    return best
