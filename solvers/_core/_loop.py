"""The one iteration loop of the solvers: iterate a step while the residual is above tolerance.

Every iterative solver (first-order methods, Newton, learning dynamics) is ``state -> state`` plus a
residual; this loop runs it under ``jax.lax.while_loop`` until the residual is at most ``tol``, the
budget ``max_steps`` is spent, or the residual is not finite, and returns the final state, the number
of steps and the residual. With ``unrolled=True`` it runs exactly ``max_steps`` steps under
``jax.lax.scan`` (steps after convergence leave the state unchanged), which reverse-mode
differentiation can go through: the unrolled adjoint.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["iterate", "still_iterating", "traced_budget"]


def traced_budget(max_steps: int) -> jax.Array:
    """``max_steps`` as a traced loop bound, so that a new budget reuses a compiled solve: JAX's default
    integer (int64 with ``jax_enable_x64``, weakly typed like the loop counter), which holds every budget
    the static bound it replaces held."""
    return jnp.asarray(max_steps)


def still_iterating(k, residual, max_steps, tol):
    """Steps left, residual above ``tol`` and finite: the loop condition of every iterative solver."""
    return (k < max_steps) & (residual > tol) & jnp.isfinite(residual)


def iterate(step, state, residual, *, max_steps: int, tol, unrolled: bool = False):
    """Run ``state, residual[, steps] = step(state)`` from ``(state, residual)`` while still iterating.

    ``step`` may return a third value, the number of steps it took (a Newton method counting its inner
    steps); by default each call counts one. Returns ``(state, steps, residual)``.
    """

    def advance(state):
        out = step(state)
        return out if len(out) == 3 else (*out, 1)

    if unrolled:
        def body(carry, _):
            state, k, r = carry
            go = still_iterating(k, r, max_steps, tol)
            new_state, new_r, taken = advance(state)
            keep = lambda new, old: jnp.where(go, new, old)
            return (jax.tree_util.tree_map(keep, new_state, state), jnp.where(go, k + taken, k),
                    jnp.where(go, new_r, r)), None

        (state, k, r), _ = jax.lax.scan(body, (state, jnp.asarray(0), residual), None, length=max_steps)
        return state, k, r

    def cond(carry):
        _, k, r = carry
        return still_iterating(k, r, max_steps, tol)

    def body(carry):
        state, k, _ = carry
        state, r, taken = advance(state)
        return state, k + taken, r

    return jax.lax.while_loop(cond, body, (state, jnp.asarray(0), residual))
