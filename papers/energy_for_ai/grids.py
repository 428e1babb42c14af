"""Figure 3 of the energy-for-AI paper: locational marginal prices on IEEE 30 and a SimBench grid."""

from __future__ import annotations

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np

from games import grid_2d, ieee30, simbench_available, simbench_grid
from mechanisms import dc_opf_lmp

from .. import register
from ._style import PALETTE, save, styled

#: IEEE 30 (Alsac and Stott 1974, as in MATPOWER's case30): real-power load per bus in MW.
IEEE30_LOAD_MW = (0.0, 21.7, 2.4, 7.6, 94.2, 0.0, 22.8, 30.0, 0.0, 5.8, 0.0, 11.2, 0.0, 6.2, 8.2, 3.5, 9.0, 3.2, 9.5,
                  2.2, 17.5, 0.0, 3.2, 8.7, 0.0, 3.5, 0.0, 0.0, 2.4, 10.6)
#: Its generators: bus (1-based), capacity in MW, marginal cost (the linear term of case30's costs).
IEEE30_GENERATORS = ((1, 80.0, 2.0), (2, 80.0, 1.75), (22, 50.0, 1.0), (27, 55.0, 3.25), (23, 30.0, 3.0),
                     (13, 40.0, 3.0))
SIMBENCH_CODE = "1-LV-rural1--0-sw"


def ieee30_case():
    """IEEE 30 with its published loads (100 MVA base), generators and line ratings."""
    grid = ieee30()
    generators = np.array(IEEE30_GENERATORS)
    return dict(name="IEEE 30 (published loads and ratings)", grid=grid, demand=np.array(IEEE30_LOAD_MW) / 100.0,
                generator_bus=generators[:, 0].astype(int) - 1, generator_capacity=generators[:, 1] / 100.0,
                generator_cost=generators[:, 2], unit="p.u.")


def simbench_case():
    """SimBench ``1-LV-rural1--0-sw`` (Meinecke et al. 2020) at the evening peak: 15 kW per household bus,
    the MV grid behind the 160 kVA transformer at 30 (per MWh, say), each rooftop-PV prosumer's battery
    able to discharge 30 kW at 40: the transformer's rating binds and the village's price rises to the
    batteries' cost."""
    grid = simbench_grid(SIMBENCH_CODE)
    roles = np.array(grid.roles)
    prosumers = np.flatnonzero(roles == "prosumer")
    demand = np.where(roles == "producer", 0.0, 15.0)
    return dict(name=f"SimBench {SIMBENCH_CODE} (evening peak)", grid=grid, demand=demand,
                generator_bus=np.concatenate([[grid.slack], prosumers]),
                generator_capacity=np.concatenate([[1e4], np.full(prosumers.size, 30.0)]),
                generator_cost=np.concatenate([[30.0], np.full(prosumers.size, 40.0)]), unit="kW")


def lattice_case():
    """A 4 x 4 lattice (the built-in stand-in when ``simbench`` is not installed): a cheap plant at one
    corner (cost 1), a dear one at the opposite corner (cost 3), 0.5 of demand at every bus, lines
    rated 2.5: the lines out of the cheap corner bind."""
    grid = grid_2d(4, 4, reactance=0.1, capacity=2.5)
    demand = np.full(grid.num_buses, 0.5)
    return dict(name="4 x 4 lattice (SimBench not installed)", grid=grid, demand=demand,
                generator_bus=np.array([0, grid.num_buses - 1]), generator_capacity=np.array([20.0, 20.0]),
                generator_cost=np.array([1.0, 3.0]), unit="p.u.")


def _solve(case):
    grid = case["grid"]
    return dc_opf_lmp(case["demand"], generator_bus=case["generator_bus"], generator_cost=case["generator_cost"],
                      generator_capacity=case["generator_capacity"], ptdf=np.asarray(grid.ptdf),
                      line_capacity=np.asarray(grid.capacity))


