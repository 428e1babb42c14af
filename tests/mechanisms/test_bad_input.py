"""Every validated rule of ``mechanisms`` refuses complex input with a ``ValueError`` naming the argument,
before any jit: a cast to real would drop the imaginary part, a silent wrong answer.

(The unvalidated, differentiable building blocks of games, ``*_user_bill``, ``marginal_cost_price``,
``quadratic_cost``, ``storage_arbitrage_payment``, ``proportional_user_reward``, ``beta_score`` and
``monotone_price``, take traced arrays from solvers and are documented as unvalidated.)
"""

import jax
import numpy as np
import pytest

import mechanisms as m

R = np.array([1.0, 2.0, 3.0])
C = R + 1j  # complex
LOADS = np.ones((2, 3))
KEY = jax.random.key(0)
PTDF = np.array([[0.0, 0.5]])
OPF = dict(generator_bus=np.array([0, 1]), generator_cost=np.array([1.0, 2.0]),
           generator_capacity=np.array([5.0, 5.0]), ptdf=PTDF, line_capacity=np.array([1.0]))


def opf(**changes):
    arguments = dict(OPF, **changes)
    demand = arguments.pop("demand", np.array([1.0, 1.0]))
    return m.dc_opf_lmp(demand, **arguments)


CASES = {
    # auctions
    "k_double_auction bids": (lambda: m.k_double_auction(C, R), "bids"),
    "k_double_auction asks": (lambda: m.k_double_auction(R, C), "asks"),
    "k_double_auction k": (lambda: m.k_double_auction(R, R, k=0.5 + 0.1j), "k"),
    "k_double_auction buyer_mask": (lambda: m.k_double_auction(R, R, buyer_mask=C), "buyer_mask"),
    "mcafee_double_auction bids": (lambda: m.mcafee_double_auction(C, R), "bids"),
    "sbba_double_auction asks": (lambda: m.sbba_double_auction(R, C, key=KEY), "asks"),
    "vcg_double_auction seller_mask": (lambda: m.vcg_double_auction(R, R, seller_mask=C), "seller_mask"),
    "efficient_trades values": (lambda: m.efficient_trades(C, R), "bids"),
    "huang_double_auction bids": (lambda: m.huang_double_auction(C, R, R, R), "bids"),
    "huang_double_auction buy_quantities": (lambda: m.huang_double_auction(R, R, C, R), "buy_quantities"),
    "huang_double_auction sell_quantities": (lambda: m.huang_double_auction(R, R, R, C), "sell_quantities"),
    "efficient_multi_unit_trades costs": (lambda: m.efficient_multi_unit_trades(R, C, R, R), "asks"),
    # pricing
    "flat_rate_bills loads": (lambda: m.flat_rate_bills(LOADS + 1j, 1.0), "loads"),
    "flat_rate_bills price": (lambda: m.flat_rate_bills(LOADS, 1.0 + 1j), "price"),
    "time_of_use_bills prices": (lambda: m.time_of_use_bills(LOADS, C), "prices"),
    "real_time_prices alpha": (lambda: m.real_time_prices(LOADS, alpha=C, beta=1.0), "alpha"),
    "real_time_bills beta": (lambda: m.real_time_bills(LOADS, alpha=1.0, beta=1j), "beta"),
    "daily_proportional_bills a": (lambda: m.daily_proportional_bills(LOADS, a=C, b=1.0), "a"),
    "hourly_proportional_bills b": (lambda: m.hourly_proportional_bills(LOADS, a=1.0, b=C), "b"),
    "daily_proportional_bills renewables": (
        lambda: m.daily_proportional_bills(LOADS, a=1.0, b=1.0, renewables=C), "renewables"),
    "dc_opf_lmp demand": (lambda: opf(demand=np.array([1.0, 1.0 + 1j])), "demand"),
    "dc_opf_lmp generator_cost": (lambda: opf(generator_cost=np.array([1.0, 2.0]) + 1j), "generator_cost"),
    "dc_opf_lmp generator_capacity": (lambda: opf(generator_capacity=np.array([5.0, 5.0 + 1j])), "generator_capacity"),
    "dc_opf_lmp ptdf": (lambda: opf(ptdf=PTDF + 1j), "ptdf"),
    "dc_opf_lmp line_capacity": (lambda: opf(line_capacity=np.array([1.0 + 1j])), "line_capacity"),
    # sharing
    "proportional_rewards contributions": (lambda: m.proportional_rewards(C, 1.0), "contributions"),
    "proportional_rewards pool": (lambda: m.proportional_rewards(R, 1.0 + 1j), "pool"),
    # reputation
    "beta_update positive": (lambda: m.beta_update(m.BetaEvidence.fresh(3), C, R), "positive"),
    "beta_update negative": (lambda: m.beta_update(m.BetaEvidence.fresh(3), R, C), "negative"),
    "beta_update forgetting": (lambda: m.beta_update(m.BetaEvidence.fresh(3), R, R, forgetting=1j), "forgetting"),
    "beta_update evidence": (lambda: m.beta_update(m.BetaEvidence(C, C), R, R), "evidence"),
    "ewma_reliability outcomes": (lambda: m.ewma_reliability(C / 10), "outcomes"),
    "ewma_reliability alpha": (lambda: m.ewma_reliability(R / 10, alpha=0.1j), "alpha"),
    "ewma_reliability initial": (lambda: m.ewma_reliability(R / 10, initial=0.5j), "initial"),
    "eigentrust local_trust": (lambda: m.eigentrust(np.ones((2, 2)) + 1j), "local_trust"),
    "eigentrust pretrusted": (lambda: m.eigentrust(np.ones((2, 2)), np.array([0.5, 0.5 + 0j])), "pretrusted"),
    "eigentrust damping": (lambda: m.eigentrust(np.ones((2, 2)), damping=0.1j), "damping"),
    "eigentrust tol": (lambda: m.eigentrust(np.ones((2, 2)), tol=1e-9j), "tol"),
    "penalize reputation": (lambda: m.penalize(C, [True, False, True]), "reputation"),
    "penalize detected": (lambda: m.penalize(R, C), "detected"),
    "penalize penalty": (lambda: m.penalize(R, [True, False, True], penalty=0.5j), "penalty"),
    "price_tier reputation": (lambda: m.price_tier(C, np.array([0.5]), np.array([1.0, 2.0])), "reputation"),
    "price_tier thresholds": (lambda: m.price_tier(R, np.array([0.5 + 1j]), np.array([1.0, 2.0])), "thresholds"),
    "price_tier multipliers": (lambda: m.price_tier(R, np.array([0.5]), np.array([1.0, 2.0j])), "multipliers"),
    # settlement
    "staking_rewards stakes": (lambda: m.staking_rewards(C, 1.0), "stakes"),
    "staking_rewards reward": (lambda: m.staking_rewards(R, 1j), "reward"),
    "slash stakes": (lambda: m.slash(C, [True, False, False], fraction=0.5), "stakes"),
    "slash misbehaved": (lambda: m.slash(R, C, fraction=0.5), "misbehaved"),
    "slash fraction": (lambda: m.slash(R, [True, False, False], fraction=0.5j), "fraction"),
    "honesty_margin gain": (lambda: m.honesty_margin(R, 1.0, gain=1j, detection_probability=0.5,
                                                     slash_fraction=0.5), "gain"),
    "honesty_margin detection_probability": (lambda: m.honesty_margin(R, 1.0, gain=1.0, detection_probability=0.5j,
                                                                      slash_fraction=0.5), "detection_probability"),
    "honest_validation_is_best_response slash_fraction": (
        lambda: m.honest_validation_is_best_response(R, 1.0, gain=1.0, detection_probability=0.5,
                                                     slash_fraction=0.5j), "slash_fraction"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_complex_input_is_refused_naming_the_argument(case):
    """The message must name the argument and say it is complex (not real): a failure for another reason
    (a shape, a range) does not pass."""
    call, argument = CASES[case]
    with pytest.raises(ValueError, match=rf"{argument}.*(real|complex)"):
        call()


@pytest.mark.parametrize("value", ["abc", None, [[1.0], [1.0, 2.0]], {"a": 1.0}])
def test_non_numeric_input_is_refused_naming_the_argument(value):
    with pytest.raises(ValueError, match="bids"):
        m.mcafee_double_auction(value, R)
    with pytest.raises(ValueError, match="stakes"):
        m.staking_rewards(value, 1.0)
