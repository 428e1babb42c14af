"""The solvers' batching helper: a single-game function mapped over leading batch axes."""

from __future__ import annotations

import jax

__all__ = ["over_batch"]


def over_batch(fn, batch_ndim: int):
    """``fn`` vmapped over ``batch_ndim`` leading axes of every argument."""
    for _ in range(batch_ndim):
        fn = jax.vmap(fn)
    return fn
