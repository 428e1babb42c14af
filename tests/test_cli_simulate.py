"""``nashgrid simulate CONFIG.toml``: a tiny market run from a file (the shapes of the simulation tests, so the
compiled program is shared), resumed from its checkpoint, and bad files refused with one line and status 2."""

import json

import numpy as np
import pytest

from nashgrid._cli import main

TINY = """
agents = 12
days = 4
seeds = 2
slots = 6
chunk_days = 2
scenario_seed = 2
seed = 9
out = "run"
ledger = "ledger.db"
progress = false
[parameters]
withhold = 0.6
"""


def test_simulate_writes_arrays_and_a_summary_then_resumes(tmp_path, capsys):
    config = tmp_path / "market.toml"
    config.write_text(TINY)
    assert main(["simulate", str(config)]) == 0
    out = capsys.readouterr().out
    assert "2 seed(s) x 4 days of 12 agents" in out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["ledger"] == {"ok": True, "height": 4, "reason": ""}
    assert summary["invariants"]["energy_residual"] <= 1e-9 and summary["invariants"]["money_residual"] <= 1e-9
    with np.load(tmp_path / "run" / "result.npz") as first:
        prices = first["prices"]
        assert prices.shape == (2, 4, 6) and first["reputation"].shape == (2, 4, 12)
    assert main(["simulate", str(config)]) == 0  # everything is checkpointed: resumes, recomputes nothing
    with np.load(tmp_path / "run" / "result.npz") as again:
        np.testing.assert_array_equal(again["prices"], prices)


@pytest.mark.parametrize("text, message", [
    ("agents = 12\n", "days is required"),
    ("agents = 12\ndays = 2\nout = 'x'\ncolour = 1\n", "unknown key(s) ['colour']"),
    ("agents = 12\ndays = 'two'\nout = 'x'\n", "days must be an integer"),
    ("agents = 12\ndays = 2\n", "out (the output folder) is required"),
    ("agents = 12\ndays = 2\nout = 'x'\nmechanism = 'barter'\n", "mechanism must be one of"),
    ("agents = 12\ndays = 2\nout = 'x'\n[parameters]\nwithold = 0.5\n", "unknown market parameters ['withold']"),
    ("agents = 12\ndays = [\n", "malformed TOML"),
])
def test_bad_files_end_with_one_line_and_status_2(tmp_path, capsys, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    assert main(["simulate", str(config)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("nashgrid simulate: error:")
