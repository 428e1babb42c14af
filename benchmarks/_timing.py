"""Timing helper shared by the benchmark suites."""

from __future__ import annotations

import statistics
import time


def median_time(fn, repeats: int = 3) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls (warm up before calling this)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
