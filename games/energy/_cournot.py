"""Networked Cournot competition with line limits: a generalized Nash equilibrium problem.

``G`` producers sit at buses of a :class:`~games.Grid` and choose outputs
``q_g >= 0`` at cost ``c_g q_g + d_g q_g^2 / 2``. Consumers buy the total
``Q = sum_g q_g`` at one price ``p(Q) = a - b Q`` and are spread over the
buses in fixed shares ``w`` (``sum_b w_b = 1``). Nodal injections are
``E q - w Q`` (``E`` maps producers to their buses), line flows
``PTDF (E q - w Q)``, and the thermal limits ``|flows| <= capacity`` are
constraints shared by all producers: a generalized Nash equilibrium problem.
Its variational equilibrium (common multipliers ``mu`` on the shared
constraints, Rosen 1965) is what :func:`~solvers.solve_gne` computes; the
locational price at bus ``b`` is ``p(Q) - (PTDF^T (mu_up - mu_down))_b``,
equal at every bus when no line is congested.

Without line limits each producer's first-order condition gives the
classic Cournot outcome; with identical linear costs ``q_g = (a - c) / (b (G + 1))``.

References: A. A. Cournot (1838); J. B. Rosen (1965), "Existence and uniqueness
of equilibrium points for concave n-person games", Econometrica 33(3);
B. F. Hobbs (2001), "Linear complementarity models of Nash-Cournot
competition in bilateral and POOLCO power markets", IEEE Transactions on
Power Systems 16(2); F. Facchinei and C. Kanzow (2007), "Generalized Nash
equilibrium problems", 4OR 5.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mechanisms import pytree_dataclass

from .._protocol import BoxStrategySets, ContinuousGame, DenseSharedConstraints, PlayerCosts
from .._validation import finite_array
from ..grid import Grid

__all__ = ["NetworkCournotGame", "network_cournot_game"]


@pytree_dataclass
class NetworkCournotGame(ContinuousGame, DenseSharedConstraints, BoxStrategySets, PlayerCosts):
    """Networked Cournot game (an immutable pytree); build it with :func:`network_cournot_game`."""

    grid: Grid
    producer_bus: jax.Array  # (G,) int
    cost_linear: jax.Array  # (G,)
    cost_quadratic: jax.Array  # (G,)
    demand_intercept: jax.Array  # a
    demand_slope: jax.Array  # b
    demand_shares: jax.Array  # (buses,)

    @property
    def num_producers(self) -> int:
        return int(self.producer_bus.shape[-1])

    def price(self, q):
        return self.demand_intercept - self.demand_slope * jnp.sum(q)

    def costs(self, q):
        """Each producer's cost minus revenue (minimized)."""
        production = self.cost_linear * q + 0.5 * self.cost_quadratic * q**2
        return production - self.price(q) * q

    def pseudo_gradient(self, q):
        """``d cost_g / d q_g = c_g + d_g q_g - (a - b Q) + b q_g``, O(G)."""
        return self.cost_linear + self.cost_quadratic * q - self.price(q) + self.demand_slope * q

    def lipschitz_bound(self):
        return self.demand_slope * (self.num_producers + 1.0) + jnp.max(self.cost_quadratic)

    def project(self, q):
        return jnp.maximum(q, 0.0)

    def lower_bounds(self):
        """The strategy sets are ``{q >= 0}`` (for the complementarity form of :func:`~solvers.solve_gne`)."""
        return jnp.zeros_like(self.cost_linear)

    def upper_bounds(self):
        """No upper bounds (outputs are limited by the market and the lines only)."""
        return None

    def initial_point(self):
        return jnp.zeros_like(self.cost_linear)

    def injection_matrix(self):
        """``(buses, G)``: injections ``E q - w Q`` as a matrix acting on ``q``."""
        E = jax.nn.one_hot(self.producer_bus, self.grid.num_buses, dtype=self.cost_linear.dtype).T
        return E - self.demand_shares[:, None]

    def shared_constraints(self):
        """Linear shared constraints ``A q <= upper``: flows within limits both ways (infinite limits dropped)."""
        H = self.grid.transfer(self.injection_matrix())  # (lines, G) without the (lines, buses) PTDF
        A = jnp.concatenate([H, -H], axis=0)
        upper = jnp.concatenate([self.grid.capacity, self.grid.capacity])
        return A, upper

    def locational_prices(self, q, multipliers):
        """``p(Q) - PTDF^T (mu_up - mu_down)`` at every bus."""
        m = self.grid.num_lines
        return self.price(q) - self.grid.ptdf.T @ (multipliers[:m] - multipliers[m:])


def network_cournot_game(grid: Grid, producer_bus, *, cost_linear, cost_quadratic=0.0, demand_intercept,
                         demand_slope, demand_shares=None) -> NetworkCournotGame:
    """Build and validate a :class:`NetworkCournotGame`.

    Args:
      grid: the network (capacities ``inf`` mean no limit).
      producer_bus: ``(G,)`` bus index of each producer.
      cost_linear, cost_quadratic: ``(G,)`` (or scalars) cost coefficients, ``cost_quadratic >= 0``.
      demand_intercept, demand_slope: ``a`` and ``b > 0`` of ``p(Q) = a - b Q``.
      demand_shares: ``(buses,)`` nonnegative shares of consumption summing to 1 (default: uniform).
    """
    if not isinstance(grid, Grid):
        raise ValueError(f"grid must be a games.Grid; got {type(grid).__name__}")
    bus = np.asarray(producer_bus)
    if bus.ndim != 1 or bus.size == 0 or not np.issubdtype(bus.dtype, np.integer):
        raise ValueError("producer_bus must be a nonempty 1-D array of bus indices")
    if (bus < 0).any() or (bus >= grid.num_buses).any():
        raise ValueError(f"producer_bus indices must lie in [0, {grid.num_buses})")
    G = bus.size
    c = finite_array(cost_linear, "cost_linear", (G,))
    d = finite_array(cost_quadratic, "cost_quadratic", (G,), nonnegative=True)
    shares = np.full(grid.num_buses, 1.0 / grid.num_buses) if demand_shares is None else finite_array(
        demand_shares, "demand_shares")
    intercept = finite_array(demand_intercept, "demand_intercept", ())
    slope = finite_array(demand_slope, "demand_slope", (), positive=True)
    if shares.shape != (grid.num_buses,) or (shares < 0).any() or abs(shares.sum() - 1) > 1e-9:
        raise ValueError(f"demand_shares must be {grid.num_buses} nonnegative numbers summing to 1")
    return NetworkCournotGame(grid, jnp.asarray(bus), jnp.asarray(c), jnp.asarray(d), jnp.asarray(float(intercept)),
                              jnp.asarray(float(slope)), jnp.asarray(shares))
