"""The interior-point method (solvers.continuous): equal to independent solutions of the energy games'
potential QPs (scipy's SLSQP) and closed forms, implicit gradients equal to finite differences, vmap
equal to a loop, infeasible constraints certified as such, the aggregative (Woodbury) kernel equal to the
dense one, and a stopping rule that does not depend on the unit of money.

Shapes are fixed (IEEE 30 with 6 producers; 4 users + 2 batteries x 8 slots; 4 users x 8 slots; 3
contributors) so that every hypothesis example reuses one compiled program."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from games import federated_contribution_game, ieee30, network_cournot_game
from solvers import Status, interior_point, solve_gne, solve_vi
from solvers.continuous._problem import Problem
from tests.solvers.continuous.test_newton import NoBounds
from tests.solvers.continuous.test_storage import instance as storage_instance
from tests.solvers.continuous.test_storage import potential_minimum
from tests.solvers.continuous.test_variational import centralized_optimum
from tests.solvers.continuous.test_variational import instance as demand_instance

GRID = ieee30()
PRODUCERS = GRID.buses_with_role("producer")


def cournot(cost_linear, cost_quadratic, intercept, slope, rating_scale):
    grid = dataclasses.replace(GRID, capacity=GRID.capacity * rating_scale)
    return network_cournot_game(grid, PRODUCERS, cost_linear=cost_linear, cost_quadratic=cost_quadratic,
                                demand_intercept=intercept, demand_slope=slope)


def cournot_potential(game):
    """Cournot's exact potential (Monderer and Shapley 1996) as the convex QP ``q^T H q / 2 + g^T q``:
    ``sum_g (c_g q_g + d_g q_g^2 / 2) - a Q + b (Q^2 + sum_g q_g^2) / 2``, whose gradient is the
    pseudo-gradient ``c_g + d_g q_g - (a - b Q) + b q_g``."""
    c, d = np.asarray(game.cost_linear), np.asarray(game.cost_quadratic)
    a, b = float(game.demand_intercept), float(game.demand_slope)
    H = np.diag(d) + b * (np.ones((c.size, c.size)) + np.eye(c.size))
    return H, c - a


def cournot_qp_minimum(game):
    """Independent oracle: the potential QP over q >= 0 and the line limits by scipy's SLSQP (an
    active-set SQP method, Kraft 1988), or scipy's trust-constr (Byrd, Hribar and Nocedal 1999) where
    SLSQP's line search gives up before it is feasible (it does on some tightly rated instances)."""
    H, g = cournot_potential(game)
    A, upper = (np.asarray(v) for v in game.shared_constraints())
    feasible = lambda q: bool(np.all(A @ q <= upper + 1e-9) and np.all(q >= -1e-12))
    res = scipy.optimize.minimize(lambda q: 0.5 * q @ H @ q + g @ q, np.zeros(g.size), jac=lambda q: H @ q + g,
                                  method="SLSQP", bounds=[(0, None)] * g.size,
                                  constraints=[dict(type="ineq", fun=lambda q: upper - A @ q, jac=lambda q: -A)],
                                  options=dict(ftol=1e-14, maxiter=1000))
    if res.status in (0, 8) and feasible(res.x):  # 8: line search stalled at machine precision
        return res.x
    res = scipy.optimize.minimize(lambda q: 0.5 * q @ H @ q + g @ q, np.zeros(g.size), jac=lambda q: H @ q + g,
                                  hess=lambda q: H, method="trust-constr", bounds=scipy.optimize.Bounds(0.0, np.inf),
                                  constraints=[scipy.optimize.LinearConstraint(A, -np.inf, upper)],
                                  options=dict(gtol=1e-12, xtol=1e-14, maxiter=5000))
    x = np.maximum(res.x, 0.0)
    assert feasible(x), res.message
    return x


def scaled_residual(game, x, mu, scale):
    """``||w - P(w - G(w))||_inf`` for the primal-dual VI in ``w = (x, mu / s)`` with operator
    ``G = ((F(x) + A^T mu) / s, upper - A x)``: the game's VI with ``F`` divided by ``s``."""
    problem = Problem(game)
    Fx, Fmu = problem.primal_dual_operator((x, mu))
    px, pmu = problem.primal_dual_project((x - Fx / scale, mu / scale - Fmu))
    return jnp.maximum(jnp.max(jnp.abs(x - px)), jnp.max(jnp.abs(mu / scale - pmu), initial=0.0))


