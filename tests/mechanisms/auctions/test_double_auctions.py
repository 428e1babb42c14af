"""Double auctions: the properties the literature proves, and the violations it predicts.

Markets have 1 to 25 buyers and 1 to 25 sellers (1 to 50 traders), padded to 25 + 25 slots with
masks so every hypothesis example reuses one compiled program.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from analysis import budget_surplus, efficiency, ic_regret, ir_violation
from mechanisms import (
    efficient_trades,
    k_double_auction,
    mcafee_double_auction,
    sbba_double_auction,
    vcg_double_auction,
)

SLOTS = 25


@st.composite
def markets(draw):
    """A random market: values and costs on [0, 1) (or small integers, with ties), padded with masks."""
    seed = draw(st.integers(0, 2**32 - 1))
    nb = draw(st.integers(1, SLOTS))
    ns = draw(st.integers(1, SLOTS))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):
        values, costs = rng.random(SLOTS), rng.random(SLOTS)
    else:
        values, costs = rng.integers(0, 6, SLOTS).astype(float), rng.integers(0, 6, SLOTS).astype(float)
    return values, costs, np.arange(SLOTS) < nb, np.arange(SLOTS) < ns


def clear(mechanism, market):
    values, costs, bm, sm = market
    return mechanism(values, costs, buyer_mask=bm, seller_mask=sm)


def regret(mechanism, market):
    values, costs, bm, sm = market
    b, s = ic_regret(mechanism, values, costs, buyer_mask=bm, seller_mask=sm)
    return float(jnp.maximum(jnp.max(b), jnp.max(s)))


sbba = functools.partial(sbba_double_auction, key=jax.random.key(0))
k_half = functools.partial(k_double_auction, k=0.5)


def test_worked_example():
    bids, asks = np.array([10.0, 8.0, 3.0]), np.array([2.0, 6.0, 9.0])
    k = k_double_auction(bids, asks, k=0.25)
    assert k.num_trades == 2 and float(k.buyer_payments[0]) == 6.5  # (1-k) * 6 + k * 8
    m = mcafee_double_auction(bids, asks)
    assert m.num_trades == 2 and float(m.buyer_payments[1]) == 6.0 and float(m.surplus) == 0.0
    v = vcg_double_auction(bids, asks)
    assert float(v.surplus) == -4.0
    # McAfee trade reduction: p0 = (4 + 7) / 2 = 5.5 is outside [s_(2), b_(2)] = [6, 8].
    cut = mcafee_double_auction(np.array([10.0, 8.0, 4.0]), np.array([2.0, 6.0, 7.0]))
    assert cut.num_trades == 1 and float(cut.buyer_payments[0]) == 8.0 and float(cut.seller_receipts[0]) == 6.0
    assert float(cut.surplus) == 2.0


@given(markets())
def test_mcafee_truthful_ir_surplus_and_efficiency(market):
    values, costs, bm, sm = market
    c = clear(mcafee_double_auction, market)
    assert regret(mcafee_double_auction, market) <= 1e-9
    assert float(ir_violation(c, values, costs)) <= 1e-12
    assert float(budget_surplus(c)) >= -1e-12
    q, gains = efficient_trades(values, costs, buyer_mask=bm, seller_mask=sm)
    if int(q) > 0:
        assert float(efficiency(c, values, costs, gains)) >= (int(q) - 1) / int(q) - 1e-12


@given(markets())
def test_sbba_truthful_ir_strongly_budget_balanced(market):
    values, costs, bm, sm = market
    c = clear(sbba, market)
    assert regret(sbba, market) <= 1e-9
    assert float(ir_violation(c, values, costs)) <= 1e-12
    assert float(budget_surplus(c)) == 0.0
    assert int(c.num_trades) == int(jnp.sum(c.seller_trades))


@given(markets())
def test_vcg_truthful_efficient_ir(market):
    values, costs, bm, sm = market
    c = clear(vcg_double_auction, market)
    assert regret(vcg_double_auction, market) <= 1e-9
    assert float(ir_violation(c, values, costs)) <= 1e-12
    _, gains = efficient_trades(values, costs, buyer_mask=bm, seller_mask=sm)
    assert float(efficiency(c, values, costs, gains)) == pytest.approx(1.0, abs=1e-12)


@given(markets())
def test_k_double_auction_ir_and_budget_balanced(market):
    values, costs, _, _ = market
    c = clear(k_half, market)
    assert float(ir_violation(c, values, costs)) <= 1e-12
    assert float(budget_surplus(c)) == pytest.approx(0.0, abs=1e-12)


SEARCH = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def test_search_finds_vcg_deficit():
    market = find(markets(), lambda m: float(budget_surplus(clear(vcg_double_auction, m))) < -1e-9, settings=SEARCH)
    assert float(budget_surplus(clear(vcg_double_auction, market))) < 0


def test_search_finds_profitable_misreport_in_k_double_auction():
    market = find(markets(), lambda m: regret(k_half, m) > 1e-6, settings=SEARCH)
    assert regret(k_half, market) > 1e-6


def test_search_finds_that_mcafee_is_not_budget_balanced():
    market = find(markets(), lambda m: float(budget_surplus(clear(mcafee_double_auction, m))) > 1e-9,
                  settings=SEARCH)
    assert float(budget_surplus(clear(mcafee_double_auction, market))) > 0


def test_chatterjee_samuelson_linear_equilibrium_reaches_27_32():
    """k = 1/2, one buyer and one seller, values and costs uniform on [0, 1]: the linear equilibrium
    (bid 2v/3 + 1/12, ask 2c/3 + 1/4) trades iff v >= c + 1/4 and gets 27/32 of the first-best gains."""
    n = 400_000
    rng = np.random.default_rng(0)
    v, c = rng.random((n, 1)), rng.random((n, 1))
    cl = k_double_auction(2 * v / 3 + 1 / 12, 2 * c / 3 + 1 / 4, k=0.5)
    gains = np.where(np.asarray(cl.buyer_trades[:, 0]), (v - c)[:, 0], 0.0)
    first_best = 1 / 6  # E[(v - c)^+]
    ratio = gains.mean() / first_best
    se = gains.std(ddof=1) / np.sqrt(n) / first_best
    assert abs(ratio - 27 / 32) <= 3 * se
    # Prices are the midpoint of bid and ask when they trade.
    trade = np.asarray(cl.buyer_trades[:, 0])
    np.testing.assert_allclose(np.asarray(cl.buyer_payments[trade, 0]),
                               ((2 * v / 3 + 1 / 12 + 2 * c / 3 + 1 / 4) / 2)[trade, 0], atol=1e-12)


def test_batched_markets_equal_loop():
    rng = np.random.default_rng(1)
    values, costs = rng.random((6, 4, 7)), rng.random((6, 4, 5))
    for rule in (mcafee_double_auction, vcg_double_auction, k_half, sbba):
        batched = rule(values, costs)
        for i in range(6):
            for j in range(4):
                single = rule(values[i, j], costs[i, j])
                np.testing.assert_array_equal(batched.buyer_trades[i, j], single.buyer_trades)
                np.testing.assert_allclose(batched.surplus[i, j], single.surplus)


def test_bad_input():
    with pytest.raises(ValueError, match="batch axes"):
        mcafee_double_auction(np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        mcafee_double_auction(np.array([np.nan, 1.0]), np.array([0.5]))
    with pytest.raises(ValueError, match="buyer_mask"):
        vcg_double_auction(np.zeros(3), np.zeros(2), buyer_mask=np.ones(2, bool))
    with pytest.raises(ValueError, match="k must lie"):
        k_double_auction(np.zeros(3), np.zeros(2), k=1.5)
    # Padding may hold anything, NaN included: it is masked out.
    c = mcafee_double_auction(np.array([1.0, np.nan]), np.array([0.2, 0.1]), buyer_mask=np.array([True, False]))
    assert not bool(c.buyer_trades[1])


def smooth_pay_your_bid(bids, asks, *, buyer_mask, seller_mask, posted=0.5, softness=0.05):
    """A smooth (learnable-style) rule: buyer i trades with probability sigmoid((b_i - posted) / softness) and pays
    its bid when it does; sellers are paid the posted price. Not truthful: buyers shade their bids."""
    from mechanisms import Clearing

    prob = jnp.where(buyer_mask, jax.nn.sigmoid((bids - posted) / softness), 0.0)
    sellers = jnp.maximum(jnp.sum(seller_mask).astype(bids.dtype), 1.0)
    sell_prob = jnp.where(seller_mask, jnp.minimum(1.0, jnp.sum(prob) / sellers), 0.0)
    payments = prob * bids
    receipts = sell_prob * posted
    return Clearing(prob, sell_prob, payments, receipts, jnp.sum(payments) - jnp.sum(receipts))


def test_gradient_refinement_finds_the_optimal_shading_that_a_grid_misses():
    """Closed-form check: buyer 0's utility (v - b) sigmoid((b - 1/2)/s) is maximized at the b solving
    (v - b) (1 - sigma) / s = 1; scipy finds it independently."""
    import scipy.optimize

    values, costs = np.array([0.9, 0.2]), np.array([0.1])
    sig = lambda x: 1 / (1 + np.exp(-x))
    u = lambda b: -(0.9 - b) * sig((b - 0.5) / 0.05)
    best = scipy.optimize.minimize_scalar(u, bounds=(0.0, 0.9), method="bounded", options=dict(xatol=1e-12))
    truthful = -u(0.9)
    exact_regret = -best.fun - truthful
    coarse, _ = ic_regret(smooth_pay_your_bid, values, costs, num_grid=5)
    refined, _ = ic_regret(smooth_pay_your_bid, values, costs, num_grid=5, gradient_steps=300, learning_rate=1e-3)
    assert float(coarse[0]) < exact_regret - 1e-4  # the grid alone underestimates
    assert float(refined[0]) == pytest.approx(exact_regret, abs=1e-7)


RULES = {
    "k_double_auction": functools.partial(k_double_auction, k=0.5),
    "mcafee_double_auction": mcafee_double_auction,
    "sbba_double_auction": functools.partial(sbba_double_auction, key=jax.random.key(3)),
    "vcg_double_auction": vcg_double_auction,
}


@pytest.mark.parametrize("name", list(RULES))
def test_one_sided_and_empty_markets_are_valid_markets_with_no_trade(name):
    """No sellers or no buyers (empty trader axes, batched or not), or every slot padding: nothing
    trades and no money moves; the same traders facing only padding get the same (empty) outcome."""
    rule = RULES[name]
    traders = np.array([0.9, 0.4, 0.7])
    for bids, asks in [(traders, np.zeros(0)), (np.zeros(0), traders), (np.ones((2, 3)), np.zeros((2, 0)))]:
        c = rule(bids, asks)
        assert c.buyer_trades.shape == bids.shape and c.seller_trades.shape == asks.shape
        assert c.surplus.shape == bids.shape[:-1]
        assert not np.asarray(c.buyer_trades).any() and not np.asarray(c.seller_trades).any()
        for money in (c.buyer_payments, c.seller_receipts, c.surplus):
            np.testing.assert_array_equal(money, 0.0)
    padded = rule(traders, np.array([0.1, 0.2]), seller_mask=np.zeros(2, bool))
    alone = rule(traders, np.zeros(0))
    np.testing.assert_array_equal(padded.buyer_trades, alone.buyer_trades)
    np.testing.assert_array_equal(padded.buyer_payments, alone.buyer_payments)
    q, gains = efficient_trades(traders, np.zeros(0))
    assert int(q) == 0 and float(gains) == 0.0
