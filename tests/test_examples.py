"""The example notebooks (jupytext percent scripts in examples/) run top to bottom, so they never rot.

Each runs in this process with runpy (compiled programs are shared with the other tests), under
the non-interactive Agg backend, in a temporary folder, with a time limit.
"""

import glob
import os
import runpy
import signal

import matplotlib
import matplotlib.pyplot as plt
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.py")))
LIMIT_S = 180  # each takes well under a minute on 2 quiet cores; the limit leaves room for a busy machine


@pytest.fixture
def agg_backend():
    previous = matplotlib.get_backend()
    plt.switch_backend("Agg")
    yield
    plt.close("all")
    if previous.lower() != "agg":
        try:
            plt.switch_backend(previous)
        except Exception:  # noqa: BLE001 - an interactive backend may be unavailable here
            pass


def _timeout(signum, frame):
    raise TimeoutError(f"the example ran past {LIMIT_S} s")


def test_there_are_examples():
    assert {os.path.basename(p) for p in EXAMPLES} >= {"solve_and_visualize_a_game.py", "demand_response_sweep.py"}


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example_is_a_jupytext_percent_notebook(path):
    with open(path) as f:
        text = f.read()
    assert "formats: py:percent" in text.split("# ---", 2)[1]
    assert text.count("\n# %% [markdown]") >= 2 and text.count("\n# %%\n") >= 2


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example_runs_top_to_bottom(path, tmp_path, monkeypatch, agg_backend):
    monkeypatch.chdir(tmp_path)
    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(LIMIT_S)
    try:
        runpy.run_path(path, run_name="__main__")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert list(tmp_path.glob("*.png")), "an example ends with its figure"
