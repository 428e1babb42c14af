"""Learned rules: the properties that hold by construction, for every parameter value.

RochetNet (Duetting et al. 2019): the deployed argmax rule is truthful and IR (checked against a
brute-force menu choice), its softmax relaxation tends to it. RegretNet: feasible allocations, IR
payments. The learned double auction: IR, no deficit, goods balanced, no trade across the book,
anonymous. Each property check is shown to fail on a rule built to break it. Gradients are checked
against finite differences. Checks marked ``slow`` (several compiled programs each) run under
``NASHGRID_PROFILE=thorough``.
"""

import dataclasses
import os

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import auction_regret, ic_regret
from mechanisms import (
    Clearing,
    ClearingRule,
    DoubleAuctionNet,
    LearnedDoubleAuction,
    RegretNet,
    RochetNet,
    efficient_trades,
    mcafee_double_auction,
    vcg_double_auction,
)

seeds = st.integers(0, 2**31 - 1)
EXAMPLES = 3 if os.environ.get("NASHGRID_PROFILE", "ci") == "ci" else 100  # one compiled program each


def uniform(seed, shape, scale=1.0):
    return scale * jax.random.uniform(jax.random.key(seed), shape)


# --- RochetNet ---------------------------------------------------------------------------------


MENUS = {valuation: RochetNet(2, menu_size=12, valuation=valuation) for valuation in ("additive", "unit_demand")}
JITTED = {}


def jitted(rule, method="__call__"):
    """One compiled program per rule and method, reused by every hypothesis example."""
    if (rule, method) not in JITTED:
        JITTED[rule, method] = jax.jit(getattr(rule, method))
    return JITTED[rule, method]


@pytest.mark.parametrize("valuation", ["additive", "unit_demand"])
@given(seed=seeds)
@settings(max_examples=EXAMPLES)
def test_rochetnet_picks_the_best_option_on_its_menu(valuation, seed):
    rule = MENUS[valuation]
    params = jitted(rule, "init")(jax.random.key(seed))
    values = uniform(seed + 1, (64, 1, 2))
    allocation, payments = jitted(rule)(params, values)
    lotteries, prices = jitted(rule, "menu")(params)
    options = np.asarray(values[:, 0] @ lotteries.T - prices)  # every option's utility, null option included
    chosen = np.asarray(jnp.sum(allocation[:, 0] * values[:, 0], -1) - payments[:, 0])
    np.testing.assert_allclose(chosen, options.max(axis=1), atol=1e-12)  # truthful: the best option ...
    assert (chosen >= -1e-12).all()  # ... is at least the null option: IR
    if valuation == "unit_demand":
        assert float(lotteries.sum(axis=1).max()) <= 1 + 1e-12
    assert float(lotteries.min()) >= 0 and float(lotteries.max()) <= 1


