import json

import numpy as np

from papers import load_all


def test_congestion_figure_separates_prices_only_under_line_limits(tmp_path):
    paths = load_all()["congestion_prices"](str(tmp_path), quick=True)
    stats = json.loads((tmp_path / "congestion_prices.json").read_text())
    assert stats["residual_free"] <= 1e-10 and stats["residual_rated"] <= 1e-10
    assert stats["price_spread_free"] <= 1e-9  # one price without congestion
    assert stats["price_spread_rated"] > 1.0  # binding lines separate the prices
    assert stats["output_rated"] < stats["output_free"]
    worth = np.array(stats["output_per_unit_rating"])
    assert stats["binding_lines"]  # limits bind
    non_binding = np.setdiff1d(np.arange(worth.size), stats["binding_lines"])
    np.testing.assert_allclose(worth[non_binding], 0.0, atol=1e-8)  # only binding ratings are worth output
    assert all(p.endswith((".png", ".json")) for p in paths)
