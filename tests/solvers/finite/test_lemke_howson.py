import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import nash_conv
from games import NormalFormGame, bimatrix, random_game
from solvers import NonConvergenceError, Status, lemke_howson
from tests.oracles import gambit_all_equilibria, same_profile
from tests.solvers.finite import known_games as kg

SIZES = [2, 3, 5, 8]  # few shapes: hypothesis examples reuse compiled programs


def random_bimatrix(seed, m, n):
    rng = np.random.default_rng(seed)
    return bimatrix(rng.random((m, n)), rng.random((m, n)))


@pytest.mark.parametrize("game, equilibria", kg.GAMES_WITH_EQUILIBRIA)
def test_known_games_every_label(game, equilibria):
    m, n = game.num_actions
    for label in range(m + n):
        eq = lemke_howson(game, init_label=label)
        assert int(eq.status) == Status.CONVERGED
        assert float(eq.nash_conv) <= 1e-12
        assert any(same_profile(eq.strategies, e, atol=1e-12) for e in equilibria)


def test_von_stengel_labels_reach_different_equilibria():
    found = [lemke_howson(kg.VON_STENGEL_3X2, init_label=k).strategies for k in range(5)]
    assert len({tuple(np.round(np.concatenate(f), 9)) for f in found}) >= 2


def test_degenerate_game_every_label():
    for label in range(4):
        eq = lemke_howson(kg.DEGENERATE, init_label=label)
        assert int(eq.status) == Status.CONVERGED
        assert float(nash_conv(kg.DEGENERATE, eq.strategies)) <= 1e-12


@settings(max_examples=8)  # Gambit solves each game exactly: the cost is the oracle's
@given(st.integers(0, 2**32 - 1), st.sampled_from(SIZES), st.sampled_from(SIZES))
def test_random_games_match_gambit(seed, m, n):
    game = random_bimatrix(seed, m, n)
    eq = lemke_howson(game, init_label=seed % (m + n))
    assert int(eq.status) == Status.CONVERGED
    assert float(eq.nash_conv) <= 1e-9
    assert float(nash_conv(game, eq.strategies)) <= 1e-9
    assert any(same_profile(eq.strategies, e) for e in gambit_all_equilibria(game))


@given(st.integers(0, 2**32 - 1), st.sampled_from([2, 3, 5]))
def test_integer_payoffs_degenerate_games(seed, m):
    """Small integer payoffs make ties (degeneracy) common; the lexicographic rule must cope."""
    rng = np.random.default_rng(seed)
    game = bimatrix(rng.integers(0, 3, (m, m)).astype(float), rng.integers(0, 3, (m, m)).astype(float))
    for label in range(2 * m):
        eq = lemke_howson(game, init_label=label)
        assert int(eq.status) == Status.CONVERGED, label
        assert float(eq.nash_conv) <= 1e-9


@given(st.integers(0, 2**32 - 1), st.floats(0.01, 100.0), st.floats(-50.0, 50.0))
def test_invariant_under_positive_affine_transform(seed, scale, shift):
    game = random_bimatrix(seed, 5, 5)
    moved = bimatrix(scale * game.payoffs[0] + shift, game.payoffs[1] * 2.0 - shift)
    a = lemke_howson(game, init_label=3)
    b = lemke_howson(moved, init_label=3)
    assert same_profile(a.strategies, b.strategies, atol=1e-9)


@given(st.integers(0, 2**32 - 1))
def test_equivariant_under_action_permutation(seed):
    rng = np.random.default_rng(seed)
    game = random_bimatrix(seed, 5, 3)
    pr, pc = rng.permutation(5), rng.permutation(3)
    permuted = bimatrix(game.payoffs[0][pr][:, pc], game.payoffs[1][pr][:, pc])
    eq = lemke_howson(permuted, init_label=0)
    # Undo the permutation: the answer is an equilibrium of the original game.
    x = np.zeros(5)
    x[pr] = np.asarray(eq.strategies[0])
    y = np.zeros(3)
    y[pc] = np.asarray(eq.strategies[1])
    assert float(nash_conv(game, (x, y))) <= 1e-9
    # The label dropped is the same action, relabelled: the same path, the same equilibrium.
    direct = lemke_howson(game, init_label=int(pr[0]))
    assert same_profile(direct.strategies, (x, y), atol=1e-9)


def test_vmap_equals_loop_and_jit_equals_eager():
    games = random_game(jax.random.key(11), (6, 4), batch_shape=(16,))
    batched = lemke_howson(games, init_label=2)
    vmapped = jax.vmap(lambda g: lemke_howson(g, init_label=2))(games)
    jitted = jax.jit(lambda g: lemke_howson(g, init_label=2))(games)
    for k in range(16):
        single = lemke_howson(games[k], init_label=2)
        for res in (batched, vmapped, jitted):
            for s, t in zip(res.strategies, single.strategies):
                np.testing.assert_allclose(s[k], t, atol=1e-14)
            assert int(res.iterations[k]) == int(single.iterations)
    assert np.all(np.asarray(batched.status) == Status.CONVERGED)


