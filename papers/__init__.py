"""Paper figures. Each figure is a function registered here; ``python -m papers`` regenerates them all.

A figure function takes the output folder and a ``quick`` flag, writes its
files there, and returns their paths. Figures use only the public API of
``games``, ``solvers``, ``analysis`` (and ``mechanisms``).
"""

from __future__ import annotations

from typing import Callable

FIGURES: dict[str, Callable] = {}


def register(name: str):
    """Decorator: register a figure function under ``name``."""

    def wrap(fn):
        if name in FIGURES:
            raise ValueError(f"figure {name!r} is registered twice")
        FIGURES[name] = fn
        return fn

    return wrap


def save_figure(fig, data: dict, out_dir: str, name: str) -> list[str]:
    """Write ``fig`` as ``name.png`` and ``data`` as ``name.json`` in ``out_dir``; close the figure."""
    import json
    import os

    import matplotlib.pyplot as plt

    png = os.path.join(out_dir, f"{name}.png")
    fig.savefig(png, dpi=130)
    plt.close(fig)
    path = os.path.join(out_dir, f"{name}.json")
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
    return [png, path]


def load_all() -> dict[str, Callable]:
    """Import every figure module (which registers its figures) and return the registry."""
    from . import demand_response, energy_for_ai, finite_games, mechanism_design, network_cournot  # noqa: F401

    return FIGURES