COURNOT = st.tuples(st.lists(st.floats(5.0, 40.0), min_size=6, max_size=6), st.floats(0.0, 0.2),
                    st.floats(60.0, 150.0), st.floats(0.1, 1.0), st.floats(0.2, 2.0))


def matches_potential_qp(q, game):
    H, g = cournot_potential(game)
    A, upper = (np.asarray(v) for v in game.shared_constraints())
    if np.max(A @ q - upper) > 1e-6 * np.abs(A).sum(1).max():
        return False  # then q is farther than 1e-6 from every feasible point, the minimum included
    oracle = cournot_qp_minimum(game)
    value = lambda v: 0.5 * v @ H @ v + g @ v
    # The oracle may sit a rounding error outside the limits, so its value may be below the minimum. A
    # natural residual r bounds the duality gap by about sum_i mu_i r, not by r: with congestion prices
    # of hundreds and r ~ 1e-9 the gap is ~1e-6 (relative 2e-8 at 0.22 x the published ratings, where the
    # potential is nearly flat along the binding lines and minimizers differ by 2e-5 between scipy,
    # Clarabel at its defaults and this method).
    return bool(np.allclose(q, oracle, atol=1e-4) and value(q) <= value(oracle) + 1e-7 * (1 + abs(value(oracle))))


@settings(max_examples=6, deadline=None)
@given(COURNOT)
def test_cournot_ieee30_equilibrium_is_the_potential_qp_minimum(parameters):
    """The default method of solve_gne on the IEEE 30-bus system with (scaled) published ratings."""
    c, d, a, b, scale = parameters
    game = cournot(np.array(c), d, a, b, scale)
    eq = solve_gne(game)
    assert int(eq.status) == Status.CONVERGED and float(eq.residual) <= 1e-8
    assert int(eq.iterations) <= 40  # near-constant: Mehrotra's iteration count barely depends on the data
    # The certificate: the natural-map residual of the primal-dual VI with the operator divided by its
    # scale; stats carry the residual the other methods certify.
    q, mu = np.asarray(eq.strategies), np.asarray(eq.multipliers)
    scale = eq.stats["operator_scale"]
    assert float(eq.residual) == pytest.approx(float(scaled_residual(game, eq.strategies, eq.multipliers, scale)),
                                               rel=1e-9, abs=1e-14)
    assert float(eq.stats["natural_residual"]) == pytest.approx(
        float(Problem(game).primal_dual_residual((eq.strategies, eq.multipliers))), rel=1e-9, abs=1e-14)
    assert matches_potential_qp(q, game)
    A, upper = (np.asarray(v) for v in game.shared_constraints())
    assert np.all(A @ q <= upper + 1e-8) and np.all(mu >= 0)
    assert np.all(np.minimum(mu, upper - A @ q) <= 1e-8)  # complementary slackness


def test_the_qp_check_catches_a_rule_that_ignores_the_line_limits():
    """The same comparison fails for the unconstrained Cournot equilibrium (the line limits dropped) as
    soon as a line binds, and hypothesis finds such an instance."""

    def unconstrained(parameters):
        c, d, a, b, scale = parameters
        game = cournot(np.array(c), d, a, b, scale)
        H, g = cournot_potential(game)
        return np.maximum(np.linalg.solve(H, -g), 0.0), game  # interior solution (every producer active)

    def broken(parameters):
        q, game = unconstrained(parameters)
        return np.all(q > 0) and not matches_potential_qp(q, game)

    counterexample = find(COURNOT, broken, settings=settings(deadline=None, database=None, max_examples=200,
                                                             phases=[Phase.generate]))
    q, game = unconstrained(counterexample)
    assert not matches_potential_qp(q, game)


STORAGE = st.integers(0, 2**31 - 1)


@settings(max_examples=3, deadline=None)
@given(STORAGE)
def test_storage_demand_response_equilibrium_is_the_potential_minimum(seed):
    """Demand response with two batteries (state-of-charge limits as shared constraints): the default
    method equals scipy's minimum of ``game.potential`` on the total load and the storage schedules (the
    users' own schedules are not unique under daily billing)."""
    game = storage_instance(seed)
    eq = solve_gne(game)
    assert int(eq.status) == Status.CONVERGED and float(eq.residual) <= 1e-8 and int(eq.iterations) <= 40
    x = np.asarray(eq.strategies)
    oracle = potential_minimum(game)
    np.testing.assert_allclose(x.sum(0), oracle.sum(0), atol=1e-6)
    np.testing.assert_allclose(x[-2:], oracle[-2:], atol=1e-6)
    assert float(game.potential(eq.strategies)) <= float(game.potential(jnp.asarray(oracle))) + 1e-9


