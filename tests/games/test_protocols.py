"""Every built-in continuous game declares, and conforms to, the protocols the solvers dispatch on."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import games
from games import (BestResponses, BoxStrategySets, ContinuousGame, DeclaresUniqueness, DenseSharedConstraints,
                   ScaledPseudoGradient, SharedLinearConstraints, StrategyEqualities)


def built_in_games():
    upper = np.random.default_rng(0).uniform(0.5, 1.5, (3, 4))
    return {
        "demand_response": games.demand_response_game(np.zeros((3, 4)), upper, upper.sum(1) / 2, a=0.5, b=0.1),
        "storage": games.demand_response_game(np.zeros((2, 4)), upper[:2], upper[:2].sum(1) / 2, a=0.5,
                                              storage_capacity=[1.0]),
        "cournot": games.network_cournot_game(games.ieee14(), [0, 1, 2], cost_linear=10.0, demand_intercept=100.0,
                                              demand_slope=1.0),
        "federated": games.federated_contribution_game([1.0, 2.0, 3.0], 5.0, value_scale=2.0),
    }


DECLARED = {
    "demand_response": (ContinuousGame, ScaledPseudoGradient, SharedLinearConstraints, DenseSharedConstraints,
                        BoxStrategySets, StrategyEqualities, BestResponses, DeclaresUniqueness),
    "storage": (ContinuousGame, SharedLinearConstraints, BoxStrategySets, StrategyEqualities),
    "cournot": (ContinuousGame, DenseSharedConstraints, BoxStrategySets),
    "federated": (ContinuousGame, BoxStrategySets),
}


@pytest.mark.parametrize("name", list(DECLARED))
def test_built_in_games_declare_and_conform_to_their_protocols(name):
    game = built_in_games()[name]
    for protocol in DECLARED[name]:
        assert isinstance(game, protocol), protocol.__name__
        assert protocol in type(game).__mro__, f"{protocol.__name__} is not declared (subclassed)"
    x = game.initial_point()
    assert x.shape and jnp.issubdtype(x.dtype, jnp.floating)
    # The methods behave as the protocols say: shapes, feasibility, consistency of the descriptions.
    assert game.pseudo_gradient(x).shape == x.shape and game.project(x).shape == x.shape
    np.testing.assert_allclose(game.project(game.project(x + 1.0)), game.project(x + 1.0), atol=1e-9)  # idempotent
    assert float(game.lipschitz_bound()) > 0
    if isinstance(game, SharedLinearConstraints) and isinstance(game, DenseSharedConstraints):
        A, upper = game.shared_constraints()
        np.testing.assert_allclose(A @ x.ravel(), game.constraint_values(x), atol=1e-12)
        mu = jnp.arange(A.shape[0], dtype=x.dtype)
        np.testing.assert_allclose((A.T @ mu).reshape(x.shape), game.constraint_adjoint(mu), atol=1e-12)
        assert float(game.constraint_norm_bound()) >= float(jnp.linalg.norm(A, 2)) - 1e-9
    if isinstance(game, BoxStrategySets):
        lower, upper = game.lower_bounds(), game.upper_bounds()
        assert np.all(np.asarray(x) >= np.asarray(lower) - 1e-12)
        if upper is not None:
            assert np.all(np.asarray(x) <= np.asarray(upper) + 1e-12)
    if isinstance(game, StrategyEqualities):
        np.testing.assert_allclose(game.equality_values(x), game.equality_target(), atol=1e-9)


def test_storage_is_its_own_player_type():
    game = built_in_games()["storage"]
    assert isinstance(game.consumers, games.Consumers) and isinstance(game.storage, games.StorageUnits)
    assert (game.num_users, game.num_storage) == (2, 1)
    x = game.initial_point()
    np.testing.assert_allclose(game.state_of_charge(x), game.storage.state_of_charge(x[2:]))


def test_a_game_written_in_a_notebook_works_with_both_solvers():
    """The README's example, run as written: a Cournot duopoly in a dozen lines, solved by solve_vi, and
    with a shared capacity by solve_gne. Closed forms: q_i = (10 - 2 c_i + c_j) / 3; capped at Q = 4 with
    one multiplier mu, q_i = 10 - Q - c_i - mu gives q = (2.5, 1.5), mu = 2.5."""
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "class Duopoly" in b]
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)
    from solvers import solve_vi

    duopoly = namespace["Duopoly"](jnp.array([1.0, 2.0]))
    assert isinstance(duopoly, ContinuousGame) and isinstance(namespace["eq"].strategies, jax.Array)
    np.testing.assert_allclose(solve_vi(duopoly, tol=1e-12).strategies, [10 / 3, 7 / 3], atol=1e-9)
    eq = namespace["eq"]
    assert bool(eq.converged)
    np.testing.assert_allclose(eq.strategies, [2.5, 1.5], atol=1e-7)
    np.testing.assert_allclose(eq.multipliers, [2.5], atol=1e-7)
    with pytest.raises(ValueError, match="continuous game"):
        solve_vi(object())
