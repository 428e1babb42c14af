"""Grid topologies: networkx graphs in, DC power-flow arrays out.

A bus (node) has a ``role``: one of :data:`ROLES`. A line (edge) has a
``reactance`` (per unit, > 0), a ``capacity`` (>= 0, ``inf`` for none) and
optionally a transformer ``tap`` ratio (default 1) and a ``from`` attribute
naming its from-bus. Line ``l`` runs from ``u`` to ``v`` (the ``from`` bus
when given, else the order networkx lists the edge), and a positive flow goes
from ``u`` to ``v``.

DC power flow (the linearized AC model: flat voltages, small angles, no
losses): with incidence ``K`` (``K[u, l] = 1``, ``K[v, l] = -1``) and
susceptances ``b = 1 / (x tap)`` (MATPOWER's ``makeBdc``: a transformer's
series susceptance is divided by its off-nominal tap ratio), flows are
``f = PTDF p`` for nodal injections ``p`` that sum to zero, where

    PTDF = diag(b) K^T (K diag(b) K^T)^{-1}   (slack row and column removed; slack column zero).

The flows conserve power at every bus: ``K f = p``. The PTDF is computed in
JAX from ``incidence`` and ``susceptance`` whenever it is asked for (and cached
on concrete grids), so ``dataclasses.replace(grid, susceptance=...)`` never
leaves a stale matrix, and derivatives with respect to reactances flow through
it. Phase-shifting transformers are not modelled (none in the built-in cases).

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

import math

import jax
import jax.numpy as jnp
import jax.scipy.linalg
import networkx as nx
import numpy as np

from mechanisms import pytree_dataclass, static_field

from .._validation import check_number

__all__ = ["ROLES", "Grid", "grid_from_networkx", "power_transfer_distribution_factors", "transfer_factors"]

ROLES = ("producer", "consumer", "prosumer", "datacenter", "storage")


@pytree_dataclass
class Grid:
    """A transmission grid in DC power-flow form (an immutable pytree).

    Attributes:
      incidence: ``(buses, lines)``, ``+1`` at a line's from-bus and ``-1`` at its to-bus.
      susceptance: ``(lines,)``, ``1 / (reactance * tap)``.
      capacity: ``(lines,)``, thermal limits (``inf`` where none).
      ptdf: ``(lines, buses)`` power transfer distribution factors (derived from ``incidence`` and
        ``susceptance``, never stored apart from them); the slack column is zero.
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
    buses: tuple = static_field(default=())
    lines: tuple = static_field(default=())
    roles: tuple = static_field(default=())
    slack: int = static_field(default=0)

    @property
    def ptdf(self) -> jax.Array:
        """``(lines, buses)`` PTDF from the current ``incidence`` and ``susceptance`` (cached when concrete)."""
        cached = self.__dict__.get("_ptdf")
        if cached is not None:
            return cached
        value = power_transfer_distribution_factors(self.incidence, self.susceptance, self.slack)
        if not isinstance(value, jax.core.Tracer):  # never keep a tracer beyond its trace
            self.__dict__["_ptdf"] = value
        return value

    @property
    def reactance(self) -> jax.Array:
        """``(lines,)`` effective series reactance ``1 / susceptance`` (reactance times tap ratio)."""
        return 1.0 / self.susceptance

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

    def transfer(self, injections) -> jax.Array:
        """``ptdf @ injections`` for ``(buses, k)`` injection patterns: the cached PTDF where there is one,
        else :func:`transfer_factors` (a Cholesky solve for the ``k`` patterns, not for every line)."""
        cached = self.__dict__.get("_ptdf")
        if cached is not None:
            return cached @ injections
        return transfer_factors(self.incidence, self.susceptance, self.slack, injections)

    def flows(self, injections) -> jax.Array:
        """Line flows ``PTDF @ injections`` (injections sum to zero; any imbalance lands on the slack)."""
        return jnp.asarray(injections) @ self.ptdf.T


def power_transfer_distribution_factors(incidence, susceptance, slack: int) -> jax.Array:
    """``PTDF = diag(b) K^T (K_r diag(b) K_r^T)^{-1}`` with the slack row ``r`` removed, slack column zero.

    ``incidence`` ``K`` is ``(buses, lines)``, ``susceptance`` ``b`` is ``(lines,)`` (positive), ``slack``
    a bus index (static). The reduced susceptance matrix is symmetric positive definite for a connected
    grid, so one Cholesky factorization serves all lines. Differentiable in ``b``. See
    :func:`transfer_factors` for the product with a few columns (what a game with few injection
    patterns needs), which never forms the ``(lines, buses)`` matrix.

    Reference: Schweppe et al. (1988), app. D; Zimmerman et al. (2011), MATPOWER ``makePTDF``.
    """
    n = jnp.shape(incidence)[-2]
    return transfer_factors(incidence, susceptance, slack, jnp.eye(n, dtype=jnp.asarray(susceptance).dtype))