def _draw(ax, case, result, norm):
    grid = case["grid"]
    graph = nx.Graph()
    graph.add_nodes_from(range(grid.num_buses))
    index = {bus: k for k, bus in enumerate(grid.buses)}
    edges = [(index[u], index[v]) for u, v in grid.lines]
    graph.add_edges_from(edges)
    if all(isinstance(b, tuple) and len(b) == 2 for b in grid.buses):  # a lattice: its own coordinates
        pos = {index[b]: (b[1], -b[0]) for b in grid.buses}
    else:
        pos = nx.kamada_kawai_layout(graph)
    loading = np.abs(result.flows) / np.asarray(grid.capacity)
    congested = np.asarray(result.congested, bool)
    nx.draw_networkx_edges(graph, pos, edgelist=[e for e, c in zip(edges, congested) if not c], ax=ax,
                           edge_color="0.6", width=[0.5 + 2.0 * min(x, 1.0) for x, c in zip(loading, congested)
                                                    if not c])
    nx.draw_networkx_edges(graph, pos, edgelist=[e for e, c in zip(edges, congested) if c], ax=ax,
                           edge_color=PALETTE[1], width=3.5)
    generators = set(int(b) for b in case["generator_bus"])
    nodes = nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=result.lmp, cmap="cividis", vmin=norm[0],
                                   vmax=norm[1], node_size=[110 if k in generators else 60
                                                            for k in range(grid.num_buses)],
                                   node_shape="o", edgecolors=["k" if k in generators else "none"
                                                               for k in range(grid.num_buses)])
    ax.set_axis_off()
    return nodes


@register("lmp_grids")
@styled
def lmp_grids(out_dir: str, *, quick: bool = False) -> list[str]:
    """Locational marginal prices on IEEE 30 and on a SimBench grid, congested lines highlighted.

    A DC optimal power flow (:func:`mechanisms.dc_opf_lmp`: least-cost dispatch under the PTDF line
    limits, prices from the duals; Schweppe et al. 1988) on (a) IEEE 30 with its published loads, the
    six generators' capacities and linear costs of MATPOWER's case30 and the published ratings (Alsac
    and Stott 1974), and (b) the SimBench rural low-voltage grid ``1-LV-rural1--0-sw`` (Meinecke et al.
    2020) at an evening peak whose transformer binds. When the optional ``simbench`` package is not
    installed, (b) is a 4 x 4 lattice with a cheap and a dear plant instead, and the JSON says so
    (``second_grid``). Nodes are coloured by LMP (cividis, colour-blind safe), generators ringed;
    congested lines are drawn thick in vermillion, other lines by their loading.

    Reproduces the standard result that binding line limits separate the nodal prices (Schweppe et al.
    1988; Hogan 1992), with IEEE 30's congested branch at its published ratings. ``quick`` changes
    nothing (the solves take milliseconds; SimBench's loading a few seconds). Writes PNG, PDF and JSON.
    """
    second, why = None, "simbench not installed"
    if simbench_available():
        try:
            second, why = simbench_case(), None
        except Exception as error:  # a broken optional install or missing data must not stop the paper
            why = f"simbench failed: {type(error).__name__}: {error}"
    if second is None:
        second = lattice_case()
        second["name"] = f"4 x 4 lattice ({why})"
    cases = (ieee30_case(), second)
    stats = dict(second_grid="simbench" if why is None else f"lattice ({why})")
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, case, tag in zip(axes, cases, ("ieee30", "second")):
        result = _solve(case)
        grid = case["grid"]
        congested = np.flatnonzero(result.congested)
        stats[tag] = dict(name=case["name"], buses=grid.num_buses, lines=grid.num_lines, lmp=result.lmp.tolist(),
                          lmp_spread=float(np.ptp(result.lmp)), cost=float(result.cost),
                          congested_lines=[[str(x) for x in grid.lines[k]] for k in congested],
                          generation=result.generation.tolist(), unit=case["unit"])
        nodes = _draw(ax, case, result, (float(result.lmp.min()), float(result.lmp.max())))
        fig.colorbar(nodes, ax=ax, shrink=0.7, label="locational marginal price")
        ax.set_title(f"({'ab'[tag == 'second']}) {case['name']}\n{congested.size} congested line(s), LMP "
                     f"{result.lmp.min():.2f} to {result.lmp.max():.2f}")
    fig.tight_layout()
    return save(fig, stats, out_dir, "lmp_grids")
