"""vertex_enumeration (Avis and Fukuda 1992 reverse search): differential against support_enumeration,
Gambit's enummixed (catalog, large-magnitude and degenerate integer games), the vertex count of a
cyclic polytope (the upper bound theorem is tight there), batching and bad input."""

import importlib.resources

import jax
import numpy as np
import pygambit as gbt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import nash_conv
from games import bimatrix, random_game, read_nfg
from solvers import Status, support_enumeration, vertex_enumeration
from tests.oracles import gambit_all_equilibria, profile_sets_equal, profile_to_arrays
from tests.solvers.finite import known_games as kg
from tests.solvers.finite.test_lemke_howson import random_bimatrix

CATALOG = importlib.resources.files("pygambit") / "catalog_data"
TWO_PLAYER_CATALOG = sorted(str(p) for p in CATALOG.rglob("*.nfg") if len(gbt.read_nfg(str(p)).players) == 2)


@pytest.mark.parametrize("game, equilibria", kg.GAMES_WITH_EQUILIBRIA)
def test_known_games_exact_sets(game, equilibria):
    result = vertex_enumeration(game)
    assert int(result.status) == Status.CONVERGED
    assert profile_sets_equal(result.to_list(), equilibria, atol=1e-12)


@settings(max_examples=10)
@given(st.integers(0, 2**32 - 1))
def test_equals_support_enumeration_on_random_games(seed):
    game = random_bimatrix(seed, 3, 3)
    by_vertices, by_supports = vertex_enumeration(game), support_enumeration(game)
    assert int(by_vertices.status) == int(by_supports.status) == Status.CONVERGED
    assert profile_sets_equal(by_vertices.to_list(), by_supports.to_list(), atol=1e-10)


@pytest.mark.parametrize("path", TWO_PLAYER_CATALOG, ids=lambda p: p.split("/")[-1])
def test_equals_gambit_enummixed_on_its_catalog(path):
    """Includes von Stengel's (1999) 6x6 game with 75 equilibria and payoffs up to 3e6 (large magnitude)."""
    G = gbt.read_nfg(path)
    expected = [profile_to_arrays(G, eq) for eq in gbt.nash.enummixed_solve(G, rational=True).equilibria]
    result = vertex_enumeration(read_nfg(path))
    assert int(result.status) == Status.CONVERGED
    assert profile_sets_equal(result.to_list(), expected, atol=1e-9)


def test_cyclic_polytope_has_the_upper_bound_theorem_count():
    """Von Stengel's 6x6 game is built on cyclic polytopes: 111 vertices besides the origin, the most
    any 6-polytope with 12 facets has (McMullen 1970)."""
    path = next(p for p in TWO_PLAYER_CATALOG if p.endswith("6x6_game_with_75_eq_small_payoffs.nfg"))
    result = vertex_enumeration(read_nfg(path))
    assert np.asarray(result.stats["vertices"]).tolist() == [112, 112]


@settings(max_examples=8)
@given(st.integers(0, 2**32 - 1))
def test_degenerate_integer_games_equal_gambit_extreme_equilibria(seed):
    rng = np.random.default_rng(seed)
    game = bimatrix(rng.integers(0, 3, (3, 3)).astype(float), rng.integers(0, 3, (3, 3)).astype(float))
    result = vertex_enumeration(game)
    assert int(result.status) == Status.CONVERGED
    assert profile_sets_equal(result.to_list(), gambit_all_equilibria(game), atol=1e-9)
    for profile in result.to_list():
        assert float(nash_conv(game, profile)) <= 1e-12


def test_degenerate_game_with_more_extreme_equilibria_than_the_nondegenerate_bound():
    """8 extreme equilibria in a 3x3 game (a nondegenerate one has at most 7): the output grows."""
    A = np.array([[2.0, 0.0, 2.0], [2.0, 0.0, 1.0], [1.0, 0.0, 2.0]])
    B = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [1.0, 2.0, 2.0]])
    game = bimatrix(A, B)
    result = vertex_enumeration(game)
    assert int(result.status) == Status.CONVERGED and int(result.count) == 8 and bool(result.stats["degenerate"])
    assert profile_sets_equal(result.to_list(), gambit_all_equilibria(game), atol=1e-12)
    jitted = jax.jit(lambda g: vertex_enumeration(g))(game)  # no growth under jit: said in the status
    assert int(jitted.status) == Status.MAX_STEPS and int(jitted.stats["found"]) == 8


def test_every_key_colliding_still_stores_each_vertex_once(monkeypatch):
    """Zero key weights give every vertex the same lookup key: each new vertex then has several key
    matches and must be compared with all of them in full. On degenerate games (a vertex reached from
    several bases) the vertex counts and the equilibria stay those of the real keys; comparing only the
    first match would store a seen vertex again."""
    from solvers.finite import _vertex_enumeration

    A = np.array([[2.0, 0.0, 2.0], [2.0, 0.0, 1.0], [1.0, 0.0, 2.0]])
    B = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [1.0, 2.0, 2.0]])
    games = [bimatrix(A, B)]  # 6 and 4 vertices; 8 and 8 if seen vertices were stored again
    expected = [vertex_enumeration(game) for game in games]
    monkeypatch.setattr(_vertex_enumeration, "_key_weights",
                        lambda columns, dtype: jax.numpy.zeros((columns,), dtype))
    # A max_steps no other call uses is a new static argument: the patched weights are traced into a
    # program of their own (clearing every cache instead cost this worker's later tests their compiles).
    colliding = [vertex_enumeration(game, max_steps=12_345) for game in games]
    for game, want, got in zip(games, expected, colliding):
        assert np.asarray(got.stats["vertices"]).tolist() == np.asarray(want.stats["vertices"]).tolist()
        assert int(got.status) == int(want.status) and int(got.count) == int(want.count)
        assert profile_sets_equal(got.to_list(), want.to_list(), atol=1e-12)


def test_batch_vmap_and_loop_agree():
    games = random_game(jax.random.key(7), (3, 3), batch_shape=(5,))
    batched = vertex_enumeration(games)
    vmapped = jax.vmap(vertex_enumeration)(games)
    for a, b in zip(jax.tree_util.tree_leaves(batched), jax.tree_util.tree_leaves(vmapped)):
        np.testing.assert_array_equal(a, b)
    for k in range(5):
        single = vertex_enumeration(games[k])
        assert int(batched.count[k]) == int(single.count)
        mask = np.asarray(batched.mask[k])
        rows = [tuple(np.asarray(s)[k, j] for s in batched.strategies) for j in np.flatnonzero(mask)]
        assert profile_sets_equal(rows, single.to_list(), atol=1e-13)


def test_too_few_steps_or_rows_is_reported():
    assert int(vertex_enumeration(kg.coordination(3), max_steps=3).status) == Status.MAX_STEPS
    short = vertex_enumeration(kg.coordination(3), max_equilibria=2)
    assert int(short.status) == Status.MAX_STEPS and int(short.count) == 2 and int(short.stats["found"]) == 7


def test_bad_input():
    with pytest.raises(ValueError, match="2-player"):
        vertex_enumeration(random_game(jax.random.key(0), (2, 2, 2)))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_equilibria"):
            vertex_enumeration(kg.MATCHING_PENNIES, max_equilibria=bad)
        with pytest.raises(ValueError, match="max_steps"):
            vertex_enumeration(kg.MATCHING_PENNIES, max_steps=bad)
    with pytest.raises(ValueError, match="tol"):
        vertex_enumeration(kg.MATCHING_PENNIES, tol=-1.0)
