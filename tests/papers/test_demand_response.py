import json

from papers import load_all


def test_demand_response_figure_flattens_load_and_cuts_cost(tmp_path):
    paths = load_all()["demand_response_load"](str(tmp_path), quick=True)
    stats = json.loads((tmp_path / "demand_response_load.json").read_text())
    assert stats["residual"] <= 1e-9
    assert stats["cost_equilibrium"] < stats["cost_no_response"]
    assert stats["par_equilibrium"] <= stats["par_no_response"]
    assert all(p.endswith((".png", ".json")) for p in paths)
