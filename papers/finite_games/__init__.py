"""Figures on finite games: how many equilibria random games have, by payoff correlation.

For bimatrix games with i.i.d. continuous payoffs the expected number of pure
Nash equilibria is exactly 1 (each of the ``m n`` profiles is an equilibrium
with probability ``1/(m n)``), and it grows with the correlation of the two
players' payoffs (Rinott and Scarsini 2000); the total number of equilibria
(mixed included) grows too (McLennan and Berg 2005, "Asymptotic expected
number of Nash equilibria of two-player normal form games", Games and
Economic Behavior 51). The figure measures both with ``support_enumeration``
on covariant random games (GAMUT, Nudelman et al. 2004).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from games import random_game
from solvers import Status, support_enumeration

from .. import register, save_figure

CORRELATIONS = (-0.9, -0.5, 0.0, 0.5, 0.9)


def equilibrium_counts(size: int, correlation: float, num_games: int, seed: int = 0):
    """Total and pure equilibrium counts of ``num_games`` covariant ``size x size`` games."""
    games = random_game(jax.random.key(seed), (size, size), family="covariant", correlation=correlation,
                        batch_shape=(num_games,))
    result = support_enumeration(games)
    if not bool(jnp.all(result.status == Status.CONVERGED)):
        raise RuntimeError("support enumeration flagged a degenerate game in a continuous random family")
    x, y = result.strategies
    pure = jnp.sum(result.mask & (jnp.max(x, -1) > 1 - 1e-12) & (jnp.max(y, -1) > 1 - 1e-12), -1)
    return np.asarray(result.count), np.asarray(pure)


@register("equilibrium_counts")
def figure(out_dir: str, *, quick: bool = False) -> list[str]:
    size, num_games = 6, (100 if quick else 1000)
    stats = {}
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for rho in CORRELATIONS:
        total, pure = equilibrium_counts(size, rho, num_games, seed=int(1000 * (rho + 1)))
        stats[rho] = dict(mean_total=float(total.mean()), mean_pure=float(pure.mean()),
                          se_total=float(total.std(ddof=1) / np.sqrt(num_games)),
                          se_pure=float(pure.std(ddof=1) / np.sqrt(num_games)))
        values, counts = np.unique(total, return_counts=True)
        left.plot(values, counts / num_games, marker="o", label=f"rho = {rho:+.1f}")
    rhos = np.array(CORRELATIONS)
    right.errorbar(rhos, [stats[r]["mean_total"] for r in rhos], yerr=[2 * stats[r]["se_total"] for r in rhos],
                   marker="o", capsize=3, label="all equilibria")
    right.errorbar(rhos, [stats[r]["mean_pure"] for r in rhos], yerr=[2 * stats[r]["se_pure"] for r in rhos],
                   marker="s", capsize=3, label="pure equilibria")
    right.axhline(1.0, color="grey", lw=0.8, ls="--")
    right.annotate("E[pure] = 1 at rho = 0 (closed form)", (0.0, 1.0), textcoords="offset points", xytext=(5, -14),
                   fontsize=8, color="grey")
    left.set_xlabel("number of Nash equilibria")
    left.set_ylabel("fraction of games")
    left.set_title(f"{num_games} covariant {size}x{size} games per correlation")
    left.legend(fontsize=8)
    right.set_xlabel("payoff correlation rho")
    right.set_ylabel("mean count (+- 2 s.e.)")
    right.set_title("Equilibria grow with common interest")
    right.legend(fontsize=8)
    fig.tight_layout()
    data = dict(size=size, num_games=num_games, seed_rule="int(1000 * (rho + 1))",
                stats={str(k): v for k, v in stats.items()})
    return save_figure(fig, data, out_dir, "equilibrium_counts")