@pytest.mark.slow  # seconds of compilation: the thorough profile runs it
def test_rochetnet_relaxation_tends_to_the_argmax_rule():
    rule = RochetNet(2, menu_size=8)
    params = rule.init(jax.random.key(0))
    values = uniform(1, (256, 1, 2))
    exact = rule(params, values)
    gaps = [float(jnp.abs(jax.jit(dataclasses.replace(rule, softmax_temperature=t).relaxed)(params, values)[1]
                          - exact[1]).mean())
            for t in (1e-1, 1e-2, 1e-4)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-3


def test_rochetnet_relaxed_revenue_gradient_matches_finite_differences():
    rule = RochetNet(2, menu_size=4, softmax_temperature=0.05)
    params = rule.init(jax.random.key(2))
    values = uniform(3, (128, 1, 2))

    @jax.jit
    def revenue(p):
        return jnp.mean(rule.objective(values, *rule.relaxed(p, values)))

    grad = jax.grad(revenue)(params)
    for name in ("prices", "lottery_logits"):
        direction = jax.random.normal(jax.random.key(4), params[name].shape)
        h = 1e-6
        plus = revenue({**params, name: params[name] + h * direction})
        minus = revenue({**params, name: params[name] - h * direction})
        np.testing.assert_allclose(float(jnp.sum(grad[name] * direction)), float((plus - minus) / (2 * h)),
                                   rtol=1e-5, atol=1e-9)


# --- RegretNet ---------------------------------------------------------------------------------


REGRETNET = RegretNet(3, 2, hidden=(16, 16))


@given(seed=seeds, scale=st.sampled_from([1.0, 10.0]))
@settings(max_examples=EXAMPLES)
def test_regretnet_is_feasible_and_individually_rational(seed, scale):
    rule = REGRETNET
    params = jitted(rule, "init")(jax.random.key(seed))
    values = uniform(seed + 1, (64, 3, 2), scale)
    allocation, payments = jitted(rule)(params, values)
    assert float(allocation.min()) >= 0 and float(allocation.sum(axis=1).max()) <= 1 + 1e-12  # each item at most once
    utility = jnp.sum(allocation * values, -1) - payments
    assert float(utility.min()) >= 0 and float(payments.min()) >= 0


@pytest.mark.slow  # seconds of compilation: the thorough profile runs it
def test_regretnet_vmap_and_batching_agree():
    rule = RegretNet(2, 2, hidden=(8,))
    params = rule.init(jax.random.key(0))
    values = uniform(1, (6, 2, 2))
    batched = jax.jit(rule)(params, values)
    looped = jax.jit(jax.vmap(lambda v: rule(params, v[None])))(values)
    np.testing.assert_allclose(batched[0], looped[0][:, 0], atol=1e-14)
    np.testing.assert_allclose(batched[1], looped[1][:, 0], atol=1e-14)
    assert jax.jit(rule)(params, values.reshape(2, 3, 2, 2))[1].shape == (2, 3, 2)  # any leading batch axes


def test_regretnet_gradient_matches_finite_differences():
    rule = RegretNet(2, 2, hidden=(6, 6))
    params = rule.init(jax.random.key(5))
    values = uniform(6, (32, 2, 2))

    @jax.jit
    def revenue(p):
        return jnp.mean(rule.objective(values, *rule(p, values)))

    flat, unravel = jax.flatten_util.ravel_pytree(params)
    grad = jax.flatten_util.ravel_pytree(jax.grad(revenue)(params))[0]
    direction = jax.random.normal(jax.random.key(7), flat.shape)
    h = 1e-6
    fd = (revenue(unravel(flat + h * direction)) - revenue(unravel(flat - h * direction))) / (2 * h)
    np.testing.assert_allclose(float(grad @ direction), float(fd), rtol=1e-6)


# --- Learned double auction --------------------------------------------------------------------


def double_auction_checks(rule, params, bids):
    """IR, budget surplus, goods balance and no trade across the book, for one batch of markets."""
    B = rule.num_buyers
    allocation, payments = jitted(rule)(params, bids)
    utility = np.asarray(allocation[..., 0] * bids[..., 0] - payments)
    surplus = np.asarray(payments.sum(-1))
    bought, sold = np.asarray(allocation[..., :B, 0].sum(-1)), np.asarray(-allocation[..., B:, 0].sum(-1))
    return utility.min(), surplus.min(), np.abs(bought - sold).max(), allocation


DOUBLE_AUCTION = DoubleAuctionNet(4, 3, hidden=(16,))


@given(seed=seeds, scale=st.sampled_from([1.0, 100.0]))
@settings(max_examples=EXAMPLES)
@pytest.mark.slow  # seconds of compilation: the thorough profile runs it
def test_double_auction_net_is_ir_budget_balanced_and_feasible(seed, scale):
    rule = DOUBLE_AUCTION
    params = jax.tree_util.tree_map(lambda x: 3 * x, jitted(rule, "init")(jax.random.key(seed)))  # wild prices too
    params["skip"] = jax.random.normal(jax.random.key(seed + 2), params["skip"].shape)
    bids = uniform(seed + 1, (64, 7, 1), scale)
    worst_utility, worst_surplus, imbalance, allocation = double_auction_checks(rule, params, bids)
    assert worst_utility >= -1e-12 * scale and worst_surplus >= -1e-12 * scale and imbalance <= 1e-12
    a = np.asarray(allocation[..., 0])
    assert (a[:, :4] >= 0).all() and (a[:, :4] <= 1).all() and (a[:, 4:] <= 0).all() and (a[:, 4:] >= -1).all()


@pytest.mark.slow  # seconds of compilation: the thorough profile runs it
def test_the_same_checks_find_the_deficit_of_vcg_and_the_ir_violation_of_unclipped_prices():
    bids = uniform(0, (64, 6, 1))
    _, vcg_surplus, _, _ = double_auction_checks(ClearingRule(vcg_double_auction, 3, 3), {}, bids)
    assert vcg_surplus < -1e-3  # VCG runs a deficit

    @dataclasses.dataclass(frozen=True)
    class Unclipped(DoubleAuctionNet):  # prices not clipped into [ask, bid]
        def pairs(self, params, bids):
            b, s, bo, so, trade, _, _ = super().pairs(params, bids)
            K = self.num_pairs
            out = params["skip"][0, K:]  # a constant price for everyone
            return b, s, bo, so, trade, jnp.broadcast_to(out[:K], trade.shape), jnp.broadcast_to(out[:K], trade.shape)

    rule = Unclipped(3, 3, hidden=(4,))
    params = rule.init(jax.random.key(1))
    params["skip"] = params["skip"].at[0, 3:6].set(0.9)
    worst_utility, _, _, _ = double_auction_checks(rule, params, bids)
    assert worst_utility < -1e-3


@pytest.mark.slow  # seconds of compilation: the thorough profile runs it
def test_no_trade_across_the_book_and_anonymity():
    rule = DoubleAuctionNet(3, 3, hidden=(8,))
    params = rule.init(jax.random.key(3))
    params["network"][-1]["bias"] = params["network"][-1]["bias"].at[:3].set(10.0)  # trade whenever allowed
    bids = jnp.array([[[0.9], [0.5], [0.2], [0.1], [0.6], [0.3]]])  # pairs: (0.9, 0.1) (0.5, 0.3) (0.2, 0.6)
    allocation, payments = rule(params, bids)
    a = np.asarray(allocation[0, :, 0])
    assert a[2] == 0 and a[4] == 0  # 0.2 < 0.6: the third pair never trades
    assert a[0] > 0.99 and a[1] > 0.99 and a[3] < -0.99 and a[5] < -0.99
    permutation = jnp.array([2, 0, 1, 5, 3, 4])  # relabel buyers among themselves, sellers among themselves
    allocation_p, payments_p = rule(params, bids[:, permutation])
    np.testing.assert_allclose(allocation_p, allocation[:, permutation], atol=1e-14)
    np.testing.assert_allclose(payments_p, payments[:, permutation], atol=1e-14)


def test_clearing_rule_reproduces_mcafee():
    bids = uniform(4, (32, 8, 1))
    allocation, payments = ClearingRule(mcafee_double_auction, 4, 4)({}, bids)
    clearing = mcafee_double_auction(bids[:, :4, 0], bids[:, 4:, 0])
    np.testing.assert_array_equal(allocation[:, :4, 0], clearing.buyer_trades)
    np.testing.assert_array_equal(-allocation[:, 4:, 0], clearing.seller_trades)
    np.testing.assert_allclose(payments.sum(-1), clearing.surplus, atol=1e-14)


@pytest.mark.slow  # seconds of compilation: the thorough profile runs it
def test_double_auction_net_gradient_matches_finite_differences():
    rule = DoubleAuctionNet(3, 3, hidden=(8,), gate_width=0.05)
    params = rule.init(jax.random.key(8))
    params["skip"] = 0.3 * jax.random.normal(jax.random.key(9), params["skip"].shape)
    values = uniform(10, (32, 6, 1))

    @jax.jit
    def welfare_and_surplus(p):
        allocation, payments = rule(p, values)
        return jnp.mean(rule.objective(values, allocation, payments)) + jnp.mean(payments.sum(-1))

    flat, unravel = jax.flatten_util.ravel_pytree(params)
    grad = jax.flatten_util.ravel_pytree(jax.grad(welfare_and_surplus)(params))[0]
    direction = jax.random.normal(jax.random.key(11), flat.shape)
    h = 1e-6
    fd = (welfare_and_surplus(unravel(flat + h * direction)) - welfare_and_surplus(unravel(flat - h * direction))) / (2 * h)
    np.testing.assert_allclose(float(grad @ direction), float(fd), rtol=1e-5)


# --- Learned double auction (trade reduction with a learned reference price) ---------------------


LEARNED_DOUBLE_AUCTION = LearnedDoubleAuction(3, 3, hidden=(8,))


def wild(rule, seed):
    """Random parameters with a reference price that moves a lot (not McAfee's midpoint)."""
    params = jitted(rule, "init")(jax.random.key(seed))
    last = params["price"][-1]
    params["price"][-1] = {"weight": jax.random.normal(jax.random.key(seed + 1), last["weight"].shape),
                           "bias": jax.random.normal(jax.random.key(seed + 2), last["bias"].shape)}
    return params


@given(seed=seeds)
@settings(max_examples=EXAMPLES)
def test_learned_double_auction_is_truthful_ir_and_never_in_deficit(seed):
    rule = LEARNED_DOUBLE_AUCTION
    params = wild(rule, seed)
    bids = uniform(seed + 3, (24, 6, 1))
    worst_utility, worst_surplus, imbalance, _ = double_auction_checks(rule, params, bids)
    assert worst_utility >= -1e-12 and worst_surplus >= -1e-12 and imbalance <= 1e-12
    regret = auction_regret(rule, params, bids, support=(0.0, 1.0), restarts=0, steps=0)  # 257-point grid
    assert float(regret.max()) <= 1e-12


def test_learned_double_auction_is_truthful_by_the_exact_critical_report_search():
    rule = LEARNED_DOUBLE_AUCTION
    params = wild(rule, 7)

    def mechanism(bids, asks, *, buyer_mask=None, seller_mask=None):
        allocation, payments = rule(params, jnp.concatenate([bids, asks], -1)[..., None])
        return Clearing(allocation[..., :3, 0], -allocation[..., 3:, 0], payments[..., :3], -payments[..., 3:],
                        payments.sum(-1))

    for v in np.asarray(uniform(8, (6, 6))):
        assert max(float(np.max(r)) for r in ic_regret(mechanism, v[:3], v[3:], num_grid=129)) <= 1e-12


def test_the_truthfulness_check_finds_regret_when_the_price_depends_on_the_marginal_pair():
    @dataclasses.dataclass(frozen=True)
    class OwnPrice(LearnedDoubleAuction):  # p0 from the q-th bid and ask: McAfee's argument breaks
        def book(self, params, bids):
            buyer_rank, seller_rank, q, b_q, s_q, _ = super().book(params, bids)
            return buyer_rank, seller_rank, q, b_q, s_q, (b_q + s_q) / 2

    rule = OwnPrice(3, 3, hidden=(8,))
    regret = auction_regret(rule, rule.init(jax.random.key(0)), uniform(9, (24, 6, 1)), support=(0.0, 1.0),
                            restarts=0, steps=0)
    assert float(regret.max()) > 1e-2


@pytest.mark.slow  # seconds of compilation: the thorough profile runs it
def test_learned_double_auction_starts_as_mcafee_and_its_relaxation_tends_to_it():
    rule = LearnedDoubleAuction(4, 4, hidden=(8,))
    params = rule.init(jax.random.key(0))
    bids = uniform(10, (512, 8, 1))
    q, _ = efficient_trades(bids[:, :4, 0], bids[:, 4:, 0])
    interior = np.asarray(q < 4)  # McAfee reduces trade when no (q+1)-th pair exists; the support stands in here
    allocation, payments = jitted(rule)(params, bids)
    clearing = mcafee_double_auction(bids[:, :4, 0], bids[:, 4:, 0])
    np.testing.assert_array_equal(np.asarray(allocation[:, :4, 0])[interior], np.asarray(clearing.buyer_trades)[interior])
    np.testing.assert_allclose(np.asarray(payments.sum(-1))[interior], np.asarray(clearing.surplus)[interior],
                               atol=1e-12)
    wild_params = wild(rule, 11)
    exact = jitted(rule)(wild_params, bids)[0]
    gaps = [float(jnp.abs(jitted(dataclasses.replace(rule, softness=t), "relaxed")(wild_params, bids)[0] - exact).mean())
            for t in (1e-1, 1e-2, 1e-4)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-2


def test_learned_double_auction_relaxed_welfare_gradient_matches_finite_differences():
    rule = LearnedDoubleAuction(3, 3, hidden=(6,), softness=0.05)
    params = wild(rule, 12)
    values = uniform(13, (64, 6, 1))

    @jax.jit
    def welfare(p):
        return jnp.mean(rule.objective(values, *rule.relaxed(p, values)))

    flat, unravel = jax.flatten_util.ravel_pytree(params)
    grad = jax.flatten_util.ravel_pytree(jax.grad(welfare)(params))[0]
    direction = jax.random.normal(jax.random.key(14), flat.shape)
    h = 1e-6
    fd = (welfare(unravel(flat + h * direction)) - welfare(unravel(flat - h * direction))) / (2 * h)
    np.testing.assert_allclose(float(grad @ direction), float(fd), rtol=1e-5, atol=1e-10)


# --- Validation --------------------------------------------------------------------------------


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="num_items"):
        RochetNet(0)
    with pytest.raises(ValueError, match="valuation"):
        RochetNet(2, valuation="submodular")
    with pytest.raises(ValueError, match="softmax_temperature"):
        RochetNet(2, softmax_temperature=0.0)
    with pytest.raises(ValueError, match="num_bidders"):
        RegretNet(0, 2)
    with pytest.raises(ValueError, match="hidden"):
        RegretNet(2, 2, hidden=(4, 0))
    with pytest.raises(ValueError, match="gate_width"):
        DoubleAuctionNet(2, 2, gate_width=-1.0)
    with pytest.raises(ValueError, match="support"):
        LearnedDoubleAuction(2, 2, support=(1.0, 0.0))
    with pytest.raises(ValueError, match="mechanism"):
        ClearingRule("mcafee", 2, 2)
    rule = RegretNet(2, 2, hidden=(4,))
    params = rule.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"bids must have shape \(batch, 2, 2\)"):
        rule(params, jnp.zeros((5, 3, 2)))
    with pytest.raises(ValueError, match="finite"):
        rule(params, jnp.full((5, 2, 2), jnp.inf))
