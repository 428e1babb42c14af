"""Demand response: users schedule their daily energy over time slots under a billing rule.

``N`` users, ``T`` slots. User ``n`` chooses a schedule ``x_n in R^T`` with
``lower_n <= x_n <= upper_n`` (a zero upper bound closes a slot: time
windows, deadlines) and ``sum_t x_nt = energy_n``. The slot cost is
``C_t(L) = a_t L^2 + b_t L`` on the net load ``L_t = sum_n x_nt - r_t``
after renewables ``r_t``. The bill comes from a billing rule of
:mod:`mechanisms`:

- ``"daily"`` proportional billing: user ``n`` pays ``energy_n / sum_m energy_m``
  of the day's cost, so every user minimizes the same total cost and the Nash
  equilibria are exactly the social optima (Mohsenian-Rad et al. 2010,
  Theorem 1); the aggregate load is unique when every ``a_t > 0``.
- ``"hourly"`` proportional billing: user ``n`` pays ``x_nt / D_t`` of slot
  ``t``'s cost, ``D_t = sum_m x_mt``.

A data center training a large model is a user with an inflexible inference
baseline plus a deferrable training load that must finish by a deadline:
:func:`datacenter_user` builds its bounds.

Storage units (batteries) charge and discharge: unit ``k`` chooses a signed
schedule ``s_k`` (charging positive) within its power limits, returns to its
initial state of charge by the end of the day (``sum_t s_kt = 0``) and keeps
its state of charge ``e_kt = e_k0 + sum_{tau <= t} s_k tau`` within
``[0, capacity_k]``. It pays the real-time price at marginal cost,
``p_t = C_t'(L_t - r_t)``, for its net charging (:func:`mechanisms.storage_arbitrage_payment`)
and, being large, anticipates its own effect on that price. The state-of-charge
limits are linear constraints on its own schedule, handled by
:func:`~solvers.solve_gne` with multipliers (the value of one more unit of
capacity in each slot); the game stays a potential game, its potential being
``sum_t C_t(L_t - r_t) + sum_k sum_t a_t s_kt^2``. The game is composed of two
player types, :class:`~games.Consumers` and :class:`~games.StorageUnits`; the strategy
array stacks the consumers' schedules, then the storage units' (the last rows).

The game is aggregative: a pseudo-gradient needs only each user's own
schedule and the total load, O(N T).

Reference: A.-H. Mohsenian-Rad, V. W. S. Wong, J. Jatskevich, R. Schober and
A. Leon-Garcia (2010), "Autonomous demand-side management based on
game-theoretic energy consumption scheduling for the future smart grid", IEEE
Transactions on Smart Grid 1(3). Storage with strategic arbitrage at
marginal-cost prices: H. Mohsenian-Rad (2016), "Coordinated price-maker
operation of large energy storage units in nodal energy markets", IEEE
Transactions on Power Systems 31(1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mechanisms import (daily_proportional_user_bill, hourly_proportional_user_bill, pytree_dataclass, quadratic_cost,
                        static_field, storage_arbitrage_payment)

from .._protocol import (BestResponses, BoxStrategySets, ContinuousGame, DeclaresUniqueness, DenseSharedConstraints,
                         ScaledPseudoGradient, SharedLinearConstraints, StrategyEqualities)
from .._validation import finite_array
from ._consumers import Consumers, consumers
from ._storage import StorageUnits, storage_units
from ._water_filling import capped_simplex

__all__ = ["DemandResponseGame", "demand_response_game"]

BILLING_RULES = {"daily": daily_proportional_user_bill, "hourly": hourly_proportional_user_bill}


@pytree_dataclass
class DemandResponseGame(ContinuousGame, ScaledPseudoGradient, SharedLinearConstraints, DenseSharedConstraints,
                         BoxStrategySets, StrategyEqualities, BestResponses, DeclaresUniqueness):
    """The demand-response game of Mohsenian-Rad et al. (2010) (an immutable pytree).

    Attributes (array leaves, differentiable): ``consumers`` (:class:`~games.Consumers`), ``storage``
    (:class:`~games.StorageUnits`, possibly none), ``a``, ``b``, ``renewables`` ``(T,)``. ``billing``
    (static): ``"daily"`` or ``"hourly"``. Strategies are ``(N + K, T)``: consumers, then storage. Build
    it with :func:`demand_response_game`, which validates.
    """

    consumers: Consumers
    storage: StorageUnits
    a: jax.Array
    b: jax.Array
    renewables: jax.Array
    billing: str = static_field(default="daily")

    # -- sizes and the stacked strategy sets ---------------------------------------------------------
    @property
    def num_users(self) -> int:
        """Consumers ``N`` (the first rows of the strategy array)."""
        return self.consumers.num_users

    @property
    def num_storage(self) -> int:
        """Storage units ``K`` (the last rows of the strategy array)."""
        return self.storage.num_units

    @property
    def num_slots(self) -> int:
        return int(self.a.shape[-1])

    @property
    def lower(self):
        """``(N + K, T)`` lower bounds: consumers' minimum loads, minus the storage discharge limits."""
        return jnp.concatenate([self.consumers.lower, -self.storage.max_discharge], axis=-2)

    @property
    def upper(self):
        """``(N + K, T)`` upper bounds: consumers' maximum loads, the storage charge limits."""
        return jnp.concatenate([self.consumers.upper, self.storage.max_charge], axis=-2)

    @property
    def energy(self):
        """``(N + K,)`` daily energies (0 for storage: back to the initial state of charge)."""
        return jnp.concatenate([self.consumers.energy, jnp.zeros(self.num_storage, self.a.dtype)], axis=-1)

    @property
    def storage_capacity(self):
        return self.storage.capacity

    @property
    def storage_initial(self):
        return self.storage.initial

    def _split(self, x):
        return x[: self.num_users], x[self.num_users:]

    # -- payoffs ---------------------------------------------------------------------------------------
    def total_load(self, x):
        """Gross load per slot, ``sum_n x_nt``."""
        return jnp.sum(x, axis=-2)

    def _bill(self, own, total):
        return BILLING_RULES[self.billing](own, total, a=self.a, b=self.b, renewables=self.renewables)

    def _storage_payment(self, own, total):
        return storage_arbitrage_payment(own, total, a=self.a, b=self.b, renewables=self.renewables)

    def costs(self, x):
        """Each consumer's bill and each storage unit's payment for its net charging, ``(N + K,)``."""
        total = self.total_load(x)
        users, units = self._split(x)
        return jnp.concatenate([self._bill(users, total[None]), self._storage_payment(units, total[None])])

    def potential(self, x):
        """``sum_t C_t(L_t - r_t) + sum_k sum_t a_t s_kt^2``: under daily billing every player's cost
        changes with its own strategy as this function does (an exact potential up to positive
        scaling of each user), so its constrained minima are the equilibria."""
        return self.social_cost(x) + jnp.sum(self.a * self._split(x)[1] ** 2)

    def state_of_charge(self, x):
        """``(K, T)``: each storage unit's state of charge at the end of every slot."""
        return self.storage.state_of_charge(self._split(x)[1])

    def social_cost(self, x):
        """Total generation cost ``sum_t C_t(L_t)`` of the net load."""
        return jnp.sum(quadratic_cost(self.total_load(x) - self.renewables, self.a, self.b))

    # -- the continuous-game protocol ------------------------------------------------------------------
    def pseudo_gradient(self, x):
        """``d cost_n / d x_n`` for every player, stacked ``(N + K, T)``: own-schedule and aggregate
        partials of each player type's payment, O((N + K) T)."""
        total = self.total_load(x)
        users, units = self._split(x)
        own_and_total = lambda payment, rows: sum(jax.vmap(jax.grad(payment, argnums=(0, 1)), in_axes=(0, None))(
            rows, total))
        return jnp.concatenate([own_and_total(self._bill, users), own_and_total(self._storage_payment, units)])

    def vi_operator(self, x):
        """The pseudo-gradient with each user's block scaled by a positive constant (same equilibria).

        Under daily billing user ``n``'s bill is ``energy_n / sum_m energy_m`` times the common cost, so
        dividing by that share gives the gradient of the total cost: a monotone, cocoercive operator on
        which projected-gradient methods converge. Storage blocks are not scaled.
        """
        g = self.pseudo_gradient(x)
        if self.billing == "daily":
            share = self.energy / jnp.sum(self.consumers.energy)
            g = g / jnp.where(share > 0, share, 1.0)[:, None]
        return g

    def lipschitz_bound(self):
        """An upper bound on the Lipschitz constant of :meth:`vi_operator`."""
        if self.billing == "daily":
            return 2.0 * jnp.max(self.a) * (self.num_users + 2.0 * self.num_storage)
        return jnp.max(self.a) * (self.num_users + 1.0) * 4.0

    @property
    def unique_equilibrium(self) -> bool:
        """Whether the equilibrium is unique (so implicit derivatives of it exist).

        Hourly billing gives a strongly monotone game: unique. Under daily billing only the aggregate
        load is unique; the schedules form a continuum, the fixed-point Jacobian is singular, and
        :func:`~solvers.solve_vi` returns NaN gradients rather than those of an arbitrary selection
        (unless every user's schedule is fixed, ``lower == upper``: then only storage units choose,
        and their schedules are unique).
        """
        if self.billing == "hourly":
            return True
        lower, upper = self.consumers.lower, self.consumers.upper
        if isinstance(lower, jax.core.Tracer) or isinstance(upper, jax.core.Tracer):
            return False
        # Users without flexibility (every schedule fixed): only the storage units choose, and the
        # potential is strictly convex in their schedules.
        return bool(np.all(np.asarray(lower) == np.asarray(upper)))

    def project(self, x):
        """Euclidean projection onto the strategy sets (per player: box and daily energy; storage: power
        limits and zero net energy; the state-of-charge limits are the shared constraints)."""
        return capped_simplex(x, jnp.ones_like(x), self.lower, self.upper, self.energy)

    def initial_point(self):
        """A feasible starting schedule: energy spread in proportion to the available room."""
        return self.project(0.5 * (self.lower + self.upper))

    # -- the storage units' state-of-charge limits: shared linear constraints, matrix-free -------------
    def constraint_values(self, x):
        """``A x``: cumulative charge of every storage unit, then its negative, ``(2 K T,)``, O(K T)."""
        return self.storage.constraint_values(self._split(x)[1])

    def constraint_adjoint(self, multipliers):
        """``A^T mu`` as a strategy array (zero on the consumers' rows), O(K T)."""
        users = jnp.zeros((self.num_users, self.num_slots), self.a.dtype)
        return jnp.concatenate([users, self.storage.constraint_adjoint(multipliers)], axis=0)

    def constraint_upper(self):
        """``(2 K T,)``: ``capacity - e_0`` for the upper limits, ``e_0`` for the lower."""
        return self.storage.constraint_upper()

    def constraint_norm_bound(self):
        """An upper bound on ``||A||_2``: ``sqrt(2) T`` (a cumulative sum has norm at most ``T``)."""
        return jnp.sqrt(2.0) * self.num_slots

    def shared_constraints(self):
        """The same constraints as a dense ``A`` on the flattened strategies (for small games and checks)."""
        rows, T = self.num_users + self.num_storage, self.num_slots
        eye = jnp.eye(rows * T, dtype=self.a.dtype).reshape(rows * T, rows, T)
        return jax.vmap(self.constraint_values)(eye).T, self.constraint_upper()

    # -- the strategy sets as polyhedra (for complementarity and interior-point methods) ---------------
    def lower_bounds(self):
        """The box ``[lower_bounds(), upper_bounds()]``; with :meth:`equality_values` the same sets that
        :meth:`project` projects onto."""
        return self.lower

    def upper_bounds(self):
        return self.upper

    def equality_values(self, x):
        """``E x``: each player's daily energy (0 for storage: back to the initial state of charge)."""
        return jnp.sum(x, axis=-1)

    def equality_adjoint(self, multipliers):
        """``E^T lam``: every slot of player ``n`` gets ``lam_n``."""
        return jnp.broadcast_to(multipliers[:, None], (multipliers.shape[0], self.num_slots)).astype(self.a.dtype)

    def equality_target(self):
        return self.energy

    # -- exact best responses --------------------------------------------------------------------------
    def best_response_sweep(self, x):
        """One Gauss-Seidel sweep of exact best responses (water-filling), users in order.

        Closed forms exist for daily billing without storage only (the state-of-charge limits have no
        water-filling form); otherwise a ``ValueError`` (raised while the solver is traced).
        """
        if self.billing != "daily":
            raise ValueError("closed-form best responses exist for daily billing only; choose a gradient method")
        if self.num_storage:
            raise ValueError("best responses ignore the storage units' state-of-charge limits; use solve_gne")
        weights = 1.0 / (2.0 * self.a)

        def respond(total, inputs):
            own, lower, upper, energy = inputs
            others = total - own
            # minimize sum_t C_t(others_t + z_t - r_t): z_t = clip(-(b_t/(2 a_t)) - (others_t - r_t) - nu w_t)
            y = -self.b * weights - (others - self.renewables)
            new = capped_simplex(y, weights, lower, upper, energy)
            return others + new, new

        c = self.consumers
        _, x_new = jax.lax.scan(respond, self.total_load(x), (x, c.lower, c.upper, c.energy))
        return x_new


