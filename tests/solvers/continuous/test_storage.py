"""Storage units in the demand-response game: state-of-charge limits as private linear constraints,
solved by solve_gne and checked against scipy's minimum of the game's potential."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from games import demand_response_game
from solvers import Status, solve_gne, solve_vi

N, T, K = 4, 8, 2


def instance(seed, capacity=(2.0, 1.0)):
    rng = np.random.default_rng(seed)
    upper = rng.uniform(0.5, 2.0, (N, T))
    a = rng.uniform(0.05, 0.5, T)
    return demand_response_game(np.zeros((N, T)), upper, upper.sum(1) * 0.5, a=a, b=rng.uniform(0, 1, T),
                                storage_capacity=list(capacity), storage_initial=[0.5 * c for c in capacity],
                                storage_max_charge=[0.8, 0.5], storage_max_discharge=[0.6, 0.5])


def potential_minimum(game):
    """Independent oracle: minimize sum_t C_t(L_t) + sum_k a_t s_kt^2 over every constraint with SLSQP."""
    lo, hi = np.asarray(game.lower).ravel(), np.asarray(game.upper).ravel()
    a, b, energy = np.asarray(game.a), np.asarray(game.b), np.asarray(game.energy)
    rows = N + K
    storage = np.zeros((rows, T), bool)
    storage[N:] = True

    def potential(z):
        x = z.reshape(rows, T)
        L = x.sum(0)
        return np.sum(a * L**2 + b * L) + np.sum(a * np.where(storage, x, 0.0) ** 2)

    def grad(z):
        x = z.reshape(rows, T)
        return (np.tile(2 * a * x.sum(0) + b, (rows, 1)) + np.where(storage, 2 * a * x, 0.0)).ravel()

    sums = np.kron(np.eye(rows), np.ones((1, T)))
    A_soc, upper = (np.asarray(v) for v in game.shared_constraints())
    res = scipy.optimize.minimize(potential, np.asarray(game.initial_point()).ravel(), jac=grad, method="SLSQP",
                                  bounds=list(zip(lo, hi)),
                                  constraints=[dict(type="eq", fun=lambda z: sums @ z - energy, jac=lambda z: sums),
                                               dict(type="ineq", fun=lambda z: upper - A_soc @ z,
                                                    jac=lambda z: -A_soc)],
                                  options=dict(ftol=1e-14, maxiter=3000))
    assert res.success, res.message
    return res.x.reshape(rows, T)


@pytest.mark.parametrize("seed,method", [
    (0, "extragradient"), (0, "semismooth_newton"),  # ci; thorough adds other seeds
    *[pytest.param(seed, method, marks=pytest.mark.slow)
      for seed, method in [(1, "extragradient"), (2, "extragradient"), (1, "semismooth_newton")]]])
def test_equilibrium_with_storage_is_the_potential_minimum(seed, method):
    """Both methods of solve_gne: extragradient on the projections, Newton on the box-and-equality
    complementarity form of the same strategy sets."""
    game = instance(seed)
    eq = solve_gne(game, method=method, tol=1e-9)
    assert int(eq.status) == Status.CONVERGED
    x = np.asarray(eq.strategies)
    oracle = potential_minimum(game)
    # Users' own schedules are not unique under daily billing; the total load and the storage
    # schedules are (the potential is strictly convex in them).
    np.testing.assert_allclose(x.sum(0), oracle.sum(0), atol=2e-5)
    np.testing.assert_allclose(x[N:], oracle[N:], atol=2e-5)
    assert float(game.potential(eq.strategies)) <= float(game.potential(jnp.asarray(oracle))) + 1e-8
    soc = np.asarray(game.state_of_charge(eq.strategies))
    capacity = np.asarray(game.storage_capacity)[:, None]
    assert np.all(soc >= -1e-8) and np.all(soc <= capacity + 1e-8)  # state of charge within limits
    np.testing.assert_allclose(soc[:, -1], np.asarray(game.storage_initial), atol=1e-9)  # back where it began
    np.testing.assert_allclose(x[:N].sum(1), np.asarray(game.energy)[:N], atol=1e-9)


def peaky(capacity):
    """Inflexible users with an evening peak, uniform slot costs, one battery starting empty."""
    load = np.tile(np.array([0.5, 0.4, 0.4, 0.6, 1.0, 1.6, 2.0, 1.2]), (N, 1))
    return demand_response_game(load, load, load.sum(1), a=0.1, b=0.0, storage_capacity=[capacity],
                                storage_initial=[0.0]), load


def test_storage_buys_cheap_sells_dear_and_flattens_the_load():
    """The battery charges in the low-load (cheap) slots, discharges at the peak, earns money, and the
    peak-to-average ratio falls."""
    game, load = peaky(2.0)
    eq = solve_gne(game)
    assert int(eq.status) == Status.CONVERGED
    s = np.asarray(eq.strategies[N:])[0]
    total = np.asarray(game.total_load(eq.strategies))
    assert s[:3].sum() > 0.5 and s[5:7].sum() < -0.5  # charges at night, discharges at the peak
    assert float(game.costs(eq.strategies)[-1]) < 0  # arbitrage revenue
    par = lambda L: L.max() / L.mean()
    assert par(total) < par(load.sum(0)) - 0.05


def test_soc_multipliers_are_positive_only_on_binding_limits():
    game, _ = peaky(0.3)  # a tiny battery: its capacity binds
    eq = solve_gne(game, tol=1e-10)
    assert int(eq.status) == Status.CONVERGED
    mu = np.asarray(eq.multipliers)
    slack = np.asarray(game.constraint_upper() - game.constraint_values(eq.strategies))
    assert mu.max() > 1e-4
    assert np.all(mu * slack <= 1e-7) and np.all(slack >= -1e-8)  # complementary slackness
    # The matrix-free operators equal the dense matrix.
    A, _ = game.shared_constraints()
    v = jnp.asarray(np.random.default_rng(1).standard_normal(mu.shape))
    np.testing.assert_allclose(game.constraint_adjoint(v).ravel(), A.T @ v, atol=1e-12)
    assert float(jnp.linalg.norm(A, 2)) <= float(game.constraint_norm_bound())


def test_storage_input_errors_and_solver_guards():
    rng = np.random.default_rng(0)
    upper = rng.uniform(0.5, 2.0, (N, T))
    make = lambda **kw: demand_response_game(np.zeros((N, T)), upper, upper.sum(1) / 2, a=0.2, **kw)
    with pytest.raises(ValueError, match="storage_initial must lie"):
        make(storage_capacity=[1.0], storage_initial=[2.0])
    with pytest.raises(ValueError, match="storage_capacity must be nonnegative"):
        make(storage_capacity=[-1.0], storage_initial=[0.0])
    with pytest.raises(ValueError, match="nonnegative"):
        make(storage_capacity=[1.0], storage_max_charge=[-0.1])
    with pytest.raises(ValueError, match="daily billing"):
        make(storage_capacity=[1.0], billing="hourly")
    with pytest.raises(ValueError, match="without storage_capacity"):
        make(storage_initial=[1.0])
    with pytest.raises(ValueError, match="finite"):
        make(storage_capacity=[np.nan])
    game = make(storage_capacity=[1.0])
    with pytest.raises(ValueError, match="use solve_gne"):
        solve_vi(game)  # would silently ignore the state-of-charge limits
    with pytest.raises(ValueError, match="storage"):
        solve_vi(dataclasses.replace(game), method="best_response")
    for method in ("extragradient", "semismooth_newton"):
        short = solve_gne(game, method=method, max_steps=2)
        assert int(short.status) == Status.MAX_STEPS and float(short.residual) > 1e-8


def test_implicit_gradient_of_storage_revenue_equals_finite_differences():
    """Users with fixed loads (lower = upper) leave a unique equilibrium, and d(storage revenue)/d(capacity)
    through solve_gne equals central differences."""
    rng = np.random.default_rng(3)
    load = rng.uniform(0.5, 2.0, (N, T))
    a = rng.uniform(0.05, 0.5, T)

    def revenue(capacity):
        # Power limits far from binding: a nondegenerate solution (a binding power limit that coincides
        # with a binding state-of-charge limit is a kink, where no derivative exists).
        game = demand_response_game(load, load, load.sum(1), a=a, b=0.1, storage_capacity=[1.0],
                                    storage_initial=[0.5], storage_max_charge=[10.0], storage_max_discharge=[10.0])
        game = dataclasses.replace(game, storage=dataclasses.replace(game.storage, capacity=capacity, initial=0.5 * capacity))
        eq = solve_gne(game, tol=1e-12)
        return -game.costs(eq.strategies)[-1]

    capacity = jnp.array([1.0])
    gradient = float(jax.grad(lambda c: revenue(c))(capacity)[0])
    h = 1e-5
    fd = (float(revenue(capacity + h)) - float(revenue(capacity - h))) / (2 * h)
    assert gradient == pytest.approx(fd, rel=1e-5, abs=1e-7)
    assert abs(gradient) > 1e-3
