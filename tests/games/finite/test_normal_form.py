import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from games import (
    GAME_FAMILIES,
    NormalFormGame,
    action_values,
    bimatrix,
    expected_payoffs,
    parse_nfg,
    random_game,
    read_nfg,
    regrets,
    write_nfg,
    zero_sum,
)
from tests.oracles import to_gambit


def test_pytree_roundtrip_and_static_metadata():
    game = random_game(jax.random.key(0), (2, 3, 4))
    leaves, treedef = jax.tree_util.tree_flatten(game)
    assert len(leaves) == 1 and leaves[0].shape == (3, 2, 3, 4)
    again = jax.tree_util.tree_unflatten(treedef, leaves)
    assert again.num_players == 3 and again.num_actions == (2, 3, 4)
    assert game.batch_shape == ()


def test_batch_axis_and_indexing():
    games = random_game(jax.random.key(0), (3, 2), batch_shape=(5, 4))
    assert games.batch_shape == (5, 4)
    assert games.num_actions == (3, 2)
    assert games[1, 2].batch_shape == ()
    np.testing.assert_array_equal(games[1, 2].payoffs, games.payoffs[1, 2])
    with pytest.raises(IndexError):
        games[0, 0][0]


def test_expected_payoffs_closed_form_bimatrix():
    A = jnp.array([[3.0, 0.0], [5.0, 1.0]])
    B = jnp.array([[3.0, 5.0], [0.0, 1.0]])
    x, y = jnp.array([0.25, 0.75]), jnp.array([0.6, 0.4])
    game = bimatrix(A, B)
    np.testing.assert_allclose(expected_payoffs(game, (x, y)), [x @ A @ y, x @ B @ y])
    np.testing.assert_allclose(action_values(game, (x, y))[0], A @ y)
    np.testing.assert_allclose(action_values(game, (x, y))[1], B.T @ x)
    np.testing.assert_allclose(regrets(game, (x, y)), [jnp.max(A @ y) - x @ A @ y, jnp.max(B.T @ x) - x @ B @ y])


def test_three_player_action_values_against_loop():
    game = random_game(jax.random.key(3), (2, 3, 2))
    rng = np.random.default_rng(0)
    s = tuple(rng.dirichlet(np.ones(m)) for m in game.num_actions)
    P = np.asarray(game.payoffs)
    v1 = np.array([sum(P[1, a, b, c] * s[0][a] * s[2][c] for a in range(2) for c in range(2)) for b in range(3)])
    np.testing.assert_allclose(action_values(game, s)[1], v1)


def test_zero_sum_constructor():
    game = zero_sum([[1, -1], [-1, 1]])
    np.testing.assert_array_equal(game.payoffs[1], -game.payoffs[0])
    assert jnp.issubdtype(game.payoffs.dtype, jnp.floating)


@pytest.mark.parametrize(
    "payoffs, message",
    [
        (np.array([[[np.nan, 1.0]], [[0.0, 1.0]]]), "finite"),
        (np.array([[[np.inf, 1.0]], [[0.0, 1.0]]]), "finite"),
        (np.zeros((3, 2, 2)), "3-player game need at least 4 axes"),
        (np.zeros((2, 0, 2)), "no actions"),
        (np.zeros((2,)), "shape"),
        (np.array([["a", "b"], ["c", "d"]]), "numeric"),
    ],
)
def test_bad_payoffs_raise(payoffs, message):
    with pytest.raises(ValueError, match=message):
        NormalFormGame(payoffs)


def test_bimatrix_shape_mismatch():
    with pytest.raises(ValueError, match="equal shape"):
        bimatrix(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="finite"):
        bimatrix(np.array([[np.nan]]), np.array([[0.0]]))


@pytest.mark.parametrize("family", GAME_FAMILIES)
def test_random_families_shapes_and_determinism(family):
    key = jax.random.key(7)
    a = random_game(key, (3, 3), family=family, batch_shape=(4,))
    b = random_game(key, (3, 3), family=family, batch_shape=(4,))
    np.testing.assert_array_equal(a.payoffs, b.payoffs)
    assert a.payoffs.shape == (4, 2, 3, 3)


def test_family_properties():
    key = jax.random.key(1)
    zs = random_game(key, (4, 5), family="zero_sum", batch_shape=(3,)).payoffs
    np.testing.assert_array_equal(zs[:, 0], -zs[:, 1])
    zs3 = random_game(key, (2, 3, 2), family="zero_sum").payoffs
    np.testing.assert_allclose(jnp.sum(zs3, 0), 0.0, atol=1e-12)
    common = random_game(key, (3, 3), family="covariant", correlation=1.0).payoffs
    np.testing.assert_allclose(common[0], common[1], atol=1e-12)
    anti = random_game(key, (3, 3), family="covariant", correlation=-1.0).payoffs
    np.testing.assert_allclose(anti[0], -anti[1], atol=1e-12)
    # Sample correlation of the covariant family is near the requested one.
    cov = random_game(key, (40, 40), family="covariant", correlation=0.5, batch_shape=(10,)).payoffs
    r = np.corrcoef(np.asarray(cov[:, 0]).ravel(), np.asarray(cov[:, 1]).ravel())[0, 1]
    assert abs(r - 0.5) < 0.03
    coord = np.asarray(random_game(key, (3, 3), family="coordination").payoffs)
    for a in range(3):  # every diagonal profile is a strict pure equilibrium
        assert all(coord[0, a, a] > coord[0, b, a] for b in range(3) if b != a)
        assert all(coord[1, a, a] > coord[1, a, b] for b in range(3) if b != a)


