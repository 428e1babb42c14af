"""Measurements of learned auctions: revenue, regret by a strong test-time attack, individual rationality.

The rules follow the learned-rule protocol of :mod:`mechanisms.learned`: ``rule(params, bids) ->
(allocation (batch, n, m), payments (batch, n))``, bidder ``i``'s utility ``<allocation_i, v_i> -
payment_i``. Regret is measured on the deployed rule (``rule(...)``, e.g. RochetNet's argmax), not
on the training relaxation.

The regret attack is deliberately stronger than the one used in training (Duetting et al. 2019 use
gradient ascent from one start during training, and warn that the test needs more): for each
profile and bidder it takes the best of

1. a dense grid over the report box when the bidder reports at most two numbers (``grid`` points per
   item: exhaustive up to the grid's spacing, and blind to local optima), and
2. ``restarts`` runs of projected Adam ascent with a cosine-decaying step (from the best grid point
   and from uniform random reports), ``steps`` steps each, keeping the best iterate.

It finds the regret of rules known to be manipulable (the first-price auction, the k-double auction)
and reports zero for truthful ones (second price, Myerson's auction, RochetNet, McAfee): see
``tests/analysis/test_auctions.py``.

Reference: P. Duetting, Z. Feng, H. Narasimhan, D. C. Parkes and S. S. Ravindranath (2019),
"Optimal auctions through deep learning", ICML (regret, eq. 2, and its empirical estimate, Sec. 4).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from solvers.design import ascend_misreports, misreport_utilities, utilities

from ._incentives import ir_violation as _clearing_ir_violation

__all__ = ["auction_revenue", "auction_regret", "auction_ir_violation", "ir_violation"]

#: Largest number of reported numbers per bidder for which the dense grid is used.
MAX_GRID_ITEMS = 2


def _values(name, rule, values):
    values = jnp.asarray(values)
    if not jnp.issubdtype(values.dtype, jnp.floating):
        values = values.astype(jnp.result_type(float))
    shape = (rule.num_bidders, rule.num_items)
    if values.ndim != 3 or values.shape[1:] != shape:
        raise ValueError(f"{name}: values must have shape (profiles, {shape[0]}, {shape[1]}) "
                         f"(profiles, bidders, items); got {values.shape}")
    if values.shape[0] == 0:
        raise ValueError(f"{name}: values must hold at least one profile")
    if not np.isfinite(np.asarray(values)).all():
        raise ValueError(f"{name}: values must be finite")
    return values


def auction_revenue(rule, params, values):
    """Mean revenue of the deployed rule under truthful bids: ``E[sum_i payment_i(v)]``.

    For a double auction (sellers' payments negative) this is the operator's mean budget surplus.

    Example:
      >>> import jax
      >>> from mechanisms import RochetNet
      >>> rule = RochetNet(2, menu_size=4)
      >>> revenue = auction_revenue(rule, rule.init(jax.random.key(0)), jax.random.uniform(jax.random.key(1), (100, 1, 2)))
      >>> revenue.shape
      ()
    """
    values = _values("auction_revenue", rule, values)
    return _revenue(rule, params, values)


@functools.partial(jax.jit, static_argnames="rule")
def _revenue(rule, params, values):
    return jnp.mean(jnp.sum(rule(params, values)[1], axis=-1))


@functools.partial(jax.jit, static_argnames="rule")
def _ir_losses(rule, params, values):
    return jnp.maximum(-utilities(rule, params, values), 0.0)


def auction_ir_violation(rule, params, values):
    """``(profiles, bidders)``: each truthful bidder's loss from taking part, ``max(0, -u_i(v; v))`` (0: IR)."""
    values = _values("ir_violation", rule, values)
    return _ir_losses(rule, params, values)


def ir_violation(*args, **kwargs):
    """Individual-rationality violation, for a double-auction clearing or a learned rule.

    - ``ir_violation(clearing, values, costs)``: the largest loss any trader of a
      :class:`mechanisms.Clearing` suffers from participating truthfully (as before).
    - ``ir_violation(rule, params, values)``: for a learned rule, ``(profiles, bidders)`` losses
      ``max(0, -u_i(v; v))`` (:func:`auction_ir_violation`).
    """
    first = args[0] if args else kwargs.get("clearing", kwargs.get("rule"))
    if hasattr(first, "buyer_trades"):
        return _clearing_ir_violation(*args, **kwargs)
    if len(args) + len(kwargs) != 3:
        raise ValueError("ir_violation: call as ir_violation(clearing, values, costs) or ir_violation(rule, params, values)")
    return auction_ir_violation(*args, **kwargs)


def auction_regret(rule, params, values, *, grid=None, restarts: int = 8, steps: int = 200, learning_rate=0.05,
                   support=None, key=None, chunk_size: int = 256):
    """Each bidder's regret at each profile, by a dense grid plus many-restart gradient ascent.

    ``regret[p, i] = max_r u_i(v_p; (r, v_p,-i)) - u_i(v_p; v_p) >= 0`` over reports ``r`` in the box
    ``support`` (default: the range of ``values`` per bidder and item). ``regret.mean(0)`` is the
    per-bidder expected regret of Duetting et al. (2019); ``regret.mean()`` the usual summary.

    Args:
      rule, params: a learned rule (``rule(params, bids) -> (allocation, payments)``) and its parameters.
      values: ``(profiles, bidders, items)`` true valuation profiles.
      grid: grid points per item (default 257 for one item, 33 for two; ``0`` turns the grid off;
        never used for more than two items).
      restarts: gradient-ascent runs per profile and bidder (the first from the best grid point when
        there is a grid, the others from uniform random reports).
      steps: Adam steps per run (0: grid only).
      learning_rate: Adam's initial step as a fraction of the box's width (cosine decay to 1% of it).
      support: ``(lower, upper)`` of the report space, broadcast to ``(bidders, items)``.
      key: ``jax.random`` key for the random starts (default ``key(0)``).
      chunk_size: profiles per compiled call (memory).

    Returns:
      ``(profiles, bidders)`` regrets.

    Example:
      >>> import jax
      >>> from mechanisms import RochetNet
      >>> rule = RochetNet(2, menu_size=4)  # truthful by construction: no misreport gains
      >>> values = jax.random.uniform(jax.random.key(1), (8, 1, 2))
      >>> regret = auction_regret(rule, rule.init(jax.random.key(0)), values, support=(0.0, 1.0))
      >>> regret.shape, bool(regret.max() < 1e-9)
      ((8, 1), True)
    """
    values = _values("auction_regret", rule, values)
    n, m = rule.num_bidders, rule.num_items
    if grid is None:
        grid = {1: 257, 2: 33}.get(m, 0)
    for name, value, least in (("grid", grid, 0), ("restarts", restarts, 0), ("steps", steps, 0),
                               ("chunk_size", chunk_size, 1)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"auction_regret: {name} must be an integer >= {least}; got {value!r}")
    if grid == 1:
        raise ValueError("auction_regret: grid must be 0 (off) or at least 2 points per item")
    if m > MAX_GRID_ITEMS:
        grid = 0
    if grid == 0 and (restarts == 0 or steps == 0):
        raise ValueError("auction_regret: with no grid, restarts and steps must be positive")
    if not float(learning_rate) > 0:
        raise ValueError(f"auction_regret: learning_rate must be positive; got {learning_rate!r}")
    host = np.asarray(values)
    if support is None:
        lower, upper = host.min(axis=0), host.max(axis=0)
    else:
        try:
            lower, upper = support
        except (TypeError, ValueError):
            raise ValueError("auction_regret: support must be a pair (lower, upper)") from None
        lower = np.broadcast_to(np.asarray(lower, np.float64), (n, m))
        upper = np.broadcast_to(np.asarray(upper, np.float64), (n, m))
    upper = np.where(upper > lower, upper, lower + 1.0)  # a degenerate direction still gets a box
    if not (np.isfinite(lower).all() and np.isfinite(upper).all()):
        raise ValueError("auction_regret: support must be finite")
    lower, upper = jnp.asarray(lower, values.dtype), jnp.asarray(upper, values.dtype)
    key = jax.random.key(0) if key is None else key

    profiles = values.shape[0]
    chunks = -(-profiles // chunk_size)
    padded = jnp.concatenate([values, jnp.broadcast_to(values[:1], (chunks * chunk_size - profiles, n, m))])
    out = []
    for c in range(chunks):
        block = padded[c * chunk_size:(c + 1) * chunk_size]
        out.append(_regret_block(rule, params, block, lower, upper, jax.random.fold_in(key, c),
                                 jnp.asarray(learning_rate, values.dtype), grid=grid, restarts=restarts, steps=steps))
    return jnp.concatenate(out)[:profiles]


@functools.partial(jax.jit, static_argnames=("rule", "grid", "restarts", "steps"))
def _regret_block(rule, params, values, lower, upper, key, learning_rate, *, grid, restarts, steps):
    batch, n, m = values.shape
    truthful = utilities(rule, params, values)
    best = truthful
    best_report = values
    if grid:
        axis = jnp.linspace(0.0, 1.0, grid, dtype=values.dtype)
        points = jnp.stack(jnp.meshgrid(*([axis] * m), indexing="ij"), -1).reshape(-1, m)  # unit box

        def scan_point(carry, point):
            best, best_report = carry
            report = jnp.broadcast_to(lower + point * (upper - lower), values.shape)
            utility = misreport_utilities(rule, params, values, report)
            better = utility > best
            return (jnp.where(better, utility, best), jnp.where(better[..., None], report, best_report)), None

        (best, best_report), _ = jax.lax.scan(scan_point, (best, best_report), points)
    if steps and restarts:
        schedule = optax.cosine_decay_schedule(learning_rate, steps, alpha=0.01)
        randoms = lower + (upper - lower) * jax.random.uniform(key, (restarts, batch, n, m), values.dtype)
        starts = randoms.at[0].set(best_report) if grid else randoms

        def run(start):
            return ascend_misreports(rule, params, values, start, steps=steps, learning_rate=schedule,
                                     lower=lower, upper=upper)[1]

        best = jnp.maximum(best, jnp.max(jax.lax.map(run, starts), axis=0))
    return jnp.maximum(best - truthful, 0.0)
