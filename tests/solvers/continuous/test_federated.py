"""Federated contributions with a proportional reward pool: symmetric closed form, asymmetric FOCs."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from hypothesis import given
from hypothesis import strategies as st

from games import federated_contribution_game
from solvers import Status, solve_vi


@given(st.integers(2, 8), st.floats(0.2, 5.0), st.floats(0.5, 10.0))
def test_symmetric_equilibrium_solves_the_scalar_first_order_condition(n, kappa, alpha):
    game = federated_contribution_game(np.full(n, kappa), 100.0, value_scale=alpha)
    eq = solve_vi(game, method="extragradient")
    assert int(eq.status) == Status.CONVERGED
    V = lambda E: alpha * np.log1p(E)
    dV = lambda E: alpha / (1 + E)
    foc = lambda e: dV(n * e) / n + V(n * e) * (n - 1) / (n**2 * e) - kappa * e
    e_star = scipy.optimize.brentq(foc, 1e-9, 100.0, xtol=1e-14)
    np.testing.assert_allclose(eq.strategies, e_star, rtol=1e-6)


def test_asymmetric_equilibrium_admits_no_profitable_deviation():
    game = federated_contribution_game(np.array([0.5, 1.0, 2.0, 4.0]), 50.0, value_scale=3.0)
    eq = solve_vi(game, method="extragradient", tol=1e-10)
    e = np.asarray(eq.strategies)
    costs = np.asarray(game.costs(eq.strategies))
    for i in range(4):
        def own_cost(x):
            y = e.copy()
            y[i] = x
            return float(game.costs(jnp.asarray(y))[i])

        best = scipy.optimize.minimize_scalar(own_cost, bounds=(0.0, 50.0), method="bounded",
                                              options=dict(xatol=1e-12))
        assert best.fun >= costs[i] - 1e-9
    assert e[0] > e[1] > e[2] > e[3]  # cheaper effort, more effort


def test_implicit_gradient_of_total_effort_equals_finite_differences():
    game = federated_contribution_game(np.array([0.5, 1.0, 2.0]), 50.0, value_scale=3.0)
    total = lambda alpha: jnp.sum(solve_vi(dataclasses.replace(game, value_scale=alpha), method="extragradient",
                                           tol=1e-13).strategies)
    g = float(jax.grad(total)(game.value_scale))
    h = 1e-5
    fd = (float(total(game.value_scale + h)) - float(total(game.value_scale - h))) / (2 * h)
    assert g == pytest.approx(fd, rel=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="effort_cost"):
        federated_contribution_game(np.array([1.0, -1.0]), 1.0, value_scale=1.0)
    with pytest.raises(ValueError, match="value_scale"):
        federated_contribution_game(np.array([1.0]), 1.0, value_scale=np.nan)