def test_aggregative_kernel_equals_the_dense_kernel():
    """Per-player blocks + Sherman-Morrison-Woodbury (the kernel ``"auto"`` picks for large
    demand-response games) gives the dense LU's answer (solve_gne's kernel at this size), and its probed
    block + coupling model of the Jacobian is exact here."""
    game = storage_instance(7)
    blocks = jax.jit(lambda g: interior_point(g, tol=1e-8, max_steps=100, linear_solver="aggregative"))(game)
    dense = solve_gne(game)
    assert bool(blocks.converged) and float(blocks.residual) <= 1e-8 and int(dense.status) == Status.CONVERGED
    assert float(blocks.stats["structure_error"]) <= 1e-12
    np.testing.assert_allclose(np.asarray(blocks.x).sum(0), np.asarray(dense.strategies).sum(0), atol=1e-7)
    np.testing.assert_allclose(blocks.x[-2:], dense.strategies[-2:], atol=1e-7)
    np.testing.assert_allclose(blocks.multipliers, dense.multipliers, atol=1e-6)


def congested():
    return cournot(np.array([12.0, 18.0, 25.0, 14.0, 30.0, 21.0]), 0.05, 100.0, 0.2, 1.0)


def test_implicit_gradients_through_the_interior_point_equal_finite_differences():
    """d(objective)/d(costs, line ratings) through solve_gne's default method against central differences
    of re-solves: every cost, the binding lines and two slack ones (zero derivative)."""
    base = congested()
    lines = base.grid.num_lines

    def objective(parameters):
        costs, capacity = parameters
        game = dataclasses.replace(base, cost_linear=costs, grid=dataclasses.replace(base.grid, capacity=capacity))
        eq = solve_gne(game, tol=1e-11)
        return jnp.sum(jnp.arange(1.0, 7.0) * eq.strategies) + 0.1 * jnp.sum(eq.multipliers)

    parameters = (base.cost_linear, base.grid.capacity)
    gradient = jax.grad(objective)(parameters)
    mu = np.asarray(solve_gne(base).multipliers)
    binding = np.flatnonzero(mu[:lines] + mu[lines:] > 1e-6)
    assert binding.size >= 2
    checks = [(0, k) for k in range(6)] + [(1, k) for k in list(binding) + [0, 1]]
    for which, k in checks:
        flat = np.asarray(parameters[which], float)
        h = 1e-5 * max(1.0, abs(flat[k]))
        shifted = lambda sign: tuple(jnp.asarray(flat + sign * h * (np.arange(flat.size) == k)) if i == which
                                     else parameters[i] for i in range(2))
        fd = (float(objective(shifted(1))) - float(objective(shifted(-1)))) / (2 * h)
        assert float(gradient[which][k]) == pytest.approx(fd, rel=1e-5, abs=1e-6), (which, k)
    assert np.abs(np.asarray(gradient[1])[binding]).max() > 1e-3  # not vacuous


def test_vmap_equals_a_loop_and_infeasible_constraints_are_certified():
    """A batch of three IEEE 30 games, the last with contradictory limits on one line (a negative rating:
    flow <= -1 and -flow <= -1): jax.vmap equals solving one by one; the infeasible one reports
    INFEASIBLE with a Farkas certificate and NaN strategies, the others converge."""
    base = congested()
    capacities = jnp.stack([base.grid.capacity, 0.7 * base.grid.capacity, base.grid.capacity.at[9].set(-0.01)])
    intercepts = jnp.array([100.0, 80.0, 100.0])

    def make(capacity, intercept):
        return dataclasses.replace(base, grid=dataclasses.replace(base.grid, capacity=capacity),
                                   demand_intercept=intercept)

    batched = jax.vmap(lambda c, a: solve_gne(make(c, a)))(capacities, intercepts)
    assert [int(s) for s in batched.status] == [Status.CONVERGED, Status.CONVERGED, Status.INFEASIBLE]
    for i in range(3):
        single = solve_gne(make(capacities[i], intercepts[i]))
        assert int(single.status) == int(batched.status[i])
        np.testing.assert_allclose(batched.strategies[i], single.strategies, atol=1e-9)
        np.testing.assert_allclose(batched.multipliers[i], single.multipliers, atol=1e-7)
    infeasible = jax.tree.map(lambda v: v[2], batched)
    assert np.all(np.isnan(np.asarray(infeasible.strategies)))  # never a plausible profile
    assert float(infeasible.stats["farkas_residual"]) <= 1e-9 and float(infeasible.stats["farkas_gap"]) < -1e-3


