"""A learnable price of load that is nondecreasing for every value of its parameters.

``p(L) = theta_0 + sum_k softplus(theta_k) max(L - L_k, 0)``: a piecewise-linear convex price with
knots ``L_k``, differentiable in the parameters (a pytree), so a designer can learn it through an
equilibrium (:mod:`solvers` design) while monotonicity holds by construction.

Reference: monotone regression splines, nonnegative coefficients on nondecreasing basis functions
(here hinges ``max(L - L_k, 0)``): J. O. Ramsay (1988), "Monotone regression splines in action",
Statistical Science 3(4).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._pytree import pytree_dataclass, static_field

__all__ = ["MonotonePrice", "monotone_price"]


@pytree_dataclass
class MonotonePrice:
    """Parameters of :func:`monotone_price`: ``base`` and raw ``slopes`` (softplus makes them >= 0);
    ``knots`` (static) are the loads where the slope changes."""

    base: jax.Array
    slopes: jax.Array
    knots: tuple[float, ...] = static_field(default=())


def monotone_price(params: MonotonePrice, load):
    """``p(L) = base + sum_k softplus(slopes_k) max(L - knots_k, 0)``: nondecreasing in ``L`` for any parameters.

    Example:
      >>> params = MonotonePrice(jnp.array(1.0), jnp.array([0.0, -50.0]), knots=(0.0, 10.0))
      >>> float(monotone_price(params, 4.0)) > float(monotone_price(params, 2.0))
      True
    """
    if len(params.knots) != jnp.shape(params.slopes)[-1]:
        raise ValueError(f"MonotonePrice needs one knot per slope; got {len(params.knots)} knots and "
                         f"slopes of shape {jnp.shape(params.slopes)}")
    load = jnp.asarray(load)
    knots = jnp.asarray(params.knots, dtype=jnp.result_type(load, float))
    ramps = jnp.maximum(load[..., None] - knots, 0.0)
    return params.base + jnp.sum(jax.nn.softplus(params.slopes) * ramps, axis=-1)
