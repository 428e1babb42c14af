"""The adjoint is a choice: implicit (three linear solvers or a callable) and unrolled agree; bad choices
are refused; Status prints as its name."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from games import demand_response_game, federated_contribution_game
from solvers import ImplicitAdjoint, Status, UnrolledAdjoint, solve_gne, solve_vi


def hourly_game():
    upper = np.random.default_rng(4).uniform(0.5, 1.5, (3, 5))
    return demand_response_game(np.zeros((3, 5)), upper, upper.sum(1) / 2, a=np.linspace(0.2, 0.6, 5), b=0.1,
                                billing="hourly")


def peak_gradient(adjoint, **options):
    game = hourly_game()
    import dataclasses
    objective = lambda a: jnp.sum(jnp.sum(solve_vi(dataclasses.replace(game, a=a), adjoint=adjoint, tol=1e-12,
                                                   **options).strategies, 0) ** 3)
    return np.asarray(jax.grad(objective)(game.a))


@pytest.mark.slow  # 3,000 unrolled steps and four adjoint solvers: the thorough profile
def test_every_adjoint_gives_the_same_gradient():
    reference = peak_gradient(ImplicitAdjoint())
    assert np.abs(reference).max() > 1e-3
    for solver in ("gmres", "bicgstab"):
        np.testing.assert_allclose(peak_gradient(ImplicitAdjoint(linear_solver=solver)), reference, rtol=1e-7)

    def dense(matvec, v):  # a user's own solver: materialize the operator and call LAPACK
        M = jax.vmap(matvec)(jnp.eye(v.size, dtype=v.dtype)).T
        return jnp.linalg.solve(M, v)

    np.testing.assert_allclose(peak_gradient(ImplicitAdjoint(linear_solver=dense)), reference, rtol=1e-7)
    # Unrolling 3,000 projected-gradient steps converges to the same derivative (linear convergence).
    unrolled = peak_gradient(UnrolledAdjoint(), method="projected_gradient", max_steps=3000)
    np.testing.assert_allclose(unrolled, reference, rtol=1e-6)


def test_unknown_or_unusable_adjoints_are_refused():
    game = hourly_game()
    with pytest.raises(ValueError, match="linear_solver"):
        ImplicitAdjoint(linear_solver="lu")
    with pytest.raises(ValueError, match="first-order"):
        solve_vi(game, method="semismooth_newton", adjoint=UnrolledAdjoint())
    with pytest.raises(ValueError, match="adjoint must be"):
        solve_vi(game, adjoint="implicit")
    with pytest.raises(ValueError, match="no shared constraints"):
        solve_gne(federated_contribution_game([1.0, 2.0], 1.0, value_scale=1.0))


def test_status_prints_as_its_name():
    assert str(Status.CONVERGED) == "CONVERGED" and f"{Status(4)}" == "INFEASIBLE"
    assert Status.INFEASIBLE == 4 and Status.MAX_STEPS == 1
