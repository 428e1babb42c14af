"""Finite solvers under positive affine maps of each player's payoffs, and an independent numpy check of
every CONVERGED answer (issues 11 and 16).

A positive affine map ``u_i -> a_i u_i + b_i`` of one player's payoffs changes no equilibrium, so it
must change neither the answer nor the status. Scales ``a_i`` run over 1e-6..1e6 and shifts over
``|b_i| <= 1e6 a_i`` (up to a million payoff ranges: the shifted payoffs keep about ten significant
digits of their differences in float64; an absolute shift of 1e6 on a range of 1e-6 would leave four,
which no float64 method can recover the equilibria from).
"""

import functools

import hypothesis
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from games import NormalFormGame, bimatrix, random_game
from solvers import (Status, fictitious_play, hedge, lemke_howson, qre_homotopy, regret_matching,
                     replicator_dynamics, support_enumeration, vertex_enumeration)
from tests.oracles import profile_sets_equal, same_profile

# A 4x4 game with 5 equilibria (fixed shape: one compiled program per solver).
GAME = random_game(jax.random.key(0), (4, 4), family="coordination")

per_player_maps = st.tuples(
    st.tuples(st.floats(-6.0, 6.0), st.floats(-6.0, 6.0)),  # log10 of each player's scale
    st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)),  # each player's shift, in units of its scale
)


def mapped(game: NormalFormGame, transform) -> NormalFormGame:
    (log_a, log_b), (shift_a, shift_b) = transform
    a, b = 10.0**log_a, 10.0**log_b
    A, B = np.asarray(game.payoffs[0]), np.asarray(game.payoffs[1])
    return bimatrix(a * A + shift_a * a, b * B + shift_b * b)


@functools.lru_cache(maxsize=None)
def reference(solver_name):
    return SET_SOLVERS[solver_name](GAME)


SET_SOLVERS = {"support_enumeration": support_enumeration, "vertex_enumeration": vertex_enumeration}


def test_reference_game_has_several_equilibria():
    for name in SET_SOLVERS:
        assert int(reference(name).status) == Status.CONVERGED and int(reference(name).count) == 15


@pytest.mark.parametrize("name", sorted(SET_SOLVERS))
@settings(max_examples=12)
@given(transform=per_player_maps)
def test_all_equilibria_invariant_under_each_players_affine_map(name, transform):
    before, after = reference(name), SET_SOLVERS[name](mapped(GAME, transform))
    assert int(after.status) == int(before.status) == Status.CONVERGED
    assert int(after.count) == int(before.count)
    assert profile_sets_equal(after.to_list(), before.to_list(), atol=1e-6)


@settings(max_examples=12)
@given(transform=per_player_maps)
def test_lemke_howson_invariant_under_each_players_affine_map(transform):
    before, after = lemke_howson(GAME, init_label=5), lemke_howson(mapped(GAME, transform), init_label=5)
    assert int(after.status) == int(before.status) == Status.CONVERGED
    assert same_profile(after.strategies, before.strategies, atol=1e-6)


def absolute_tolerance_status(result) -> int:
    """The rule the issue replaced: CONVERGED when every row's NashConv is below 1e-9 in payoff units."""
    rows = np.asarray(result.nash_conv)[np.asarray(result.mask)]
    return int(Status.CONVERGED) if np.all(rows <= 1e-9) else int(Status.DEGENERATE)


def test_an_unnormalized_tolerance_breaks_the_invariance():
    """The same property search finds a counterexample for a status read with an absolute tolerance."""
    assert absolute_tolerance_status(reference("support_enumeration")) == Status.CONVERGED
    counterexample = hypothesis.find(
        per_player_maps,
        lambda t: absolute_tolerance_status(support_enumeration(mapped(GAME, t))) != Status.CONVERGED,
        settings=settings(max_examples=50, database=None),
    )
    assert max(counterexample[0]) > 0  # large payoffs: rounding above an absolute 1e-9


# --- certification: every CONVERGED answer passes an independent best-response check per player ----------


def independent_regrets(payoffs: np.ndarray, strategies) -> np.ndarray:
    """Each player's regret, by numpy in float64 from the raw payoffs."""
    A, B = np.asarray(payoffs[0], np.float64), np.asarray(payoffs[1], np.float64)
    x, y = (np.asarray(s, np.float64) for s in strategies)
    return np.array([np.max(A @ y) - x @ A @ y, np.max(x @ B) - x @ B @ y])


