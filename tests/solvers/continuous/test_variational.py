"""Demand response (Mohsenian-Rad et al. 2010) solved as a variational inequality."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from hypothesis import given
from hypothesis import strategies as st

from games import capped_simplex, datacenter_user, demand_response_game
from solvers import VI_METHODS, Status, natural_map_residual, solve_vi

N, T = 4, 8


def instance(seed, billing="daily", renewables=0.0):
    rng = np.random.default_rng(seed)
    upper = rng.uniform(0.5, 2.0, (N, T)) * (rng.random((N, T)) < 0.75)
    upper[:, 0] = np.maximum(upper[:, 0], 0.5)  # every user has some room
    energy = upper.sum(1) * rng.uniform(0.3, 0.8, N)
    a, b = rng.uniform(0.1, 0.5, T), rng.uniform(0.0, 1.0, T)
    return demand_response_game(np.zeros((N, T)), upper, energy, a=a, b=b, renewables=renewables, billing=billing)


def centralized_optimum(game):
    """Independent oracle: the social-cost QP over all schedules, by scipy's SLSQP."""
    lo, hi = np.asarray(game.lower), np.asarray(game.upper)
    a, b, r, E = (np.asarray(v) for v in (game.a, game.b, game.renewables, game.energy))

    def cost(z):
        L = z.reshape(N, T).sum(0) - r
        return np.sum(a * L**2 + b * L)

    def grad(z):
        L = z.reshape(N, T).sum(0) - r
        return np.tile(2 * a * L + b, N)

    A = np.kron(np.eye(N), np.ones((1, T)))
    hessian = np.kron(np.ones((N, N)), np.diag(2 * a))
    # Interior point for a robust start, then SLSQP's active set for precision.
    rough = scipy.optimize.minimize(cost, np.asarray(game.initial_point()).ravel(), jac=grad, hess=lambda z: hessian,
                                    method="trust-constr", bounds=scipy.optimize.Bounds(lo.ravel(), hi.ravel()),
                                    constraints=[scipy.optimize.LinearConstraint(A, E, E)],
                                    options=dict(gtol=1e-12, xtol=1e-14, maxiter=5000))
    res = scipy.optimize.minimize(cost, np.clip(rough.x, lo.ravel(), hi.ravel()), jac=grad, method="SLSQP",
                                  bounds=list(zip(lo.ravel(), hi.ravel())),
                                  constraints=[dict(type="eq", fun=lambda z: A @ z - E, jac=lambda z: A)],
                                  options=dict(ftol=1e-13, maxiter=2000))
    assert res.success, res.message
    return res.x.reshape(N, T)


@given(st.integers(0, 2**32 - 1), st.sampled_from([0.0, 1.5]))
def test_daily_billing_equilibrium_is_the_social_optimum(seed, renewable_level):
    renewables = renewable_level * np.sin(np.linspace(0, np.pi, T))
    game = instance(seed, renewables=renewables)
    eq = solve_vi(game, method="best_response", tol=1e-10)
    assert int(eq.status) == Status.CONVERGED
    optimum = centralized_optimum(game)
    np.testing.assert_allclose(game.total_load(eq.strategies), optimum.sum(0), atol=1e-6)
    assert float(game.social_cost(eq.strategies)) <= float(game.social_cost(jnp.asarray(optimum))) + 1e-9


@given(st.integers(0, 2**32 - 1))
def test_peak_to_average_ratio_falls_against_no_response(seed):
    """With the same cost in every slot the optimum flattens the load as far as the windows allow,
    so its PAR is at most that of users who ignore prices (Mohsenian-Rad et al. 2010, Sec. VI)."""
    game = dataclasses.replace(instance(seed), a=jnp.full(T, 0.3), b=jnp.full(T, 0.1))
    eq = solve_vi(game, method="best_response")
    upper, energy = np.asarray(game.upper), np.asarray(game.energy)
    baseline = energy[:, None] * upper / upper.sum(1, keepdims=True)  # consume evenly over one's window
    par = lambda x: float(np.max(np.sum(x, 0)) / np.mean(np.sum(x, 0)))
    assert par(np.asarray(eq.strategies)) <= par(baseline) + 1e-9
    assert float(game.social_cost(eq.strategies)) <= float(game.social_cost(jnp.asarray(baseline))) + 1e-12


@pytest.mark.parametrize("billing,method", [
    # ci: every method on hourly billing (the harder VI) and best response on daily (its only billing);
    # thorough: every method on both.
    *[(billing, method) if billing == "hourly" or method == "best_response"
      else pytest.param(billing, method, marks=pytest.mark.slow)
      for method in VI_METHODS for billing in ("daily", "hourly")]])
