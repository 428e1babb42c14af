import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import nash_conv
from games import random_game
from solvers import Status, support_enumeration
from solvers.finite._support_enumeration import MAX_SUPPORT_PAIRS
from tests.oracles import gambit_all_equilibria, profile_sets_equal
from tests.solvers.finite import known_games as kg
from tests.solvers.finite.test_lemke_howson import SIZES, random_bimatrix


@pytest.mark.parametrize("game, equilibria", kg.GAMES_WITH_EQUILIBRIA)
def test_known_games_exact_sets(game, equilibria):
    result = support_enumeration(game)
    assert int(result.status) == Status.CONVERGED
    assert int(result.count) == len(equilibria)
    assert profile_sets_equal(result.to_list(), equilibria, atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_coordination_game_has_2_to_the_n_minus_1(n):
    result = support_enumeration(kg.coordination(n))
    assert int(result.count) == 2**n - 1
    for x, y in result.to_list():  # uniform on a common support
        support = x > 0
        np.testing.assert_array_equal(support, y > 0)
        np.testing.assert_allclose(x[support], 1 / support.sum())


@settings(max_examples=8)  # Gambit solves each game exactly: the cost is the oracle's
@given(st.integers(0, 2**32 - 1), st.sampled_from(SIZES[:3]), st.sampled_from(SIZES[:3]))
def test_random_games_equal_gambit_set(seed, m, n):
    game = random_bimatrix(seed, m, n)
    result = support_enumeration(game)
    assert int(result.status) == Status.CONVERGED
    assert np.all(np.asarray(result.nash_conv)[np.asarray(result.mask)] <= 1e-9)
    assert profile_sets_equal(result.to_list(), gambit_all_equilibria(game))


@settings(max_examples=8)
@given(st.integers(0, 2**32 - 1))
def test_random_8x8_games_equal_gambit_set(seed):
    game = random_bimatrix(seed, 8, 8)
    result = support_enumeration(game)
    assert profile_sets_equal(result.to_list(), gambit_all_equilibria(game))
    for profile in result.to_list():
        assert float(nash_conv(game, profile)) <= 1e-9


def test_degenerate_game_is_flagged():
    result = support_enumeration(kg.DEGENERATE)
    assert int(result.status) == Status.DEGENERATE
    for profile in result.to_list():  # what it does return are equilibria
        assert float(nash_conv(kg.DEGENERATE, profile)) <= 1e-12


def test_too_few_rows_is_flagged():
    result = support_enumeration(kg.coordination(4), max_equilibria=5)
    assert int(result.status) == Status.MAX_STEPS
    assert int(result.count) == 5
    assert bool(result.stats["truncated"]) and int(result.stats["found"]) == 15


def test_batch_equals_loop():
    games = random_game(jax.random.key(4), (4, 4), batch_shape=(6,))
    batched = support_enumeration(games)
    for k in range(6):
        single = support_enumeration(games[k])
        assert int(batched.count[k]) == int(single.count)
        assert profile_sets_equal(
            [tuple(np.asarray(s)[k, j] for s in batched.strategies) for j in np.flatnonzero(batched.mask[k])],
            single.to_list(),
            atol=1e-13,
        )


def test_vmap_takes_the_batched_path_bit_for_bit():
    games = random_game(jax.random.key(4), (4, 4), batch_shape=(6,))
    batched = support_enumeration(games)
    vmapped = jax.jit(jax.vmap(support_enumeration))(games)
    for a, b in zip(jax.tree_util.tree_leaves(batched), jax.tree_util.tree_leaves(vmapped)):
        np.testing.assert_array_equal(a, b)


def test_bad_input():
    with pytest.raises(ValueError, match="lemke_howson"):
        support_enumeration(random_game(jax.random.key(0), (20, 20)))
    assert MAX_SUPPORT_PAIRS > 12870
    with pytest.raises(ValueError, match="2-player"):
        support_enumeration(random_game(jax.random.key(0), (2, 2, 2)))
    for bad in (0, -3, 2.0, True):
        with pytest.raises(ValueError, match="max_equilibria"):
            support_enumeration(kg.MATCHING_PENNIES, max_equilibria=bad)
    with pytest.raises(ValueError, match="tol"):
        support_enumeration(kg.MATCHING_PENNIES, tol=0.0)
