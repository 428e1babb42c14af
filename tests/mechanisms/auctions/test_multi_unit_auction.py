"""Huang, Scheller-Wolf and Sycara's (2002) multi-unit double auction.

Checked against an independent pure-Python implementation (a unit-by-unit walk down the order book with
bisection rationing), against McAfee's trade reduction on unit quantities, and for the properties the
paper proves (price truthfulness, individual rationality, weak budget balance) and the one it does not
(quantity truthfulness: the search finds a profitable under-report).
"""

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from analysis import budget_surplus, efficiency, ic_regret, ir_violation, trader_utilities
from mechanisms import efficient_multi_unit_trades, efficient_trades, huang_double_auction

SLOTS = 25


@st.composite
def markets(draw):
    """1 to 25 buyers and 1 to 25 sellers, padded to 25 + 25; prices continuous or small integers (ties);
    quantities continuous or small integers."""
    seed = draw(st.integers(0, 2**32 - 1))
    nb, ns = draw(st.integers(1, SLOTS)), draw(st.integers(1, SLOTS))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):
        values, costs = rng.random(SLOTS), rng.random(SLOTS)
    else:
        values, costs = rng.integers(0, 6, SLOTS).astype(float), rng.integers(0, 6, SLOTS).astype(float)
    if draw(st.booleans()):
        qb, qs = rng.uniform(0.1, 5.0, SLOTS), rng.uniform(0.1, 5.0, SLOTS)
    else:
        qb, qs = rng.integers(1, 4, SLOTS).astype(float), rng.integers(1, 4, SLOTS).astype(float)
    return values, costs, qb, qs, np.arange(SLOTS) < nb, np.arange(SLOTS) < ns


def clear(market):
    values, costs, qb, qs, bm, sm = market
    return huang_double_auction(values, costs, qb, qs, buyer_mask=bm, seller_mask=sm)


def reference(values, costs, qb, qs):
    """Huang et al. (2002) by walking the book unit block by unit block (plain Python, no JAX)."""
    buyers = sorted(range(len(values)), key=lambda i: (-values[i], i))
    sellers = sorted(range(len(costs)), key=lambda j: (costs[j], j))
    left_b, left_s = {i: qb[i] for i in buyers}, {j: qs[j] for j in sellers}
    i = j = 0
    last_b = last_s = None
    while i < len(buyers) and j < len(sellers) and values[buyers[i]] >= costs[sellers[j]]:
        amount = min(left_b[buyers[i]], left_s[sellers[j]])
        left_b[buyers[i]] -= amount
        left_s[sellers[j]] -= amount
        last_b, last_s = i, j
        if left_b[buyers[i]] == 0:
            i += 1
        if left_s[sellers[j]] == 0:
            j += 1
    bought, sold = np.zeros(len(values)), np.zeros(len(costs))
    if last_b is None:
        return bought, sold, 0.0, 0.0
    p_b, p_s = values[buyers[last_b]], costs[sellers[last_s]]
    eligible_b, eligible_s = buyers[:last_b], sellers[:last_s]
    volume = min(sum(qb[k] for k in eligible_b), sum(qs[k] for k in eligible_s))

    def ration(q):  # bisection for delta with sum max(q - delta, 0) = volume
        lo, hi = 0.0, max(q, default=0.0)
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if sum(max(x - mid, 0.0) for x in q) > volume else (lo, mid)
        return [max(x - hi, 0.0) for x in q]

    for side, eligible, q in ((bought, eligible_b, qb), (sold, eligible_s, qs)):
        if volume > 0:
            for k, amount in zip(eligible, ration([q[k] for k in eligible])):
                side[k] = amount
    return bought, sold, p_b, p_s


def test_worked_examples():
    c = huang_double_auction([10.0, 8.0, 6.0], [1.0, 2.0, 7.0], [3.0, 2.0, 4.0], [2.0, 3.0, 5.0])
    assert c.buyer_quantities.tolist() == [2.0, 0.0, 0.0] and c.seller_quantities.tolist() == [2.0, 0.0, 0.0]
    assert (float(c.buyer_price), float(c.seller_price), float(c.surplus)) == (8.0, 2.0, 12.0)
    # The example in pymarket's documentation of its `huang` mechanism (quantity, price pairs): buyers
    # (1, 3), (2, 1), (0.2, 3.3), sellers (2, 2), (0.3, 1): the small traders trade 0.2 at 3 and 2.
    c = huang_double_auction([3.0, 1.0, 3.3], [2.0, 1.0], [1.0, 2.0, 0.2], [2.0, 0.3])
    np.testing.assert_allclose(c.buyer_quantities, [0.0, 0.0, 0.2])
    np.testing.assert_allclose(c.seller_quantities, [0.0, 0.2])
    assert (float(c.buyer_price), float(c.seller_price)) == (3.0, 2.0)
    # No one trades when only the price setters could.
    c = huang_double_auction([3.0, 1.0], [2.0], [1.0, 2.0], [2.0])
    assert float(c.volume) == 0.0 and float(c.surplus) == 0.0


