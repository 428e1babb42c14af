"""Networked Cournot with line limits: closed forms, and multipliers against HiGHS."""

import dataclasses

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest
import scipy.optimize
from hypothesis import given
from hypothesis import strategies as st

from games import grid_from_networkx, ieee14, network_cournot_game
from solvers import Status, solve_gne, solve_vi


def three_bus(capacity_13=np.inf):
    G = nx.Graph()
    for bus in (1, 2, 3):
        G.add_node(bus, role="prosumer")
    for u, v in [(1, 2), (1, 3), (2, 3)]:
        G.add_edge(u, v, reactance=1.0, capacity=np.inf)
    G.edges[1, 3]["capacity"] = capacity_13
    return grid_from_networkx(G, slack=3)


@given(st.sampled_from([2, 6]), st.floats(20.0, 200.0), st.floats(0.5, 3.0), st.floats(0.0, 10.0))  # 2 compiled shapes
def test_uncongested_matches_cournot_closed_form(producers, a, b, c):
    grid = ieee14()  # no published ratings: no line binds
    buses = np.arange(producers) % grid.num_buses
    game = network_cournot_game(grid, buses, cost_linear=c, demand_intercept=a, demand_slope=b)
    eq = solve_gne(game)
    assert int(eq.status) == Status.CONVERGED
    np.testing.assert_allclose(eq.strategies, (a - c) / (b * (producers + 1)), rtol=1e-7)
    np.testing.assert_allclose(eq.multipliers, 0.0, atol=1e-12)
    prices = np.asarray(game.locational_prices(eq.strategies, eq.multipliers))
    np.testing.assert_allclose(prices, prices[0], atol=1e-12)  # all prices equal without congestion
    # Without shared constraints the plain VI solver agrees.
    np.testing.assert_allclose(solve_vi(game, method="extragradient").strategies, eq.strategies, atol=1e-7)


def potential_optimum(game):
    """Independent primal oracle: Cournot's exact potential (Monderer and Shapley 1996) maximized under the
    line limits with scipy's trust-constr (interior point)."""
    a, b = float(game.demand_intercept), float(game.demand_slope)
    c, d = np.asarray(game.cost_linear), np.asarray(game.cost_quadratic)
    A, upper = (np.asarray(v) for v in game.shared_constraints())
    keep = np.isfinite(upper)

    def negative_potential(q):
        Q = q.sum()
        return -(a * Q - 0.5 * b * (Q**2 + np.sum(q**2)) - np.sum(c * q + 0.5 * d * q**2))

    def gradient(q):
        return -(a - b * q.sum() - b * q - c - d * q)

    hessian = b * (np.ones((c.size, c.size)) + np.eye(c.size)) + np.diag(d)
    res = scipy.optimize.minimize(negative_potential, np.full(c.size, 1e-3), jac=gradient, hess=lambda q: hessian,
                                  method="trust-constr", bounds=scipy.optimize.Bounds(0, np.inf),
                                  constraints=[scipy.optimize.LinearConstraint(A[keep], -np.inf, upper[keep])],
                                  options=dict(gtol=1e-13, xtol=1e-15, maxiter=10_000))
    assert res.status in (1, 2), res.message
    return res.x


def highs_multipliers(game, q):
    """The line multipliers that satisfy the KKT conditions at q: a linear program solved by HiGHS."""
    A, upper = (np.asarray(v) for v in game.shared_constraints())
    F = np.asarray(game.pseudo_gradient(q))
    active = np.isfinite(upper) & (np.abs(A @ q - upper) <= 1e-7)
    positive = q > 1e-9
    # F + A^T mu = 0 where q > 0, >= 0 where q = 0; mu >= 0, zero on inactive constraints.
    res = scipy.optimize.linprog(np.zeros(A.shape[0]), A_eq=A.T[positive], b_eq=-F[positive],
                                 A_ub=-A.T[~positive] if (~positive).any() else None,
                                 b_ub=F[~positive] if (~positive).any() else None,
                                 bounds=[(0, None) if k else (0, 0) for k in active], method="highs")
    assert res.status == 0, res.message
    return res.x


@pytest.mark.parametrize("capacity", [5.0, 12.0, 20.0])
def test_binding_line_multipliers_equal_highs_duals(capacity):
    grid = three_bus(capacity)
    game = network_cournot_game(grid, np.array([0, 0, 1, 1]), cost_linear=[10.0, 12.0, 30.0, 28.0],
                                cost_quadratic=[0.2, 0.1, 0.0, 0.3], demand_intercept=100.0, demand_slope=1.0,
                                demand_shares=[0.0, 0.2, 0.8])
    eq = solve_gne(game, tol=1e-10)
    assert int(eq.status) == Status.CONVERGED
    q = np.asarray(eq.strategies)
    np.testing.assert_allclose(q, potential_optimum(game), atol=1e-5)  # interior-point accuracy
    mu = np.asarray(eq.multipliers)
    assert mu.max() > 1e-3  # the line binds
    np.testing.assert_allclose(mu, highs_multipliers(game, q), atol=1e-6)
    A, upper = (np.asarray(v) for v in game.shared_constraints())
    assert np.all(A @ q <= upper + 1e-8)  # feasible
    prices = np.asarray(game.locational_prices(eq.strategies, eq.multipliers))
    assert np.ptp(prices) > 1e-3  # congestion separates the prices


