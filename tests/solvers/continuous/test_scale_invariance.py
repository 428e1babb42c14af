"""No silent wrong answers in the continuous solvers (issue 16, root causes 3 and 4).

- The stopping rule is invariant to the units of money: every cost times ``c`` (1e-9 to 1e9) leaves the
  answer and the status unchanged; the absolute rule it replaces stops at the starting point in small
  units (shown below).
- A CONVERGED answer is an equilibrium: each player's best response, computed independently with scipy
  on numpy copies of the costs, gains nothing; a stationary point where a player gains is reported as
  PROFITABLE_DEVIATION, not CONVERGED.
"""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st

from games import demand_response_game, federated_contribution_game, ieee14, network_cournot_game
from solvers import Status, solve_gne, solve_vi


def cournot(c=1.0, rating=None):
    grid = ieee14()
    if rating is not None:
        grid = dataclasses.replace(grid, capacity=jnp.full_like(grid.capacity, rating))
    game = network_cournot_game(grid, [0, 1, 2, 5], cost_linear=np.array([10.0, 12.0, 15.0, 20.0]),
                                cost_quadratic=np.array([0.5, 0.2, 1.0, 0.1]), demand_intercept=100.0,
                                demand_slope=1.0)
    return dataclasses.replace(game, cost_linear=game.cost_linear * c, cost_quadratic=game.cost_quadratic * c,
                               demand_intercept=game.demand_intercept * c, demand_slope=game.demand_slope * c)


def demand_response(c=1.0):
    rng = np.random.default_rng(3)
    upper = rng.uniform(0.5, 2.0, (3, 4))
    game = demand_response_game(np.zeros((3, 4)), upper, 0.4 * upper.sum(1), a=[1.0, 2.0, 3.0, 1.5], b=0.5,
                                billing="hourly")
    return dataclasses.replace(game, a=game.a * c, b=game.b * c)


def federated(c=1.0):
    return federated_contribution_game(c * np.array([0.5, 1.0, 2.0]), 20.0, value_scale=3.0 * c)


SOLVES = {
    "cournot-extragradient": (cournot, lambda g: solve_gne(g, method="extragradient")),
    "cournot-newton": (cournot, lambda g: solve_gne(g, method="semismooth_newton")),
    "demand-extragradient": (demand_response, lambda g: solve_vi(g, method="extragradient")),
    "federated-newton": (federated, lambda g: solve_vi(g, method="semismooth_newton")),
}


@pytest.mark.parametrize("case", SOLVES)
@settings(max_examples=3, deadline=None)
@given(exponent=st.sampled_from([-9, -4, 3, 9]))
def test_money_units_change_neither_the_answer_nor_the_status(case, exponent):
    build, solve = SOLVES[case]
    reference, scaled = solve(build()), solve(build(10.0**exponent))
    assert int(reference.status) == int(scaled.status) == Status.CONVERGED
    np.testing.assert_allclose(scaled.strategies, reference.strategies, rtol=1e-6, atol=1e-8)


def test_the_absolute_rule_it_replaces_stops_at_the_start_in_small_units():
    # The rule of the previous release, ||x - P(x - F(x))||_inf <= 1e-8: with small money units it
    # holds at the initial point (1e-11: money in units of 1e-11), units away from the equilibrium; the
    # scale-invariant rule does not.
    game = cournot(1e-11)
    x0 = game.initial_point()
    absolute = float(jnp.max(jnp.abs(x0 - game.project(x0 - game.pseudo_gradient(x0)))))
    eq = solve_gne(game, method="extragradient")
    assert absolute <= 1e-8
    assert float(jnp.max(jnp.abs(eq.strategies - x0))) > 1.0
    assert int(eq.iterations) > 1


