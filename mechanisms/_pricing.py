"""Pricing and billing rules for electricity consumers over ``T`` time slots.

Loads are arrays ``(..., N, T)``: user ``n``'s consumption in slot ``t``.
Every rule returns each user's bill ``(..., N)``.

- Flat: ``bill_n = p sum_t l_nt``.
- Time of use: ``bill_n = sum_t p_t l_nt``.
- Real-time, linear in load: ``p_t = alpha + beta L_t`` with ``L_t = sum_n l_nt``.
- Daily proportional billing of a quadratic generation cost ``C_t(L) = a_t L^2 + b_t L``
  (Mohsenian-Rad et al. 2010): ``bill_n = (sum_t l_nt / sum_t L_t) sum_t C_t(L_t)``;
  its energy-consumption game has the social optimum as Nash equilibrium.
- Hourly proportional billing: ``bill_n = sum_t (l_nt / L_t) C_t(L_t)``.
- A parametric monotone price of load for learning: ``p(L) = theta_0 + sum_k
  softplus(theta_k) max(L - L_k, 0)``, nondecreasing in ``L`` for every
  ``theta`` (a pytree), differentiable in ``theta``; per hour when its arrays
  carry an hour axis, and smooth (convex, ``p'' <= p' / tau``) with a
  smoothing width ``tau``.
- Locational marginal prices of a DC optimal power flow, from HiGHS duals
  (scipy, outside jit): see :func:`dc_opf_lmp`.

References: A.-H. Mohsenian-Rad, V. W. S. Wong, J. Jatskevich, R. Schober and
A. Leon-Garcia (2010), "Autonomous demand-side management based on
game-theoretic energy consumption scheduling for the future smart grid", IEEE
Transactions on Smart Grid 1(3); F. C. Schweppe, M. C. Caramanis, R. D.
Tabors and R. E. Bohn (1988), *Spot Pricing of Electricity* (LMPs);
Q. Huangfu and J. A. J. Hall (2018), "Parallelizing the dual revised simplex
method", Math. Prog. Computation (HiGHS).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from ._validation import check_finite_nonnegative

__all__ = [
    "flat_rate_bills",
    "time_of_use_bills",
    "real_time_prices",
    "real_time_bills",
    "quadratic_cost",
    "daily_proportional_bills",
    "hourly_proportional_bills",
    "daily_proportional_bill",
    "hourly_proportional_bill",
    "MonotonePrice",
    "monotone_price",
    "dc_opf_lmp",
    "DCOPFResult",
]


def _loads(loads, name="loads"):
    loads = jnp.asarray(loads)
    if not jnp.issubdtype(loads.dtype, jnp.floating):
        loads = loads.astype(jnp.result_type(float))
    if loads.ndim < 2 or loads.shape[-1] < 1 or loads.shape[-2] < 1:
        raise ValueError(f"{name} must have shape (..., users, slots) with both >= 1; got {loads.shape}")
    check_finite_nonnegative(loads, name, " (consumption)")
    return loads


def _per_slot(x, loads, name):
    x = jnp.asarray(x, loads.dtype)
    if x.shape not in ((), (loads.shape[-1],)):
        raise ValueError(f"{name} must be a scalar or one value per slot ({loads.shape[-1]},); got {x.shape}")
    if not isinstance(x, jax.core.Tracer) and not np.isfinite(np.asarray(x)).all():
        raise ValueError(f"{name} must be finite")
    return x


def flat_rate_bills(loads, price):
    """``bill_n = price * sum_t l_nt``."""
    loads = _loads(loads)
    return _per_slot(price, loads, "price") * jnp.sum(loads, axis=-1)


def time_of_use_bills(loads, prices):
    """``bill_n = sum_t prices_t l_nt``."""
    loads = _loads(loads)
    return jnp.sum(_per_slot(prices, loads, "prices") * loads, axis=-1)


def real_time_prices(loads, *, alpha, beta):
    """``p_t = alpha + beta L_t``, linear in the total load of each slot."""
    loads = _loads(loads)
    return _per_slot(alpha, loads, "alpha") + _per_slot(beta, loads, "beta") * jnp.sum(loads, axis=-2)


def real_time_bills(loads, *, alpha, beta):
    """Bills at real-time prices linear in load: ``sum_t (alpha + beta L_t) l_nt``."""
    prices = real_time_prices(loads, alpha=alpha, beta=beta)
    return jnp.sum(prices[..., None, :] * jnp.asarray(loads), axis=-1)


def quadratic_cost(total_load, a, b):
    """Generation cost ``C_t(L) = a_t L^2 + b_t L`` per slot."""
    return a * total_load**2 + b * total_load


def _cost_coefficients(loads, a, b):
    a = _per_slot(a, loads, "a")
    b = _per_slot(b, loads, "b")
    if not isinstance(a, jax.core.Tracer) and (np.asarray(a) < 0).any():
        raise ValueError("a must be nonnegative (a convex cost)")
    return a, b


def marginal_cost_price(total, *, a, b, renewables=0.0):
    """Real-time price at marginal cost, ``p_t = C_t'(L_t - r_t) = 2 a_t (L_t - r_t) + b_t`` (``(..., T)``).

    Spot pricing at the marginal cost of supply (Schweppe, Caramanis, Tabors and Bohn 1988); a
    real-time price linear in load (:func:`real_time_prices` with ``alpha = b - 2 a r``, ``beta = 2 a``),
    unvalidated and differentiable: the building block of games (net loads may be negative here).

    Reference: F. C. Schweppe, M. C. Caramanis, R. D. Tabors and R. E. Bohn (1988), *Spot Pricing of
    Electricity*, Kluwer.
    """
    return 2.0 * a * (total - renewables) + b


def arbitrage_bill(own, total, *, a, b, renewables=0.0):
    """What a storage unit pays for its net charging ``own`` at the marginal-cost price: ``sum_t p_t own_t``
    (negative: revenue from discharging at high prices). Unvalidated and differentiable."""
    return jnp.sum(marginal_cost_price(total, a=a, b=b, renewables=renewables) * own, axis=-1)


def daily_proportional_bill(own, total, *, a, b, renewables=0.0):
    """One user's daily proportional bill from its schedule ``own`` and the total load ``total`` (both ``(..., T)``).

    ``(sum_t own_t / sum_t total_t) sum_t C_t(total_t - renewables_t)``: the
    day's cost of the net load, shared by daily energy. Unvalidated and
    differentiable: the building block of games (an aggregative form, O(T)).

    Reference: Mohsenian-Rad et al. (2010), eq. (14).
    """
    cost = jnp.sum(quadratic_cost(total - renewables, a, b), axis=-1)
    day = jnp.sum(total, axis=-1)
    return jnp.where(day > 0, jnp.sum(own, axis=-1) / jnp.where(day > 0, day, 1.0), 0.0) * cost


def hourly_proportional_bill(own, total, *, a, b, renewables=0.0):
    """One user's hourly proportional bill: ``sum_t (own_t / total_t) C_t(total_t - renewables_t)``."""
    share = jnp.where(total > 0, own / jnp.where(total > 0, total, 1.0), 0.0)
    return jnp.sum(share * quadratic_cost(total - renewables, a, b), axis=-1)


