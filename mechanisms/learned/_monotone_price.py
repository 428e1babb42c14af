"""A learnable price of load that is nondecreasing for every value of its parameters.

``p(L) = theta_0 + sum_k softplus(theta_k) max(L - L_k, 0)``: a piecewise-linear convex price with
knots ``L_k``, differentiable in the parameters (a pytree), so a designer can learn it through an
equilibrium (:func:`solvers.design`) while monotonicity holds by construction; per hour when its arrays
carry an hour axis, and smooth (convex, ``p'' <= p' / tau``) with a smoothing width ``tau``.

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
    ``knots`` (static) are the loads where the slope changes; ``smoothing`` (static, default 0: exact
    kinks) is the width ``tau`` of the smoothed ramps.

    Hour-dependent prices: give ``base`` shape ``(T,)`` and ``slopes`` shape ``(T, K)`` (or ``(K,)``
    for slopes shared by all hours) and evaluate on loads whose last axis is the hour."""

    base: jax.Array
    slopes: jax.Array
    knots: tuple[float, ...] = static_field(default=())
    smoothing: float = static_field(default=0.0)


def monotone_price(params: MonotonePrice, load):
    """``p(L) = base + sum_k softplus(slopes_k) ramp(L - knots_k)``: nondecreasing in ``L`` for any parameters.

    ``ramp(z) = max(z, 0)`` (``smoothing = 0``) or ``tau softplus(z / tau)`` (``smoothing = tau > 0``),
    so ``p`` is convex and nondecreasing for any ``base`` and ``slopes``. With smoothing it is smooth,
    strictly increasing, and its curvature is bounded by its slope: ``p'(L) = sum_k c_k sigma_k`` and
    ``p''(L) = sum_k c_k sigma_k (1 - sigma_k) / tau <= p'(L) / tau`` (``c_k = softplus(slopes_k)``,
    ``sigma_k = sigmoid((L - knots_k) / tau)``), whatever the parameters: the property that keeps a
    game of users paying this price monotone (:class:`games.PricedDemandResponseGame`).

    Broadcasting gives hour-dependent prices: ``base (T,)``, ``slopes (T, K)`` and ``load (..., T)``
    price every hour with its own curve.

    Example:
      >>> params = MonotonePrice(jnp.array(1.0), jnp.array([0.0, -50.0]), knots=(0.0, 10.0))
      >>> float(monotone_price(params, 4.0)) > float(monotone_price(params, 2.0))
      True
    """
    if len(params.knots) != jnp.shape(params.slopes)[-1]:
        raise ValueError(f"MonotonePrice needs one knot per slope; got {len(params.knots)} knots and "
                         f"slopes of shape {jnp.shape(params.slopes)}")
    tau = params.smoothing
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not tau >= 0 or tau == float("inf"):
        raise ValueError(f"MonotonePrice smoothing must be a finite number >= 0; got {tau!r}")
    load = jnp.asarray(load)
    knots = jnp.asarray(params.knots, dtype=jnp.result_type(load, float))
    shifted = load[..., None] - knots
    ramps = tau * jax.nn.softplus(shifted / tau) if tau > 0 else jnp.maximum(shifted, 0.0)
    return params.base + jnp.sum(jax.nn.softplus(params.slopes) * ramps, axis=-1)