def transfer_factors(incidence, susceptance, slack: int, injections) -> jax.Array:
    """``PTDF @ injections`` (``(lines, k)`` for ``(buses, k)`` injection patterns) in ``O(n^3 / 3 + n^2 k)``.

    The reduced susceptance matrix ``B_r = K_r diag(b) K_r^T`` is assembled line by line from the two
    ends of each line (a scatter-add, not the dense product, which costs ``2 n^2 lines``), factorized by
    Cholesky, and solved for the ``k`` patterns only: the bus angles ``theta = B_r^{-1} P_r`` (slack angle
    0), then the flows ``b_l (theta_from - theta_to)``. On a 50x50 lattice (2,500 buses, 4,900 lines)
    with 51 patterns this is about 5 GFlop instead of the 120 GFlop of the whole PTDF. Differentiable
    in ``b`` and in ``injections``.
    """
    K = jnp.asarray(incidence)
    b = jnp.asarray(susceptance)
    P = jnp.asarray(injections)
    n, lines = K.shape[-2], K.shape[-1]
    keep = np.array([k for k in range(n) if k != slack], dtype=int)
    if keep.size == 0 or lines == 0:
        return jnp.zeros((lines, P.shape[-1]), jnp.result_type(b, P))
    # The +1 and -1 of each column. On the host when the incidence is concrete (a grid closed over by a
    # traced function would otherwise have XLA constant-fold an argmax over buses x lines: minutes on
    # a 50x50 lattice); in the program when it is traced.
    xp = jnp if isinstance(K, jax.core.Tracer) else np
    K_ends = K if xp is jnp else np.asarray(K)
    if xp is jnp:
        # The first positive and the first negative entry of each column (an incidence column has one of
        # each, so these are its argmax and argmin) as integer minimum reductions: XLA's variadic argmax
        # over a 2,500 x 4,900 incidence took 60-120 ms on a CPU, a sixth of a 50x50 lattice's solve.
        rows = jnp.arange(n, dtype=jnp.int32)[:, None]
        ends_from = jnp.min(jnp.where(K_ends > 0, rows, n), axis=0)
        ends_to = jnp.min(jnp.where(K_ends < 0, rows, n), axis=0)
    else:
        ends_from, ends_to = np.argmax(K_ends, axis=0), np.argmin(K_ends, axis=0)
    columns = xp.arange(lines)
    k_from, k_to = jnp.asarray(K_ends[ends_from, columns]), jnp.asarray(K_ends[ends_to, columns])
    # Assembled in the slack-free coordinates directly (the slack's row and column fall out of range and
    # are dropped): no gather of the kept rows and columns of a full matrix afterwards.
    r_from = xp.where(ends_from == slack, n - 1, xp.where(ends_from > slack, ends_from - 1, ends_from))
    r_to = xp.where(ends_to == slack, n - 1, xp.where(ends_to > slack, ends_to - 1, ends_to))
    B = (jnp.zeros((n - 1, n - 1), b.dtype).at[r_from, r_from].add(b * k_from * k_from, mode="drop")
         .at[r_to, r_to].add(b * k_to * k_to, mode="drop").at[r_from, r_to].add(b * k_from * k_to, mode="drop")
         .at[r_to, r_from].add(b * k_from * k_to, mode="drop"))
    factor = jax.scipy.linalg.cho_factor(B)
    theta = jnp.zeros((n, P.shape[-1]), jnp.result_type(b, P)).at[keep].set(jax.scipy.linalg.cho_solve(factor, P[keep]))
    return b[:, None] * (k_from[:, None] * theta[ends_from] + k_to[:, None] * theta[ends_to])


def grid_from_networkx(G: nx.Graph, *, slack=None) -> Grid:
    """Build a :class:`Grid` from an undirected networkx (multi)graph.

    Every node needs a ``role`` in :data:`ROLES`; every edge a ``reactance``
    (> 0) and a ``capacity`` (>= 0, may be ``inf``), optionally a transformer
    ``tap`` ratio (> 0, default 1) and a ``from`` bus (the line's orientation).
    Lines are numbered in networkx's edge order, or by an ``index`` edge
    attribute when every edge has one (the IEEE systems keep their published
    numbering). ``slack`` is a
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
        x = check_number(data["reactance"], f"reactance of line ({u!r}, {v!r})")
        c = check_number(data["capacity"], f"capacity of line ({u!r}, {v!r})")
        tap = check_number(data.get("tap", 1.0), f"tap ratio of line ({u!r}, {v!r})")
        if not (x > 0 and math.isfinite(x)):
            raise ValueError(f"line ({u!r}, {v!r}) has reactance {x}; it must be positive and finite")
        if math.isnan(c) or c < 0:
            raise ValueError(f"line ({u!r}, {v!r}) has capacity {c}; it must be nonnegative (inf for none)")
        if not (tap > 0 and math.isfinite(tap)):
            raise ValueError(f"line ({u!r}, {v!r}) has tap ratio {tap}; it must be positive and finite")
        if "from" in data:
            if data["from"] not in (u, v):
                raise ValueError(f"line ({u!r}, {v!r}) has from-bus {data['from']!r}, which is not one of its ends")
            u, v = (u, v) if data["from"] == u else (v, u)
        lines.append((u, v))
        reactance.append(x * tap)
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
    b = jnp.asarray(1.0 / np.asarray(reactance))
    return Grid(
        incidence=jnp.asarray(K, b.dtype),
        susceptance=b,
        capacity=jnp.asarray(capacity, dtype=b.dtype),
        buses=tuple(buses),
        lines=tuple(lines),
        roles=tuple(roles),
        slack=slack_index,
    )


