"""The four mechanism-design studies of nashgrid, each a small instance for the tests and a full one for figures.

1. Dynamic pricing for demand response with data centers: a monotone real-time price of net load and
   hour (:class:`mechanisms.MonotonePrice`), learned by :func:`solvers.design` to minimize the supply
   cost, the peak-to-average ratio or the non-renewable energy of the users' equilibrium
   (:class:`games.PricedDemandResponseGame`), subject to budget balance; against flat, time-of-use and
   linear real-time prices tuned by grid search on the same game.
2. Producer incentives on a congested grid: per-unit subsidies (negative: taxes) on networked Cournot
   producers (:func:`games.network_cournot_game`) maximizing social welfare, with and without a budget;
   closed forms where no line binds, scipy's welfare QP where lines bind.
3. Rewards for federated contributions: a weighted proportional reward rule maximizing the model's
   value per unit of reward budget, against proportional and Shapley rewards.
4. Design under uncertainty: study 1 with sampled days of renewable output in ``scenarios`` (one
   vmapped solve, the objective averaged), against the rule designed for the mean day.

Everything here uses the public API of ``games``, ``mechanisms`` and ``solvers``. Units are abstract
(loads of order 1 per household, prices of order 1).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.optimize

from games import (datacenter_user, federated_contribution_game, network_cournot_game,
                   priced_demand_response_game)
from mechanisms import MonotonePrice, monotone_price, proportional_rewards, shapley_values
from solvers import Status, design, solve_gne, solve_vi

# =====================================================================================================
# Study 1: dynamic pricing for demand response with data centers

DEMAND_RESPONSE_METRICS = ("generation_cost", "peak_to_average", "nonrenewable_energy")


def time_of_use_rule(prices, net_load):
    """A price per hour that ignores load: ``p_t = prices_t`` (flat when all are equal)."""
    return prices + jnp.zeros_like(net_load)


def linear_real_time_rule(params, net_load):
    """``p_t = alpha + beta (L_t - r_t)``, ``params = (alpha, beta)`` with ``beta >= 0``."""
    alpha, beta = params
    return alpha + beta * net_load


def solar_profile(hours: int):
    """A clear-sky solar shape over ``hours`` slots (0 at night, 1 at noon)."""
    t = (np.arange(hours) + 0.5) * 24.0 / hours
    return np.clip(np.sin(np.pi * (t - 6.0) / 12.0), 0.0, None)


def demand_response_instance(num_households: int = 40, num_datacenters: int = 2, *, hours: int = 24, seed: int = 0,
                             renewable_share: float = 0.25, knots: int = 4):
    """A day of households and data centers under a learnable price (study 1's game) and the rule's start.

    Households: per-hour limits in ``[0.2, 1.0]``, energy 50% of their room, a preferred schedule that
    peaks in the evening (hours 17-22), discomfort weight 1. Data centers
    (:func:`games.datacenter_user`): an inference baseline of ``2 sqrt(N) / D`` per hour plus a training
    job of as much energy, runnable from hour 0 to hour 20 at up to twice the baseline, preferring the
    evening like the households (a job queued after the working day), discomfort 0.1 (ten times as
    flexible as a household per unit of energy moved).
    Supply cost ``C_t(z) = z^2 / Lbar + z`` (marginal cost 3 at the mean load ``Lbar``). Renewables:
    solar covering ``renewable_share`` of the day's energy.

    Returns ``(game, params0)``: the game under ``params0``, a :class:`mechanisms.MonotonePrice` with an
    hourly ``base`` (a flat price at the average supply cost, which balances the budget at the preferred
    schedules), ``knots`` ramps per hour at quantiles of the feasible net load, each of slope ``a / K`` (so
    the price starts rising with load at half the marginal cost's slope ``2 a``), and
    the smallest smoothing that keeps the users' game monotone for any parameters.
    """
    rng = np.random.default_rng(seed)
    T = hours
    hour = (np.arange(T) + 0.5) * 24.0 / T
    evening = np.exp(-0.5 * ((hour - 19.5) / 2.5) ** 2)
    upper = rng.uniform(0.2, 1.0, (num_households, T))
    lower = np.zeros_like(upper)
    energy = 0.5 * upper.sum(1)
    preferred = upper * (0.3 + 1.4 * evening)
    rows = [(lower, upper, energy, preferred, np.ones(num_households))]
    base_power = 2.0 * math.sqrt(num_households) / max(num_datacenters, 1)
    for k in range(num_datacenters):
        baseline = np.full(T, base_power * rng.uniform(0.8, 1.2))
        deadline = max(1, int(round(20 * T / 24)))
        lo, hi, e = datacenter_user(baseline, baseline.sum() * 0.5 * deadline / T, start=0, deadline=deadline,
                                    max_power=2.0 * baseline)
        pref = baseline + (e - baseline.sum()) * np.where(np.arange(T) < deadline, 0.2 + evening, 0.0) / np.sum(
            np.where(np.arange(T) < deadline, 0.2 + evening, 0.0))
        rows.append((lo[None], hi[None], np.array([e]), pref[None], np.array([0.1])))
    lower, upper, energy, preferred, discomfort = (np.concatenate(parts) for parts in zip(*rows))
    mean_load = energy.sum() / T
    renewables = renewable_share * energy.sum() * solar_profile(T) / solar_profile(T).sum()
    a, b = 1.0 / mean_load, 1.0
    u = np.sqrt((upper**2).sum(0)).max()
    smoothing = float(0.5 * u)
    lo_net, hi_net = (lower.sum(0) - renewables).min(), (upper.sum(0) - renewables).max()
    knot_loads = tuple(float(x) for x in np.quantile(np.linspace(lo_net, hi_net, 101), np.linspace(0.2, 0.8, knots)))
    flat = priced_demand_response_game(lower, upper, energy, price_params=jnp.zeros(T), price_rule=time_of_use_rule,
                                       a=a, b=b, renewables=renewables, preferred=preferred, discomfort=discomfort)
    x = flat.initial_point()
    average_cost = float(flat.supply_cost(x) / jnp.sum(flat.energy))
    raw_slope = float(np.log(np.expm1(a / knots)))  # every ramp at a / K: the price rises at a, half C''s slope
    params0 = MonotonePrice(jnp.full(T, average_cost), jnp.full((T, knots), raw_slope), knots=knot_loads,
                            smoothing=smoothing)
    return flat_to(flat, monotone_price, params0), params0


def flat_to(game, rule, params):
    """``game`` under another price rule (validated)."""
    return dataclasses.replace(game, price_rule=rule).with_price_params(params)


def demand_response_metric(game, x, metric: str, *, smooth: bool = False):
    """The designer's objective of study 1 at the schedules ``x``: ``generation_cost`` (the supply cost),
    ``peak_to_average`` of the net load, or ``nonrenewable_energy`` (relative to the total energy).

    ``smooth=True`` gives the smooth surrogates the design trains on: the peak as a log-sum-exp at a
    temperature of 1% of the mean net load (within ``0.01 mean log T`` of the maximum), ``max(z, 0)``
    as a softplus at the same temperature. The baselines and the reported numbers use the exact metrics.
    """
    if metric == "generation_cost":
        return game.supply_cost(x)
    net = game.net_load(x)
    temperature = 0.01 * jnp.abs(jnp.mean(net))
    if metric == "peak_to_average":
        peak = temperature * jax.nn.logsumexp(net / temperature) if smooth else jnp.max(net)
        return peak / jnp.mean(net)
    if metric == "nonrenewable_energy":
        positive = temperature * jax.nn.softplus(net / temperature) if smooth else jnp.maximum(net, 0.0)
        return jnp.sum(positive) / jnp.sum(game.energy)
    raise ValueError(f"metric must be one of {DEMAND_RESPONSE_METRICS}; got {metric!r}")


def relative_imbalance(game, x):
    """Budget balance: ``(revenue - supply cost) / supply cost``."""
    return game.operator_surplus(x) / game.supply_cost(x)


def demand_response_solver(tol: float = 1e-10):
    """The inner solver of study 1: semismooth Newton on the normal map (a handful of steps)."""
    return functools.partial(solve_vi, method="semismooth_newton", tol=tol)


def balanced_shift(game, x):
    """The uniform price shift that balances the operator's budget at schedules ``x`` (it leaves the
    equilibrium unchanged): ``(supply cost - revenue) / total energy``."""
    return (game.supply_cost(x) - game.revenue(x)) / jnp.sum(game.energy)


def baseline_grid(game, metric: str, *, solve=None, tou_levels=9, linear_slopes=17):
    """Flat, time-of-use and linear real-time prices tuned by grid search on ``game``, each budget-balanced.

    Every candidate's equilibrium is one row of a vmapped solve; the budget is balanced by the uniform
    shift (:func:`balanced_shift`), which does not move the equilibrium.

    - flat: one price (no shape to tune);
    - time of use: an off-peak price plus a peak premium ``Delta`` in ``[0, 2 * mean marginal cost]``
      (``tou_levels`` values) over a window starting at any hour with a length of 2 to 8 hours;
    - linear real time: ``alpha + beta (L - r)`` with ``beta`` in ``[0, 8 a]`` (``linear_slopes``
      values; ``2 a`` is the marginal cost's slope).

    Returns ``{name: dict(objective, params, equilibrium)}``.
    """
    solve = demand_response_solver() if solve is None else solve
    T = game.num_slots
    results = {}

    def best(rule, candidates):
        games = jax.vmap(lambda p: flat_to_traced(game, rule, p))(candidates)
        eqs = jax.vmap(solve)(games)
        if not bool(jnp.all(eqs.status == Status.CONVERGED)):
            raise RuntimeError(f"{int(jnp.sum(eqs.status != Status.CONVERGED))} baseline equilibria did not converge")
        values = jax.vmap(lambda g, x: demand_response_metric(g, x, metric))(games, eqs.strategies)
        k = int(jnp.argmin(values))
        pick = lambda tree: jax.tree_util.tree_map(lambda leaf: leaf[k], tree)
        return float(values[k]), pick(candidates), pick(eqs), pick(games)

    marginal = float(jnp.mean(2.0 * game.a * jnp.mean(game.net_load(game.initial_point())) + game.b))
    flat = jnp.zeros((1, T))
    objective, params, eq, g = best(time_of_use_rule, flat)
    results["flat"] = dict(objective=objective, params=params + balanced_shift(g, eq.strategies), equilibrium=eq)
    windows = [(s, length) for length in range(2, 9) for s in range(T)]
    candidates = []
    for level in np.linspace(0.0, 2.0 * marginal, tou_levels)[1:]:
        for s, length in windows:
            peak = ((np.arange(T) - s) % T) < length
            candidates.append(level * peak)
    objective, params, eq, g = best(time_of_use_rule, jnp.asarray(np.array(candidates)))
    results["time_of_use"] = dict(objective=min(objective, results["flat"]["objective"]),
                                  params=params + balanced_shift(g, eq.strategies), equilibrium=eq)
    slopes = jnp.asarray(np.linspace(0.0, 8.0 * float(jnp.mean(game.a)), linear_slopes))
    objective, params, eq, g = best(linear_real_time_rule, (jnp.zeros_like(slopes), slopes))
    results["linear_real_time"] = dict(objective=objective, params=(params[0] + balanced_shift(g, eq.strategies),
                                                                    params[1]), equilibrium=eq)
    return results


@functools.lru_cache(maxsize=4)
def pricing_study(num_households: int, num_datacenters: int, hours: int, steps: int,
                  metric: str = "peak_to_average"):
    """Study 1 on :func:`demand_response_instance` (seed 0), computed once per size in a process: the
    flat, time-of-use and linear real-time baselines (:func:`baseline_grid`) and the learned monotone
    price (:meth:`DynamicPricing.run`, with a progress bar). The ``mechanism_design`` figure and the
    energy-for-AI paper's ``datacenter_shifting`` and ``learned_price_rule`` figures draw the same runs.
    Returns ``(game, params0, pricing, baselines, learned)``."""
    game, params0 = demand_response_instance(num_households, num_datacenters, hours=hours, seed=0)
    pricing = DynamicPricing(game, metric)
    baselines = baseline_grid(game, metric, solve=pricing.solve)
    learned = pricing.run(params0, steps=steps, progress=True)
    return game, params0, pricing, baselines, learned


def flat_to_traced(game, rule, params):
    """``game`` under another rule, without the eager checks (inside vmap)."""
    return dataclasses.replace(game, price_rule=rule, price_params=params)


class DynamicPricing:
    """Study 1's design problem on ``game`` (study 4's with renewable scenarios): the functions handed to
    :func:`solvers.design`, built once so that repeated designs on the same problem reuse one compiled
    program.

    - ``game_fn(params, renewables=None)``: the game under the rule ``params`` (on a day of renewables).
    - ``objective``: the smooth surrogate of ``metric`` at the equilibrium, relative to its value at the
      preferred schedules.
    - ``balance``: the budget balance, ``(revenue - supply cost) / supply cost = 0``.
    """

    def __init__(self, game, metric: str = "generation_cost", *, solve=None):
        if metric not in DEMAND_RESPONSE_METRICS:
            raise ValueError(f"metric must be one of {DEMAND_RESPONSE_METRICS}; got {metric!r}")
        self.game, self.metric = game, metric
        self.solve = demand_response_solver() if solve is None else solve
        self.scale = float(demand_response_metric(game, game.initial_point(), metric, smooth=True))

    def game_fn(self, params, renewables=None):
        game = self.game.with_price_params(params)
        return game if renewables is None else dataclasses.replace(game, renewables=renewables)

    def objective(self, params, game, eq):
        return demand_response_metric(game, eq.strategies, self.metric, smooth=True) / self.scale

    def balance(self, params, game, eq):
        return relative_imbalance(game, eq.strategies)

    def run(self, params0, *, steps: int = 300, learning_rate: float = 0.1, scenarios=None, progress: bool = False,
            **options):
        """Learn the monotone price: :func:`solvers.design` minimizing :attr:`objective` subject to
        :attr:`balance`, with Adam on a cosine-decaying learning rate."""
        optimizer = optax.adam(optax.cosine_decay_schedule(learning_rate, steps, alpha=1e-3))
        return design(self.game_fn, params0, self.objective, solve=self.solve, optimizer=optimizer, steps=steps,
                      equalities=(self.balance,), scenarios=scenarios, progress=progress, **options)


# =====================================================================================================
# Study 4: renewable scenarios


def renewable_scenarios(game, num_days: int, *, seed: int = 0, share: float = 0.25):
    """``(num_days, T)`` days of solar output: the clear-sky shape times a daily clearness in
    ``[0.2, 1.2]`` (Beta(2, 2) scaled), with 15% hourly noise; on average ``share`` of the day's energy."""
    rng = np.random.default_rng(seed)
    T = game.num_slots
    shape = solar_profile(T)
    total = share * float(jnp.sum(game.energy))
    clearness = 0.2 + rng.beta(2.0, 2.0, (num_days, 1))
    noise = np.clip(1.0 + 0.15 * rng.standard_normal((num_days, T)), 0.0, None)
    return jnp.asarray(total * clearness / 0.7 * shape / shape.sum() * noise)


def evaluate_price_rule(game, params, renewables, metric: str, *, solve=None):
    """The exact metric and the relative budget imbalance of the rule ``params`` on each day of
    ``renewables`` ``(S, T)`` (one vmapped solve); raises if an equilibrium did not converge."""
    solve = demand_response_solver() if solve is None else solve
    games = jax.vmap(lambda r: dataclasses.replace(game, price_params=params, renewables=r))(renewables)
    eqs = jax.vmap(solve)(games)
    if not bool(jnp.all(eqs.status == Status.CONVERGED)):
        raise RuntimeError("an equilibrium did not converge")
    values = jax.vmap(lambda g, x: demand_response_metric(g, x, metric))(games, eqs.strategies)
    imbalance = jax.vmap(relative_imbalance)(games, eqs.strategies)
    return np.asarray(values), np.asarray(imbalance)


# =====================================================================================================
# Study 2: producer incentives on a congested grid


def cournot_instance(grid=None, *, rated: bool = True, producers=None, demand_scale: float = 1.0):
    """Networked Cournot producers (the ``congestion_prices`` figure's market when ``grid`` is None: IEEE 30
    with its published ratings, or none; inverse demand ``100 - 20 Q`` in per-unit quantities, marginal
    costs 10 to 30 plus ``2 q``). On another grid, producers at ``producers`` (default: every
    ``producer`` bus), costs spread the same way, demand ``100 - 20 Q / demand_scale``."""
    from games import ieee30

    if grid is None:
        grid = ieee30()
    if not rated:
        grid = dataclasses.replace(grid, capacity=jnp.full_like(grid.capacity, jnp.inf))
    producers = grid.buses_with_role("producer") if producers is None else np.asarray(producers)
    costs = np.linspace(10.0, 30.0, producers.size)
    return network_cournot_game(grid, producers, cost_linear=costs, cost_quadratic=2.0, demand_intercept=100.0,
                                demand_slope=20.0 / demand_scale)


def social_welfare(game, q):
    """Social welfare of outputs ``q`` in the networked Cournot market ``game`` (with its true costs).

    ``W(q) = CS + PS + R - S = int_0^Q p(z) dz - sum_g C_g(q_g) = a Q - b Q^2 / 2 - sum_g (c_g q_g + d_g q_g^2 / 2)``:
    consumer surplus ``CS = b Q^2 / 2``, producer profit including subsidies ``PS = sum_g ((p + s_g) q_g -
    C_g(q_g))`` (net of congestion charges), congestion rent ``R`` and the subsidy cost ``S = sum_g s_g q_g``;
    subsidies and congestion charges are transfers and cancel.
    """
    Q = jnp.sum(q)
    production = jnp.sum(game.cost_linear * q + 0.5 * game.cost_quadratic * q**2)
    return game.demand_intercept * Q - 0.5 * game.demand_slope * Q**2 - production


def subsidized(game, subsidy):
    """``game`` with a per-unit subsidy (negative: a tax) for each producer (or one for all)."""
    return dataclasses.replace(game, cost_linear=game.cost_linear - subsidy)


def efficient_subsidies(game):
    """The welfare-maximizing per-unit subsidies where no line binds (closed form).

    Welfare is maximized where price equals every active producer's marginal cost, ``a - b Q* = c_g + d_g q_g*``;
    producer ``g``'s Cournot condition with subsidy ``s_g`` is ``a - b Q = c_g + d_g q_g + b q_g - s_g``; so
    ``s_g = b q_g*``, the markup ``b q_g`` each producer adds. With ``d_g > 0``:
    ``p* = (a + b sum_A c_g / d_g) / (1 + b sum_A 1 / d_g)`` over the producers ``A`` with ``c_g < p*``, and
    ``q_g* = (p* - c_g) / d_g``. Returns ``(s, q*)`` (``s_g = 0`` for idle producers).
    """
    a, b = float(game.demand_intercept), float(game.demand_slope)
    c, d = np.asarray(game.cost_linear, float), np.asarray(game.cost_quadratic, float)
    if (d <= 0).any():
        raise ValueError("efficient_subsidies needs cost_quadratic > 0 (use uniform_efficient_subsidy for linear "
                         "costs)")
    active = np.ones(c.size, bool)
    for _ in range(c.size + 1):
        price = (a + b * np.sum(c[active] / d[active])) / (1.0 + b * np.sum(1.0 / d[active]))
        new = c < price
        if (new == active).all():
            break
        active = new
    q = np.where(active, (price - c) / d, 0.0)
    return b * q, q


def uniform_efficient_subsidy(num_producers: int, *, cost: float, intercept: float, slope: float, budget=None):
    """The optimal uniform per-unit subsidy for ``G`` identical producers with linear cost ``c`` facing
    ``p = a - b Q`` (no binding lines): Cournot output ``Q(s) = G (a - c + s) / (b (G + 1))`` is efficient,
    ``Q = (a - c) / b``, at ``s* = (a - c) / G``. With a budget ``s Q(s) <= B`` that binds
    (``B < s* Q*``), welfare increases in ``s`` up to ``s*``, so the optimum spends the budget:
    ``G s^2 + G (a - c) s - b (G + 1) B = 0``, ``s = (-(a - c) + sqrt((a - c)^2 + 4 b (G + 1) B / G)) / 2``."""
    G, m = num_producers, intercept - cost
    s_star = m / G
    if budget is None or s_star * G * (m + s_star) / (slope * (G + 1)) <= budget:
        return s_star
    return 0.5 * (-m + math.sqrt(m**2 + 4.0 * slope * (G + 1) * budget / G))


def welfare_optimum(game):
    """The welfare-maximizing outputs under the line limits (scipy SLSQP on the concave QP):
    ``max W(q)`` s.t. ``q >= 0``, ``|PTDF (E q - w Q)| <= capacity``. Returns ``(q, W)``."""
    A, upper = (np.asarray(m) for m in game.shared_constraints())
    keep = np.isfinite(upper)
    A, upper = A[keep], upper[keep]
    W = lambda q: -float(social_welfare(game, jnp.asarray(q)))
    dW = lambda q: -np.asarray(jax.grad(lambda z: social_welfare(game, z))(jnp.asarray(q)))
    G = game.num_producers
    constraints = [dict(type="ineq", fun=lambda q: upper - A @ q, jac=lambda q: -A)] if A.size else []
    result = scipy.optimize.minimize(W, np.zeros(G), jac=dW, bounds=[(0.0, None)] * G, constraints=constraints,
                                     method="SLSQP", options=dict(ftol=1e-14, maxiter=1000))
    if not result.success:  # SLSQP stalls on some scalings: the trust-region interior-point method then
        hess = -np.asarray(jax.hessian(lambda z: social_welfare(game, z))(jnp.zeros(G)))
        linear = [scipy.optimize.LinearConstraint(A, -np.inf, upper)] if A.size else []
        result = scipy.optimize.minimize(W, result.x, jac=dW, hess=lambda q: hess, method="trust-constr",
                                         bounds=scipy.optimize.Bounds(0.0, np.inf), constraints=linear,
                                         options=dict(gtol=1e-12, xtol=1e-14, maxiter=5000))
        q = np.maximum(result.x, 0.0)
        if not (result.success and (A.size == 0 or np.max(A @ q - upper) <= 1e-8)):
            raise RuntimeError(f"welfare QP failed: {result.message}")
        return q, -W(q)
    return result.x, -result.fun


def cournot_solver(rated: bool, tol: float = 1e-11):
    """Study 2's inner solver: semismooth Newton on the generalized equilibrium (line limits) or on the VI."""
    if rated:
        return functools.partial(solve_gne, method="semismooth_newton", tol=tol)
    return functools.partial(solve_vi, method="semismooth_newton", tol=tol)


def design_subsidies(game, *, budget=None, uniform: bool = False, rated: bool = True, steps: int = 300,
                     learning_rate: float = 2.0, solve=None, progress: bool = False, **options):
    """Study 2: per-unit subsidies (or one uniform subsidy) maximizing :func:`social_welfare` of the
    producers' (generalized) equilibrium, optionally with the total subsidy ``sum_g s_g q_g <= budget``
    (a constraint relative to the budget). Adam on a cosine-decaying learning rate from ``learning_rate``.

    The objective is the deadweight loss left, relative to that of the unsubsidized market:
    ``(W* - W) / (W* - W_0)`` with ``W*`` the first best (:func:`welfare_optimum`, line limits included),
    so 0 means efficient. Returns ``(result, (W*, W_0))``."""
    solve = cournot_solver(rated) if solve is None else solve
    first_best = welfare_optimum(game)[1]
    unsubsidized = float(social_welfare(game, solve(game).strategies))
    loss = first_best - unsubsidized
    objective = lambda s, g, eq: (first_best - social_welfare(game, eq.strategies)) / loss
    constraints = ()
    if budget is not None:
        constraints = (lambda s, g, eq: (jnp.sum(s * eq.strategies) - budget) / abs(budget),)
    params0 = jnp.zeros(()) if uniform else jnp.zeros(game.num_producers)
    optimizer = optax.adam(optax.cosine_decay_schedule(learning_rate, steps, alpha=1e-4))
    return design(lambda s: subsidized(game, s), params0, objective, solve=solve, optimizer=optimizer, steps=steps,
                  constraints=constraints, progress=progress, **options), (first_best, unsubsidized)


# =====================================================================================================
# Study 3: rewards for federated contributions


def weighted_proportional_rule(raw_weights, efforts, pool):
    """``r_i = pool w_i e_i / sum_j w_j e_j`` with weights ``w = N softmax(raw_weights)`` (proportional
    at equal weights): a lottery contest with handicaps (Tullock 1980; Franke, Kanzow, Leininger and
    Schwartz 2013), budget-balanced for any weights."""
    w = raw_weights.shape[-1] * jax.nn.softmax(raw_weights)
    return proportional_rewards(w * efforts, pool)


def shapley_rule(value_scale, efforts, pool):
    """``r_i = pool phi_i / V(E)``: the pool split by Shapley values (Shapley 1953) of the cooperative game
    ``v(S) = alpha log(1 + sum_{i in S} e_i)`` (the model trained on coalition ``S``'s data)."""
    n = efforts.shape[-1]
    value = lambda masks: value_scale * jnp.log1p(jnp.sum(jnp.where(masks, efforts, 0.0), axis=-1))
    phi = shapley_values(value, n)
    total = value_scale * jnp.log1p(jnp.sum(efforts))
    return jnp.where(total > 0, pool * phi / jnp.where(total > 0, total, 1.0), pool / n)


def federated_instance(num_participants: int = 6, *, value_scale: float = 10.0, budget: float = 5.0):
    """Participants with effort costs ``kappa`` from 0.5 to 4 (data centers with cheap to dear compute),
    effort caps 50, model value ``10 log(1 + E)``, a reward budget of 5."""
    kappa = np.linspace(0.5, 4.0, num_participants)
    return dict(effort_cost=kappa, max_effort=50.0, value_scale=value_scale, reward_budget=budget)


def federated_game(instance, rule, params):
    return federated_contribution_game(instance["effort_cost"], instance["max_effort"],
                                       value_scale=instance["value_scale"], reward_rule=rule, reward_params=params,
                                       reward_budget=instance["reward_budget"])


def federated_solver(tol: float = 1e-11):
    """Study 3's inner solver: extragradient (a few hundred steps on these small games)."""
    return functools.partial(solve_vi, method="extragradient", tol=tol)


def value_per_budget(game, efforts):
    """The designer's objective of study 3: model value per unit of reward budget, ``V(E*) / B``."""
    return game.model_value(jnp.sum(efforts)) / game.reward_budget


def compare_reward_rules(instance, *, solve=None):
    """Value per unit budget under the proportional and Shapley rules (the baselines of study 3)."""
    solve = federated_solver() if solve is None else solve
    n = instance["effort_cost"].size
    out = {}
    for name, rule, params in (("proportional", weighted_proportional_rule, jnp.zeros(n)),
                               ("shapley", shapley_rule, jnp.asarray(instance["value_scale"]))):
        game = federated_game(instance, rule, params)
        eq = solve(game)
        if int(eq.status) != Status.CONVERGED:
            raise RuntimeError(f"the {name} equilibrium did not converge")
        out[name] = dict(value_per_budget=float(value_per_budget(game, eq.strategies)),
                         efforts=np.asarray(eq.strategies))
    return out


def design_rewards(instance, *, steps: int = 200, learning_rate: float = 0.1, solve=None, progress: bool = False,
                   **options):
    """Study 3: learn the weights of :func:`weighted_proportional_rule` (from equal weights, the
    proportional rule) maximizing the model value per unit of reward budget at the participants'
    equilibrium. Returns the :class:`solvers.DesignResult` (objective: minus value per budget)."""
    solve = federated_solver() if solve is None else solve
    n = instance["effort_cost"].size
    base = federated_game(instance, weighted_proportional_rule, jnp.zeros(n))
    game_fn = lambda raw: dataclasses.replace(base, reward_params=raw)
    objective = lambda raw, g, eq: -value_per_budget(g, eq.strategies)
    optimizer = optax.adam(optax.cosine_decay_schedule(learning_rate, steps, alpha=1e-3))
    return design(game_fn, jnp.zeros(n), objective, solve=solve, optimizer=optimizer, steps=steps, progress=progress,
                  **options)
