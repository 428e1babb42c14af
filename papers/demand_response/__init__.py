"""Figure: how daily proportional billing flattens a grid's load (Mohsenian-Rad et al. 2010).

Households with appliance windows and data centers with a deferrable LLM-training job and an
inflexible inference baseline schedule their energy; the figure compares the aggregate load when
everyone consumes evenly over their window (no response) with the Nash equilibrium under daily
proportional billing, which is the cost-minimizing schedule.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from games import datacenter_user, demand_response_game
from solvers import Status, solve_vi

from .. import register, save_figure

T = 24


def scenario(num_households: int = 200, num_datacenters: int = 3, seed: int = 0):
    """Households (evening-heavy windows) plus data centers (training job due by a deadline)."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    start = rng.integers(14, 20, num_households)
    length = rng.integers(4, 12, num_households)
    window = (t[None] >= start[:, None]) | (t[None] < (start + length - T)[:, None])
    window |= (t[None] >= start[:, None]) & (t[None] < (start + length)[:, None])
    upper = np.where(window, rng.uniform(0.5, 2.0, (num_households, T)), 0.0)
    energy = upper.sum(1) * rng.uniform(0.4, 0.8, num_households)
    lower = np.zeros_like(upper)
    rows = [(lower, upper, energy)]
    for d in range(num_datacenters):
        baseline = np.full(T, 20.0 + 5 * d)  # inference: inflexible
        lo, hi, e = datacenter_user(baseline, training_energy=200.0, start=8 + d, deadline=22, max_power=40.0)
        rows.append((lo[None], hi[None], np.array([e])))
    lower = np.vstack([r[0] for r in rows])
    upper = np.vstack([r[1] for r in rows])
    energy = np.concatenate([r[2] for r in rows])
    a = np.where((t >= 8) & (t < 22), 0.02, 0.012)  # day slots cost more
    return demand_response_game(lower, upper, energy, a=a, b=1.0, billing="daily")


def peak_to_average(load):
    return float(np.max(load) / np.mean(load))


@register("demand_response_load")
def figure(out_dir: str, *, quick: bool = False) -> list[str]:
    game = scenario(num_households=60 if quick else 200)
    eq = solve_vi(game, method="best_response", tol=1e-9, adjoint=None)
    if int(eq.status) != Status.CONVERGED:
        raise RuntimeError(f"the equilibrium did not converge (residual {float(eq.residual):.2e})")
    upper, energy = np.asarray(game.upper), np.asarray(game.energy)
    no_response = energy[:, None] * upper / upper.sum(1, keepdims=True)
    before = no_response.sum(0)
    after = np.asarray(game.total_load(eq.strategies))
    stats = dict(par_no_response=peak_to_average(before), par_equilibrium=peak_to_average(after),
                 cost_no_response=float(game.social_cost(no_response)),
                 cost_equilibrium=float(game.social_cost(eq.strategies)),
                 residual=float(eq.residual), users=game.num_users)
    fig, ax = plt.subplots(figsize=(7, 4))
    edges = np.arange(T + 1)
    ax.stairs(before, edges, label=f"no response (PAR {stats['par_no_response']:.2f})")
    ax.stairs(after, edges, label=f"daily billing equilibrium (PAR {stats['par_equilibrium']:.2f})")
    ax.set_xlabel("hour")
    ax.set_ylabel("aggregate load")
    ax.set_title(f"{game.num_users} users incl. 3 data centers: cost "
                 f"{stats['cost_no_response']:.0f} -> {stats['cost_equilibrium']:.0f}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, stats, out_dir, "demand_response_load")
