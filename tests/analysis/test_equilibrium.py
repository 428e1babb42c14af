import jax.numpy as jnp
import numpy as np
import pytest

from analysis import exploitability, nash_conv, player_regrets
from games import bimatrix
from tests.solvers.finite import known_games as kg


def test_closed_form_prisoners_dilemma():
    A = np.array([[3.0, 0.0], [5.0, 1.0]])
    game = bimatrix(A, A.T)
    cooperate = (jnp.array([1.0, 0.0]), jnp.array([1.0, 0.0]))
    np.testing.assert_allclose(player_regrets(game, cooperate), [2.0, 2.0])  # defecting gains 5 - 3
    assert float(nash_conv(game, cooperate)) == 4.0
    assert float(exploitability(game, cooperate)) == 2.0
    defect = (jnp.array([0.0, 1.0]), jnp.array([0.0, 1.0]))
    assert float(nash_conv(game, defect)) == 0.0


def test_known_equilibria_have_zero_nash_conv_and_others_do_not():
    for x, y in kg.VON_STENGEL_3X2_EQ:
        assert float(nash_conv(kg.VON_STENGEL_3X2, (x, y))) <= 1e-14
    assert float(nash_conv(kg.VON_STENGEL_3X2, (jnp.array([0.0, 1.0, 0.0]), jnp.array([1.0, 0.0])))) > 0.5


def test_bad_profiles():
    with pytest.raises(ValueError, match="2 mixed strategies"):
        nash_conv(kg.MATCHING_PENNIES, (jnp.array([0.5, 0.5]),))
    with pytest.raises(ValueError, match="shape"):
        nash_conv(kg.MATCHING_PENNIES, (jnp.array([0.5, 0.5]), jnp.array([1.0, 0.0, 0.0])))
    with pytest.raises(ValueError, match="NaN"):
        nash_conv(kg.MATCHING_PENNIES, (jnp.array([jnp.nan, 0.5]), jnp.array([0.5, 0.5])))
    with pytest.raises(ValueError, match="probability"):
        nash_conv(kg.MATCHING_PENNIES, (jnp.array([0.9, 0.5]), jnp.array([0.5, 0.5])))
