"""The test-time regret attack: it finds the regret of manipulable rules and none in truthful ones.

Oracles: the first-price auction's regret in closed form (bid a hair above the other's value:
``max(0, v_i - v_j)``), zero for second price, Myerson and RochetNet (truthful by theory), and for
the k-double auction the exact critical-report search of ``analysis.ic_regret``, an independent
implementation.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from analysis import auction_ir_violation, auction_regret, auction_revenue, ic_regret, ir_violation
from mechanisms import (
    ClearingRule,
    RegretNet,
    RochetNet,
    k_double_auction,
    mcafee_double_auction,
    vcg_double_auction,
)

from .auction_rules import SingleItemAuction

UNIT = (0.0, 1.0)


def uniform(key, shape):
    return jax.random.uniform(jax.random.key(key), shape)


def test_first_price_regret_is_found_and_matches_the_closed_form():
    values = uniform(0, (64, 2, 1))
    regret = auction_regret(SingleItemAuction(2, "first_price"), {}, values, support=UNIT, restarts=2, steps=50)
    v = np.asarray(values[..., 0])
    exact = np.maximum(v - v[:, ::-1], 0.0)  # outbid the other by a hair, pay its value
    np.testing.assert_allclose(np.asarray(regret), exact, atol=1 / 256 + 1e-9)
    assert float(regret.mean()) > 0.1  # E[(v_1 - v_2)+] = 1/6


def test_a_weak_attack_underestimates_what_the_strong_one_finds():
    values = uniform(1, (64, 2, 1))
    rule = SingleItemAuction(2, "first_price")
    strong = auction_regret(rule, {}, values, support=UNIT, restarts=2, steps=50)
    weak = auction_regret(rule, {}, values, support=UNIT, grid=2, restarts=0, steps=0)  # only the two corners
    assert float(weak.mean()) < 0.5 * float(strong.mean())


@pytest.mark.parametrize("kind", ["second_price", "myerson"])
def test_truthful_single_item_auctions_have_no_regret(kind):
    values = uniform(2, (64, 3, 1))
    regret = auction_regret(SingleItemAuction(3, kind), {}, values, support=UNIT, restarts=2, steps=50)
    assert float(regret.max()) <= 1e-12


def test_myerson_revenue_is_the_closed_form():
    values = uniform(3, (200_000, 2, 1))
    revenue = auction_revenue(SingleItemAuction(2, "myerson"), {}, values)
    assert abs(float(revenue) - 5 / 12) < 4e-3  # 4 standard errors


def test_rochetnet_has_no_regret_at_any_parameters():
    rule = RochetNet(2, menu_size=16)
    params = rule.init(jax.random.key(4))
    values = uniform(5, (32, 1, 2))
    regret = auction_regret(rule, params, values, support=UNIT, grid=9, restarts=1, steps=10)
    assert float(regret.max()) <= 1e-12
    assert float(auction_ir_violation(rule, params, values).max()) == 0.0


def test_k_double_auction_regret_agrees_with_the_exact_critical_report_search():
    B = S = 3
    values = uniform(6, (16, B + S, 1))
    k_double = functools.partial(k_double_auction, k=0.5)  # one object: one compiled search
    ours = np.asarray(auction_regret(ClearingRule(k_double, B, S), {}, values, support=UNIT, restarts=1, steps=20))
    exact = np.stack([np.concatenate(ic_regret(k_double, v[:B, 0], v[B:, 0], num_grid=257))
                      for v in np.asarray(values)])
    assert exact.mean() > 1e-3  # the k-double auction is manipulable ...
    assert (ours <= exact + 1e-9).all()  # ... the attack finds no more than is there ...
    np.testing.assert_allclose(ours, exact, atol=1 / 128)  # ... and all of it, up to the grid's spacing


def test_mcafee_has_no_regret():
    values = uniform(7, (24, 6, 1))
    regret = auction_regret(ClearingRule(mcafee_double_auction, 3, 3), {}, values, support=UNIT, restarts=0, steps=0)
    assert float(regret.max()) <= 1e-12


def test_ir_violation_keeps_the_clearing_call_and_takes_learned_rules():
    values, costs = jnp.array([0.9, 0.8]), jnp.array([0.1, 0.2])
    clearing = vcg_double_auction(values, costs)
    assert float(ir_violation(clearing, values, costs)) == 0.0
    rule = RegretNet(2, 2, hidden=(8,))
    params = rule.init(jax.random.key(8))
    v = uniform(9, (16, 2, 2))
    np.testing.assert_array_equal(ir_violation(rule, params, v), auction_ir_violation(rule, params, v))
    assert float(ir_violation(rule, params, v).max()) == 0.0  # IR by construction

    overcharging = SingleItemAuction(2, "first_price")
    charged = ir_violation(_Overcharge(overcharging), {}, v[..., :1])
    assert float(charged.max()) > 0.0  # the check can fail


class _Overcharge:
    """A first-price auction that charges the winner twice its bid: not individually rational."""

    def __init__(self, rule):
        self.rule, self.num_bidders, self.num_items = rule, rule.num_bidders, rule.num_items

    def __call__(self, params, bids):
        allocation, payments = self.rule(params, bids)
        return allocation, 2 * payments


def test_bad_inputs_are_named():
    rule = RegretNet(2, 2, hidden=(4,))
    params = rule.init(jax.random.key(0))
    with pytest.raises(ValueError, match="values must have shape"):
        auction_regret(rule, params, jnp.zeros((3, 2, 3)))
    with pytest.raises(ValueError, match="values must be finite"):
        auction_revenue(rule, params, jnp.full((3, 2, 2), jnp.nan))
    with pytest.raises(ValueError, match="restarts"):
        auction_regret(rule, params, jnp.zeros((3, 2, 2)), restarts=-1)
    with pytest.raises(ValueError, match="support must be a pair"):
        auction_regret(rule, params, jnp.zeros((3, 2, 2)), support=1.0)
    with pytest.raises(ValueError, match="ir_violation"):
        ir_violation(rule, params)
