"""Demand response under a price rule of net load and hour: the pseudo-gradient, monotonicity for any
parameters of a smoothed MonotonePrice (and a search that finds its failure without enough smoothing), the
equilibrium against per-user scipy best responses, the neutrality of a uniform price shift, bad input."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from games import datacenter_user, priced_demand_response_game
from mechanisms import MonotonePrice, monotone_price
from solvers import Status, solve_vi

N, T, K = 4, 5, 3
RNG = np.random.default_rng(0)
UPPER = RNG.uniform(0.5, 2.0, (N, T))
UPPER[-1] = 6.0  # a large user (a data center)
LOWER = np.zeros((N, T))
ENERGY = 0.5 * UPPER.sum(1)
U = float(np.sqrt((UPPER**2).sum(0)).max())
KNOTS = (2.0, 5.0, 8.0)


def rule(base, slopes, smoothing):
    return MonotonePrice(jnp.asarray(base), jnp.asarray(slopes), knots=KNOTS, smoothing=smoothing)


def game_with(params, discomfort=0.0):
    return priced_demand_response_game(LOWER, UPPER, ENERGY, price_params=params, a=0.1, b=1.0,
                                       discomfort=discomfort)


GAME = game_with(rule(np.zeros(T), np.zeros((T, K)), U / 2), discomfort=0.2)


_project = jax.jit(GAME.project)


def feasible_point(seed):
    return _project(jnp.asarray(np.random.default_rng(seed).uniform(0.0, 2.0, (N, T))))


@jax.jit
def _smallest_eigenvalue(game, x):
    """The smallest eigenvalue of the symmetric part of the pseudo-gradient's Jacobian at ``x``: ``F`` is
    monotone on the strategy sets when it is >= 0 at every feasible ``x``."""
    J = jax.jacfwd(lambda z: game.pseudo_gradient(z.reshape(N, T)).ravel())(x.ravel())
    return jnp.linalg.eigvalsh(0.5 * (J + J.T))[0]


def smallest_eigenvalue(seed, smoothing):
    """For random rule parameters (slopes up to e^8) and a random feasible profile, no discomfort."""
    rng = np.random.default_rng(seed)
    params = MonotonePrice(jnp.asarray(rng.normal(size=T)), jnp.asarray(rng.normal(size=(T, K)) * 4.0), knots=KNOTS,
                           smoothing=smoothing)
    game = dataclasses.replace(GAME, price_params=params, discomfort=jnp.zeros(N))
    return float(_smallest_eigenvalue(game, feasible_point(seed)))


def test_pseudo_gradient_is_each_users_own_gradient_of_its_cost():
    x = feasible_point(3)
    own = jax.jit(jax.vmap(lambda n: jax.grad(lambda row: GAME.costs(x.at[n].set(row))[n])(x[n])))(jnp.arange(N))
    np.testing.assert_allclose(jax.jit(GAME.pseudo_gradient)(x), own, rtol=1e-12, atol=1e-12)


@given(st.integers(0, 2**31 - 1))
@settings(max_examples=15)
def test_monotone_for_any_parameters_with_enough_smoothing(seed):
    assert smallest_eigenvalue(seed, U / 2) >= -1e-10


def test_search_finds_a_non_monotone_game_without_enough_smoothing():
    """The same property fails for a sharp rule (smoothing U / 40): the curvature bound is what holds it."""
    seed = find(st.integers(0, 2**31 - 1), lambda s: smallest_eigenvalue(s, U / 40) < -1e-6,
                settings=settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck)))
    assert smallest_eigenvalue(seed, U / 40) < -1e-6


def test_equilibrium_admits_no_profitable_deviation():
    game = game_with(rule(np.linspace(1.0, 2.0, T), np.full((T, K), 0.5), U / 2), discomfort=0.2)
    eq = solve_vi(game, tol=1e-12)
    assert int(eq.status) == Status.CONVERGED
    x = np.asarray(eq.strategies)
    for n in range(N):
        cost = lambda row: float(game.costs(jnp.asarray(np.vstack([x[:n], row[None], x[n + 1:]])))[n])
        best = scipy.optimize.minimize(cost, x[n], method="SLSQP", bounds=list(zip(LOWER[n], UPPER[n])),
                                       constraints=[dict(type="eq", fun=lambda row: row.sum() - ENERGY[n])],
                                       options=dict(ftol=1e-14, maxiter=500))
        assert best.fun >= cost(x[n]) - 1e-8


def test_a_uniform_price_shift_moves_revenue_not_the_equilibrium():
    params = rule(np.linspace(1.0, 2.0, T), np.full((T, K), 0.5), U / 2)
    shifted = dataclasses.replace(params, base=params.base + 0.7)
    x = solve_vi(game_with(params, 0.2), tol=1e-12).strategies
    y = solve_vi(game_with(shifted, 0.2), tol=1e-12).strategies
    np.testing.assert_allclose(x, y, atol=1e-9)
    revenue = lambda p, z: float(game_with(p, 0.2).revenue(z))
    assert revenue(shifted, y) - revenue(params, x) == pytest.approx(0.7 * ENERGY.sum(), rel=1e-9)


def test_datacenter_rows_and_metrics():
    lo, hi, e = datacenter_user(np.full(T, 2.0), 3.0, start=1, deadline=4, max_power=2.0)
    game = priced_demand_response_game(np.vstack([LOWER, lo]), np.vstack([UPPER, hi]), np.append(ENERGY, e),
                                       price_params=rule(np.zeros(T), np.zeros((T, K)), 8.0), a=0.1,
                                       renewables=np.linspace(0.0, 1.0, T), discomfort=0.5)
    eq = solve_vi(game, tol=1e-10)
    x = np.asarray(eq.strategies)
    assert x[-1].sum() == pytest.approx(e) and np.all(x[-1] >= 2.0 - 1e-9)
    net = x.sum(0) - np.linspace(0.0, 1.0, T)
    assert float(game.peak_to_average(eq.strategies)) == pytest.approx(net.max() / net.mean())
    assert float(game.nonrenewable_energy(eq.strategies)) == pytest.approx(np.maximum(net, 0).sum())
    assert float(game.operator_surplus(eq.strategies)) == pytest.approx(
        float(game.revenue(eq.strategies)) - float(game.supply_cost(eq.strategies)))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="decrease with load"):
        priced_demand_response_game(LOWER, UPPER, ENERGY, price_params=(1.0, -0.5),
                                    price_rule=lambda p, load: p[0] + p[1] * load, a=0.1)
    with pytest.raises(ValueError, match="slope grows too fast"):
        game_with(rule(np.zeros(T), np.zeros((T, K)), 0.0))  # exact kinks
    with pytest.raises(ValueError, match="each hour from that hour"):
        priced_demand_response_game(LOWER, UPPER, ENERGY, price_params=1.0,
                                    price_rule=lambda p, load: p * jnp.cumsum(load, axis=-1), a=0.1)
    with pytest.raises(ValueError, match="discomfort"):
        game_with(GAME.price_params, discomfort=-1.0)
    with pytest.raises(ValueError, match="impossible"):
        priced_demand_response_game(LOWER, UPPER, ENERGY * 3, price_params=GAME.price_params, a=0.1)
    with pytest.raises(ValueError, match="upper"):
        priced_demand_response_game(LOWER, UPPER[0], ENERGY, price_params=GAME.price_params, a=0.1)
    with pytest.raises(ValueError, match="decrease with load"):  # the check runs on new parameters too
        dataclasses.replace(GAME, price_rule=lambda p, load: p - load).with_price_params(1.0)
    assert monotone_price(GAME.price_params, jnp.ones(T)).shape == (T,)
