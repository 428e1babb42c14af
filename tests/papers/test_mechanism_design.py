import json

import pytest

from papers import load_all


@pytest.mark.slow
def test_mechanism_design_figure(tmp_path):
    paths = load_all()["mechanism_design"](str(tmp_path), quick=True)
    stats = json.loads((tmp_path / "mechanism_design.json").read_text())
    study1 = stats["study1"]
    assert study1["learned"] <= min(study1["baselines"].values()) and abs(study1["relative_imbalance"]) <= 1e-6
    assert stats["study2"]["welfare_rated"] == pytest.approx(stats["study2"]["welfare_qp"], rel=1e-8)
    assert stats["study3"]["learned"] >= max(stats["study3"]["proportional"], stats["study3"]["shapley"])
    assert all(p.endswith((".png", ".json")) for p in paths)