def test_every_method_reaches_1e_8_and_reports_max_steps_honestly(billing, method):
    game = instance(3, billing=billing)
    if billing == "hourly" and method == "best_response":
        with pytest.raises(ValueError, match="daily billing"):
            solve_vi(game, method=method)
        return
    eq = solve_vi(game, method=method, tol=1e-8)
    assert int(eq.status) == Status.CONVERGED and float(eq.residual) <= 1e-8
    assert float(natural_map_residual(game, eq.strategies)) <= 1e-8
    x = np.asarray(eq.strategies)  # feasible
    assert np.all(x >= -1e-12) and np.all(x <= np.asarray(game.upper) + 1e-12)
    np.testing.assert_allclose(x.sum(1), game.energy, atol=1e-9)
    short = solve_vi(game, method=method, tol=1e-8, max_steps=1)
    assert (int(short.status) == Status.CONVERGED) == (float(short.residual) <= 1e-8)  # the status is honest
    if method != "best_response":  # one exact sweep may already finish a small potential game
        assert int(short.status) == Status.MAX_STEPS


def test_hourly_equilibrium_admits_no_profitable_deviation():
    game = instance(5, billing="hourly")
    eq = solve_vi(game, method="extragradient", tol=1e-10)
    x = np.asarray(eq.strategies)
    bills = np.asarray(game.costs(eq.strategies))
    for n in range(N):
        def own_bill(z):
            y = x.copy()
            y[n] = z
            return float(game.costs(jnp.asarray(y))[n])

        res = scipy.optimize.minimize(own_bill, x[n], method="SLSQP",
                                      bounds=list(zip(np.asarray(game.lower[n]), np.asarray(game.upper[n]))),
                                      constraints=[dict(type="eq", fun=lambda z: z.sum() - float(game.energy[n]))],
                                      options=dict(ftol=1e-14))
        assert res.fun >= bills[n] - 1e-7


def test_aggregative_pseudo_gradient_equals_full_autodiff():
    for billing in ("daily", "hourly"):
        game = instance(7, billing=billing)
        x = game.initial_point()
        jac = jax.jacrev(game.costs)(x)  # (N, N, T): d cost_n / d x_m
        own = jnp.stack([jac[n, n] for n in range(N)])
        np.testing.assert_allclose(game.pseudo_gradient(x), own, atol=1e-12)


@given(st.integers(0, 2**32 - 1))
def test_capped_simplex_is_the_euclidean_projection(seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=T) * 3
    lo, hi = np.zeros(T), rng.uniform(0.2, 2.0, T)
    total = np.array(rng.uniform(0.1, 0.9) * hi.sum())
    z = np.asarray(capped_simplex(jnp.asarray(y), jnp.ones(T), jnp.asarray(lo), jnp.asarray(hi), jnp.asarray(total)))
    assert abs(z.sum() - total) <= 1e-10 and np.all(z >= lo - 1e-12) and np.all(z <= hi + 1e-12)
    for _ in range(20):  # variational characterization: <y - z, w - z> <= 0 for every feasible w
        w = rng.dirichlet(np.ones(T)) * total
        w = np.minimum(w, hi)
        if abs(w.sum() - total) > 1e-9:
            continue
        assert np.dot(y - z, w - z) <= 1e-9


def test_datacenter_training_job_finishes_by_its_deadline():
    baseline = np.full(T, 0.3)
    lower_dc, upper_dc, energy_dc = datacenter_user(baseline, 2.0, start=2, deadline=6, max_power=1.0)
    rng = np.random.default_rng(0)
    upper = np.vstack([upper_dc, rng.uniform(0.5, 1.5, (2, T))])
    lower = np.vstack([lower_dc, np.zeros((2, T))])
    energy = np.concatenate([[energy_dc], [3.0, 4.0]])
    game = demand_response_game(lower, upper, energy, a=np.linspace(0.5, 0.1, T), b=0.1)
    eq = solve_vi(game, method="best_response")
    dc = np.asarray(eq.strategies)[0]
    assert np.all(dc >= baseline - 1e-12)
    np.testing.assert_allclose(dc[:2], baseline[:2], atol=1e-12)
    np.testing.assert_allclose(dc[6:], baseline[6:], atol=1e-12)
    assert (dc - baseline).sum() == pytest.approx(2.0, abs=1e-9)


def test_vmap_over_renewable_scenarios_equals_loop_and_jit():
    game = instance(11)
    scenarios = jnp.asarray(np.random.default_rng(1).uniform(0, 1.0, (3, T)))
    solve = lambda r: solve_vi(dataclasses.replace(game, renewables=r), method="extragradient").strategies
    batched = jax.vmap(solve)(scenarios)
    jitted = jax.jit(solve)(scenarios[1])
    for k in range(3):
        single = solve(scenarios[k])
        np.testing.assert_allclose(batched[k].sum(0), single.sum(0), atol=1e-7)
    np.testing.assert_allclose(jitted, solve(scenarios[1]), atol=1e-12)


