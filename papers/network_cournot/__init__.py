"""Figure: locational prices of a networked Cournot market on the IEEE 30-bus system.

Producers at the six generator buses of IEEE 30 compete in quantities (Cournot 1838) against one
linear inverse demand spread evenly over the buses. Without line limits every bus sees one price;
with the published line ratings the limits bind, the market becomes a generalized Nash game
(Rosen 1965), and the multipliers of the binding lines separate the locational prices (Hobbs 2001).
The figure shows the prices at every bus in both cases and, by implicit differentiation through the
equilibrium, how much total output each line's rating is worth.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from games import ieee30, network_cournot_game
from solvers import Status, solve_gne

from .. import register, save_figure


def scenario(rated: bool = True):
    """IEEE 30 with its published ratings (or none). Quantities are in per unit of the 100 MVA base of the
    ratings: inverse demand ``100 - 20 Q`` (so the unconstrained market clears about 3 p.u., near the
    system's 2.8 p.u. of load), marginal costs 10 to 30 plus ``2 q``."""
    grid = ieee30()
    if not rated:
        grid = dataclasses.replace(grid, capacity=jnp.full_like(grid.capacity, jnp.inf))
    producers = grid.buses_with_role("producer")
    costs = np.linspace(10.0, 30.0, producers.size)
    return network_cournot_game(grid, producers, cost_linear=costs, cost_quadratic=2.0, demand_intercept=100.0,
                                demand_slope=20.0)


def _solve(game):
    eq = solve_gne(game, method="semismooth_newton", tol=1e-10)
    if int(eq.status) != Status.CONVERGED:
        raise RuntimeError(f"the equilibrium did not converge (residual {float(eq.residual):.2e})")
    return eq


@register("congestion_prices")
def figure(out_dir: str, *, quick: bool = False) -> list[str]:
    free, rated = scenario(rated=False), scenario(rated=True)
    eq_free, eq_rated = _solve(free), _solve(rated)
    prices_free = np.asarray(free.locational_prices(eq_free.strategies, eq_free.multipliers))
    prices_rated = np.asarray(rated.locational_prices(eq_rated.strategies, eq_rated.multipliers))

    def total_output(capacity):
        game = dataclasses.replace(rated, grid=dataclasses.replace(rated.grid, capacity=capacity))
        return jnp.sum(solve_gne(game, method="semismooth_newton", tol=1e-10).strategies)

    worth = np.asarray(jax.grad(total_output)(rated.grid.capacity))
    lines = rated.grid.num_lines
    binding = np.flatnonzero((np.asarray(eq_rated.multipliers[:lines]) > 1e-8)
                             | (np.asarray(eq_rated.multipliers[lines:]) > 1e-8))
    stats = dict(residual_free=float(eq_free.residual), residual_rated=float(eq_rated.residual),
                 price_spread_free=float(np.ptp(prices_free)), price_spread_rated=float(np.ptp(prices_rated)),
                 output_free=float(np.sum(eq_free.strategies)), output_rated=float(np.sum(eq_rated.strategies)),
                 binding_lines=binding.tolist(), output_per_unit_rating=worth.tolist())
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    buses = np.arange(1, prices_free.size + 1)
    left.plot(buses, prices_free, "o-", label=f"no line limits (total output {stats['output_free']:.2f} p.u.)")
    left.plot(buses, prices_rated, "s-", label=f"published ratings (total output {stats['output_rated']:.2f} p.u.)")
    left.set_xlabel("bus")
    left.set_ylabel("locational price")
    left.set_title("IEEE 30 networked Cournot")
    left.legend(fontsize=8)
    right.bar(np.arange(1, lines + 1), worth)
    right.set_xlabel("line")
    right.set_ylabel("d(total output) / d(rating)")
    right.set_title(f"binding lines: {', '.join(str(k + 1) for k in binding)}")
    fig.tight_layout()
    return save_figure(fig, stats, out_dir, "congestion_prices")
