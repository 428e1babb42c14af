"""Figure 8 of the energy-for-AI paper: reputations of honest and malicious agents, with and without penalties."""

from __future__ import annotations

import jax
import matplotlib.pyplot as plt
import numpy as np

from analysis import simulate
from games import default_market

from .. import register
from ._style import PALETTE, band, save, styled


@register("reputation_trajectories")
@styled
def reputation_trajectories(out_dir: str, *, quick: bool = False) -> list[str]:
    """Reputation and stake trajectories of honest and malicious agents, with and without penalties.

    The built-in synthetic market (:func:`games.default_market`, 10% malicious agents that withhold
    delivery, over-report supply and misreport bids) simulated for a year with :func:`analysis.simulate`
    twice on the same seeds: with enforcement (fines, slashing of stakes, access and price tiers) and
    without it. Reputations are beta reputations with forgetting 0.98 (Jøsang and Ismail 2002, "The beta
    reputation system"), multiplied by ``1 - 0.5`` on a day the agent is caught (:func:`mechanisms.penalize`).
    Left: the mean reputation of honest and of malicious agents; right: their mean stake (slashed by
    :func:`mechanisms.slash` when caught). Median over seeds and the 10-90% band.

    Reproduces no published number: it shows that the penalties separate malicious from honest agents
    (the beta system alone separates them slowly, as Jøsang and Ismail note for rare misbehaviour).
    ``quick``: 40 agents x 365 days x 4 seeds (the ``market_year`` figure's sizes: one compiled
    simulation serves both); otherwise 1,000 agents x 16 seeds. Writes PNG, PDF and JSON.
    """
    agents, seeds = (40, 4) if quick else (1000, 16)
    runs = {}
    for enforcement in (True, False):
        scenario = default_market(num_agents=agents, key=jax.random.key(2026), enforcement=enforcement)
        runs[enforcement] = simulate(scenario, days=365, seeds=seeds, key=jax.random.key(15), progress=True)
    malicious = np.asarray(scenario.malicious)
    if not malicious.any():
        raise RuntimeError("the scenario drew no malicious agent; use more agents")
    days = np.arange(runs[True].num_days)
    stats = dict(agents=agents, seeds=seeds, days=int(days.size), malicious_agents=int(malicious.sum()))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for enforcement, ls in ((True, "-"), (False, "--")):
        result = runs[enforcement]
        reputation, stakes = np.asarray(result.reputation), np.asarray(result.stakes)
        tag = "penalties" if enforcement else "no penalties"
        for group, colour, who in ((~malicious, PALETTE[0], "honest"), (malicious, PALETTE[1], "malicious")):
            band(left, days, reputation[:, :, group].mean(-1), colour, f"{who}, {tag}", ls=ls)
            band(right, days, stakes[:, :, group].mean(-1), colour, f"{who}, {tag}", ls=ls)
            stats[f"final_reputation_{who}_{tag.replace(' ', '_')}"] = float(reputation[:, -1][:, group].mean())
            stats[f"final_stake_{who}_{tag.replace(' ', '_')}"] = float(stakes[:, -1][:, group].mean())
            stats[f"reputation_{who}_{tag.replace(' ', '_')}"] = reputation[:, :, group].mean((0, 2)).tolist()
    left.set_ylim(0, 1)
    left.set_xlabel("day")
    left.set_ylabel("mean reputation")
    left.set_title("(a) beta reputation (penalized when caught)")
    left.legend(loc="lower left")
    right.set_xlabel("day")
    right.set_ylabel("mean stake")
    right.set_title("(b) stakes (slashed when caught)")
    right.legend(loc="lower left")
    fig.suptitle(f"Honest and malicious agents over a year: {agents} agents, {seeds} seeds (median, 10-90% band)")
    fig.tight_layout()
    return save(fig, stats, out_dir, "reputation_trajectories")
