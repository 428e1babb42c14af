"""The day's invariants on random markets (hypothesis, one shape): energy balance, money balance, batteries
within their limits, nonnegative credits and stakes, lines within their ratings after congestion control;
and the same search finds the violations of pieces known to break them."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from analysis import simulate
from games.market import market_settlement, merit_order_dispatch

from ._tiny import SIM, invariant_violations, run_days, tiny_market

MARKETS = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31 - 1),
    "malicious_share": st.sampled_from([0.0, 0.3, 1.0]),
    "line_rating": st.sampled_from([0.05, 0.5, 1.5, float("inf")]),
    "enforcement": st.booleans(),
    "withhold": st.floats(0.0, 1.0),
    "over_report": st.floats(0.0, 2.0),
    "audit_probability": st.sampled_from([0.0, 0.5, 1.0]),
})


def market(draw: dict):
    params = dict(draw)
    seed = params.pop("seed")
    return tiny_market(seed % 7, **params), jax.random.key(seed)


@settings(max_examples=8, deadline=None)
@given(MARKETS)
def test_invariants_hold_every_day_on_random_markets(draw):
    scenario, key = market(draw)
    result = simulate(scenario, key=key, **SIM)  # the program of the simulation tests (one compilation)
    assert not invariant_violations(result.diagnostics), invariant_violations(result.diagnostics)
    assert np.isfinite(result.welfare).all() and (result.unserved_energy >= 0).all()


# ------------------------------------------------------------------------------------------------
# The checks can fail: pieces that break an invariant are found by the same search.


def serve_everyone(scenario, state, network, weather, schedule, access):
    """A dispatch that forgets load shedding: every import is served even when supply or lines fall short."""
    dispatch = merit_order_dispatch(scenario, state, network, weather, schedule, access)
    return dataclasses.replace(dispatch, imports=dispatch.import_need)


def forget_fines(scenario, state, weather, schedule, offers, clearing, dispatch, enforcement, credits, tier):
    """A settlement whose operator books the fines but whose agents never pay them."""
    settlement = market_settlement(scenario, state, weather, schedule, offers, clearing, dispatch, enforcement,
                                   credits, tier)
    return dataclasses.replace(settlement, penalties=enforcement.slashed)


def broken(draw, **pieces):
    scenario, key = market(draw)
    _, out = run_days(scenario.with_rules(**pieces), key)
    return invariant_violations(out)


SEARCH = settings(max_examples=60, phases=[Phase.generate], deadline=None, database=None)


@pytest.mark.slow
def test_the_search_finds_a_dispatch_that_serves_load_it_has_no_energy_for():
    draw = find(MARKETS, lambda d: "energy balance" in broken(d, dispatch=serve_everyone), settings=SEARCH)
    assert draw["line_rating"] < 1.5 or draw["withhold"] > 0  # shortage or congestion is what it needs


@pytest.mark.slow
def test_the_search_finds_a_settlement_that_loses_the_fines():
    draw = find(MARKETS, lambda d: "money balance" in broken(d, settle=forget_fines), settings=SEARCH)
    assert draw["enforcement"] and draw["malicious_share"] > 0  # a fine needs a detected, enforced misdeed