def test_infeasible_storage_limits_are_certified():
    """A battery that must end the day at its initial charge, which exceeds its capacity: no schedule is
    feasible, and the dual iterates diverge along a Farkas certificate."""
    game = storage_instance(0)
    storage = dataclasses.replace(game.storage, initial=1.5 * game.storage.capacity)
    eq = solve_gne(dataclasses.replace(game, storage=storage))
    assert int(eq.status) == Status.INFEASIBLE
    assert np.all(np.isnan(np.asarray(eq.strategies))) and np.all(np.isnan(np.asarray(eq.multipliers)))
    assert float(eq.stats["farkas_residual"]) <= 1e-9 and float(eq.stats["farkas_gap"]) < -1e-3


@pytest.mark.parametrize("seed", [0, 5])
def test_solve_vi_interior_point_is_the_social_optimum(seed):
    """solve_vi(method="interior_point") on demand response without storage (daily billing): the
    aggregate load of the social-cost QP, computed independently by scipy."""
    game = demand_instance(seed)
    eq = solve_vi(game, method="interior_point")
    assert int(eq.status) == Status.CONVERGED and float(eq.residual) <= 1e-8
    np.testing.assert_allclose(game.total_load(eq.strategies), centralized_optimum(game).sum(0), atol=1e-6)


def test_bad_arguments():
    """(MAX_STEPS of the default method: tests/solvers/test_gne.py.)"""
    game = congested()

    with pytest.raises(ValueError, match="polyhedral"):
        solve_gne(NoBounds(game), method="interior_point")
    assert int(solve_gne(NoBounds(game), max_steps=5).iterations) == 5  # default there: extragradient
    with pytest.raises(ValueError, match="polyhedral"):
        solve_vi(NoBounds(game), method="interior_point")
    with pytest.raises(ValueError, match="UnrolledAdjoint"):
        from solvers import UnrolledAdjoint
        solve_gne(game, adjoint=UnrolledAdjoint())
    with pytest.raises(ValueError, match="max_steps"):
        solve_gne(game, max_steps=0)
    with pytest.raises(ValueError, match="tol"):
        solve_gne(game, tol=-1.0)
    with pytest.raises(ValueError, match="linear_solver"):
        interior_point(game, tol=1e-8, max_steps=10, linear_solver="cholesky")
    with pytest.raises(ValueError, match="aggregative"):
        interior_point(game, tol=1e-8, max_steps=10, linear_solver="aggregative")  # (G,) strategies: no blocks


@settings(max_examples=3, deadline=None)
@given(st.floats(0.2, 5.0), st.floats(0.5, 10.0))
def test_solve_vi_interior_point_on_federated_contributions_is_the_closed_form(kappa, alpha):
    """Symmetric federated contributions (box strategy sets, a concave value of the total effort): the
    equilibrium effort solves the scalar first-order condition (brentq, independent of the method)."""
    n = 3
    game = federated_contribution_game(np.full(n, kappa), 100.0, value_scale=alpha)
    eq = solve_vi(game, method="interior_point")
    assert int(eq.status) == Status.CONVERGED and int(eq.iterations) <= 40
    foc = lambda e: alpha / (1 + n * e) / n + alpha * np.log1p(n * e) * (n - 1) / (n**2 * e) - kappa * e
    np.testing.assert_allclose(eq.strategies, scipy.optimize.brentq(foc, 1e-9, 100.0, xtol=1e-15), rtol=1e-7)


# -- scale invariance: money in any unit ---------------------------------------------------------------

UNITS = st.sampled_from([1e-9, 1e-6, 1e-3, 1e3, 1e6, 1e9])


def cournot_in_units(unit):
    """The congested IEEE 30 game with every price (costs, demand intercept and slope) times ``unit``."""
    return cournot(unit * np.array([12.0, 18.0, 25.0, 14.0, 30.0, 21.0]), unit * 0.05, unit * 100.0, unit * 0.2, 1.0)