def _numpy_best_response_gain(game, x, i, bounds, equality=None):
    """Player ``i``'s gain from its best response against ``x``, by scipy on a numpy copy of the costs."""
    x = np.asarray(x, dtype=float)
    shape = x[i].shape

    def own(v):
        y = x.copy()
        y[i] = np.reshape(v, shape)
        return float(np.asarray(game.costs(jnp.asarray(y)))[i])

    if x[i].ndim == 0:
        best = scipy.optimize.minimize_scalar(own, bounds=bounds, method="bounded",
                                              options={"xatol": 1e-12}).fun
    else:
        constraints = () if equality is None else ({"type": "eq", "fun": lambda v: np.sum(v) - equality},)
        best = scipy.optimize.minimize(own, x[i].ravel(), method="SLSQP", bounds=bounds, constraints=constraints,
                                       options={"ftol": 1e-14, "maxiter": 500}).fun
    return own(x[i]) - best


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_every_converged_answer_passes_a_numpy_best_response_check(seed):
    rng = np.random.default_rng(seed)
    kappa = rng.uniform(0.2, 3.0, 4)
    fed = federated_contribution_game(kappa, 10.0, value_scale=rng.uniform(0.5, 5.0))
    eq = solve_vi(fed, method="extragradient")
    assert int(eq.status) == Status.CONVERGED
    for i in range(4):
        assert _numpy_best_response_gain(fed, eq.strategies, i, (0.0, 10.0)) <= 1e-7

    game = cournot(rating=100.0)  # lines this loose never bind: a best response needs no network check
    game = dataclasses.replace(game, cost_linear=jnp.asarray(rng.uniform(5.0, 30.0, 4)))
    eq = solve_gne(game)
    assert int(eq.status) == Status.CONVERGED
    for i in range(4):
        assert _numpy_best_response_gain(game, eq.strategies, i, (0.0, 200.0)) <= 1e-7

    dr = demand_response()
    eq = solve_vi(dr, method="extragradient")
    assert int(eq.status) == Status.CONVERGED
    upper, energy = np.asarray(dr.upper), np.asarray(dr.energy)
    for n in range(3):
        gain = _numpy_best_response_gain(dr, eq.strategies, n, [(0.0, u) for u in upper[n]], equality=energy[n])
        assert gain <= 1e-7


def test_zero_effort_is_no_longer_a_stationary_point():
    # The proportional share is 0/0 at zero total effort; the game now gives the right derivative
    # -V'(0) there, so a solve started at zero leaves it for the interior equilibrium.
    game = federated()
    eq, reference = solve_vi(game, x0=jnp.zeros(3)), solve_vi(game)
    assert int(eq.status) == Status.CONVERGED
    assert float(jnp.min(eq.strategies)) > 0.1
    np.testing.assert_allclose(eq.strategies, reference.strategies, rtol=1e-7)


def test_a_stationary_point_where_a_player_gains_is_reported_not_converged():
    # With a fixed reward budget B the share jumps from 0 to B: at zero effort the pseudo-gradient
    # vanishes (residual 0) yet any participant gains about B by contributing a little. A first-order
    # method started there stays there (the default interior point starts inside and never sees it).
    game = federated_contribution_game(np.ones(3), 10.0, value_scale=2.0, reward_budget=5.0)
    unchecked = solve_vi(game, method="extragradient", x0=jnp.zeros(3), certify=False)
    assert int(unchecked.status) == Status.CONVERGED and float(jnp.max(unchecked.strategies)) == 0.0
    checked = solve_vi(game, method="extragradient", x0=jnp.zeros(3))
    assert int(checked.status) == Status.PROFITABLE_DEVIATION
    assert str(Status(int(checked.status))) == "PROFITABLE_DEVIATION"
    np.testing.assert_allclose(float(checked.stats["deviation_gain"]), 5.0, rtol=1e-3)
    assert int(solve_vi(game, method="extragradient").status) == Status.CONVERGED  # from the interior: found
    assert int(solve_vi(game, x0=jnp.zeros(3)).status) == Status.CONVERGED  # the default, even from zero


def test_a_nan_set_by_replace_is_a_value_error_before_any_solve():
    game = cournot()
    bad = dataclasses.replace(game, grid=dataclasses.replace(game.grid, capacity=game.grid.capacity.at[3].set(np.nan)))
    with pytest.raises(ValueError, match="capacity contains NaN"):
        solve_gne(bad)
    with pytest.raises(ValueError, match="effort_cost contains NaN"):
        solve_vi(dataclasses.replace(federated(), effort_cost=jnp.array([np.nan, 1.0, 1.0])))