def test_the_default_method_is_the_interior_point_on_polyhedral_sets_and_extragradient_when_unrolled():
    from solvers import UnrolledAdjoint

    game = instance(3, billing="hourly")
    default, ipm = solve_vi(game), solve_vi(game, method="interior_point")
    for a, b in zip(jax.tree_util.tree_leaves(default), jax.tree_util.tree_leaves(ipm)):
        np.testing.assert_array_equal(a, b)
    assert int(default.status) == Status.CONVERGED and "operator_scale" in default.stats
    unrolled = solve_vi(game, adjoint=UnrolledAdjoint(), max_steps=50)
    extragradient = solve_vi(game, method="extragradient", adjoint=UnrolledAdjoint(), max_steps=50)
    np.testing.assert_array_equal(unrolled.strategies, extragradient.strategies)
    assert int(unrolled.iterations) == 50 and "operator_scale" not in unrolled.stats


def test_bad_input():
    ok = dict(lower=np.zeros((2, 3)), upper=np.ones((2, 3)), energy=[1.0, 1.0], a=1.0)
    with pytest.raises(ValueError, match="impossible constraints: user 1 needs 5"):
        demand_response_game(ok["lower"], ok["upper"], [1.0, 5.0], a=1.0)
    with pytest.raises(ValueError, match="exceeds upper"):
        demand_response_game(np.full((2, 3), 2.0), ok["upper"], ok["energy"], a=1.0)
    with pytest.raises(ValueError, match="finite"):
        demand_response_game(ok["lower"], np.full((2, 3), np.nan), ok["energy"], a=1.0)
    with pytest.raises(ValueError, match="positive"):
        demand_response_game(**{**ok, "a": 0.0})
    with pytest.raises(ValueError, match="broadcast"):
        demand_response_game(ok["lower"], ok["upper"], [1.0, 1.0, 1.0], a=1.0)
    with pytest.raises(ValueError, match="billing"):
        demand_response_game(**ok, billing="weekly")
    game = demand_response_game(**ok)
    with pytest.raises(ValueError, match="method"):
        solve_vi(game, method="newton-raphson")
    with pytest.raises(ValueError, match="deadline"):
        datacenter_user(np.zeros(4), 1.0, start=3, deadline=2, max_power=1.0)
    with pytest.raises(ValueError, match="does not fit"):
        datacenter_user(np.zeros(4), 10.0, start=0, deadline=2, max_power=1.0)


@pytest.mark.parametrize("parameter", ["a", pytest.param("b", marks=pytest.mark.slow),
                                       pytest.param("energy", marks=pytest.mark.slow), "upper"])
def test_implicit_gradients_equal_central_finite_differences(parameter):
    """Hourly billing (a unique equilibrium): d/d theta of a smooth function of the equilibrium."""
    game = instance(2, billing="hourly")
    base = getattr(game, parameter)

    def objective(value):
        if parameter in ("energy", "upper"):  # the consumers' own arrays
            changed = dataclasses.replace(game, consumers=dataclasses.replace(game.consumers, **{parameter: value}))
        else:
            changed = dataclasses.replace(game, **{parameter: value})
        x = solve_vi(changed, method="extragradient", tol=1e-13).strategies
        return jnp.sum(jnp.sum(x, 0) ** 3) + jnp.sum(x[0] ** 2) + jnp.dot(x[1], jnp.arange(T, dtype=x.dtype))

    gradient = np.asarray(jax.grad(objective)(base))
    h = 1e-5
    flat = np.asarray(base).ravel()
    rng = np.random.default_rng(0)
    picks = rng.choice(flat.size, size=min(4, flat.size), replace=False)
    if parameter == "upper":  # perturb only bounds that bind (others have zero derivative anyway)
        x = np.asarray(solve_vi(game, tol=1e-13).strategies).ravel()
        binding = np.flatnonzero(np.isclose(x, flat) & (flat > 0))
        picks = binding[:4] if binding.size else picks
    for k in picks:
        up, down = flat.copy(), flat.copy()
        up[k] += h
        down[k] -= h
        fd = (float(objective(jnp.asarray(up.reshape(base.shape)))) -
              float(objective(jnp.asarray(down.reshape(base.shape))))) / (2 * h)
        assert gradient.ravel()[k] == pytest.approx(fd, rel=1e-5, abs=1e-6)


def test_gradient_through_a_nonunique_equilibrium_is_nan_not_a_guess():
    game = instance(2, billing="daily")
    g = jax.grad(lambda a: jnp.sum(solve_vi(dataclasses.replace(game, a=a)).strategies ** 2))(game.a)
    assert np.all(np.isnan(np.asarray(g)))


def test_float32_uses_a_reachable_default_tolerance():
    game = jax.tree_util.tree_map(lambda v: v.astype(jnp.float32), instance(4))
    eq = solve_vi(game, method="best_response")
    assert eq.strategies.dtype == jnp.float32
    assert int(eq.status) == Status.CONVERGED and float(eq.residual) <= 1e-4
