"""stackelberg: the leader's optimum by gradient matches a brute-force grid over its strategy."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from games import ieee14, network_cournot_game
from solvers import Status, solve_vi, stackelberg

A, B = 100.0, 1.0
FOLLOWERS = network_cournot_game(ieee14(), [3, 4, 8], cost_linear=[10.0, 15.0, 20.0], cost_quadratic=0.5,
                                 demand_intercept=A, demand_slope=B)
PLANT_LINEAR, PLANT_QUADRATIC = jnp.array([5.0, 12.0]), jnp.array([2.0, 0.5])


def followers_facing(q):
    """The leader's two plants produce ``q``; the followers see the residual demand ``A - B (Q + q1 + q2)``."""
    return dataclasses.replace(FOLLOWERS, demand_intercept=A - B * jnp.sum(q))


def leader_profit(q, game, eq):
    price = game.price(eq.strategies)  # A - B (q1 + q2) - B Q_followers
    return jnp.sum(price * q - PLANT_LINEAR * q - 0.5 * PLANT_QUADRATIC * q**2)


SOLVE = lambda game: solve_vi(game, method="extragradient", tol=1e-12)  # 3 followers: a few hundred steps


def test_leader_optimum_by_gradient_matches_a_brute_force_grid():
    result = stackelberg(leader_profit, followers_facing, jnp.array([5.0, 5.0]), solve=SOLVE,
                         optimizer=optax.adam(optax.cosine_decay_schedule(2.0, 300, 1e-4)), steps=300,
                         bounds=(0.0, 60.0), progress=False)
    assert result.status == Status.CONVERGED
    # Brute force: the followers' equilibrium for every leader commitment on a 121 x 121 grid (one vmapped solve).
    axis = np.linspace(0.0, 60.0, 121)
    grid = jnp.asarray(np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2))
    games = jax.vmap(followers_facing)(grid)
    eqs = jax.vmap(SOLVE)(games)
    assert bool(jnp.all(eqs.status == Status.CONVERGED))
    profits = np.asarray(jax.vmap(leader_profit)(grid, games, eqs))
    best = int(np.argmax(profits))
    spacing = axis[1] - axis[0]
    np.testing.assert_allclose(result.params, grid[best], atol=spacing)  # within one grid cell
    assert result.objective >= profits[best] - 1e-9  # at least as good as the best grid point
    assert result.objective == pytest.approx(float(leader_profit(result.params, followers_facing(result.params),
                                                                  SOLVE(followers_facing(result.params)))))
    assert np.all(np.diff(result.history["objective"][-20:]) > -1e-6)  # the payoff (not its negative) is reported


def test_stackelberg_duopoly_closed_form():
    """One follower with cost c, leader with cost c, p = a - b Q: the leader commits to (a - c) / (2 b)."""
    follower = network_cournot_game(ieee14(), [1], cost_linear=10.0, demand_intercept=A, demand_slope=B)
    result = stackelberg(lambda q, g, eq: (g.price(eq.strategies) - 10.0) * q,
                         lambda q: dataclasses.replace(follower, demand_intercept=A - B * q), jnp.asarray(10.0),
                         solve=SOLVE, optimizer=optax.sgd(1.0), steps=60, progress=False)
    assert float(result.params) == pytest.approx((A - 10.0) / (2 * B), rel=1e-8)
    assert result.objective == pytest.approx((A - 10.0) ** 2 / (8 * B), rel=1e-8)


def test_bad_leader_payoff():
    with pytest.raises(ValueError, match="leader_payoff"):
        stackelberg(None, followers_facing, jnp.zeros(2), solve=SOLVE, steps=1, progress=False)
