"""Timing helpers shared by the benchmark suites."""

from __future__ import annotations

import os
import statistics
import time


def loadavg() -> str:
    """The 1, 5 and 15-minute load averages (``/proc/loadavg``): the development machine is shared and wall
    times move with its load, so the results say what it was."""
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())


def median_time(fn, repeats: int = 3) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls (warm up before calling this)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed_call(fn, repeats: int = 3):
    """``(result, median seconds of warm calls, seconds of the first call)`` of a JAX computation ``fn()``.

    The first call includes compilation; every call waits for the device (``block_until_ready``); the
    result returned is that of the last call.
    """
    import jax

    start = time.perf_counter()
    result = [jax.block_until_ready(fn())]
    first = time.perf_counter() - start

    def call():
        result[0] = jax.block_until_ready(fn())

    seconds = median_time(call, repeats)
    return result[0], seconds, first
