import jax
import numpy as np
import pytest
import scipy.optimize
from hypothesis import given
from hypothesis import strategies as st

from games import bimatrix, random_game, zero_sum
from solvers import Status, lemke_howson, zero_sum_lp
from tests.solvers.finite import known_games as kg


def scipy_value(A):
    """Independent oracle: the row player's maximin LP solved by HiGHS."""
    m, n = A.shape
    c = np.zeros(m + 1)
    c[-1] = -1.0  # maximize v
    A_ub = np.hstack([-A.T, np.ones((n, 1))])  # v - x^T A[:, j] <= 0
    A_eq = np.hstack([np.ones((1, m)), np.zeros((1, 1))])
    res = scipy.optimize.linprog(c, A_ub=A_ub, b_ub=np.zeros(n), A_eq=A_eq, b_eq=[1.0],
                                 bounds=[(0, None)] * m + [(None, None)], method="highs")
    assert res.status == 0
    return res.x[-1]


def test_known_values():
    assert abs(float(zero_sum_lp(kg.MATCHING_PENNIES).value)) < 1e-14
    rps = zero_sum_lp(kg.ROCK_PAPER_SCISSORS)
    np.testing.assert_allclose(rps.strategies[0], np.full(3, 1 / 3), atol=1e-14)
    # A game with a saddle point: value 2 at (row 1, column 0).
    saddle = zero_sum_lp(zero_sum(np.array([[1.0, 3.0], [2.0, 4.0]])))
    assert abs(float(saddle.value) - 2.0) < 1e-13
    np.testing.assert_allclose(saddle.strategies[0], [0, 1], atol=1e-13)
    np.testing.assert_allclose(saddle.strategies[1], [1, 0], atol=1e-13)


@given(st.integers(0, 2**32 - 1), st.sampled_from([(2, 2), (3, 5), (7, 4), (10, 10)]))
def test_value_equals_scipy_highs(seed, shape):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=shape) * 3 + 1
    sol = zero_sum_lp(zero_sum(A))
    assert int(sol.status) == Status.CONVERGED
    assert abs(float(sol.value) - scipy_value(A)) <= 1e-9
    x, y = (np.asarray(s) for s in sol.strategies)
    # Certificates: x guarantees at least the value, y concedes at most it.
    assert np.min(x @ A) >= float(sol.value) - 1e-9
    assert np.max(A @ y) <= float(sol.value) + 1e-9


def test_agrees_with_lemke_howson_value_and_batches():
    games = random_game(jax.random.key(9), (6, 6), family="zero_sum", batch_shape=(10,))
    lp = zero_sum_lp(games)
    lh = lemke_howson(games)
    values = np.einsum("bi,bij,bj->b", lh.strategies[0], games.payoffs[:, 0], lh.strategies[1])
    np.testing.assert_allclose(lp.value, values, atol=1e-12)
    for k in range(10):
        np.testing.assert_allclose(zero_sum_lp(games[k]).value, lp.value[k], atol=1e-14)


def test_refuses_general_sum():
    with pytest.raises(ValueError, match="zero-sum"):
        zero_sum_lp(bimatrix(np.eye(2), np.eye(2)))