def certification_games() -> NormalFormGame:
    """Random 3x3 games whose players' payoffs differ by 1e9 in scale, and (first) a game where uniform
    play is an equilibrium for the row player while the column player, with payoffs 1e-9 of the row
    player's, has a strictly dominant action."""
    rng = np.random.default_rng(16)
    games = [np.stack([rng.random((3, 3)) * 1e-6 - 5.0, rng.random((3, 3)) * 1e3 + 7e3]) for _ in range(7)]
    tiny_dominant = np.stack([np.tile([0.0, 1.0, 1.0], (3, 1)), 1e-9 * np.tile([1.0, 0.0, 0.0], (3, 1))])
    return NormalFormGame(jnp.asarray(np.stack([tiny_dominant] + games)), num_players=2)


CERTIFIED_SOLVERS = {  # solver, the tolerance it certifies with (relative to each player's own range)
    "lemke_howson": (lambda g: lemke_howson(g), 1e-9),
    "qre_homotopy": (lambda g: qre_homotopy(g), 1e-9),
    "regret_matching": (lambda g: regret_matching(g, tol=1e-3, max_steps=3000), 1e-3),
    "regret_matching_plus": (lambda g: regret_matching(g, plus=True, tol=1e-3, max_steps=3000), 1e-3),
    "hedge": (lambda g: hedge(g, tol=1e-2, max_steps=3000), 1e-2),
    "fictitious_play": (lambda g: fictitious_play(g, tol=1e-2, max_steps=3000), 1e-2),
    "replicator_dynamics": (lambda g: replicator_dynamics(g, tol=1e-3, max_steps=3000), 1e-3),
}


@pytest.mark.parametrize("name", sorted(CERTIFIED_SOLVERS))
def test_every_converged_answer_passes_a_per_player_best_response_check(name):
    solve, tol = CERTIFIED_SOLVERS[name]
    games = certification_games()
    result = solve(games)
    status = np.asarray(result.status)
    payoffs = np.asarray(games.payoffs)
    spreads = np.ptp(payoffs.reshape(len(payoffs), 2, -1), axis=2)
    for k in np.flatnonzero(status == Status.CONVERGED):
        regret = independent_regrets(payoffs[k], [np.asarray(s)[k] for s in result.strategies])
        assert np.all(regret <= tol * spreads[k] * (1 + 1e-6) + 1e-15 * np.abs(payoffs[k]).max()), (name, k, regret)
    # The column player's dominant action is found, or the status says the answer is not certified.
    if status[0] == Status.CONVERGED:
        assert float(np.asarray(result.strategies[1])[0, 0]) >= 1 - 10 * tol
    else:
        assert status[0] != Status.CONVERGED


@pytest.mark.parametrize("solve", [support_enumeration, vertex_enumeration], ids=["support", "vertex"])
def test_every_row_of_the_set_solvers_passes_the_check(solve):
    games = certification_games()
    result = solve(games)
    payoffs = np.asarray(games.payoffs)
    spreads = np.ptp(payoffs.reshape(len(payoffs), 2, -1), axis=2)
    for k in range(len(payoffs)):
        assert int(result.status[k]) in (Status.CONVERGED, Status.DEGENERATE)
        for j in np.flatnonzero(np.asarray(result.mask[k])):
            regret = independent_regrets(payoffs[k], [np.asarray(s)[k, j] for s in result.strategies])
            assert np.all(regret <= 2e-9 * spreads[k] + 1e-15 * np.abs(payoffs[k]).max()), (k, j, regret)
    # The tiny player's dominant action: its only equilibria put the column player on action 0.
    assert all(float(y[0]) == pytest.approx(1.0) for _, y in
               [(None, np.asarray(result.strategies[1])[0, j]) for j in np.flatnonzero(np.asarray(result.mask[0]))])


def test_qre_homotopy_without_float64_warns_once():
    from solvers.finite import _qre

    _qre._warned_float32 = False
    game = random_game(jax.random.key(0), (2, 2), dtype=jnp.float32)
    with pytest.warns(RuntimeWarning, match="float64"):
        qre_homotopy(game, max_steps=5)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qre_homotopy(game, max_steps=5)  # once per process