def test_vmap_takes_the_batched_path_bit_for_bit():
    """jax.vmap (nested, under jit, over the start label too) runs the batched work queue: same bits."""
    games = random_game(jax.random.key(12), (6, 4), batch_shape=(4, 5))
    batched = lemke_howson(games, init_label=3)
    vmapped = jax.jit(jax.vmap(jax.vmap(lambda g: lemke_howson(g, init_label=3))))(games)
    for a, b in zip(jax.tree_util.tree_leaves(batched), jax.tree_util.tree_leaves(vmapped)):
        np.testing.assert_array_equal(a, b)
    labels = jnp.arange(5, dtype=jnp.int32)
    per_label = jax.vmap(lambda k: lemke_howson(games[0, 0], init_label=k))(labels)
    for k in range(5):
        single = lemke_howson(games[0, 0], init_label=k)
        for s, t in zip(per_label.strategies, single.strategies):
            np.testing.assert_allclose(s[k], t, atol=1e-14)


def test_second_call_does_not_recompile():
    games = random_game(jax.random.key(1), (4, 4), batch_shape=(8,))
    lemke_howson(games)
    from solvers.finite import _lemke_howson

    before = _lemke_howson._lemke_howson._cache_size()
    lemke_howson(random_game(jax.random.key(2), (4, 4), batch_shape=(8,)))
    assert _lemke_howson._lemke_howson._cache_size() == before


def test_max_steps_reported_honestly():
    games = random_game(jax.random.key(3), (8, 8), batch_shape=(32,))
    full = lemke_howson(games)
    assert int(jnp.max(full.iterations)) > 1
    short = lemke_howson(games, max_steps=1)
    long_paths = np.asarray(full.iterations) > 1
    assert np.all(np.asarray(short.status)[long_paths] == Status.MAX_STEPS)
    with pytest.raises(NonConvergenceError, match="MAX_STEPS"):
        lemke_howson(games, max_steps=1, throw=True)


def test_float32_still_finds_equilibria():
    games = random_game(jax.random.key(5), (5, 5), batch_shape=(20,), dtype=jnp.float32)
    eq = lemke_howson(games)
    assert eq.strategies[0].dtype == jnp.float32
    assert np.all(np.asarray(eq.status) == Status.CONVERGED)


def test_bad_input():
    three = random_game(jax.random.key(0), (2, 2, 2))
    with pytest.raises(ValueError, match="2-player"):
        lemke_howson(three)
    for label in (4, -1, 1.0, True, "0", jnp.asarray(1.0)):
        with pytest.raises(ValueError, match="init_label"):
            lemke_howson(kg.MATCHING_PENNIES, init_label=label)
    with pytest.raises(ValueError, match="max_steps"):
        lemke_howson(kg.MATCHING_PENNIES, max_steps=0)
    nan_batch = NormalFormGame(jnp.full((3, 2, 2, 2), jnp.nan), num_players=2)
    with pytest.raises(ValueError, match="finite"):
        lemke_howson(nan_batch)


@pytest.mark.slow
@given(st.integers(0, 2**32 - 1))
def test_nondegenerate_lh_from_every_label_is_gambit_equilibrium(seed):
    game = random_bimatrix(seed, 8, 8)
    everything = gambit_all_equilibria(game)
    found = [lemke_howson(game, init_label=k).strategies for k in range(16)]
    assert all(any(same_profile(f, e) for e in everything) for f in found)


# 8 slots for 30 games: refills of a partial queue; one slot (every game waits its turn) in thorough
@pytest.mark.parametrize("slots", [pytest.param(1, marks=pytest.mark.slow), 8])
def test_work_queue_equals_single_games(slots):
    """Large batches run through a work queue of slots; every game must get its own answer."""
    from solvers.finite._lemke_howson import _lemke_howson

    games = random_game(jax.random.key(21), (7, 5), batch_shape=(5, 6))
    queued = _lemke_howson(games.payoffs, jnp.asarray(4), 1e-9, max_steps=1000, batch_ndim=2, slots=slots)
    for i in range(5):
        for j in range(6):
            single = lemke_howson(games[i, j], init_label=4)
            for s, t in zip(queued.strategies, single.strategies):
                np.testing.assert_allclose(s[i, j], t, atol=1e-14)
            assert int(queued.iterations[i, j]) == int(single.iterations)
            assert int(queued.status[i, j]) == int(single.status)
    short = _lemke_howson(games.payoffs, jnp.asarray(4), 1e-9, max_steps=2, batch_ndim=2, slots=slots)
    long_paths = np.asarray(queued.iterations) > 2
    assert np.all(np.asarray(short.status)[long_paths] == Status.MAX_STEPS)
    assert np.all(np.asarray(short.status)[~long_paths] == Status.CONVERGED)


def test_work_queue_breaks_ties_in_degenerate_batches():
    """Small integer payoffs tie in the ratio test; inside the queue the lexicographic stage runs only
    when some slot ties, so a degenerate batch through it must still equal the games solved alone (in
    this batch 14 of the 24 paths change if the lexicographic stage is skipped)."""
    from solvers.finite._lemke_howson import _lemke_howson

    rng = np.random.default_rng(7)
    payoffs = rng.integers(0, 3, (24, 2, 4, 4)).astype(float)
    games = NormalFormGame(jnp.asarray(payoffs), num_players=2)
    queued = _lemke_howson(games.payoffs, jnp.asarray(1), 1e-9, max_steps=1000, batch_ndim=1, slots=4)
    assert np.all(np.asarray(queued.status) == Status.CONVERGED)
    for k in range(24):
        single = lemke_howson(games[k], init_label=1)
        for s, t in zip(queued.strategies, single.strategies):
            np.testing.assert_allclose(s[k], t, atol=1e-14)
        assert int(queued.iterations[k]) == int(single.iterations)
        assert float(nash_conv(games[k], tuple(s[k] for s in queued.strategies))) <= 1e-9