def daily_proportional_bills(loads, *, a, b, renewables=0.0):
    """Each user pays the day's total cost in proportion to its daily energy (Mohsenian-Rad et al. 2010)."""
    loads = _loads(loads)
    a, b = _cost_coefficients(loads, a, b)
    renewables = _per_slot(renewables, loads, "renewables")
    return daily_proportional_bill(loads, jnp.sum(loads, axis=-2, keepdims=True), a=a, b=b, renewables=renewables)


def hourly_proportional_bills(loads, *, a, b, renewables=0.0):
    """Each user pays each slot's cost in proportion to its load in that slot."""
    loads = _loads(loads)
    a, b = _cost_coefficients(loads, a, b)
    renewables = _per_slot(renewables, loads, "renewables")
    return hourly_proportional_bill(loads, jnp.sum(loads, axis=-2, keepdims=True), a=a, b=b, renewables=renewables)


@dataclasses.dataclass(frozen=True)
class MonotonePrice:
    """Parameters of :func:`monotone_price`: ``base`` and raw ``slopes`` (softplus makes them >= 0);
    ``knots`` (static) are the loads where the slope changes; ``smoothing`` (static, default 0: exact
    kinks) is the width ``tau`` of the smoothed ramps.

    Hour-dependent prices: give ``base`` shape ``(T,)`` and ``slopes`` shape ``(T, K)`` (or ``(K,)``
    for slopes shared by all hours) and evaluate on loads whose last axis is the hour."""

    base: jax.Array
    slopes: jax.Array
    knots: tuple[float, ...] = dataclasses.field(metadata=dict(static=True), default=())
    smoothing: float = dataclasses.field(metadata=dict(static=True), default=0.0)


