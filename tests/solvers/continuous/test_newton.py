"""Semismooth Newton methods: solve_vi on the normal map, solve_gne on the complementarity form;
implicit derivatives of generalized equilibria against finite differences."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from hypothesis import find, given, settings
from hypothesis import strategies as st

from games import federated_contribution_game, ieee14, ieee30, network_cournot_game
from mechanisms import pytree_dataclass
from solvers import GNE_METHODS, Status, solve_gne, solve_vi
from solvers._core._complementarity import box_fischer_burmeister, box_natural_residual
from solvers.continuous._newton import complementarity_newton
from tests.solvers.continuous.test_gne import highs_multipliers, potential_optimum, three_bus
from tests.solvers.continuous.test_variational import instance


def ieee30_congested():
    grid = ieee30()
    producers = grid.buses_with_role("producer")
    rng = np.random.default_rng(0)
    return network_cournot_game(grid, producers, cost_linear=rng.uniform(10, 30, producers.size),
                                cost_quadratic=0.05, demand_intercept=100.0, demand_slope=0.2)


@pytest.mark.parametrize("billing", [pytest.param("daily", marks=pytest.mark.slow), "hourly"])
def test_newton_needs_far_fewer_iterations_than_extragradient(billing):
    game = instance(3, billing=billing)
    newton = solve_vi(game, method="semismooth_newton")
    first_order = solve_vi(game, method="extragradient")
    assert int(newton.status) == Status.CONVERGED and float(newton.residual) <= 1e-8
    assert int(newton.iterations) <= 30 and int(newton.iterations) * 5 < int(first_order.iterations)
    np.testing.assert_allclose(game.total_load(newton.strategies), game.total_load(first_order.strategies),
                               atol=1e-6)


def test_newton_on_the_federated_game_matches_the_closed_form():
    n, kappa, alpha = 5, 0.7, 4.0
    game = federated_contribution_game(np.full(n, kappa), 100.0, value_scale=alpha)
    eq = solve_vi(game, method="semismooth_newton", tol=1e-12)
    assert int(eq.status) == Status.CONVERGED
    foc = lambda e: alpha / (1 + n * e) / n + alpha * np.log1p(n * e) * (n - 1) / (n**2 * e) - kappa * e
    np.testing.assert_allclose(eq.strategies, scipy.optimize.brentq(foc, 1e-9, 100.0, xtol=1e-15), rtol=1e-10)


@pytest.mark.parametrize("method", GNE_METHODS)
def test_uncongested_cournot_closed_form_for_every_gne_method(method):
    game = network_cournot_game(ieee14(), np.array([0, 1, 2, 5]), cost_linear=12.0, demand_intercept=100.0,
                                demand_slope=2.0)
    eq = solve_gne(game, method=method)
    assert int(eq.status) == Status.CONVERGED and float(eq.residual) <= 1e-8
    np.testing.assert_allclose(eq.strategies, (100.0 - 12.0) / (2.0 * 5), rtol=1e-8)
    np.testing.assert_allclose(eq.multipliers, 0.0, atol=1e-10)


@pytest.mark.parametrize("capacity", [5.0, 12.0])
def test_newton_gne_multipliers_equal_highs_duals(capacity):
    game = network_cournot_game(three_bus(capacity), np.array([0, 0, 1, 1]), cost_linear=[10.0, 12.0, 30.0, 28.0],
                                cost_quadratic=[0.2, 0.1, 0.0, 0.3], demand_intercept=100.0, demand_slope=1.0,
                                demand_shares=[0.0, 0.2, 0.8])
    eq = solve_gne(game, method="semismooth_newton", tol=1e-11)
    assert int(eq.status) == Status.CONVERGED
    q = np.asarray(eq.strategies)
    np.testing.assert_allclose(q, potential_optimum(game), atol=1e-5)
    assert np.asarray(eq.multipliers).max() > 1e-3
    np.testing.assert_allclose(eq.multipliers, highs_multipliers(game, q), atol=1e-7)


def test_newton_solves_ieee30_with_binding_limits_where_extragradient_stalls():
    game = ieee30_congested()
    newton = solve_gne(game, method="semismooth_newton")
    assert int(newton.status) == Status.CONVERGED and float(newton.residual) <= 1e-8
    assert int(np.sum(np.asarray(newton.multipliers) > 1e-6)) >= 3  # several lines bind
    np.testing.assert_allclose(newton.strategies, potential_optimum(game), atol=1e-4)
    stalled = solve_gne(game, method="extragradient", max_steps=20_000)
    assert int(stalled.status) == Status.MAX_STEPS and float(stalled.residual) > 1e-6  # reported, not hidden
    A, upper = (np.asarray(v) for v in game.shared_constraints())
    assert np.all(A @ np.asarray(newton.strategies) <= upper + 1e-9)


@pytree_dataclass
class NoBounds:
    """A continuous game with shared constraints but no polyhedral description of its strategy sets
    (it forwards everything else to ``inner``)."""

    inner: object

    def shared_constraints(self):
        return self.inner.shared_constraints()

    def pseudo_gradient(self, x):
        return self.inner.pseudo_gradient(x)

    def project(self, x):
        return self.inner.project(x)

    def initial_point(self):
        return self.inner.initial_point()

    def lipschitz_bound(self):
        return self.inner.lipschitz_bound()


def test_newton_reports_max_steps_and_rejects_games_without_lower_bounds():
    game = ieee30_congested()
    short = solve_gne(game, method="semismooth_newton", max_steps=3)
    assert int(short.status) == Status.MAX_STEPS and float(short.residual) > 1e-8

    with pytest.raises(ValueError, match="lower_bounds"):
        solve_gne(NoBounds(game), method="semismooth_newton")
    with pytest.raises(ValueError, match="method must be one of"):
        solve_gne(game, method="newton")

    @dataclasses.dataclass(frozen=True)
    class Unbounded(NoBounds):
        def lower_bounds(self):
            return jnp.full(6, -jnp.inf)

        def upper_bounds(self):
            return None

    with pytest.raises(ValueError, match="finite lower_bounds"):
        solve_gne(Unbounded(game), method="semismooth_newton")


@pytest.mark.parametrize("field", ["cost_linear", pytest.param("cost_quadratic", marks=pytest.mark.slow),
                                   pytest.param("demand_intercept", marks=pytest.mark.slow), "capacity"])
def test_implicit_gradients_of_generalized_equilibria_equal_finite_differences(field):
    """d(welfare-style objective)/d(parameter) through solve_gne, against central differences of re-solves."""
    base = network_cournot_game(three_bus(8.0), np.array([0, 0, 1, 1]), cost_linear=[10.0, 12.0, 30.0, 28.0],
                                cost_quadratic=[0.2, 0.1, 0.05, 0.3], demand_intercept=100.0, demand_slope=1.0,
                                demand_shares=[0.0, 0.2, 0.8])

    def replace(game, value):
        if field == "capacity":
            return dataclasses.replace(game, grid=dataclasses.replace(game.grid, capacity=value))
        return dataclasses.replace(game, **{field: value})

    def objective(value):
        eq = solve_gne(replace(base, value), method="semismooth_newton", tol=1e-12)
        weights = jnp.arange(1.0, eq.strategies.size + 1)
        return jnp.sum(weights * eq.strategies) + 0.1 * jnp.sum(eq.multipliers)

    value = base.grid.capacity if field == "capacity" else getattr(base, field)
    gradient = np.asarray(jax.grad(objective)(value)).ravel()
    flat = np.asarray(value, float).ravel()
    for k in range(flat.size):
        if not np.isfinite(flat[k]):
            continue
        h = 1e-5 * max(1.0, abs(flat[k]))
        up, down = flat.copy(), flat.copy()
        up[k] += h
        down[k] -= h
        fd = (float(objective(jnp.asarray(up).reshape(np.shape(value))))
              - float(objective(jnp.asarray(down).reshape(np.shape(value))))) / (2 * h)
        assert gradient[k] == pytest.approx(fd, rel=1e-5, abs=1e-6), (field, k)
    assert np.any(np.abs(gradient[np.isfinite(flat)]) > 1e-6)  # the check is not vacuous


@pytest.mark.parametrize("name,method", [
    # ci: each method on one of the two games, each game with two methods; thorough: all eight.
    ("federated", "extragradient"), ("federated", "semismooth_newton"),
    ("cournot", "projected_gradient"), ("cournot", "optimistic"),
    *[pytest.param(name, method, marks=pytest.mark.slow) for name, method in [
        ("federated", "projected_gradient"), ("federated", "optimistic"),
        ("cournot", "extragradient"), ("cournot", "semismooth_newton")]]])
def test_every_gradient_method_reaches_1e_8_on_the_other_games(name, method):
    if name == "federated":
        game = federated_contribution_game(np.array([0.5, 1.0, 2.0, 4.0]), 50.0, value_scale=3.0)
    else:
        game = network_cournot_game(ieee14(), np.array([0, 1, 2]), cost_linear=[10.0, 14.0, 20.0],
                                    cost_quadratic=0.1, demand_intercept=60.0, demand_slope=1.0)
    eq = solve_vi(game, method=method)
    assert int(eq.status) == Status.CONVERGED and float(eq.residual) <= 1e-8
    reference = solve_vi(game, method="extragradient", tol=1e-12).strategies
    np.testing.assert_allclose(eq.strategies, reference, atol=1e-6)
    short = solve_vi(game, method=method, max_steps=1)
    assert int(short.status) == Status.MAX_STEPS and float(short.residual) > 1e-8
    with pytest.raises(ValueError, match="best responses"):
        solve_vi(game, method="best_response")


@pytest.mark.parametrize("method", GNE_METHODS)
def test_solve_gne_vmaps_over_a_batch_of_demand_scenarios(method):
    game = network_cournot_game(three_bus(8.0), np.array([0, 0, 1, 1]), cost_linear=[10.0, 12.0, 30.0, 28.0],
                                cost_quadratic=[0.2, 0.1, 0.05, 0.3], demand_intercept=100.0, demand_slope=1.0,
                                demand_shares=[0.0, 0.2, 0.8])
    intercepts = jnp.array([40.0, 70.0, 100.0])
    batched = jax.vmap(lambda a: solve_gne(dataclasses.replace(game, demand_intercept=a), method=method))(intercepts)
    for i, a in enumerate(intercepts):
        single = solve_gne(dataclasses.replace(game, demand_intercept=a), method=method)
        np.testing.assert_allclose(batched.strategies[i], single.strategies, atol=1e-8)
        np.testing.assert_allclose(batched.multipliers[i], single.multipliers, atol=1e-7)
        assert int(batched.status[i]) == Status.CONVERGED


BOX_ENTRIES = st.lists(st.tuples(st.sampled_from([-np.inf, -1.0, 0.0]), st.sampled_from([0.0, 1.0, np.inf]),
                                 st.floats(-2, 2), st.one_of(st.just(0.0), st.floats(1e-3, 2), st.floats(-2, -1e-3))),
                       min_size=1, max_size=12)


def zeros_match_box_complementarity(phi_function, entries):
    """Whether ``phi_function(w, G, l, u)`` vanishes exactly where w in [l, u] and G >= 0 at l, G <= 0 at
    u, G = 0 inside (bounds possibly infinite, possibly equal)."""
    lower, upper, w, g = (np.array(v) for v in zip(*entries))
    upper = np.maximum(upper, lower)
    # Snap some points onto their bounds so that the solution set is hit, not only its complement.
    w = np.where(np.abs(w - lower) < 0.5, lower, np.where(np.abs(w - upper) < 0.5, upper, w))
    at_lower, at_upper = w == lower, w == upper
    holds = (w >= lower) & (w <= upper) & ((at_lower & at_upper) | (at_lower & (g >= 0)) | (at_upper & (g <= 0))
                                           | (~at_lower & ~at_upper & (g == 0)))
    phi = np.asarray(phi_function(jnp.asarray(w), jnp.asarray(g), jnp.asarray(lower), jnp.asarray(upper)))
    return bool(np.all(np.isfinite(phi)) and np.array_equal(np.abs(phi) < 1e-12, holds))


@settings(deadline=None)
@given(BOX_ENTRIES)
def test_box_fischer_burmeister_vanishes_exactly_at_box_complementarity(entries):
    """Billups' function is zero iff the box complementarity condition holds."""
    assert zeros_match_box_complementarity(box_fischer_burmeister, entries)


