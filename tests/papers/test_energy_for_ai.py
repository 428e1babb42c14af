"""The energy-for-AI paper's year of the simulated market (quick: 40 agents x 365 days x 4 seeds)."""

import json

import matplotlib.image
import pytest

from papers import load_all


@pytest.mark.slow  # about a minute on 2 cores (compilation and a year of 4 seeds with a ledger)
def test_market_year_figure_is_a_valid_image_and_the_year_keeps_its_invariants(tmp_path):
    paths = load_all()["market_year"](str(tmp_path), quick=True)
    assert sorted(p.rsplit(".", 1)[1] for p in paths) == ["json", "pdf", "png"]
    image = matplotlib.image.imread(tmp_path / "market_year.png")
    assert image.ndim == 3 and image.shape[0] > 500 and image.std() > 0.01  # drawn, not blank
    assert (tmp_path / "market_year.pdf").read_bytes().startswith(b"%PDF")
    stats = json.loads((tmp_path / "market_year.json").read_text())
    assert stats["days"] == 365 and stats["seeds"] == 4 and stats["ledger_ok"] and stats["ledger_height"] == 365
    assert stats["invariants"]["energy_residual"] <= 1e-9 and stats["invariants"]["money_residual"] <= 1e-9
    assert stats["invariants"]["min_credits"] >= 0 and stats["invariants"]["max_line_loading"] <= 1 + 1e-9
    assert 0 < stats["renewable_share"] < 1
    assert stats["final_reputation_malicious"] < stats["final_reputation_honest"]  # penalties and audits bite
