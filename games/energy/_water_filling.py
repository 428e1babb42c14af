"""Water filling: the projection onto a capped simplex, and the best response to quadratic slot costs.

Reference: M. Held, P. Wolfe and H. P. Crowder (1974), "Validation of subgradient optimization",
Mathematical Programming 6 (projection onto a simplex by a threshold); T. M. Cover and J. A. Thomas
(2006), *Elements of Information Theory*, sec. 9.4 (water filling); D. P. Palomar and J. R. Fonollosa
(2005), "Practical algorithms for a family of waterfilling solutions", IEEE Transactions on Signal
Processing 53(2) (bounded, weighted water levels found by bisection).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["capped_simplex"]


def capped_simplex(y, weights, lower, upper, total, *, iterations: int = 80):
    """Solve ``sum_t clip(y_t - nu w_t, lower_t, upper_t) = total`` for ``nu`` and return the clipped vector.

    With unit weights this is the Euclidean projection onto ``{lower <= z <= upper, sum z = total}``;
    with ``w_t = 1 / (2 a_t)`` it is the water-filling best response to quadratic slot costs. Bisection on
    the monotone function of ``nu``, then an exact solve on the coordinates left free. Shapes ``(..., T)``.
    """
    lo_nu = jnp.min((y - upper) / weights, axis=-1, keepdims=True)  # all at upper: sum >= total
    hi_nu = jnp.max((y - lower) / weights, axis=-1, keepdims=True)  # all at lower: sum <= total

    def body(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        too_much = jnp.sum(jnp.clip(y - mid * weights, lower, upper), axis=-1, keepdims=True) > total[..., None]
        return jnp.where(too_much, mid, lo), jnp.where(too_much, hi, mid)

    lo, hi = jax.lax.fori_loop(0, iterations, body, (lo_nu, hi_nu))
    nu = 0.5 * (lo + hi)
    z = y - nu * weights
    free = (z > lower) & (z < upper)
    clamped = jnp.sum(jnp.where(free, 0.0, jnp.clip(z, lower, upper)), axis=-1, keepdims=True)
    free_weight = jnp.sum(jnp.where(free, weights, 0.0), axis=-1, keepdims=True)
    free_y = jnp.sum(jnp.where(free, y, 0.0), axis=-1, keepdims=True)
    exact_nu = jnp.where(free_weight > 0, (free_y - (total[..., None] - clamped)) / jnp.where(
        free_weight > 0, free_weight, 1.0), nu)
    return jnp.clip(y - exact_nu * weights, lower, upper)
