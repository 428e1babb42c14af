import jax
import jax.numpy as jnp
import numpy as np
import pygambit as gbt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis import nash_conv
from games import bimatrix, random_game
from solvers import Status, logit_qre, qre_homotopy
from tests.oracles import profile_to_arrays, same_profile, to_gambit
from tests.solvers.finite import known_games as kg

# McKelvey and Palfrey (1995)'s asymmetric matching pennies: the logit solution is ((1/2, 1/2), (1/10, 9/10)).
ASYMMETRIC_PENNIES = bimatrix(np.array([[9.0, 0.0], [0.0, 1.0]]), np.array([[0.0, 1.0], [1.0, 0.0]]))


def test_matching_pennies_qre_is_uniform_at_every_lambda():
    for lam in [0.0, 0.5, 3.0, 40.0]:
        qre = logit_qre(kg.MATCHING_PENNIES, lam)
        assert int(qre.status) == Status.CONVERGED
        np.testing.assert_allclose(qre.strategies[0], [0.5, 0.5], atol=1e-12)


@pytest.mark.parametrize("lam", [0.3, 2.0, 7.5])
def test_equals_gambit_logit_branch(lam):
    qre = logit_qre(ASYMMETRIC_PENNIES, lam)
    G = to_gambit(ASYMMETRIC_PENNIES)
    (oracle,) = gbt.qre.logit_solve_lambda(G, lam=[lam])
    expected = profile_to_arrays(G, oracle.profile)
    assert int(qre.status) == Status.CONVERGED
    assert float(qre.residual) <= 1e-12
    assert same_profile(qre.strategies, expected, atol=1e-8)


@given(st.integers(0, 2**32 - 1), st.floats(0.1, 20.0))
def test_fixed_point_equation_holds(seed, lam):
    game = random_game(jax.random.key(seed), (3, 2, 2))
    qre = logit_qre(game, lam)
    assert int(qre.status) == Status.CONVERGED
    from games import action_values

    values = action_values(game, qre.strategies)
    for s, v in zip(qre.strategies, values):
        np.testing.assert_allclose(s, jax.nn.softmax(lam * v), atol=1e-10)


def test_homotopy_limit_is_the_logit_solution():
    eq = qre_homotopy(ASYMMETRIC_PENNIES)
    assert int(eq.status) == Status.CONVERGED
    assert same_profile(eq.strategies, (np.array([0.5, 0.5]), np.array([0.1, 0.9])), atol=1e-12)


@given(st.integers(0, 2**32 - 1))
def test_homotopy_three_players_matches_gambit_logit(seed):
    game = random_game(jax.random.key(seed), (2, 2, 2))
    eq = qre_homotopy(game)
    assert int(eq.status) == Status.CONVERGED
    assert float(nash_conv(game, eq.strategies)) <= 1e-9
    G = to_gambit(game)
    oracle = gbt.nash.logit_solve(G, use_strategic=True).equilibrium
    assert same_profile(eq.strategies, profile_to_arrays(G, oracle), atol=1e-5)


def test_three_player_game_with_several_equilibria():
    # Three-player coordination: every diagonal pure profile is an equilibrium; the homotopy picks one.
    game = random_game(jax.random.key(3), (3, 3, 3), family="coordination")
    eq = qre_homotopy(game)
    assert int(eq.status) == Status.CONVERGED
    assert float(nash_conv(game, eq.strategies)) <= 1e-9


def test_batch_equals_loop():
    games = random_game(jax.random.key(1), (2, 3), batch_shape=(3,))
    batched = logit_qre(games, jnp.array([0.5, 1.0, 4.0]))
    for k, lam in enumerate([0.5, 1.0, 4.0]):
        single = logit_qre(games[k], lam)
        for a, b in zip(batched.strategies, single.strategies):
            np.testing.assert_allclose(a[k], b, atol=1e-13)


def test_bad_input():
    with pytest.raises(ValueError, match="lam"):
        logit_qre(kg.MATCHING_PENNIES, -1.0)
    with pytest.raises(ValueError, match="lam"):
        logit_qre(kg.MATCHING_PENNIES, float("nan"))
    with pytest.raises(ValueError, match="lam_max"):
        qre_homotopy(kg.MATCHING_PENNIES, lam_max=0.0)
