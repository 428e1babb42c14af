"""Run a single-market rule over any leading batch axes (one ``jax.vmap`` per axis)."""

from __future__ import annotations

import jax

__all__ = ["over_markets"]


def over_markets(rule, *, batched_args: int | None = None):
    """``rule`` (written for one market) mapped over the leading axes of its first ``batched_args``
    positional arguments (all by default); the number of batch axes is ``args[0].ndim - 1``, and any
    further arguments are shared by every market."""

    def run(*args):
        count = len(args) if batched_args is None else batched_args
        in_axes = (0,) * count + (None,) * (len(args) - count)
        fn = rule
        for _ in range(args[0].ndim - 1):
            fn = jax.vmap(fn, in_axes=in_axes)
        return fn(*args)

    return run