jax.tree_util.register_dataclass(MonotonePrice, data_fields=["base", "slopes"], meta_fields=["knots", "smoothing"])


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


@dataclasses.dataclass(frozen=True)
class DCOPFResult:
    """Dispatch, flows and locational marginal prices of a DC optimal power flow (numpy arrays)."""

    generation: np.ndarray  # (G,)
    flows: np.ndarray  # (lines,)
    lmp: np.ndarray  # (buses,) marginal cost of one more unit of demand at each bus
    cost: float
    congested: np.ndarray  # (lines,) bool: a line at its limit


def dc_opf_lmp(demand, *, generator_bus, generator_cost, generator_capacity, ptdf, line_capacity) -> DCOPFResult:
    """Least-cost dispatch with line limits, and the LMPs from its duals (HiGHS, outside jit).

    Minimize ``sum_g c_g P_g`` subject to ``sum_g P_g = sum_b d_b``,
    ``|PTDF (G P - d)| <= F`` and ``0 <= P_g <= Pmax_g``, where ``G`` maps
    generators to buses. The LMP at bus ``b`` is ``d cost / d d_b``:
    ``lambda + PTDF[:, b] . (mu_up - mu_down)`` from the balance and line duals.

    Args:
      demand: ``(B,)`` demand per bus.
      generator_bus: ``(G,)`` bus index of each generator.
      generator_cost: ``(G,)`` marginal cost.
      generator_capacity: ``(G,)`` capacity, nonnegative.
      ptdf: ``(lines, B)`` power transfer distribution factors (slack column zero).
      line_capacity: ``(lines,)`` nonnegative limits.

    Reference: Schweppe et al. (1988).
    """
    d = np.asarray(demand, dtype=float)
    gb = np.asarray(generator_bus)
    c = np.asarray(generator_cost, dtype=float)
    cap = np.asarray(generator_capacity, dtype=float)
    H = np.asarray(ptdf, dtype=float)
    F = np.asarray(line_capacity, dtype=float)
    B = d.shape[0] if d.ndim == 1 else -1
    if d.ndim != 1 or H.ndim != 2 or H.shape[1] != B:
        raise ValueError(f"demand must be (buses,) and ptdf (lines, buses); got {d.shape} and {H.shape}")
    if not (gb.shape == c.shape == cap.shape) or gb.ndim != 1 or gb.size == 0:
        raise ValueError("generator_bus, generator_cost and generator_capacity must be equal-length 1-D arrays")
    if F.shape != (H.shape[0],):
        raise ValueError(f"line_capacity must have shape ({H.shape[0]},); got {F.shape}")
    for name, x in (("demand", d), ("generator_cost", c), ("generator_capacity", cap), ("ptdf", H),
                    ("line_capacity", F)):
        if not np.isfinite(x).all():
            raise ValueError(f"{name} must be finite")
    if (cap < 0).any() or (F < 0).any():
        raise ValueError("generator_capacity and line_capacity must be nonnegative")
    if not np.issubdtype(gb.dtype, np.integer) or (gb < 0).any() or (gb >= B).any():
        raise ValueError(f"generator_bus must hold bus indices in [0, {B})")
    if cap.sum() < d.sum() - 1e-12:
        raise ValueError(f"infeasible: total demand {d.sum():g} exceeds total capacity {cap.sum():g}")
    G = np.zeros((B, gb.size))
    G[gb, np.arange(gb.size)] = 1.0
    HG = H @ G
    A_ub = np.vstack([HG, -HG])
    b_ub = np.concatenate([F + H @ d, F - H @ d])
    res = scipy.optimize.linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=np.ones((1, gb.size)), b_eq=[d.sum()],
                                 bounds=list(zip(np.zeros_like(cap), cap)), method="highs")
    if res.status != 0:
        raise ValueError(f"infeasible DC-OPF (line limits cannot carry the demand): {res.message}")
    mu = res.ineqlin.marginals
    lines = H.shape[0]
    lmp = res.eqlin.marginals[0] + H.T @ (mu[:lines] - mu[lines:])
    flows = H @ (G @ res.x - d)
    congested = np.abs(np.abs(flows) - F) <= 1e-9 * np.maximum(1.0, F)
    return DCOPFResult(generation=res.x, flows=flows, lmp=lmp, cost=float(res.fun), congested=congested)
