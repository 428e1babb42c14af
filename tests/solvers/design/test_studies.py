"""The four mechanism-design studies on small instances: design gradients equal finite differences,
the learned price beats the grid-searched baselines, closed forms and the welfare QP are recovered."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from papers.mechanism_design import studies as S
from solvers import Status, design, solve_vi
from solvers.design import _design

# ---- study 1 and 4: one tiny demand-response instance, one compiled design program -------------------

GAME, PARAMS0 = S.demand_response_instance(5, 1, hours=6, seed=0)
PRICING = S.DynamicPricing(GAME, "peak_to_average",
                           solve=functools.partial(solve_vi, method="extragradient", tol=1e-12))
DAYS = S.renewable_scenarios(GAME, 3, seed=1)


def lagrangian_along(spec, params, directions, scenarios=None, penalty=10.0, m=0, p=1):
    """Central differences of the design's Lagrangian ``f + rho/2 |h|^2`` (zero multipliers) along directions."""
    flat, unravel = ravel_pytree(params)
    zeros = (jnp.zeros(m), jnp.zeros(p))
    value = lambda x: float(_design._evaluate(unravel(x), scenarios, *zeros, jnp.asarray(penalty), jnp.asarray(1.0),
                                              jnp.zeros(m, bool), spec=spec)["lagrangian"])
    h = 1e-5
    return np.array([(value(flat + h * d) - value(flat - h * d)) / (2 * h) for d in directions])


def directions(params, count, seed):
    flat, _ = ravel_pytree(params)
    v = np.random.default_rng(seed).standard_normal((count, flat.size))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def check_gradient(game_fn, objective, params0, solve, *, constraints=(), equalities=(), scenarios=None, count=2,
                   rel=1e-5):
    result = design(game_fn, params0, objective, solve=solve, constraints=constraints, equalities=equalities,
                    scenarios=scenarios, steps=0, progress=False)
    spec = _design._Spec(game_fn, objective, tuple(constraints), tuple(equalities), solve, "mean",
                         scenarios is not None)
    v = directions(params0, count, seed=0)
    fd = lagrangian_along(spec, params0, v, scenarios, m=len(constraints), p=len(equalities))
    gradient = ravel_pytree(result.gradient)[0]
    np.testing.assert_allclose(v @ np.asarray(gradient), fd, rtol=rel, atol=1e-9)
    return result


@pytest.mark.slow  # make test checks study 3's design gradient and design()'s own; study 1's runs in thorough
def test_study1_design_gradient_equals_finite_differences():
    check_gradient(PRICING.game_fn, PRICING.objective, PARAMS0, PRICING.solve, equalities=(PRICING.balance,))


def test_study1_learned_price_beats_every_grid_searched_baseline():
    baselines = S.baseline_grid(GAME, "peak_to_average", solve=PRICING.solve, tou_levels=5, linear_slopes=9)
    best = min(b["objective"] for b in baselines.values())
    result = PRICING.run(PARAMS0, steps=60, learning_rate=0.1)  # PAR 1.016 against the best baseline's 1.181
    # Budget balanced to 1e-6. (The nearly non-smooth peak surrogate is not stationary to 1e-3 after 60
    # steps, so the status may say MAX_STEPS: the comparison below is what this test is about.)
    assert result.violation <= 1e-6 and result.status != Status.DEGENERATE
    learned = float(S.demand_response_metric(PRICING.game_fn(result.params), result.equilibrium.strategies,
                                             "peak_to_average"))
    assert learned <= best
    assert baselines["linear_real_time"]["objective"] <= baselines["flat"]["objective"]
    # the baselines are budget-balanced too (by their uniform shift)
    rt = baselines["linear_real_time"]
    game = S.flat_to(GAME, S.linear_real_time_rule, rt["params"])
    assert abs(float(S.relative_imbalance(game, rt["equilibrium"].strategies))) < 1e-9


@pytest.mark.slow  # make test keeps studies 1 and 2's gradient checks; this one is study 4's
def test_study4_scenario_gradient_equals_finite_differences():
    result = check_gradient(PRICING.game_fn, PRICING.objective, PARAMS0, PRICING.solve, equalities=(PRICING.balance,),
                            scenarios=DAYS)
    assert result.equilibrium.strategies.shape == (3,) + GAME.lower.shape  # one vmapped solve of the 3 days


