"""Unilateral misreports of a learned rule: utilities, and a projected gradient-ascent search.

A learned rule maps bids ``(batch, n, m)`` to ``(allocation (batch, n, m), payments (batch, n))``;
bidder ``i`` with true values ``v_i`` gets the quasi-linear utility

    u_i(v; b) = sum_j allocation_ij(b) v_ij - payment_i(b).

Its regret at a profile ``v`` is the most it gains by a unilateral misreport ``r`` in the report
space (a box ``[lower, upper]``, the support of the values),

    rgt_i(v) = max_r  u_i(v; (r, v_{-i})) - u_i(v; v)  (>= 0),

(Duetting et al. 2019, eq. 2). :func:`misreport_utilities` evaluates ``u_i(v; (r_i, v_{-i}))`` for
every bidder at once (``n`` profiles per sample, one for each deviating bidder), and
:func:`ascend_misreports` maximizes it by projected Adam steps from given starting reports, as in
the inner loop of RegretNet's training. Sellers in a double auction fit the same mould: their
"value" is their cost and their allocation is minus what they sell.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

__all__ = ["utilities", "misreport_utilities", "ascend_misreports"]


def utilities(rule_fn, params, values, bids=None):
    """``(batch, n)`` utilities under true ``values`` when the bids are ``bids`` (default: truthful)."""
    allocation, payments = rule_fn(params, values if bids is None else bids)
    return jnp.sum(allocation * values, axis=-1) - payments


def misreport_utilities(rule_fn, params, values, misreports):
    """``(batch, n)``: bidder ``i``'s utility when it alone reports ``misreports[:, i]`` and the others are truthful.

    ``values`` and ``misreports`` are ``(batch, n, m)``; the rule is evaluated on ``n * batch`` profiles.
    """
    batch, n, m = values.shape
    deviates = jnp.eye(n, dtype=bool)[:, None, :, None]  # (deviator, 1, bidder, 1)
    profiles = jnp.where(deviates, misreports[None], values[None])  # (deviator, batch, bidder, item)
    allocation, payments = rule_fn(params, profiles.reshape(n * batch, n, m))
    every = (jnp.sum(allocation.reshape(n, batch, n, m) * values[None], axis=-1)
             - payments.reshape(n, batch, n))  # (deviator, batch, bidder)
    return jnp.diagonal(every, axis1=0, axis2=2)  # (batch, deviator): the deviator's own utility


def ascend_misreports(rule_fn, params, values, start, *, steps: int, learning_rate, lower, upper):
    """Projected Adam ascent of every bidder's misreport utility; returns ``(best reports, best utilities)``.

    Each step moves every misreport along the gradient of its owner's utility (the gradient of the sum
    over bidders and samples, since each report enters only its owner's term) and clips it back into
    the box ``[lower, upper]`` (arrays broadcastable to ``(n, m)``). Adam runs on coordinates scaled to
    the unit box, so ``learning_rate`` is a fraction of the box's width. The best iterate per bidder
    and sample is kept (the start included), so more steps never report less.
    """
    lower = jnp.asarray(lower, values.dtype)
    width = jnp.asarray(upper, values.dtype) - lower
    optimizer = optax.adam(learning_rate)

    def each(scaled):
        utility = misreport_utilities(rule_fn, params, values, lower + scaled * width)
        return jnp.sum(utility), utility

    gain = jax.grad(each, has_aux=True)

    def step(carry, _):
        scaled, state, best, best_utility = carry
        grad, utility = gain(scaled)
        better = utility > best_utility
        best = jnp.where(better[..., None], scaled, best)
        best_utility = jnp.maximum(utility, best_utility)
        with jax.numpy_dtype_promotion("standard"):  # optax's Adam mixes int counts and float decays
            updates, state = optimizer.update(-grad, state)  # ascent
        return (jnp.clip(scaled + updates, 0.0, 1.0), state, best, best_utility), None

    start = jnp.clip((start - lower) / width, 0.0, 1.0)
    init = (start, optimizer.init(start), start, jnp.full(values.shape[:2], -jnp.inf, values.dtype))
    (scaled, _, best, best_utility), _ = jax.lax.scan(step, init, None, length=steps)
    utility = each(scaled)[1]
    better = utility > best_utility
    best = jnp.where(better[..., None], scaled, best)
    return lower + best * width, jnp.maximum(utility, best_utility)
