"""The run that the SIGKILL test starts in a child process and kills mid-way (importable by both sides)."""

from __future__ import annotations

import sys

import jax

DAYS, SEEDS, CHUNK = 60, 2, 2


def killed_run(folder: str, progress: bool = False):
    jax.config.update("jax_enable_x64", True)  # as tests/conftest.py does for the parent
    from analysis import simulate
    from tests.games.market._tiny import tiny_market

    return simulate(tiny_market(5), days=DAYS, seeds=SEEDS, key=jax.random.key(11), chunk_days=CHUNK,
                    checkpoint=f"{folder}/run.ckpt", ledger=f"{folder}/ledger.db", progress=progress)


if __name__ == "__main__":
    killed_run(sys.argv[1])
