"""The issue's targets, trained with train_auction's defaults (``steps=None``): slow, minutes each.

Run with ``NASHGRID_PROFILE=thorough``. The same runs fill ``benchmarks/results/auctions.md``.
References: Manelli and Vincent (2006), Pavlov (2011), Myerson (1981), Duetting et al. (2019).
"""

import pytest

from benchmarks.bench_auctions import (
    measure_double_auctions,
    regretnet_settings,
    rochetnet_settings,
    train_and_measure,
)

pytestmark = pytest.mark.slow

ROCHETNET = {setting.name: setting for setting in rochetnet_settings()}
REGRETNET = {setting.name: setting for setting in regretnet_settings()}


def test_rochetnet_two_additive_items_within_one_percent_of_manelli_vincent():
    r = train_and_measure(ROCHETNET["1 additive bidder, 2 items"])
    assert abs(r["revenue"] - 0.5491) <= 0.01 * 0.5491 and r["regret"] <= 1e-9


def test_rochetnet_two_unit_demand_items_within_one_percent_of_pavlov():
    r = train_and_measure(ROCHETNET["1 unit-demand bidder, 2 items"])
    assert abs(r["revenue"] - 0.3849) <= 0.01 * 0.3849 and r["regret"] <= 1e-9


def test_rochetnet_ten_items_beats_the_best_bundle_price():
    r = train_and_measure(ROCHETNET["1 additive bidder, 10 items"])
    assert r["paired_gap"] > 3 * r["paired_gap_se"]  # above 3.4483 on the same profiles, significantly


@pytest.mark.parametrize("name, optimum", [("2 bidders, 1 item", 5 / 12), ("3 bidders, 1 item", 0.53125)])
def test_regretnet_single_item_within_one_percent_of_myerson(name, optimum):
    r = train_and_measure(REGRETNET[name])
    assert abs(r["revenue"] - optimum) <= 0.01 * optimum
    assert r["regret"] <= 1e-3 and r["ir"] == 0.0


def test_regretnet_two_by_two_reaches_the_published_baselines():
    r = train_and_measure(REGRETNET["2 additive bidders, 2 items"])
    assert r["revenue"] >= 0.86 and r["regret"] <= 1e-3


@pytest.mark.parametrize("traders, correlated", [(5, False), (10, False), (5, True), (10, True)])
def test_learned_double_auction_beats_mcafee_and_sbba_without_deficit(traders, correlated):
    rows, _ = measure_double_auctions(traders, correlated)
    learned = rows["learned"]
    assert learned["regret"] <= 1e-3 and learned["surplus_min"] >= -1e-12 and learned["ir"] == 0.0  # rounding: -2e-16
    assert learned["vs_mcafee"] > 4 * learned["vs_mcafee_se"]  # paired, on the same markets
    assert rows["McAfee"]["welfare_share"] > rows["SBBA"]["welfare_share"]  # so it beats SBBA too
