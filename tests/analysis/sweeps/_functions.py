"""Sweep functions at module level, importable by child processes and Dask workers."""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from analysis import grid, sweep

PAUSE_S = 0.1  # per chunk in slow_polynomial: long enough to kill a child mid-sweep


def polynomial(row):
    """A scalar, an array whose length is the static ``n``, and a bool."""
    x = row["x"]
    return {"value": x**2 + 1.5 * x, "powers": x ** jnp.arange(row["n"], dtype=x.dtype), "positive": x > 0}


polynomial.static_axes = ("n",)


def _pause(x):
    time.sleep(PAUSE_S)
    return x


def slow_polynomial(row):
    """:func:`polynomial` with a host-side pause per chunk (one callback per vectorized group)."""
    out = polynomial(row)
    value = jax.pure_callback(_pause, jax.ShapeDtypeStruct(out["value"].shape, out["value"].dtype), out["value"],
                              vmap_method="broadcast_all")
    return {**out, "value": value}


slow_polynomial.static_axes = ("n",)


def kill_parameters():
    """24 rows in 12 chunks of 2."""
    return grid(n=[2, 3], x=np.linspace(-1.0, 1.0, 12))


def run_slow_sweep(out: str) -> None:
    """The child process of the kill test: the same sweep as the test's, until it is killed."""
    jax.config.update("jax_enable_x64", True)  # as tests/conftest.py does for the parent
    sweep(slow_polynomial, kill_parameters(), out=out, chunk_size=2, progress=False)


def fail_until(marker: str):
    """A row-by-row function that raises for x == 0.5 until the file ``marker`` exists."""

    def fragile(row):
        if row["x"] == 0.5 and not os.path.exists(marker):
            raise RuntimeError("transient failure")
        return {"double": 2.0 * row["x"]}

    fragile.vectorize = False
    return fragile


def fail_once(marker: str):
    """Raises for x == 0.5 the first time only (it creates ``marker`` then): a retry succeeds."""

    def flaky(row):
        if row["x"] == 0.5 and not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("first attempt fails")
        return {"double": 2.0 * row["x"]}

    flaky.vectorize = False
    return flaky