@given(markets())
def test_equals_independent_implementation(market):
    values, costs, qb, qs, bm, sm = market
    c = clear(market)
    bought, sold, p_b, p_s = reference(list(values[bm]), list(costs[sm]), list(qb[bm]), list(qs[sm]))
    np.testing.assert_allclose(np.asarray(c.buyer_quantities)[bm], bought, atol=1e-9)
    np.testing.assert_allclose(np.asarray(c.seller_quantities)[sm], sold, atol=1e-9)
    assert np.all(np.asarray(c.buyer_quantities)[~bm] == 0) and np.all(np.asarray(c.seller_quantities)[~sm] == 0)
    if bought.sum() > 0:
        assert (float(c.buyer_price), float(c.seller_price)) == (p_b, p_s)


@given(markets())
def test_unit_quantities_are_mcafees_trade_reduction(market):
    values, costs, _, _, bm, sm = market
    c = huang_double_auction(values, costs, 1.0, 1.0, buyer_mask=bm, seller_mask=sm)
    q, _ = efficient_trades(values, costs, buyer_mask=bm, seller_mask=sm)
    q = int(q)
    assert float(c.volume) == pytest.approx(max(q - 1, 0), abs=1e-12)
    if q > 0:
        b = np.sort(values[bm])[::-1]
        s = np.sort(costs[sm])
        assert (float(c.buyer_price), float(c.seller_price)) == (b[q - 1], s[q - 1])


@given(markets())
def test_price_truthful_individually_rational_weakly_budget_balanced(market):
    values, costs, qb, qs, bm, sm = market
    c = clear(market)
    b, s = ic_regret(huang_double_auction, values, costs, buyer_mask=bm, seller_mask=sm, quantities=(qb, qs))
    assert float(jnp.maximum(jnp.max(b), jnp.max(s))) <= 1e-9
    assert float(ir_violation(c, values, costs)) <= 1e-12
    volume = float(c.volume)
    assert float(jnp.sum(c.seller_quantities)) == pytest.approx(volume, abs=1e-9)  # conservation
    assert float(budget_surplus(c)) == pytest.approx(volume * float(c.buyer_price - c.seller_price), abs=1e-9)
    assert float(budget_surplus(c)) >= -1e-12
    assert np.all(np.asarray(c.buyer_quantities) <= qb + 1e-12) and np.all(np.asarray(c.seller_quantities) <= qs + 1e-12)
    Q, gains = efficient_multi_unit_trades(values, costs, qb, qs, buyer_mask=bm, seller_mask=sm)
    assert volume <= float(Q) + 1e-9
    assert 0.0 <= float(efficiency(c, values, costs, gains)) <= 1.0 + 1e-12


@given(markets())
def test_efficient_gains_equal_a_linear_program(market):
    """Independent oracle for the optimum: the transportation LP of the one-good market, by HiGHS."""
    import scipy.optimize

    values, costs, qb, qs, bm, sm = market
    v, c, qv, qc = values[bm], costs[sm], qb[bm], qs[sm]
    # x_ij >= 0 units from seller j to buyer i: maximize sum (v_i - c_j) x_ij, rows <= qv, columns <= qc.
    B, S = v.size, c.size
    A = np.vstack([np.kron(np.eye(B), np.ones(S)), np.kron(np.ones(B), np.eye(S))])
    res = scipy.optimize.linprog(-(v[:, None] - c[None, :]).ravel(), A_ub=A, b_ub=np.concatenate([qv, qc]),
                                 method="highs")
    _, gains = efficient_multi_unit_trades(values, costs, qb, qs, buyer_mask=bm, seller_mask=sm)
    assert float(gains) == pytest.approx(-res.fun, abs=1e-9)


def quantity_gain(market):
    """The largest gain any trader gets by under-reporting its quantity (true price reported), over a grid.

    A buyer values at most its true quantity; a seller cannot deliver more than it has, so only
    under-reports are checked."""
    values, costs, qb, qs, bm, sm = market
    truthful_b, truthful_s = trader_utilities(clear(market), values, costs)
    best = 0.0
    for fraction in (0.1, 0.25, 0.5, 0.75, 0.9):
        for i in np.flatnonzero(bm):
            c = huang_double_auction(values, costs, np.where(np.arange(SLOTS) == i, fraction * qb, qb), qs,
                                     buyer_mask=bm, seller_mask=sm)
            best = max(best, float(trader_utilities(c, values, costs)[0][i] - truthful_b[i]))
        for j in np.flatnonzero(sm):
            c = huang_double_auction(values, costs, qb, np.where(np.arange(SLOTS) == j, fraction * qs, qs),
                                     buyer_mask=bm, seller_mask=sm)
            best = max(best, float(trader_utilities(c, values, costs)[1][j] - truthful_s[j]))
    return best


