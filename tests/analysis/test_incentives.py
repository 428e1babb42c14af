"""Incentive checks on edge markets: one-sided and empty markets are valid (no trade, no regret, no IR
violation), and bad input is refused with a ValueError naming the argument, before any jit."""

import functools

import jax
import numpy as np
import pytest

from analysis import ic_regret, ir_violation, trader_utilities
from mechanisms import Clearing, huang_double_auction, k_double_auction, mcafee_double_auction, sbba_double_auction

VALUES = np.array([0.9, 0.4, 0.7])
NONE = np.zeros(0)


@pytest.mark.parametrize("rule, markets", [
    (mcafee_double_auction, [(VALUES, NONE), (NONE, VALUES), (NONE, NONE)]),
    (functools.partial(sbba_double_auction, key=jax.random.key(0)), [(VALUES, NONE)]),
], ids=["mcafee", "sbba"])
def test_one_sided_and_empty_markets_have_no_regret_and_no_ir_violation(rule, markets):
    for values, costs in markets:
        buyers, sellers = ic_regret(rule, values, costs, num_grid=8)
        assert buyers.shape == values.shape and sellers.shape == costs.shape
        np.testing.assert_array_equal(buyers, 0.0)
        np.testing.assert_array_equal(sellers, 0.0)
        assert float(ir_violation(rule(values, costs), values, costs)) == 0.0


def test_multi_unit_one_sided_market_has_no_regret():
    buyers, sellers = ic_regret(huang_double_auction, VALUES, NONE, quantities=(np.ones(3), NONE), num_grid=8)
    np.testing.assert_array_equal(buyers, 0.0)
    assert sellers.shape == (0,)


def test_ir_violation_is_the_largest_loss_of_any_trader():
    """max(0, max_i -u_i) against the utilities computed by hand; 0 for a side without traders."""
    c = Clearing(np.array([True, True, False]), np.array([True, True]), np.array([1.0, 0.3, 0.0]),
                 np.array([0.5, 0.5]), np.asarray(0.3))
    values, costs = np.array([0.9, 0.4, 0.7]), np.array([0.2, 0.8])
    # Buyer 0 loses 0.1 (pays 1.0 for 0.9), seller 1 loses 0.3 (receives 0.5 at cost 0.8).
    assert float(ir_violation(c, values, costs)) == pytest.approx(0.3)
    buyers, sellers = trader_utilities(c, values, costs)
    np.testing.assert_allclose(buyers, [-0.1, 0.1, 0.0])
    np.testing.assert_allclose(sellers, [0.3, -0.3])
    one_sided = Clearing(np.array([False]), np.zeros(0, bool), np.zeros(1), np.zeros(0), np.asarray(0.0))
    assert float(ir_violation(one_sided, np.array([0.5]), NONE)) == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match="values must be real"):
        ic_regret(mcafee_double_auction, VALUES + 1j, VALUES)
    with pytest.raises(ValueError, match="costs must be real"):
        ic_regret(mcafee_double_auction, VALUES, VALUES + 1j)
    with pytest.raises(ValueError, match="values must hold real numbers"):
        ic_regret(mcafee_double_auction, np.array(["a", "b"]), VALUES)
    with pytest.raises(ValueError, match="sell_quantities must be real"):
        ic_regret(huang_double_auction, VALUES, VALUES, quantities=(np.ones(3), np.ones(3) + 1j))
    with pytest.raises(ValueError, match="learning_rate"):
        ic_regret(mcafee_double_auction, VALUES, VALUES, learning_rate=0.0)
    with pytest.raises(ValueError, match="values must be finite"):
        ic_regret(mcafee_double_auction, np.array([np.nan]), VALUES)
    with pytest.raises(ValueError, match="1-D"):
        ic_regret(mcafee_double_auction, np.ones((2, 2)), VALUES)
    c = mcafee_double_auction(VALUES, VALUES)
    with pytest.raises(ValueError, match="values must be real"):
        ir_violation(c, VALUES + 1j, VALUES)
    with pytest.raises(ValueError, match="costs must be real"):
        ir_violation(c, VALUES, VALUES + 1j)