def demand_response_game(lower, upper, energy, *, a, b=0.0, renewables=0.0, billing: str = "daily",
                         storage_capacity=None, storage_initial=None, storage_max_charge=None,
                         storage_max_discharge=None) -> DemandResponseGame:
    """Build and validate a :class:`DemandResponseGame`.

    Args:
      lower, upper: ``(N, T)`` per-slot bounds (``0 <= lower <= upper``; an upper bound of 0 closes a slot).
      energy: ``(N,)`` daily energy each user must consume.
      a, b: slot cost coefficients, scalars or ``(T,)``; ``a > 0``.
      renewables: ``(T,)`` renewable output netted from the load.
      billing: ``"daily"`` or ``"hourly"`` proportional billing (from :mod:`mechanisms`).
      storage_capacity, storage_initial: ``(K,)`` energy capacity and initial (= final) state of charge
        of ``K`` storage units (default: none); daily billing only.
      storage_max_charge, storage_max_discharge: ``(K,)`` or ``(K, T)`` power limits (default: the
        capacity per slot).

    Raises ``ValueError`` for wrong shapes, NaN, negative bounds, ``lower > upper``, or an energy
    that the bounds cannot deliver (impossible constraints).

    Example:
      >>> game = demand_response_game(np.zeros((2, 4)), np.ones((2, 4)), [2.0, 1.0], a=0.5)
      >>> game.num_users, game.num_slots
      (2, 4)
    """
    lower, upper, energy = consumers(lower, upper, energy)
    T = upper.shape[1]
    a = finite_array(a, "a", (T,))
    b = finite_array(b, "b", (T,))
    renewables = finite_array(renewables, "renewables", (T,))
    if billing not in BILLING_RULES:
        raise ValueError(f"billing must be one of {sorted(BILLING_RULES)}; got {billing!r}")
    if (a <= 0).any():
        raise ValueError("cost coefficients a must be positive (strictly convex slot costs)")
    if billing == "hourly" and np.any(renewables != 0):
        raise ValueError("hourly billing with renewables is not supported (the per-slot share is undefined "
                         "when renewables exceed the load); use daily billing")
    if storage_capacity is None and any(v is not None for v in (storage_initial, storage_max_charge,
                                                                 storage_max_discharge)):
        raise ValueError("storage parameters given without storage_capacity")
    if storage_capacity is not None and np.size(storage_capacity) and billing != "daily":
        raise ValueError("storage units are supported with daily billing (hourly shares of a negative "
                         "load are undefined)")
    storage = storage_units(np.zeros(0) if storage_capacity is None else storage_capacity, T, initial=storage_initial,
                            max_charge=storage_max_charge, max_discharge=storage_max_discharge)
    return DemandResponseGame(Consumers(jnp.asarray(lower), jnp.asarray(upper), jnp.asarray(energy)), storage,
                              jnp.asarray(a), jnp.asarray(b), jnp.asarray(renewables), billing)
