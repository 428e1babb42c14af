"""The run that the SIGKILL test starts in a child process and kills mid-way (importable by both sides).

The parent draws the scenario and pickles it into the run's folder, so the child compiles only the
simulation (not :func:`games.default_market`'s draws) before it starts writing chunks.
"""

from __future__ import annotations

import os
import pickle
import sys

import jax

DAYS, SEEDS, CHUNK = 60, 2, 2


def write_scenario(folder: str, scenario) -> None:
    with open(os.path.join(folder, "scenario.pkl"), "wb") as f:
        pickle.dump(scenario, f)


def killed_run(folder: str, progress: bool = False):
    jax.config.update("jax_enable_x64", True)  # as tests/conftest.py does for the parent
    from analysis import simulate

    with open(os.path.join(folder, "scenario.pkl"), "rb") as f:
        scenario = pickle.load(f)
    return simulate(scenario, days=DAYS, seeds=SEEDS, key=jax.random.key(11), chunk_days=CHUNK,
                    checkpoint=f"{folder}/run.ckpt", ledger=f"{folder}/ledger.db", progress=progress)


if __name__ == "__main__":
    killed_run(sys.argv[1])