def storage_in_units(unit):
    game = storage_instance(3)
    return dataclasses.replace(game, a=unit * game.a, b=unit * game.b)


def unique_part(x):
    """What an equilibrium determines: Cournot's outputs; with storage (daily billing) the total load and
    the batteries' schedules, not how the users share the load."""
    return np.concatenate([x.sum(0), x[-2:].ravel()]) if x.ndim == 2 else x


def same_answer(scaled, reference, unit):
    """Same status, the same strategies (to 1e-7 of their size) and multipliers ``unit`` times the
    reference's."""
    x, x_ref = unique_part(np.asarray(scaled.strategies)), unique_part(np.asarray(reference.strategies))
    mu, mu_ref = np.asarray(scaled.multipliers), np.asarray(reference.multipliers)
    return (int(scaled.status) == int(reference.status)
            and np.allclose(x, x_ref, rtol=0, atol=1e-7 * (1 + np.abs(x_ref).max()))
            and np.allclose(mu / unit, mu_ref, rtol=0, atol=1e-7 * (1 + np.abs(mu_ref).max())))


@settings(max_examples=4, deadline=None)
@given(UNITS)
def test_the_stopping_rule_does_not_depend_on_the_unit_of_money(unit):
    """Issue 16 (root cause 3): costs times 1e-9 ... 1e9 give the same equilibrium and the same status, on
    networked Cournot and on demand response with storage (aggregative and dense problems alike)."""
    for make in (cournot_in_units, storage_in_units):
        reference = solve_gne(make(1.0))
        assert int(reference.status) == Status.CONVERGED
        scaled = solve_gne(make(unit))
        assert same_answer(scaled, reference, unit), (make.__name__, unit, int(scaled.status))
        assert float(scaled.residual) == pytest.approx(float(reference.residual), rel=1e-3, abs=1e-12)


def test_an_absolute_stopping_rule_fails_the_same_check():
    """The check can fail: the same method with the operator left unscaled (an absolute tolerance on the
    natural-map residual in money units) stops at once, or never, depending on the unit, and the search
    finds such a unit."""
    absolute = jax.jit(lambda g: interior_point(g, tol=1e-8, max_steps=100, scale_invariant=False))

    def as_result(out):
        status = jnp.where(out.converged, Status.CONVERGED, Status.MAX_STEPS)
        return dataclasses.make_dataclass("R", ["strategies", "multipliers", "status"])(out.x, out.multipliers, status)

    reference = as_result(absolute(cournot_in_units(1.0)))
    assert int(reference.status) == Status.CONVERGED
    unit = find(UNITS, lambda u: not same_answer(as_result(absolute(cournot_in_units(u))), reference, u),
                settings=settings(deadline=None, database=None))
    assert not same_answer(as_result(absolute(cournot_in_units(unit))), reference, unit)


def test_the_constraint_matrix_is_formed_from_the_cheaper_side_and_equals_the_dense_one():
    """The interior point forms a matrix-free ``A`` by n forward products when it is tall and by m adjoint
    products when it is wide (the adjoint side on a 50x50 lattice built a 9,800 x 9,800 identity); both must
    give the game's dense matrix, and a game's own dense matrix is used as it is."""
    from games import demand_response_game
    from solvers.continuous._interior_point import _Polyhedral

    T, capacity = 8, [2.0, 1.0]
    rng = np.random.default_rng(0)
    for users, tall in ((1, True), (4, False)):
        upper = rng.uniform(0.5, 2.0, (users, T))
        game = demand_response_game(np.zeros((users, T)), upper, upper.sum(1) * 0.5, a=rng.uniform(0.05, 0.5, T),
                                    storage_capacity=capacity, storage_initial=[0.5 * c for c in capacity],
                                    storage_max_charge=[0.8, 0.5], storage_max_discharge=[0.6, 0.5])
        A = np.asarray(game.shared_constraints()[0])
        assert (A.shape[0] >= A.shape[1]) == tall
        formed = np.asarray(_Polyhedral(game, shared=True).A)
        np.testing.assert_allclose(formed, A, rtol=0, atol=1e-15)
        assert np.abs(A).sum() > 0  # not vacuous
    game = congested()
    np.testing.assert_array_equal(_Polyhedral(game, shared=True).A, game.shared_constraints()[0])
