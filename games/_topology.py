"""Grid topologies: networkx graphs in, DC power-flow arrays out.

A bus (node) has a ``role``: one of :data:`ROLES`. A line (edge) has a
``reactance`` (per unit, > 0) and a ``capacity`` (>= 0, ``inf`` for none).
Line ``l`` runs from ``u`` to ``v`` in the order networkx lists the edge, and
a positive flow goes from ``u`` to ``v``.

DC power flow (the linearized AC model: flat voltages, small angles, no
losses): with incidence ``K`` (``K[u, l] = 1``, ``K[v, l] = -1``) and
susceptances ``b = 1 / x``, flows are ``f = PTDF p`` for nodal injections
``p`` that sum to zero, where

    PTDF = diag(b) K^T (K diag(b) K^T)^{-1}   (slack row and column removed; slack column zero).

The flows conserve power at every bus: ``K f = p``.

References: F. C. Schweppe, M. C. Caramanis, R. D. Tabors and R. E. Bohn (1988),
*Spot Pricing of Electricity*, app. D; B. Stott, J. Jardim and O. Alsac (2009),
"DC power flow revisited", IEEE Transactions on Power Systems 24(3); IEEE 14-bus
data from the University of Washington Power Systems Test Case Archive
(1993, IEEE Common Data Format, as distributed with MATPOWER's ``case14``);
IEEE 30-bus data from O. Alsac and B. Stott (1974), "Optimal load flow with
steady state security", IEEE Transactions on PAS 93(3), as distributed with
MATPOWER's ``case30`` (R. D. Zimmerman, C. E. Murillo-Sanchez and R. J.
Thomas (2011), "MATPOWER", IEEE Transactions on Power Systems 26(1)).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

__all__ = ["ROLES", "Grid", "grid_from_networkx", "grid_2d", "random_geometric", "ieee14", "ieee30"]

ROLES = ("producer", "consumer", "prosumer", "datacenter", "storage")


@dataclasses.dataclass(frozen=True)
class Grid:
    """A transmission grid in DC power-flow form (an immutable pytree).

    Attributes:
      incidence: ``(buses, lines)``, ``+1`` at a line's from-bus and ``-1`` at its to-bus.
      susceptance: ``(lines,)``, ``1 / reactance``.
      capacity: ``(lines,)``, thermal limits (``inf`` where none).
      ptdf: ``(lines, buses)`` power transfer distribution factors; the slack column is zero.
      buses: bus labels from the networkx graph (static).
      lines: ``(u, v)`` label pairs (static).
      roles: each bus's role (static).
      slack: index of the slack bus (static).

    Example:
      >>> import networkx as nx
      >>> G = nx.cycle_graph(3)
      >>> nx.set_node_attributes(G, "prosumer", "role")
      >>> nx.set_edge_attributes(G, 1.0, "reactance"); nx.set_edge_attributes(G, 10.0, "capacity")
      >>> grid = grid_from_networkx(G, slack=2)
      >>> grid.num_buses, grid.num_lines
      (3, 3)
    """

    incidence: jax.Array
    susceptance: jax.Array
    capacity: jax.Array
    ptdf: jax.Array
    buses: tuple = dataclasses.field(metadata=dict(static=True), default=())
    lines: tuple = dataclasses.field(metadata=dict(static=True), default=())
    roles: tuple = dataclasses.field(metadata=dict(static=True), default=())
    slack: int = dataclasses.field(metadata=dict(static=True), default=0)

    @property
    def num_buses(self) -> int:
        return int(self.incidence.shape[-2])

    @property
    def num_lines(self) -> int:
        return int(self.incidence.shape[-1])

    def buses_with_role(self, role: str) -> np.ndarray:
        """Indices of the buses with ``role``."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}; got {role!r}")
        return np.array([k for k, r in enumerate(self.roles) if r == role], dtype=int)

    def flows(self, injections) -> jax.Array:
        """Line flows ``PTDF @ injections`` (injections sum to zero; any imbalance lands on the slack)."""
        return jnp.asarray(injections) @ self.ptdf.T


jax.tree_util.register_dataclass(
    Grid,
    data_fields=["incidence", "susceptance", "capacity", "ptdf"],
    meta_fields=["buses", "lines", "roles", "slack"],
)


def _number(value, what):
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number; got {value!r}") from None
    return x


