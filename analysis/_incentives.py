"""Incentive checks for double-auction mechanisms: incentive compatibility (regret of misreports) and
individual rationality, measured on given markets.

A *mechanism* here is any function ``mechanism(bids, asks, *, buyer_mask,
seller_mask) -> Clearing`` (see :mod:`mechanisms`); keyword parameters such as
``k`` or ``key`` are bound beforehand with ``functools.partial``.

Quasi-linear utilities: a buyer with value ``v`` who trades and pays ``p``
gets ``v - p``; a seller with cost ``c`` who trades and receives ``r`` gets
``r - c``; those who do not trade get 0.

Reference: N. Nisan, T. Roughgarden, E. Tardos and V. Vazirani (eds., 2007),
*Algorithmic Game Theory*, ch. 9 (incentive compatibility, individual
rationality, budget balance).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["trader_utilities", "ic_regret", "ir_violation"]


def trader_utilities(clearing, values, costs):
    """Quasi-linear utilities ``(buyers, sellers)`` of a clearing under true values and costs.

    Trades may be booleans or probabilities (a randomized or smooth rule, with
    payments in expectation): ``u_buyer = trade * value - payment``,
    ``u_seller = receipt - trade * cost``.
    """
    dtype = clearing.buyer_payments.dtype
    buyers = jnp.asarray(clearing.buyer_trades, dtype) * values - clearing.buyer_payments
    sellers = clearing.seller_receipts - jnp.asarray(clearing.seller_trades, dtype) * costs
    return buyers, sellers


def _real(x, name):
    """``x`` as a float array; ``ValueError`` naming ``name`` if it is complex or not numeric (a cast
    would drop the imaginary part silently)."""
    try:
        dtype = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array of real numbers: {err}") from None
    if np.issubdtype(dtype, np.complexfloating):
        raise ValueError(f"{name} must be real; got complex values (dtype {dtype})")
    if not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)):
        raise ValueError(f"{name} must hold real numbers; got dtype {dtype}")
    return jnp.asarray(x).astype(jnp.result_type(float))


def _masks(values, costs, buyer_mask, seller_mask):
    values = _real(values, "values")
    costs = _real(costs, "costs")
    buyer_mask = jnp.ones(values.shape, bool) if buyer_mask is None else jnp.asarray(buyer_mask, bool)
    seller_mask = jnp.ones(costs.shape, bool) if seller_mask is None else jnp.asarray(seller_mask, bool)
    if values.ndim != 1 or costs.ndim != 1:
        raise ValueError(f"values and costs must be 1-D (one market); got shapes {values.shape} and {costs.shape}")
    if buyer_mask.shape != values.shape or seller_mask.shape != costs.shape:
        raise ValueError("masks must match the shapes of values and costs")
    for name, x, mask in (("values", values, buyer_mask), ("costs", costs, seller_mask)):
        if not np.isfinite(np.asarray(x)[np.asarray(mask)]).all():
            raise ValueError(f"{name} must be finite")
    return values, costs, buyer_mask, seller_mask


def ic_regret(mechanism, values, costs, *, buyer_mask=None, seller_mask=None, quantities=None, num_grid: int = 64,
              gradient_steps: int = 0, restarts: int = 4, learning_rate: float = 1e-2):
    """Largest gain any single trader gets from a unilateral misreport, with everyone else truthful.

    The search covers a dense grid of ``num_grid`` reports spanning the
    market's range (widened by its width on each side) plus every *critical*
    report: each other trader's report, a hair above and below it. For rules
    that depend on reports only through their order and order statistics (all
    the double auctions here) utilities are constant between critical
    reports, so this search is exact up to the hair; for smooth rules it is a
    grid search.

    Args:
      mechanism: ``(bids, asks, *, buyer_mask, seller_mask) -> Clearing``.
      values, costs: one market's true buyer values ``(B,)`` and seller costs ``(S,)``.
      quantities: for multi-unit rules, ``(buy_quantities, sell_quantities)``, passed to the
        mechanism as its third and fourth arguments and held at their true values (price
        misreports only), e.g. ``ic_regret(huang_double_auction, v, c, quantities=(qb, qs))``.
      num_grid: dense grid points.
      gradient_steps: Adam steps of gradient ascent on each trader's utility
        in its own report, from the ``restarts`` best candidates (for smooth
        rules; a grid alone underestimates their regret, and gradient ascent
        alone gets stuck at local optima, so both are used).
      learning_rate: Adam's step, relative to the width of the report range.

    Returns:
      ``(buyer_regret, seller_regret)``: per-trader best gains, shapes ``(B,)``
      and ``(S,)`` (0 for padding slots). ``max`` of both is the market's regret.
    """
    values, costs, buyer_mask, seller_mask = _masks(values, costs, buyer_mask, seller_mask)
    for name, value in (("num_grid", num_grid), ("restarts", restarts)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
    if isinstance(gradient_steps, bool) or not isinstance(gradient_steps, int) or gradient_steps < 0:
        raise ValueError(f"gradient_steps must be a nonnegative integer; got {gradient_steps!r}")
    quantities = () if quantities is None else tuple(
        _real(q, name) for q, name in zip(quantities, ("buy_quantities", "sell_quantities")))
    if len(quantities) not in (0, 2):
        raise ValueError("quantities must be a pair (buy_quantities, sell_quantities)")
    if not isinstance(learning_rate, (int, float)) or isinstance(learning_rate, bool) or not learning_rate > 0:
        raise ValueError(f"learning_rate must be a positive number; got {learning_rate!r}")
    return _ic_regret(mechanism, values, costs, buyer_mask, seller_mask, quantities, learning_rate, num_grid=num_grid,
                      gradient_steps=gradient_steps, restarts=restarts)


@functools.partial(jax.jit, static_argnames=("mechanism", "num_grid", "gradient_steps", "restarts"))
def _ic_regret(mechanism, values, costs, buyer_mask, seller_mask, quantities, learning_rate, *, num_grid, gradient_steps,
               restarts):
    reports = jnp.concatenate([values, costs])
    real = jnp.concatenate([buyer_mask, seller_mask])
    lo = jnp.min(jnp.where(real, reports, jnp.inf), initial=jnp.inf)  # initial: a market may have no traders
    hi = jnp.max(jnp.where(real, reports, -jnp.inf), initial=-jnp.inf)
    width = jnp.maximum(hi - lo, 1.0)
    hair = 1e-9 * width
    grid = jnp.linspace(lo - width, hi + width, num_grid)
    critical = jnp.concatenate([reports - hair, reports + hair])
    candidates = jnp.concatenate([grid, jnp.where(jnp.concatenate([real, real]), critical, lo)])

    def clear(bids, asks):
        return mechanism(bids, asks, *quantities, buyer_mask=buyer_mask, seller_mask=seller_mask)

    truthful_buyers, truthful_sellers = trader_utilities(clear(values, costs), values, costs)

    def buyer_gain(i, report):
        c = clear(values.at[i].set(report), costs)
        return trader_utilities(c, values, costs)[0][i] - truthful_buyers[i]

    def seller_gain(j, report):
        c = clear(values, costs.at[j].set(report))
        return trader_utilities(c, values, costs)[1][j] - truthful_sellers[j]

    optimizer = optax.adam(learning_rate * width)

    def best_gain(gain, i):
        gains = jax.vmap(lambda r: gain(i, r))(candidates)
        if gradient_steps == 0:
            return jnp.max(gains)
        _, top = jax.lax.top_k(gains, min(restarts, candidates.shape[0]))

        def ascend(report):
            def step(carry, _):
                report, state, best = carry
                value, grad = jax.value_and_grad(lambda r: gain(i, r))(report)
                with jax.numpy_dtype_promotion("standard"):  # optax's Adam mixes int counts and float decays
                    updates, state = optimizer.update(-grad, state)  # ascent
                return (report + updates, state, jnp.maximum(best, value)), None

            (report, _, best), _ = jax.lax.scan(step, (report, optimizer.init(report), -jnp.inf), None,
                                                length=gradient_steps)
            return jnp.maximum(best, gain(i, report))

        return jnp.maximum(jnp.max(gains), jnp.max(jax.vmap(ascend)(candidates[top])))

    def regrets(gain, count):  # a side without traders (a one-sided market) has no regrets to search
        if count == 0:
            return jnp.zeros(0, values.dtype)
        return jax.vmap(lambda i: best_gain(gain, i))(jnp.arange(count))

    buyer_regret = regrets(buyer_gain, values.shape[0])
    seller_regret = regrets(seller_gain, costs.shape[0])
    return (jnp.where(buyer_mask, jnp.maximum(buyer_regret, 0.0), 0.0),
            jnp.where(seller_mask, jnp.maximum(seller_regret, 0.0), 0.0))


def ir_violation(clearing, values, costs):
    """Largest loss any trader suffers from participating truthfully (0 when individually rational).

    ``max(0, max_i -u_i)`` over buyers and sellers: 0 for a market without buyers or sellers.
    """
    dtype = clearing.buyer_payments.dtype
    values, costs = _real(values, "values").astype(dtype), _real(costs, "costs").astype(dtype)
    buyers, sellers = trader_utilities(clearing, values, costs)
    zero = jnp.zeros((), buyers.dtype)
    return jnp.maximum(jnp.max(-buyers, axis=-1, initial=zero), jnp.max(-sellers, axis=-1, initial=zero))
