"""Built-in grid topologies: lattices, random geometric graphs and the IEEE 14- and 30-bus systems.

References: IEEE 14-bus data from the University of Washington Power Systems Test Case Archive (1993,
IEEE Common Data Format, as distributed with MATPOWER's ``case14``); IEEE 30-bus data from O. Alsac and
B. Stott (1974), "Optimal load flow with steady state security", IEEE Transactions on PAS 93(3), as
distributed with MATPOWER's ``case30`` (R. D. Zimmerman, C. E. Murillo-Sanchez and R. J. Thomas (2011),
"MATPOWER", IEEE Transactions on Power Systems 26(1)); A. Hagberg, D. Schult and P. Swart (2008),
"Exploring network structure, dynamics, and function using NetworkX", SciPy 2008 (the graph generators).
"""

from __future__ import annotations

import math

import jax
import networkx as nx

from ._grid import Grid, grid_from_networkx

__all__ = ["grid_2d", "random_geometric", "ieee14", "ieee30"]


def grid_2d(rows: int, cols: int, *, reactance: float = 0.1, capacity: float = math.inf,
            role: str = "prosumer") -> Grid:
    """A ``rows x cols`` lattice of buses (networkx's ``grid_2d_graph``), all lines alike; slack at (0, 0)."""
    if rows < 1 or cols < 1 or rows * cols < 2:
        raise ValueError(f"a grid needs at least two buses; got {rows} x {cols}")
    G = nx.grid_2d_graph(rows, cols)
    nx.set_node_attributes(G, role, "role")
    nx.set_edge_attributes(G, reactance, "reactance")
    nx.set_edge_attributes(G, capacity, "capacity")
    return grid_from_networkx(G, slack=(0, 0))


def random_geometric(n: int, radius: float, key, *, reactance_per_distance: float = 1.0,
                     capacity: float = math.inf, role: str = "prosumer") -> Grid:
    """Buses uniform in the unit square, lines between buses closer than ``radius`` (networkx's
    ``random_geometric_graph``), reactance proportional to length. Raises if the draw is disconnected."""
    if n < 2:
        raise ValueError(f"a grid needs at least two buses; got n = {n}")
    seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    G = nx.random_geometric_graph(n, radius, seed=seed)
    if not nx.is_connected(G):
        raise ValueError(
            f"the random geometric graph with n = {n}, radius = {radius} is disconnected; use a larger radius "
            f"(connectivity needs about sqrt(log(n) / (pi n)) = {math.sqrt(math.log(n) / (math.pi * n)):.3f})"
        )
    position = nx.get_node_attributes(G, "pos")
    for u, v in G.edges:
        distance = math.dist(position[u], position[v])
        G.edges[u, v]["reactance"] = max(distance, 1e-6) * reactance_per_distance
        G.edges[u, v]["capacity"] = capacity
    nx.set_node_attributes(G, role, "role")
    return grid_from_networkx(G)


# (from bus, to bus, reactance p.u.[, tap ratio]) -- IEEE 14-bus, UW archive CDF (MATPOWER case14): three
# transformers with off-nominal taps (4-7, 4-9, 5-6). The CDF gives no MVA limits, so capacities are +inf.
_IEEE14_BRANCHES = (
    (1, 2, 0.05917), (1, 5, 0.22304), (2, 3, 0.19797), (2, 4, 0.17632), (2, 5, 0.17388),
    (3, 4, 0.17103), (4, 5, 0.04211), (4, 7, 0.20912, 0.978), (4, 9, 0.55618, 0.969), (5, 6, 0.25202, 0.932),
    (6, 11, 0.1989), (6, 12, 0.25581), (6, 13, 0.13027), (7, 8, 0.17615), (7, 9, 0.11001),
    (9, 10, 0.0845), (9, 14, 0.27038), (10, 11, 0.19207), (12, 13, 0.19988), (13, 14, 0.34802),
)
_IEEE14_GENERATORS = (1, 2, 3, 6, 8)

# (from bus, to bus, reactance p.u., rating MVA) -- IEEE 30-bus, Alsac and Stott (1974) (MATPOWER case30).
_IEEE30_BRANCHES = (
    (1, 2, 0.06, 130), (1, 3, 0.19, 130), (2, 4, 0.17, 65), (3, 4, 0.04, 130), (2, 5, 0.2, 130),
    (2, 6, 0.18, 65), (4, 6, 0.04, 90), (5, 7, 0.12, 70), (6, 7, 0.08, 130), (6, 8, 0.04, 32),
    (6, 9, 0.21, 65), (6, 10, 0.56, 32), (9, 11, 0.21, 65), (9, 10, 0.11, 65), (4, 12, 0.26, 65),
    (12, 13, 0.14, 65), (12, 14, 0.26, 32), (12, 15, 0.13, 32), (12, 16, 0.2, 32), (14, 15, 0.2, 16),
    (16, 17, 0.19, 16), (15, 18, 0.22, 16), (18, 19, 0.13, 16), (19, 20, 0.07, 32), (10, 20, 0.21, 32),
    (10, 17, 0.08, 32), (10, 21, 0.07, 32), (10, 22, 0.15, 32), (21, 22, 0.02, 32), (15, 23, 0.2, 16),
    (22, 24, 0.18, 16), (23, 24, 0.27, 16), (24, 25, 0.33, 16), (25, 26, 0.38, 16), (25, 27, 0.21, 16),
    (28, 27, 0.4, 65), (27, 29, 0.42, 16), (27, 30, 0.6, 16), (29, 30, 0.45, 16), (8, 28, 0.2, 32),
    (6, 28, 0.06, 32),
)
_IEEE30_GENERATORS = (1, 2, 13, 22, 23, 27)


def _ieee(branches, generators, num_buses, ratings: bool) -> Grid:
    G = nx.Graph()
    for bus in range(1, num_buses + 1):
        G.add_node(bus, role="producer" if bus in generators else "consumer")
    for number, row in enumerate(branches):
        u, v, x = row[:3]
        capacity = row[3] / 100.0 if ratings else math.inf  # MVA -> p.u. on a 100 MVA base
        tap = row[3] if (not ratings and len(row) > 3) else 1.0
        G.add_edge(u, v, reactance=x, capacity=capacity, tap=tap, index=number, **{"from": u})
    return grid_from_networkx(G, slack=1)


def ieee14() -> Grid:
    """The IEEE 14-bus system: 14 buses, 20 branches (three transformers with off-nominal taps),
    generators at buses 1, 2, 3, 6, 8 (role ``producer``), slack bus 1. No line ratings are published
    (capacity ``inf``). Lines are oriented and numbered as in MATPOWER's branch table, so the PTDF equals
    ``makePTDF(case14)``.

    Reference: UW Power Systems Test Case Archive (1993); MATPOWER ``case14``.
    """
    return _ieee(_IEEE14_BRANCHES, _IEEE14_GENERATORS, 14, ratings=False)


def ieee30() -> Grid:
    """The IEEE 30-bus system of Alsac and Stott (1974): 30 buses, 41 branches with ratings (in p.u.
    of 100 MVA), generators at buses 1, 2, 13, 22, 23, 27, slack bus 1. Lines are oriented and
    numbered as in MATPOWER's branch table (which gives no tap ratios for this case), so the PTDF
    equals ``makePTDF(case30)``.

    Reference: Alsac and Stott (1974); MATPOWER ``case30``.
    """
    return _ieee(_IEEE30_BRANCHES, _IEEE30_GENERATORS, 30, ratings=True)
