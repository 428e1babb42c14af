"""Figures of the energy-for-AI paper (issue 15); ``README.md`` here lists them all with their commands.

This module holds figure 9, ``market_year``; the others live in :mod:`.demand` (figures 1, 2, 4, 5),
:mod:`.grids` (3), :mod:`.auctions` (6, 7, 10), :mod:`.trust` (8) and :mod:`.federated` (11), all drawn
in the style of :mod:`._style` (Okabe-Ito colours, PDF + PNG + JSON).

``market_year``: the built-in synthetic market (:func:`games.default_market`: renewable farms with
forecast errors, dispatchable plants, prosumers with batteries, data centers with LLM training jobs and
inference, 10% malicious agents) simulated for 365 days over Monte Carlo seeds with
:func:`analysis.simulate` (daily Huang double auction, merit-order dispatch under the PTDF line limits,
penalties, slashing and beta reputation, energy credits for compute offered; in the quick version every
settlement on the ledger). Panels: the daily mean price, the renewable share of served load, the unserved energy, and the
data centers' energy credits (median and 10-90% band over seeds), plus the reputations of honest and
malicious agents. It reproduces no published number: it shows what the simulation produces, and checks
its invariants (energy and money balance) over the whole year.
"""

from __future__ import annotations

import os

import jax
import matplotlib.pyplot as plt
import numpy as np

from analysis import simulate
from games import default_market

from .. import register, save_figure
from ._style import COLOURS, band, styled  # Okabe and Ito (2008): blue, vermillion, bluish green, orange


@register("market_year")
@styled
def market_year(out_dir: str, *, quick: bool = False) -> list[str]:
    """A year of the simulated market: prices, renewable share, unserved energy, credits and reputations.

    ``quick``: 40 agents x 365 days x 4 seeds, every day's settlements on a ledger that is verified at the
    end (about a minute on 2 cores, most of it the ledger's 365 transactions); otherwise 1,000 agents x
    365 days x 16 seeds without a ledger. Writes PNG, PDF and the summary as JSON.
    """
    agents, seeds = (40, 4) if quick else (1000, 16)
    scenario = default_market(num_agents=agents, key=jax.random.key(2026))
    ledger = None
    if quick:  # the full run's ledger would hold 16,000 agent-seeds' money a day (about 0.4 GB)
        ledger = os.path.join(out_dir, "market_year_ledger.db")
        for suffix in ("", ".head", ".lock"):
            if os.path.exists(ledger + suffix):
                os.remove(ledger + suffix)  # a fresh chain for a fresh run
    result = simulate(scenario, days=365, seeds=seeds, key=jax.random.key(15), ledger=ledger, progress=True)
    days = np.arange(result.num_days)
    malicious = np.asarray(scenario.malicious)
    invariants = result.invariants()
    stats = {"agents": agents, "seeds": seeds, "days": result.num_days, "malicious_agents": int(malicious.sum()),
             "mean_price": float(result.prices.mean()), "renewable_share": float(result.renewable_share.mean()),
             "unserved_energy_per_day": float(result.unserved_energy.mean()),
             "emissions_per_day": float(result.emissions.mean()),
             "final_credits_mean": float(result.credits[:, -1].mean()),
             "final_reputation_honest": float(result.reputation[:, -1][:, ~malicious].mean()),
             "final_reputation_malicious": float(result.reputation[:, -1][:, malicious].mean())
             if malicious.any() else None,
             "invariants": invariants, "ledger_ok": None if ledger is None else bool(result.ledger.ok),
             "ledger_height": None if ledger is None else result.ledger.height,
             "simulation_seconds": result.seconds}

    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    ax = axes[0, 0]
    band(ax, days, result.prices.mean(-1), COLOURS[0], "daily mean price", alpha=0.25)
    ax.set_ylabel("price per unit of energy")
    ax.set_title("(a) price")
    ax = axes[0, 1]
    band(ax, days, result.renewable_share, COLOURS[2], "renewable share", alpha=0.25)
    ax.set_ylabel("share of served load")
    ax.set_title("(b) renewable share")
    ax = axes[1, 0]
    band(ax, days, result.unserved_energy, COLOURS[1], "unserved energy", alpha=0.25)
    ax.set_ylabel("energy per day")
    ax.set_title("(c) unserved energy (scarcity and congestion)")
    ax.set_xlabel("day")
    ax = axes[1, 1]
    band(ax, days, result.credits.mean(-1), COLOURS[3], "data centers' credits (mean)", alpha=0.25)
    ax.set_ylabel("energy credits")
    twin = ax.twinx()
    band(twin, days, result.reputation[:, :, ~malicious].mean(-1), COLOURS[0], "reputation, honest", alpha=0.25)
    if malicious.any():
        band(twin, days, result.reputation[:, :, malicious].mean(-1), COLOURS[1], "reputation, malicious", alpha=0.25)
    twin.spines["right"].set_visible(True)  # the paper's style hides right spines; a twin axis needs it
    twin.set_ylim(0, 1)
    twin.set_ylabel("mean reputation")
    lines = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + twin.get_legend_handles_labels()[1]
    ax.legend(lines, labels, fontsize=7, loc="center right")
    ax.set_title("(d) credits and reputations")
    ax.set_xlabel("day")
    fig.suptitle(f"A year of the simulated market: {agents} agents, {seeds} seeds (median, 10-90% band)")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "market_year.pdf"))
    return [os.path.join(out_dir, "market_year.pdf"), *save_figure(fig, stats, out_dir, "market_year")]


from . import auctions, demand, federated, grids, trust  # noqa: E402,F401  (register figures 1 to 8, 10, 11)