def small_markets():
    return markets().filter(lambda m: m[4].sum() <= 4 and m[5].sum() <= 4)


def test_search_finds_a_profitable_quantity_underreport():
    """Huang et al. prove truthfulness in price only; a marginal trader can shrink its quantity to trade."""
    settings_ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    market = find(small_markets(), lambda m: quantity_gain(m) > 1e-6, settings=settings_)
    assert quantity_gain(market) > 1e-6


def test_batched_markets_equal_loop():
    rng = np.random.default_rng(3)
    values, costs = rng.random((5, 3, 7)), rng.random((5, 3, 6))
    qb, qs = rng.uniform(0.5, 3, (5, 3, 7)), rng.uniform(0.5, 3, (5, 3, 6))
    batched = huang_double_auction(values, costs, qb, qs)
    for i in range(5):
        for j in range(3):
            single = huang_double_auction(values[i, j], costs[i, j], qb[i, j], qs[i, j])
            np.testing.assert_allclose(batched.buyer_quantities[i, j], single.buyer_quantities, atol=1e-12)
            np.testing.assert_allclose(batched.surplus[i, j], single.surplus, atol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="nonnegative"):
        huang_double_auction([1.0], [0.5], [-1.0], [1.0])
    with pytest.raises(ValueError, match="sell_quantities must be finite"):
        huang_double_auction([1.0], [0.5], [1.0], [np.nan])
    with pytest.raises(ValueError, match="broadcast"):
        huang_double_auction([1.0, 2.0], [0.5], [1.0, 1.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="bids must be finite"):
        huang_double_auction([np.nan], [0.5], [1.0], [1.0])


def test_one_sided_and_empty_markets_are_valid_markets_with_no_trade():
    """No sellers, no buyers, neither, zero quantities or padding only: nothing trades, prices and money 0."""
    prices, units = np.array([10.0, 8.0, 6.0]), np.array([3.0, 2.0, 4.0])
    none = np.zeros(0)
    for args in [(prices, none, units, none), (none, prices, none, units), (none, none, none, none),
                 (prices, prices - 5, units, np.zeros(3)), (np.ones((2, 3)), np.ones((2, 0)), 1.0, 1.0)]:
        c = huang_double_auction(*args)
        assert c.buyer_quantities.shape == np.shape(args[0]) and c.seller_quantities.shape == np.shape(args[1])
        for x in (c.buyer_quantities, c.seller_quantities, c.buyer_price, c.seller_price, c.buyer_payments,
                  c.seller_receipts, c.surplus):
            np.testing.assert_array_equal(x, 0.0)
        volume, gains = efficient_multi_unit_trades(*args)
        np.testing.assert_array_equal(volume, 0.0)
        np.testing.assert_array_equal(gains, 0.0)
    padded = huang_double_auction(prices, [1.0], units, [5.0], seller_mask=[False])
    np.testing.assert_array_equal(padded.buyer_quantities, 0.0)
    assert float(padded.surplus) == 0.0


def test_sorted_clearing_equals_the_auction_and_refuses_an_unsorted_book():
    """huang_sorted_clearing is huang_double_auction after its sort; a book out of order is refused."""
    import numpy as np

    from mechanisms import huang_sorted_clearing

    b, s, qb, qs = [10.0, 8.0, 6.0], [1.0, 2.0, 7.0], [3.0, 2.0, 4.0], [2.0, 3.0, 5.0]
    full = huang_double_auction(b, s, qb, qs)
    bought, sold, buyer_price, seller_price = huang_sorted_clearing(*map(np.asarray, (b, s, qb, qs)))
    np.testing.assert_allclose(bought, full.buyer_quantities, atol=1e-12)
    np.testing.assert_allclose(sold, full.seller_quantities, atol=1e-12)
    assert float(buyer_price) == float(full.buyer_price) and float(seller_price) == float(full.seller_price)
    for bad, match in [((b[::-1], s, qb, qs), "sorted"), ((b, s[::-1], qb, qs), "sorted"),
                       ((b, s, [3.0, -2.0, 4.0], qs), "nonnegative"), ((b, s, qb[:2], qs), "equal length"),
                       ((b, [1.0, np.nan, 7.0], qb, qs), "NaN")]:
        with pytest.raises(ValueError, match=match):
            huang_sorted_clearing(*map(np.asarray, bad))