def test_random_game_bad_arguments():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="family"):
        random_game(key, (2, 2), family="chaotic")
    with pytest.raises(ValueError, match="correlation"):
        random_game(key, (2, 2, 2), family="covariant", correlation=-0.9)
    with pytest.raises(ValueError, match="at least one action"):
        random_game(key, (2, 0))
    with pytest.raises(ValueError, match="at least one player"):
        random_game(key, ())


# --- .nfg files -------------------------------------------------------------------------------------------

PAYOFF_VERSION = """NFG 1 R "Selten (IJGT, 75), Figure 2, normal form"
{ "Player 1" "Player 2" } { 3 2 }

1 1 0 2 0 2 1 1 0 3 2 0
"""

OUTCOME_VERSION = """NFG 1 R "Two person 2 x 2 game with unique mixed equilibrium"
{ "Player 1" "Player 2" }
{ { "Heads" "Tails" }
{ "Heads" "Tails" }
}
""

{
{ "" 1, -1 }
{ "" -1, 1 }
{ "" 1/2 3.5e0 }
}
1 2 3 0
"""


def test_parse_payoff_version_gambit_order():
    game, info = parse_nfg(PAYOFF_VERSION)
    assert game.num_actions == (3, 2)
    P = np.asarray(game.payoffs)
    # Profiles in order (1,1),(2,1),(3,1),(1,2),(2,2),(3,2): player 1 fastest.
    np.testing.assert_array_equal(P[:, 0, 0], [1, 1])
    np.testing.assert_array_equal(P[:, 1, 0], [0, 2])
    np.testing.assert_array_equal(P[:, 2, 0], [0, 2])
    np.testing.assert_array_equal(P[:, 0, 1], [1, 1])
    np.testing.assert_array_equal(P[:, 1, 1], [0, 3])
    np.testing.assert_array_equal(P[:, 2, 1], [2, 0])
    assert info["players"] == ["Player 1", "Player 2"]


def test_parse_outcome_version():
    game, info = parse_nfg(OUTCOME_VERSION)
    P = np.asarray(game.payoffs)
    np.testing.assert_array_equal(P[:, 0, 0], [1, -1])
    np.testing.assert_array_equal(P[:, 1, 0], [-1, 1])
    np.testing.assert_array_equal(P[:, 0, 1], [0.5, 3.5])
    np.testing.assert_array_equal(P[:, 1, 1], [0, 0])  # outcome 0 is the null outcome
    assert info["strategies"] == [["Heads", "Tails"], ["Heads", "Tails"]]


@given(st.integers(0, 2**31 - 1), st.sampled_from([(2, 2), (3, 2), (2, 3, 2), (1, 4), (2, 2, 2, 2)]))
def test_nfg_roundtrip_bit_exact(tmp_path_factory, seed, shape):
    game = random_game(jax.random.key(seed), shape, family="covariant", correlation=0.3)
    path = tmp_path_factory.mktemp("nfg") / "g.nfg"
    write_nfg(game, path)
    again = read_nfg(path)
    np.testing.assert_array_equal(np.asarray(again.payoffs), np.asarray(game.payoffs))


def test_nfg_agrees_with_gambit_reader():
    game = random_game(jax.random.key(5), (3, 2, 2))
    g = to_gambit(game)  # Gambit parses our file
    P = np.asarray(game.payoffs)
    for i, arr in enumerate(g.to_arrays()):
        np.testing.assert_allclose(np.asarray(arr, dtype=float), P[i], rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("NFX 1 R \"t\" { \"a\" } { 2 }\n1 2\n", 1, "start with 'NFG'"),
        ("NFG 1 R \"t\" { \"a\" \"b\" } { 2 2 }\n\n1 2 3 4\n5 6 7\n", 4, "payoff 2 of profile 4"),
        ("NFG 1 R \"t\" { \"a\" \"b\" } { 2 2 }\n\n1 2 3 4\n5 x 7 8\n", 4, "must be a number"),
        ("NFG 1 R \"t\" { \"a\" \"b\" } { 2 0 }\n", 1, "no strategies"),
        ("NFG 1 R \"t\" { \"a\" } { 2 }\n1 2 3\n", 2, "unexpected"),
        ("NFG 1 R \"t\" { \"a\" \"b\" }\n{ { \"x\" } { \"y\" } }\n\"\"\n{ { \"\" 1 2 }\n}\n2\n", 6, "outcome 2 does not exist"),
        ("NFG 1 R \"t\" { \"a\" } { 1 }\nnan\n", None, "finite"),
    ],
)
def test_malformed_nfg_names_line(text, line, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_nfg(text)
    if line is not None:
        assert f"line {line}" in str(info.value)


def test_write_nfg_refuses_batch(tmp_path):
    with pytest.raises(ValueError, match="one game"):
        write_nfg(random_game(jax.random.key(0), (2, 2), batch_shape=(2,)), tmp_path / "x.nfg")