@pytest.mark.slow
def test_study4_design_under_uncertainty_beats_the_mean_day_design_on_the_days():
    """The rule designed on 16 sampled days has a lower mean metric on those days than the rule designed
    for the mean day, whose objective is the mean over days of the per-day objectives (vmap = loop)."""
    days = S.renewable_scenarios(GAME, 16, seed=2)
    robust = PRICING.run(PARAMS0, steps=150, scenarios=days)
    one_day = jax.jit(lambda r: PRICING.objective(robust.params, PRICING.game_fn(robust.params, r),
                                                  PRICING.solve(PRICING.game_fn(robust.params, r))))
    assert robust.objective == pytest.approx(np.mean([float(one_day(r)) for r in days]), rel=1e-9)
    mean_day = S.DynamicPricing(dataclasses.replace(GAME, renewables=jnp.mean(days, 0)), "peak_to_average",
                                solve=PRICING.solve)
    nominal = mean_day.run(PARAMS0, steps=150)
    assert robust.violation <= 1e-6 and nominal.violation <= 1e-6  # (PAR's surrogate: stationarity not asked)
    on_days = lambda params: S.evaluate_price_rule(GAME, params, days, "peak_to_average", solve=PRICING.solve)
    (robust_par, robust_balance), (nominal_par, _) = on_days(robust.params), on_days(nominal.params)
    assert robust_par.mean() < nominal_par.mean()
    assert abs(robust_balance.mean()) < 1e-6  # budget balanced on average over the days


# ---- study 2 ---------------------------------------------------------------------------------------


def test_study2_per_producer_subsidies_recover_the_closed_form():
    """No line binds: s_g = b q_g* for the producers active at the first best; the idle ones are kept idle
    by any s_g <= c_g - p* (a tax is as good as nothing), so only that inequality is checked for them."""
    game = S.cournot_instance(rated=False)
    result, (first_best, _) = S.design_subsidies(game, rated=False, steps=300, learning_rate=2.0)
    s_star, q_star = S.efficient_subsidies(game)
    active = q_star > 0
    assert active.sum() >= 2 and (~active).sum() >= 1
    np.testing.assert_allclose(np.asarray(result.params)[active], s_star[active], rtol=1e-4)
    price = float(game.demand_intercept - game.demand_slope * q_star.sum())
    assert np.all(np.asarray(result.params)[~active] <= np.asarray(game.cost_linear)[~active] - price + 1e-6)
    np.testing.assert_allclose(result.equilibrium.strategies, q_star, rtol=1e-4)
    assert float(S.social_welfare(game, result.equilibrium.strategies)) == pytest.approx(first_best, rel=1e-9)


@pytest.mark.slow  # make test checks study 1's and study 3's design gradients; study 2 runs in thorough
def test_study2_design_gradient_through_the_congested_equilibrium_equals_finite_differences():
    game = S.cournot_instance(rated=True)  # IEEE 30 with its ratings: two lines bind
    solve = S.cournot_solver(rated=True)
    first_best = S.welfare_optimum(game)[1]
    objective = lambda s, g, eq: (first_best - S.social_welfare(game, eq.strategies)) / first_best
    spend = lambda s, g, eq: jnp.sum(s * eq.strategies) - 1.0  # violated at s0: the penalty term is on
    s0 = jnp.asarray([4.0, 1.0, 3.0, 2.0, 1.5, 1.0])
    result = check_gradient(lambda s: S.subsidized(game, s), objective, s0, solve, constraints=(spend,), count=3)
    lines = game.grid.num_lines
    assert np.sum(np.asarray(result.equilibrium.multipliers) > 1e-8) >= 1  # a line binds at s0


@pytest.mark.slow
def test_study2_congested_design_reaches_the_welfare_qp():
    """With binding lines per-producer subsidies still implement the first best (the equilibrium's KKT
    system with s = b q* is the welfare QP's); design reaches scipy's QP optimum."""
    game = S.cournot_instance(rated=True)
    result, (first_best, unsubsidized) = S.design_subsidies(game, rated=True, steps=300, learning_rate=2.0)
    q, W = S.welfare_optimum(game)
    assert float(S.social_welfare(game, result.equilibrium.strategies)) == pytest.approx(W, rel=1e-8)
    np.testing.assert_allclose(result.equilibrium.strategies, q, atol=1e-5)


# ---- study 3 ---------------------------------------------------------------------------------------

FEDERATED = S.federated_instance(4)


def test_study3_design_gradient_equals_finite_differences():
    base = S.federated_game(FEDERATED, S.weighted_proportional_rule, jnp.zeros(4))
    game_fn = lambda raw: dataclasses.replace(base, reward_params=raw)
    objective = lambda raw, g, eq: -S.value_per_budget(g, eq.strategies)
    check_gradient(game_fn, objective, jnp.asarray([0.3, -0.2, 0.1, 0.0]), S.federated_solver(), count=3)


@pytest.mark.slow
def test_study3_learned_rule_beats_proportional_and_shapley():
    baselines = S.compare_reward_rules(FEDERATED)
    result = S.design_rewards(FEDERATED, steps=200)
    learned = -result.objective
    assert result.status == Status.CONVERGED
    assert learned >= baselines["proportional"]["value_per_budget"] - 1e-12
    assert learned >= baselines["shapley"]["value_per_budget"]
    weights = np.asarray(jax.nn.softmax(result.params))
    assert np.all(np.diff(weights) > 0)  # handicaps favour the dearer participants (kappa increasing)