def grid_from_networkx(G: nx.Graph, *, slack=None) -> Grid:
    """Build a :class:`Grid` from an undirected networkx (multi)graph.

    Every node needs a ``role`` in :data:`ROLES`; every edge a ``reactance``
    (> 0) and a ``capacity`` (>= 0, may be ``inf``). Lines are numbered in
    networkx's edge order, or by an ``index`` edge attribute when every edge
    has one (the IEEE systems keep their published numbering). ``slack`` is a
    node label (default: the first node). Raises ``ValueError`` naming the node or edge
    for a missing or bad attribute, and for an empty or disconnected graph.

    Reference: Schweppe et al. (1988), app. D (DC power flow and PTDFs).
    """
    if not isinstance(G, nx.Graph):
        raise ValueError(f"expected a networkx graph; got {type(G).__name__}")
    if G.is_directed():
        raise ValueError("the grid graph must be undirected (lines carry flow both ways)")
    if G.number_of_nodes() == 0:
        raise ValueError("the grid graph has no buses")
    if G.number_of_edges() == 0:
        raise ValueError("the grid graph has no lines")
    if not nx.is_connected(G):
        parts = list(nx.connected_components(G))
        raise ValueError(
            f"the grid graph is disconnected ({len(parts)} islands; e.g. buses {sorted(map(str, parts[1]))[:5]} "
            "are cut off): DC power flow needs one connected grid"
        )
    buses = list(G.nodes)
    index = {bus: k for k, bus in enumerate(buses)}
    roles = []
    for bus, data in G.nodes(data=True):
        if "role" not in data:
            raise ValueError(f"bus {bus!r} has no 'role' attribute (one of {ROLES})")
        if data["role"] not in ROLES:
            raise ValueError(f"bus {bus!r} has role {data['role']!r}; expected one of {ROLES}")
        roles.append(data["role"])
    edges = list(G.edges(data=True))
    if all("index" in data for _, _, data in edges):  # published line numbering, when given
        edges.sort(key=lambda edge: edge[2]["index"])
    lines, reactance, capacity = [], [], []
    for u, v, data in edges:
        if u == v:
            raise ValueError(f"line ({u!r}, {v!r}) is a self-loop")
        for attribute in ("reactance", "capacity"):
            if attribute not in data:
                raise ValueError(f"line ({u!r}, {v!r}) has no {attribute!r} attribute")
        x = _number(data["reactance"], f"reactance of line ({u!r}, {v!r})")
        c = _number(data["capacity"], f"capacity of line ({u!r}, {v!r})")
        if not (x > 0 and math.isfinite(x)):
            raise ValueError(f"line ({u!r}, {v!r}) has reactance {x}; it must be positive and finite")
        if math.isnan(c) or c < 0:
            raise ValueError(f"line ({u!r}, {v!r}) has capacity {c}; it must be nonnegative (inf for none)")
        lines.append((u, v))
        reactance.append(x)
        capacity.append(c)
    if slack is None:
        slack_index = 0
    elif slack in index:
        slack_index = index[slack]
    else:
        raise ValueError(f"slack bus {slack!r} is not a bus of the graph")

    n, m = len(buses), len(lines)
    K = np.zeros((n, m))
    for l, (u, v) in enumerate(lines):
        K[index[u], l] = 1.0
        K[index[v], l] = -1.0
    b = 1.0 / np.asarray(reactance)
    keep = np.array([k for k in range(n) if k != slack_index], dtype=int)
    ptdf = np.zeros((m, n))
    if keep.size:
        B_reduced = (K[keep] * b) @ K[keep].T
        # PTDF[:, keep] = diag(b) K_keep^T B_reduced^{-1}: solve instead of inverting.
        ptdf[:, keep] = np.linalg.solve(B_reduced.T, (b[:, None] * K[keep].T).T).T
    return Grid(
        incidence=jnp.asarray(K),
        susceptance=jnp.asarray(b),
        capacity=jnp.asarray(capacity, dtype=jnp.asarray(b).dtype),
        ptdf=jnp.asarray(ptdf),
        buses=tuple(buses),
        lines=tuple(lines),
        roles=tuple(roles),
        slack=slack_index,
    )


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


# (from bus, to bus, reactance p.u.) -- IEEE 14-bus, UW archive CDF (MATPOWER case14). The CDF gives no MVA
# limits, so capacities are +inf.
_IEEE14_BRANCHES = (
    (1, 2, 0.05917), (1, 5, 0.22304), (2, 3, 0.19797), (2, 4, 0.17632), (2, 5, 0.17388),
    (3, 4, 0.17103), (4, 5, 0.04211), (4, 7, 0.20912), (4, 9, 0.55618), (5, 6, 0.25202),
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
        G.add_edge(u, v, reactance=x, capacity=capacity, index=number)
    return grid_from_networkx(G, slack=1)


def ieee14() -> Grid:
    """The IEEE 14-bus system: 14 buses, 20 branches, generators at buses 1, 2, 3, 6, 8 (role
    ``producer``), slack bus 1. No line ratings are published (capacity ``inf``).

    Reference: UW Power Systems Test Case Archive (1993); MATPOWER ``case14``.
    """
    return _ieee(_IEEE14_BRANCHES, _IEEE14_GENERATORS, 14, ratings=False)


def ieee30() -> Grid:
    """The IEEE 30-bus system of Alsac and Stott (1974): 30 buses, 41 branches with ratings (in p.u.
    of 100 MVA), generators at buses 1, 2, 13, 22, 23, 27, slack bus 1.

    Reference: Alsac and Stott (1974); MATPOWER ``case30``.
    """
    return _ieee(_IEEE30_BRANCHES, _IEEE30_GENERATORS, 30, ratings=True)
