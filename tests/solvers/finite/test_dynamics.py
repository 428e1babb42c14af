import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis import nash_conv
from games import bimatrix, random_game, zero_sum
from solvers import NonConvergenceError, Status, fictitious_play, hedge, regret_matching, replicator_dynamics, zero_sum_lp
from tests.solvers.finite import known_games as kg

# Shapley (1964): fictitious play cycles forever and never converges.
SHAPLEY = bimatrix(
    np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]),
    np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
)


@given(st.integers(0, 2**32 - 1))
def test_zero_sum_averages_reach_the_value(seed):
    rng = np.random.default_rng(seed)
    A = rng.random((4, 4))
    game = zero_sum(A)
    value = float(zero_sum_lp(game).value)
    for solve, tol in [
        (lambda g: regret_matching(g, tol=5e-3, max_steps=20_000), 5e-3),
        (lambda g: regret_matching(g, plus=True, tol=1e-3, max_steps=20_000), 1e-3),
        (lambda g: hedge(g, step_size=0.05, tol=5e-2, max_steps=20_000), 5e-2),
        (lambda g: fictitious_play(g, tol=2e-2, max_steps=20_000), 2e-2),
    ]:
        eq = solve(game)
        assert int(eq.status) == Status.CONVERGED
        assert float(nash_conv(game, eq.strategies)) <= tol * np.ptp(A) * (1 + 1e-6)
        x, y = eq.strategies
        # NashConv bounds the distance to the value from both sides.
        assert abs(float(x @ A @ y) - value) <= float(eq.nash_conv) + 1e-12


def test_fictitious_play_reports_max_steps_on_shapley_game():
    # The uniform profile is Shapley's equilibrium; start from a pure profile instead.
    start = (jnp.array([1.0, 0.0, 0.0]), jnp.array([0.0, 1.0, 0.0]))
    eq = fictitious_play(SHAPLEY, init=start, tol=1e-3, max_steps=3000)
    assert int(eq.status) == Status.MAX_STEPS
    assert float(eq.nash_conv) > 1e-3
    with pytest.raises(NonConvergenceError):
        fictitious_play(SHAPLEY, init=start, tol=1e-3, max_steps=3000, throw=True)


def test_replicator_converges_to_strict_equilibrium_of_coordination_game():
    init = (jnp.array([0.7, 0.3]), jnp.array([0.6, 0.4]))
    eq = replicator_dynamics(kg.BATTLE_OF_THE_SEXES, init=init, tol=1e-10, max_steps=5000)
    assert int(eq.status) == Status.CONVERGED
    np.testing.assert_allclose(eq.strategies[0], [1, 0], atol=1e-9)


def test_replicator_cycles_in_matching_pennies():
    init = (jnp.array([0.8, 0.2]), jnp.array([0.5, 0.5]))
    eq = replicator_dynamics(kg.MATCHING_PENNIES, init=init, tol=1e-6, max_steps=2000)
    assert int(eq.status) == Status.MAX_STEPS


def test_three_player_regret_matching_on_a_game_with_a_strict_pure_equilibrium():
    game = random_game(jax.random.key(0), (3, 3, 3), family="coordination")
    eq = regret_matching(game, tol=1e-6, max_steps=5000)
    assert float(nash_conv(game, eq.strategies)) == pytest.approx(float(eq.nash_conv), abs=1e-12)
    assert int(eq.status) == (Status.CONVERGED if float(eq.nash_conv) <= 1e-6 * 2 else Status.MAX_STEPS)


def test_vmap_equals_loop_and_invariance():
    games = random_game(jax.random.key(2), (3, 3), family="zero_sum", batch_shape=(4,))
    batched = regret_matching(games, plus=True, tol=1e-5)
    for k in range(4):
        single = regret_matching(games[k], plus=True, tol=1e-5)
        moved = regret_matching(zero_sum(3.0 * games[k].payoffs[0] + 1.0), plus=True, tol=1e-5)
        for a, b, c in zip(batched.strategies, single.strategies, moved.strategies):
            np.testing.assert_allclose(a[k], b, atol=1e-12)
            np.testing.assert_allclose(b, c, atol=1e-9)


def test_bad_input():
    with pytest.raises(ValueError, match="init"):
        regret_matching(kg.MATCHING_PENNIES, init=(jnp.array([0.5, 0.5]),))
    with pytest.raises(ValueError, match="probability"):
        regret_matching(kg.MATCHING_PENNIES, init=(jnp.array([0.7, 0.7]), jnp.array([0.5, 0.5])))
    with pytest.raises(ValueError, match="step_size"):
        replicator_dynamics(kg.MATCHING_PENNIES, step_size=1.5)
    with pytest.raises(ValueError, match="tol"):
        hedge(kg.MATCHING_PENNIES, tol=-1.0)
