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


# -- the paper's other figures -------------------------------------------------------------------------

NEW_FIGURES = {  # name: keys its JSON must hold
    "demand_response_par": {"par_no_response", "par_equilibrium", "cost_no_response", "cost_equilibrium", "residual"},
    "datacenter_shifting": {"rules", "renewables", "design_status"},
    "lmp_grids": {"ieee30", "second", "second_grid"},
    "billing_price_of_anarchy": {"users", "renewable_shares", "rows"},
    "learned_price_rule": {"rules", "design_steps", "design_status"},
    "learned_auctions": {"rows", "quick"},
    "p2p_double_auction": {"markets", "quick"},
    "reputation_trajectories": {"final_reputation_malicious_penalties", "final_reputation_honest_penalties"},
    "mechanism_properties": {"rows", "quick"},
    "federated_rewards": {"rows", "efforts_at_budget_5"},
}


def check_figure_files(out_dir, name, paths):
    """PNG, PDF and JSON written, each a valid nonempty file; returns the JSON."""
    assert sorted(p.rsplit(".", 1)[1] for p in paths) == ["json", "pdf", "png"]
    png, pdf = (out_dir / f"{name}.png").read_bytes(), (out_dir / f"{name}.pdf").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert pdf.startswith(b"%PDF") and len(pdf) > 1_000
    image = matplotlib.image.imread(out_dir / f"{name}.png")
    assert image.ndim == 3 and image.std() > 0.01  # drawn, not blank
    stats = json.loads((out_dir / f"{name}.json").read_text())
    assert NEW_FIGURES[name] <= set(stats), NEW_FIGURES[name] - set(stats)
    return stats


def test_cheap_figures_are_valid_images_with_their_numbers(tmp_path, monkeypatch):
    """Figure 1 (equilibrium load, PAR) and figure 3 on its built-in fallback grid (SimBench hidden)."""
    from papers.energy_for_ai import grids

    figures = load_all()
    stats = check_figure_files(tmp_path, "demand_response_par",
                               figures["demand_response_par"](str(tmp_path), quick=True))
    assert stats["residual"] <= 1e-9 and stats["par_equilibrium"] < stats["par_no_response"]
    assert stats["cost_equilibrium"] < stats["cost_no_response"]  # daily billing reaches the optimum
    monkeypatch.setattr(grids, "simbench_available", lambda: False)
    stats = check_figure_files(tmp_path, "lmp_grids", figures["lmp_grids"](str(tmp_path), quick=True))
    assert stats["second_grid"].startswith("lattice") and "lattice" in stats["second"]["name"]
    for case in ("ieee30", "second"):  # a binding line separates the prices
        assert stats[case]["congested_lines"] and stats[case]["lmp_spread"] > 0.1


@pytest.mark.slow  # minutes: trains tiny learned rules and simulates a year
@pytest.mark.parametrize("name", sorted(NEW_FIGURES))
def test_every_quick_figure_is_a_valid_image(tmp_path, name):
    stats = check_figure_files(tmp_path, name, load_all()[name](str(tmp_path), quick=True))
    if name == "billing_price_of_anarchy":  # Mohsenian-Rad et al. (2010), Theorem 1: daily billing is optimal
        assert all(abs(r["price_of_anarchy_daily"] - 1) <= 1e-9 and r["price_of_anarchy_hourly"] >= 1 - 1e-9
                   for r in stats["rows"])
    if name == "mechanism_properties":  # the properties theory predicts, measured
        rows = {r["mechanism"]: r for r in stats["rows"] if r["surplus"] is not None}
        assert rows["VCG"]["surplus_min"] < 0 and rows["k-double (k = 1/2)"]["regret_max"] > 1e-3
        assert all(rows[m]["regret_max"] <= 1e-9 and rows[m]["surplus_min"] >= -1e-12
                   for m in ("McAfee", "SBBA", "learned (LearnedDoubleAuction)"))


def test_full_size_auction_trainings_checkpoint_each_run_to_its_own_file(tmp_path, monkeypatch):
    """Figures 6, 7 and 10 train for tens of minutes at full size: each training checkpoints into the
    output folder under a name of its own (two settings sharing one file would resume each other's
    run), and a quick run keeps no checkpoint."""
    from papers.energy_for_ai import auctions

    assert auctions._checkpoint_dir(str(tmp_path), quick=True) is None
    folder = auctions._checkpoint_dir(str(tmp_path), quick=False)
    names = [s.name for s in auctions.settings()] + [f"double auction {n} + {n}" for n in (5, 10)]
    files = {auctions._checkpoint(folder, name) for name in names}
    assert len(files) == len(names) and all(f.startswith(folder) and f.endswith(".ckpt") for f in files)

    seen = {}

    class Stop(Exception):
        pass

    def recording_train_auction(rule, sample_values, **kwargs):
        seen.update(kwargs)
        raise Stop  # before any training

    monkeypatch.setattr(auctions, "train_auction", recording_train_auction)
    setting = auctions.settings()[0]
    with pytest.raises(Stop):
        auctions._train(setting.full_rule, setting.sample_values, quick=False,
                        checkpoint=auctions._checkpoint(folder, setting.name))
    assert seen["checkpoint"] == auctions._checkpoint(folder, setting.name)