def test_the_box_property_catches_a_function_that_ignores_upper_bounds():
    """The same check finds a counterexample for the plain Fischer-Burmeister function of ``w >= l``,
    which ignores ``u`` (e.g. w = u with G < 0 is a solution it rejects)."""
    plain = lambda w, g, lower, upper: box_fischer_burmeister(w, g, jnp.where(jnp.isfinite(lower), lower, -1e9), None)
    counterexample = find(BOX_ENTRIES, lambda entries: not zeros_match_box_complementarity(plain, entries),
                          settings=settings(deadline=None, database=None))
    assert not zeros_match_box_complementarity(plain, counterexample)


@pytest.mark.parametrize("seed", [0, 1])
def test_box_complementarity_newton_solves_bounded_least_squares_like_scipy(seed):
    """min ||A w - b||^2 / 2 on a box with some infinite bounds is the box complementarity problem with
    G(w) = A^T (A w - b); scipy's bounded-variable least squares (Stark and Parker 1995) is the oracle."""
    rng = np.random.default_rng(seed)
    n = 12
    A, b = rng.standard_normal((20, n)), 3 * rng.standard_normal(20)
    lower = np.where(rng.random(n) < 0.3, -np.inf, rng.uniform(-1, 0, n))
    upper = np.where(rng.random(n) < 0.3, np.inf, rng.uniform(0, 1, n))
    expected = scipy.optimize.lsq_linear(A, b, bounds=(lower, upper), method="bvls", tol=1e-14).x
    G = lambda w: jnp.asarray(A.T) @ (jnp.asarray(A) @ w - jnp.asarray(b))
    lo, hi = jnp.asarray(lower), jnp.asarray(upper)
    residual = lambda w: box_natural_residual(w, G(w), lo, hi)
    w, k, r = complementarity_newton(G, lo, hi, jnp.zeros(n), 1e-11, residual, max_steps=100)
    assert float(r) <= 1e-11 and int(k) < 100
    assert np.sum((expected <= lower + 1e-9) | (expected >= upper - 1e-9)) >= 2  # some bounds bind
    np.testing.assert_allclose(np.asarray(w), expected, atol=1e-8)