def test_max_steps_and_bad_input():
    game = network_cournot_game(three_bus(5.0), np.array([0, 1]), cost_linear=10.0, demand_intercept=100.0,
                                demand_slope=1.0)
    short = solve_gne(game, max_steps=2)
    assert int(short.status) == Status.MAX_STEPS and float(short.residual) > 1e-8
    with pytest.raises(ValueError, match="producer_bus"):
        network_cournot_game(three_bus(), np.array([0, 7]), cost_linear=1.0, demand_intercept=10.0, demand_slope=1.0)
    with pytest.raises(ValueError, match="demand_slope"):
        network_cournot_game(three_bus(), np.array([0]), cost_linear=1.0, demand_intercept=10.0, demand_slope=0.0)
    with pytest.raises(ValueError, match="demand_shares"):
        network_cournot_game(three_bus(), np.array([0]), cost_linear=1.0, demand_intercept=10.0, demand_slope=1.0,
                             demand_shares=[0.5, 0.6, 0.0])
    with pytest.raises(ValueError, match="finite"):
        network_cournot_game(three_bus(), np.array([0]), cost_linear=np.nan, demand_intercept=10.0, demand_slope=1.0)


@pytest.mark.parametrize("case", ["ieee14", pytest.param("lattice", marks=pytest.mark.slow)])  # make test: IEEE 14
def test_gradient_with_respect_to_every_reactance_equals_finite_differences(case):
    """d(total output + an LMP)/d(reactance of each line) through solve_gne, against central differences.

    The PTDF is derived from the susceptances inside the game, so the derivative is not silently zero
    (as it was when a stale PTDF was stored beside them); with two binding lines it is nonzero."""
    from games import grid_2d, ieee14

    grid, buses, capacity = {"ieee14": (ieee14(), [0, 1, 2, 5, 7], 1.0),
                             "lattice": (grid_2d(3, 3), [0, 4, 8], 0.5)}[case]
    if case == "lattice":  # unequal reactances: three lines bind with strict complementarity
        reactance = np.random.default_rng(3).uniform(0.05, 0.2, grid.num_lines)
        grid = dataclasses.replace(grid, susceptance=jnp.asarray(1.0 / reactance))
    grid = dataclasses.replace(grid, capacity=jnp.full(grid.num_lines, capacity))
    game = network_cournot_game(grid, buses, cost_linear=np.linspace(1, 3, len(buses)), demand_intercept=10.0,
                                demand_slope=1.0)

    def outcome(reactance):
        rated = dataclasses.replace(game, grid=dataclasses.replace(grid, susceptance=1.0 / reactance))
        eq = solve_gne(rated, method="semismooth_newton", tol=1e-13)
        return jnp.sum(eq.strategies) + rated.locational_prices(eq.strategies, eq.multipliers)[3]

    reactance = 1.0 / grid.susceptance
    gradient = np.asarray(jax.grad(outcome)(reactance))
    solve = jax.jit(outcome)  # one compiled solve for every central difference
    steps = 1e-6 * np.diag(np.asarray(reactance))
    fd = [(float(solve(reactance + e)) - float(solve(reactance - e))) / (2 * e.max()) for e in steps]
    np.testing.assert_allclose(gradient, fd, rtol=1e-5, atol=1e-7)
    assert np.abs(gradient).max() > 1e-3  # a binding network: the reactances matter


def test_the_eager_entry_reads_the_start_shape_from_a_cache_keyed_by_structure_and_dtype():
    """``initial_point_aval`` (the eager entry's shape and dtype of the start, cached instead of traced on
    every call) equals ``jax.eval_shape`` whatever the producers' count or the dtype, and a float32 game
    does not get a float64 game's answer from the cache."""
    from solvers.continuous._problem import initial_point_aval

    grid = ieee14()
    producers = grid.buses_with_role("producer")
    games = [network_cournot_game(grid, producers[:k], cost_linear=np.linspace(10.0, 20.0, k), cost_quadratic=0.1,
                                  demand_intercept=100.0, demand_slope=1.0) for k in (2, len(producers))]
    games.append(jax.tree_util.tree_map(
        lambda a: a.astype(jnp.float32) if jnp.issubdtype(a.dtype, jnp.floating) else a, games[0]))
    for _ in range(2):  # the second pass reads the cache
        for game in games:
            expected = jax.eval_shape(game.initial_point)
            got = initial_point_aval(game)
            assert (got.shape, got.dtype) == (expected.shape, expected.dtype)
    assert initial_point_aval(games[2]).dtype == jnp.float32 and initial_point_aval(games[0]).dtype == jnp.float64
    assert initial_point_aval(games[0]).shape != initial_point_aval(games[1]).shape
