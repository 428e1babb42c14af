"""Built-in sweep functions for the common studies: one row of parameters in, a dict of metrics out.

Each is a plain function of one row for :func:`~analysis.sweep`, declaring which parameters are
static (they fix array shapes or choose a rule) and checking the whole parameter table eagerly
before anything is traced:

- :func:`demand_response_study`: peak-to-average ratio, cost and price of anarchy of a billing
  rule in the demand-response game (Mohsenian-Rad et al. 2010), over users, renewables and billing.
- :func:`network_cournot_study`: welfare and locational-price spread of networked Cournot
  competition on IEEE 30 (Hobbs 2001), over the number of producers and the line ratings.
- :func:`mechanism_study`: incentive-compatibility regret, individual rationality, budget surplus
  and efficiency of double auctions (McAfee 1992 and others) over market sizes.

``STUDIES`` maps the names used by ``nashgrid sweep`` to these functions.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from games import Consumers, DemandResponseGame, ieee30, network_cournot_game, storage_units
from mechanisms import (
    efficient_trades,
    k_double_auction,
    mcafee_double_auction,
    sbba_double_auction,
    vcg_double_auction,
)
from solvers import Status, solve_gne, solve_vi

__all__ = ["demand_response_study", "demand_response_scenario", "network_cournot_study", "cournot_scenario",
           "mechanism_study", "STUDIES", "BILLING_RULES", "MECHANISMS"]

BILLING_RULES = ("daily", "hourly")
MECHANISMS = ("k_double", "mcafee", "sbba", "vcg")


def _study(*, static, required, optional=()):
    """Attach the attributes :func:`~analysis.sweep` reads: static parameters and an eager table check."""

    def wrap(fn):
        def validate_parameters(table):
            missing = [name for name in required if name not in table.columns]
            if missing:
                raise ValueError(f"{fn.__name__} needs the parameters {list(required)}; missing {missing} "
                                 f"(optional: {list(optional)})")
            fn.check_rows(table.columns)

        fn.static_axes = tuple(static)
        fn.validate_parameters = validate_parameters
        return fn

    return wrap


def _integers(columns, name, low, high=None):
    if name not in columns:
        return
    column = columns[name]
    if column.dtype.kind not in "iu" or (column < low).any() or (high is not None and (column > high).any()):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"parameter {name!r} must hold integers {bound}; got {sorted(set(column.tolist()))[:5]}")


def _choices(columns, name, allowed):
    if name in columns:
        bad = sorted(set(columns[name].tolist()) - set(allowed))
        if bad:
            raise ValueError(f"parameter {name!r} must be one of {list(allowed)}; got {bad}")


def _reals(columns, name, inside, description):
    if name not in columns:
        return
    column = columns[name]
    if column.dtype.kind not in "iuf":
        raise ValueError(f"parameter {name!r} must be a number; got dtype {column.dtype}")
    bad = column[~inside(column.astype(float))]
    if bad.size:
        raise ValueError(f"parameter {name!r} must be {description}; got {bad[:5].tolist()}")


# ----------------------------------------------------------------------------------------------
# Demand response


def demand_response_scenario(users: int, renewable_share, *, billing: str = "daily", seed=0,
                             slots: int = 24) -> DemandResponseGame:
    """A synthetic demand-response day: ``users`` households, ``slots`` slots, solar renewables.

    Household ``n`` may draw ``upper_nt = u_nt s(h_t)`` in slot ``t`` (hour ``h_t``), ``u_nt ~ U(0.5, 2)``,
    where ``s(h) = 0.5 + exp(-((h - 19) / 2.5)^2) + 0.4 exp(-((h - 8) / 2)^2)`` is a residential
    profile with a morning bump and an evening peak; a quarter of it is an inflexible baseline
    (``lower = upper / 4``) and its daily energy is ``U(0.4, 0.7)`` of its room, so households that
    do not respond to prices load the grid in the evening. Slot costs ``C_t(L) = a_t L^2 + 0.1 L``
    with ``a_t = 0.3 / users`` from 8:00 to 22:00 and ``0.2 / users`` at night (per-household costs
    independent of the number of households).
    Renewables follow a solar profile ``max(0, sin(pi (h - 6) / 12))`` scaled so that at noon they
    cover ``renewable_share`` of the inflexible load: the net load never falls below
    ``(1 - renewable_share)`` times the baseline, so both billing rules are defined.

    ``renewable_share`` and ``seed`` may be traced; ``users``, ``slots`` and ``billing`` are static.

    Reference: the game of A.-H. Mohsenian-Rad et al. (2010), IEEE Trans. Smart Grid 1(3).
    """
    if billing not in BILLING_RULES:
        raise ValueError(f"billing must be one of {BILLING_RULES}; got {billing!r}")
    for name, value in (("users", users), ("slots", slots)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
    if not isinstance(renewable_share, jax.core.Tracer) and not 0.0 <= float(renewable_share) <= 1.0:
        raise ValueError(f"renewable_share must lie in [0, 1]; got {renewable_share!r}")
    dtype = jnp.result_type(float)
    key_upper, key_energy = jax.random.split(jax.random.fold_in(jax.random.key(0), seed))
    hours = jnp.arange(slots, dtype=dtype) * (24.0 / slots)
    profile = 0.5 + jnp.exp(-(((hours - 19.0) / 2.5) ** 2)) + 0.4 * jnp.exp(-(((hours - 8.0) / 2.0) ** 2))
    upper = jax.random.uniform(key_upper, (users, slots), dtype, minval=0.5, maxval=2.0) * profile
    lower = 0.25 * upper
    energy = jax.random.uniform(key_energy, (users,), dtype, minval=0.4, maxval=0.7) * jnp.sum(upper, axis=1)
    a = jnp.where((hours >= 8) & (hours < 22), 0.3, 0.2) / users
    solar = jnp.maximum(0.0, jnp.sin(jnp.pi * (hours - 6.0) / 12.0))
    renewables = renewable_share * jnp.sum(lower, axis=0) * solar / jnp.max(solar)
    return DemandResponseGame(Consumers(lower, upper, energy), storage_units(np.zeros(0), slots), a,
                              jnp.full(slots, 0.1, dtype), renewables, billing)


@_study(static=("users", "billing", "slots"), required=("users", "renewable_share", "billing"),
        optional=("seed", "slots"))
def demand_response_study(row: dict) -> dict:
    """Peak-to-average ratio, cost and price of anarchy of a billing rule in demand response.

    Row: ``users`` (static), ``renewable_share`` in ``[0, 1]``, ``billing`` (``"daily"`` or
    ``"hourly"``), optionally ``seed`` (default 0) and ``slots`` (static, default 24); the game is
    :func:`demand_response_scenario`.

    The equilibrium under the row's billing rule is compared with the social optimum, which is
    the equilibrium of daily proportional billing (Mohsenian-Rad et al. 2010, Theorem 1), found by
    best-response sweeps; hourly billing by :func:`~solvers.solve_vi`'s default, the interior point
    (Mehrotra 1992; Ralph and Wright 1997: 10-30 iterations where extragradient takes thousands of
    steps). With
    ``L`` the net load after renewables at equilibrium:

      peak_to_average = max_t L_t / mean_t L_t,  cost = sum_t C_t(L_t),
      price_of_anarchy = cost / optimal_cost  (1 for daily billing, >= 1 for any rule).

    ``par_no_response`` is the peak-to-average ratio when every household spreads its flexible
    energy over its room without responding to prices. ``converged`` is False when either solve
    missed its tolerance (``residual`` is the larger natural-map residual).

    Example:
      >>> from analysis import grid, sweep
      >>> table = sweep(demand_response_study, grid(users=[10], renewable_share=[0.0, 0.5],
      ...               billing=["daily", "hourly"]), progress=False)  # doctest: +SKIP

    Reference: A.-H. Mohsenian-Rad et al. (2010); price of anarchy: Koutsoupias and Papadimitriou (1999).
    """
    billing = row["billing"]
    game = demand_response_scenario(row["users"], row["renewable_share"], billing=billing, seed=row.get("seed", 0),
                                    slots=row.get("slots", 24))
    optimum_game = dataclasses.replace(game, billing="daily")
    optimum = solve_vi(optimum_game, method="best_response", adjoint=None)
    equilibrium = optimum if billing == "daily" else solve_vi(game, adjoint=None)
    net = game.total_load(equilibrium.strategies) - game.renewables
    cost = game.social_cost(equilibrium.strategies)
    optimal_cost = game.social_cost(optimum.strategies)
    room = game.upper - game.lower
    no_response = game.lower + (game.energy - jnp.sum(game.lower, axis=1))[:, None] * room / jnp.sum(room, axis=1,
                                                                                                      keepdims=True)
    net_no_response = game.total_load(no_response) - game.renewables
    return {
        "peak_to_average": jnp.max(net) / jnp.mean(net),
        "cost": cost,
        "optimal_cost": optimal_cost,
        "price_of_anarchy": cost / optimal_cost,
        "par_no_response": jnp.max(net_no_response) / jnp.mean(net_no_response),
        "residual": jnp.maximum(equilibrium.residual, optimum.residual),
        "converged": (equilibrium.status == Status.CONVERGED) & (optimum.status == Status.CONVERGED),
    }


def _check_demand_response(columns):
    _integers(columns, "users", 1)
    _integers(columns, "slots", 1)
    _integers(columns, "seed", 0, 2**32 - 1)  # folded into a PRNG key as 32 bits
    _choices(columns, "billing", BILLING_RULES)
    _reals(columns, "renewable_share", lambda x: (x >= 0) & (x <= 1), "in [0, 1]")


demand_response_study.check_rows = _check_demand_response
demand_response_study.batch_size = 64  # a vmapped while_loop waits for its slowest row: small batches


# ----------------------------------------------------------------------------------------------
# Networked Cournot


@functools.lru_cache(maxsize=1)
def _ieee30_with_producer_order():
    with jax.ensure_compile_time_eval():  # concrete arrays even when first called inside a trace
        grid = ieee30()
    generators = [int(b) for b in grid.buses_with_role("producer")]
    order = generators + [b for b in range(grid.num_buses) if b not in generators]
    return grid, tuple(order)


def cournot_scenario(producers: int, line_rating=1.0, *, demand_intercept: float = 100.0,
                     demand_slope: float = 20.0):
    """Networked Cournot on IEEE 30: ``producers`` firms, line ratings scaled by ``line_rating``.

    Producer ``g`` sits at the ``g``-th bus of IEEE 30's generator buses (1, 2, 13, 22, 23, 27)
    followed by the other buses in order; costs ``c_g q + q^2`` with ``c_g`` evenly spaced from 10
    to 30; inverse demand ``p(Q) = 100 - 20 Q`` (per-unit quantities that match the published
    ratings, as in the README's example), consumers spread evenly over the buses. ``line_rating``
    (may be traced; ``inf``: no limits) multiplies the published ratings.

    Reference: B. F. Hobbs (2001), IEEE Trans. Power Systems 16(2); Alsac and Stott (1974) for IEEE 30.
    """
    grid, order = _ieee30_with_producer_order()
    if isinstance(producers, bool) or not isinstance(producers, (int, np.integer)) or not 1 <= producers <= len(order):
        raise ValueError(f"producers must be an integer in [1, {len(order)}]; got {producers!r}")
    if not isinstance(line_rating, jax.core.Tracer) and not float(line_rating) > 0:
        raise ValueError(f"line_rating must be positive; got {line_rating!r}")
    with jax.ensure_compile_time_eval():
        game = network_cournot_game(grid, np.array(order[:producers]), cost_linear=np.linspace(10.0, 30.0, producers),
                                    cost_quadratic=2.0, demand_intercept=demand_intercept, demand_slope=demand_slope)
    return dataclasses.replace(game, grid=dataclasses.replace(grid, capacity=grid.capacity * line_rating))


@_study(static=("producers",), required=("producers", "line_rating"))
def network_cournot_study(row: dict) -> dict:
    """Welfare and locational-price spread of networked Cournot competition with line limits.

    Row: ``producers`` (static, 1 to 30) and ``line_rating`` (> 0, ``inf`` for no limits), the game
    of :func:`cournot_scenario`, solved for its variational equilibrium by semismooth Newton
    (:func:`~solvers.solve_gne`). With outputs ``q``, ``Q = sum q``:

      welfare = a Q - b Q^2 / 2 - sum_g (c_g q_g + d_g q_g^2 / 2)   (consumer benefit minus cost),
      lmp_spread = max_bus LMP - min_bus LMP,

    the locational prices being ``p(Q) - PTDF^T (mu_up - mu_down)``. Also ``total_output``,
    ``price`` ``p(Q)``, ``congested_lines`` (constraints with a positive multiplier).

    Reference: Hobbs (2001); Rosen (1965) for the variational equilibrium.
    """
    game = cournot_scenario(row["producers"], row["line_rating"])
    eq = solve_gne(game, method="semismooth_newton", adjoint=None)
    q = eq.strategies
    total = jnp.sum(q)
    benefit = game.demand_intercept * total - 0.5 * game.demand_slope * total**2
    production = jnp.sum(game.cost_linear * q + 0.5 * game.cost_quadratic * q**2)
    prices = game.locational_prices(q, eq.multipliers)
    return {
        "welfare": benefit - production,
        "lmp_spread": jnp.max(prices) - jnp.min(prices),
        "total_output": total,
        "price": game.price(q),
        "congested_lines": jnp.sum(eq.multipliers > 1e-8 * (1.0 + jnp.max(jnp.abs(eq.multipliers)))),
        "residual": eq.residual,
        "converged": eq.status == Status.CONVERGED,
    }


def _check_cournot(columns):
    _integers(columns, "producers", 1, 30)
    _reals(columns, "line_rating", lambda x: (x > 0) & ~np.isnan(x), "positive (inf: no limits)")


network_cournot_study.check_rows = _check_cournot
network_cournot_study.batch_size = 64


# ----------------------------------------------------------------------------------------------
# Mechanisms


@functools.lru_cache(maxsize=1)
def _mechanisms():
    """The rules, built once so that their jitted property checks compile once per market size."""
    return {
        "k_double": functools.partial(k_double_auction, k=0.5),
        "mcafee": mcafee_double_auction,
        "sbba": functools.partial(sbba_double_auction, key=jax.random.key(0)),
        "vcg": vcg_double_auction,
    }


@_study(static=("traders", "mechanism"), required=("traders", "mechanism"), optional=("seed",))
def mechanism_study(row: dict) -> dict:
    """Incentive-compatibility regret, individual rationality, budget surplus and efficiency of a double auction.

    Row: ``traders`` (buyers = sellers), ``mechanism`` (``"k_double"`` with k = 1/2, ``"mcafee"``,
    ``"sbba"``, ``"vcg"``), optionally ``seed``. Values and costs are i.i.d. ``U(0, 1)`` from
    ``numpy.random.default_rng(seed)``. Runs row by row (``vectorize = False``): the regret search
    :func:`~analysis.ic_regret` checks its inputs eagerly.

      ic_regret = max over traders of the best gain from a unilateral misreport,
      ir_violation, budget_surplus (payments minus receipts), efficiency (realized / optimal gains).

    Reference: McAfee (1992); Segal-Halevi, Hassidim and Aumann (2016); Vickrey (1961);
    Chatterjee and Samuelson (1983).
    """
    from analysis import budget_surplus, efficiency, ic_regret, ir_violation  # (analysis imports this module)

    mechanism = _mechanisms()[row["mechanism"]]
    rng = np.random.default_rng(int(row.get("seed", 0)))
    n = int(row["traders"])
    values, costs = rng.random(n), rng.random(n)
    clearing = mechanism(values, costs)
    buyer_regret, seller_regret = ic_regret(mechanism, values, costs)
    _, optimal_gains = efficient_trades(values, costs)
    return {
        "ic_regret": float(max(np.max(buyer_regret), np.max(seller_regret))),
        "ir_violation": float(ir_violation(clearing, values, costs)),
        "budget_surplus": float(budget_surplus(clearing)),
        "efficiency": float(efficiency(clearing, values, costs, optimal_gains)),
        "trades": int(clearing.num_trades),
    }


def _check_mechanisms(columns):
    _integers(columns, "traders", 1)
    _integers(columns, "seed", 0)
    _choices(columns, "mechanism", MECHANISMS)


mechanism_study.check_rows = _check_mechanisms
mechanism_study.vectorize = False

STUDIES = {
    "demand_response": demand_response_study,
    "network_cournot": network_cournot_study,
    "mechanisms": mechanism_study,
}
