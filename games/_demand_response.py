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
``p_t = C_t'(L_t - r_t)``, for its net charging (:func:`mechanisms.arbitrage_bill`)
and, being large, anticipates its own effect on that price. The state-of-charge
limits are linear constraints on its own schedule, handled by
:func:`~solvers.solve_gne` with multipliers (the value of one more unit of
capacity in each slot); the game stays a potential game, its potential being
``sum_t C_t(L_t - r_t) + sum_k sum_t a_t s_kt^2``. Storage schedules are the last
rows of the strategy array.

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

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from mechanisms import arbitrage_bill, daily_proportional_bill, hourly_proportional_bill, quadratic_cost

__all__ = ["DemandResponseGame", "demand_response_game", "datacenter_user", "capped_simplex"]

BILLING_RULES = {"daily": daily_proportional_bill, "hourly": hourly_proportional_bill}


def capped_simplex(y, weights, lower, upper, total, *, iterations: int = 80):
    """Solve ``sum_t clip(y_t - nu w_t, lower_t, upper_t) = total`` for ``nu`` and return the clipped vector.

    With unit weights this is the Euclidean projection onto ``{lower <= z <= upper, sum z = total}``;
    with ``w_t = 1 / (2 a_t)`` it is the water-filling best response to quadratic slot costs. Bisection on
    the monotone function of ``nu``, then an exact solve on the coordinates left free. Shapes ``(..., T)``.
    """
    lo_nu = jnp.min((y - upper) / weights, axis=-1, keepdims=True)  # all at upper: sum >= total
    hi_nu = jnp.max((y - lower) / weights, axis=-1, keepdims=True)  # all at lower: sum <= total

    def body(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        too_much = jnp.sum(jnp.clip(y - mid * weights, lower, upper), axis=-1, keepdims=True) > total[..., None]
        return jnp.where(too_much, mid, lo), jnp.where(too_much, hi, mid)

    lo, hi = jax.lax.fori_loop(0, iterations, body, (lo_nu, hi_nu))
    nu = 0.5 * (lo + hi)
    z = y - nu * weights
    free = (z > lower) & (z < upper)
    clamped = jnp.sum(jnp.where(free, 0.0, jnp.clip(z, lower, upper)), axis=-1, keepdims=True)
    free_weight = jnp.sum(jnp.where(free, weights, 0.0), axis=-1, keepdims=True)
    free_y = jnp.sum(jnp.where(free, y, 0.0), axis=-1, keepdims=True)
    exact_nu = jnp.where(free_weight > 0, (free_y - (total[..., None] - clamped)) / jnp.where(
        free_weight > 0, free_weight, 1.0), nu)
    return jnp.clip(y - exact_nu * weights, lower, upper)


@dataclasses.dataclass(frozen=True)
class DemandResponseGame:
    """The demand-response game of Mohsenian-Rad et al. (2010) (an immutable pytree).

    Attributes (array leaves, differentiable): ``lower``, ``upper`` ``(N + K, T)``
    (storage rows: minus the discharge limit, the charge limit); ``energy``
    ``(N + K,)`` (0 for storage); ``a``, ``b``, ``renewables`` ``(T,)``;
    ``storage_capacity``, ``storage_initial`` ``(K,)``. ``billing`` (static):
    ``"daily"`` or ``"hourly"``. Build it with :func:`demand_response_game`,
    which validates.
    """

    lower: jax.Array
    upper: jax.Array
    energy: jax.Array
    a: jax.Array
    b: jax.Array
    renewables: jax.Array
    storage_capacity: jax.Array  # (K,)
    storage_initial: jax.Array  # (K,)
    billing: str = dataclasses.field(default="daily", metadata=dict(static=True))

    @property
    def num_storage(self) -> int:
        """Storage units ``K``: the last ``K`` rows of the strategy array."""
        return int(self.storage_capacity.shape[-1])

    @property
    def num_users(self) -> int:
        """Consumers ``N`` (the first rows of the strategy array)."""
        return int(self.lower.shape[-2]) - self.num_storage

    def _is_storage(self):
        return jnp.arange(self.lower.shape[-2]) >= self.num_users

    @property
    def num_slots(self) -> int:
        return int(self.lower.shape[-1])

    def total_load(self, x):
        """Gross load per slot, ``sum_n x_nt``."""
        return jnp.sum(x, axis=-2)

    def _bill(self, own, total):
        return BILLING_RULES[self.billing](own, total, a=self.a, b=self.b, renewables=self.renewables)

    def _storage_bill(self, own, total):
        return arbitrage_bill(own, total, a=self.a, b=self.b, renewables=self.renewables)

    def costs(self, x):
        """Each user's bill and each storage unit's payment for its net charging, ``(N + K,)``."""
        total = self.total_load(x)[None, :]
        return jnp.where(self._is_storage(), self._storage_bill(x, total), self._bill(x, total))

    def potential(self, x):
        """``sum_t C_t(L_t - r_t) + sum_k sum_t a_t s_kt^2``: under daily billing every player's cost
        changes with its own strategy as this function does (an exact potential up to positive
        scaling of each user), so its constrained minima are the equilibria."""
        storage = jnp.where(self._is_storage()[:, None], x, 0.0)
        return self.social_cost(x) + jnp.sum(self.a * storage**2)

    def state_of_charge(self, x):
        """``(K, T)``: each storage unit's state of charge at the end of every slot."""
        return self.storage_initial[:, None] + jnp.cumsum(x[self.num_users:], axis=-1)

    def social_cost(self, x):
        """Total generation cost ``sum_t C_t(L_t)`` of the net load."""
        return jnp.sum(quadratic_cost(self.total_load(x) - self.renewables, self.a, self.b))

    def pseudo_gradient(self, x):
        """``d bill_n / d x_n`` for every user, stacked ``(N, T)``: own-schedule and aggregate partials, O(N T)."""
        total = self.total_load(x)
        own_partial, total_partial = jax.vmap(jax.grad(self._bill, argnums=(0, 1)), in_axes=(0, None))(x, total)
        if self.num_storage == 0:
            return own_partial + total_partial
        store_own, store_total = jax.vmap(jax.grad(self._storage_bill, argnums=(0, 1)), in_axes=(0, None))(x, total)
        return jnp.where(self._is_storage()[:, None], store_own + store_total, own_partial + total_partial)

    def vi_operator(self, x):
        """The pseudo-gradient with each user's block scaled by a positive constant (same equilibria).

        Under daily billing user ``n``'s bill is ``energy_n / sum_m energy_m`` times the common cost, so
        dividing by that share gives the gradient of the total cost: a monotone, cocoercive operator on
        which projected-gradient methods converge.
        """
        g = self.pseudo_gradient(x)
        if self.billing == "daily":
            share = self.energy / jnp.sum(self.energy)
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
        users = slice(0, self.num_users)
        if isinstance(self.lower, jax.core.Tracer) or isinstance(self.upper, jax.core.Tracer):
            return False
        # Users without flexibility (every schedule fixed): only the storage units choose, and the
        # potential is strictly convex in their schedules.
        return bool(np.all(np.asarray(self.lower)[users] == np.asarray(self.upper)[users]))

    def shared_constraints(self):
        """The storage units' state-of-charge limits as linear constraints ``A x <= upper`` on the
        flattened strategies: ``e_kt <= capacity_k`` then ``-e_kt <= 0``, ``(2 K T,)`` rows. Dense (for
        small games and checks); :func:`~solvers.solve_gne` uses the matrix-free
        :meth:`constraint_values` and :meth:`constraint_adjoint`."""
        rows, T = self.lower.shape[-2], self.num_slots
        eye = jnp.eye(rows * T, dtype=self.a.dtype).reshape(rows * T, rows, T)
        A = jax.vmap(self.constraint_values)(eye).T
        return A, self.constraint_upper()

    def constraint_upper(self):
        """``(2 K T,)``: ``capacity - e_0`` for the upper limits, ``e_0`` for the lower."""
        T = self.num_slots
        up = jnp.repeat((self.storage_capacity - self.storage_initial)[:, None], T, axis=1)
        down = jnp.repeat(self.storage_initial[:, None], T, axis=1)
        return jnp.concatenate([up.ravel(), down.ravel()])

    def constraint_values(self, x):
        """``A x``: cumulative charge of every storage unit, then its negative, ``(2 K T,)``, O(K T)."""
        charge = jnp.cumsum(x[self.num_users:], axis=-1).ravel()
        return jnp.concatenate([charge, -charge])

    def constraint_adjoint(self, multipliers):
        """``A^T mu`` as a strategy array: reverse cumulative sums on the storage rows, O(K T)."""
        K, T = self.num_storage, self.num_slots
        up, down = multipliers[: K * T].reshape(K, T), multipliers[K * T:].reshape(K, T)
        tail = lambda m: jnp.cumsum(m[:, ::-1], axis=-1)[:, ::-1]
        users = jnp.zeros((self.num_users, T), self.a.dtype)
        return jnp.concatenate([users, tail(up) - tail(down)], axis=0)

    def constraint_norm_bound(self):
        """An upper bound on ``||A||_2``: ``sqrt(2) T`` (a cumulative sum has norm at most ``T``)."""
        return jnp.sqrt(2.0) * self.num_slots

    def project(self, x):
        """Euclidean projection onto the strategy sets (per player: box and daily energy; storage: power
        limits and zero net energy; the state-of-charge limits are :meth:`shared_constraints`)."""
        return capped_simplex(x, jnp.ones_like(x), self.lower, self.upper, self.energy)

    def lower_bounds(self):
        """The strategy sets as polyhedra, for the complementarity form of :func:`~solvers.solve_gne`:
        the box ``[lower_bounds(), upper_bounds()]`` and the equalities ``sum_t x_nt = energy_n``
        (:meth:`equality_values`); :meth:`project` projects onto the same sets."""
        return self.lower

    def upper_bounds(self):
        return self.upper

    def equality_values(self, x):
        """``E x``: each player's daily energy (0 for storage: back to the initial state of charge)."""
        return jnp.sum(x, axis=-1)

    def equality_adjoint(self, multipliers):
        """``E^T lam``: every slot of player ``n`` gets ``lam_n``."""
        return jnp.broadcast_to(multipliers[:, None], self.lower.shape).astype(self.a.dtype)

    def equality_target(self):
        return self.energy

    def best_response_sweep(self, x):
        """One Gauss-Seidel sweep of exact best responses (water-filling), users in order. Daily billing
        only, without storage (its state-of-charge limits have no water-filling form)."""
        weights = 1.0 / (2.0 * self.a)

        def respond(total, inputs):
            own, lower, upper, energy = inputs
            others = total - own
            # minimize sum_t C_t(others_t + z_t - r_t): z_t = clip(-(b_t/(2 a_t)) - (others_t - r_t) - nu w_t)
            y = -self.b * weights - (others - self.renewables)
            new = capped_simplex(y, weights, lower, upper, energy)
            return others + new, new

        _, x_new = jax.lax.scan(respond, self.total_load(x), (x, self.lower, self.upper, self.energy))
        return x_new

    def initial_point(self):
        """A feasible starting schedule: energy spread in proportion to the available room."""
        return self.project(0.5 * (self.lower + self.upper))


jax.tree_util.register_dataclass(
    DemandResponseGame,
    data_fields=["lower", "upper", "energy", "a", "b", "renewables", "storage_capacity", "storage_initial"],
    meta_fields=["billing"],
)


def _array(x, name, shape=None):
    arr = np.asarray(x, dtype=float)
    if shape is not None:
        try:
            arr = np.broadcast_to(arr, shape)
        except ValueError:
            raise ValueError(f"{name} must broadcast to shape {shape}; got shape {np.shape(x)}") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite (no NaN or infinity)")
    return arr


def demand_response_game(lower, upper, energy, *, a, b=0.0, renewables=0.0, billing: str = "daily",
                         storage_capacity=None, storage_initial=None, storage_max_charge=None,
                         storage_max_discharge=None):
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
    upper = _array(upper, "upper")
    if upper.ndim != 2 or upper.shape[0] < 1 or upper.shape[1] < 1:
        raise ValueError(f"upper must have shape (users, slots) with both >= 1; got {upper.shape}")
    N, T = upper.shape
    lower = _array(lower, "lower", (N, T))
    energy = _array(energy, "energy", (N,))
    a = _array(a, "a", (T,))
    b = _array(b, "b", (T,))
    renewables = _array(renewables, "renewables", (T,))
    if billing not in BILLING_RULES:
        raise ValueError(f"billing must be one of {sorted(BILLING_RULES)}; got {billing!r}")
    if (lower < 0).any():
        raise ValueError("lower bounds must be nonnegative (consumption)")
    if (lower > upper).any():
        n, t = np.argwhere(lower > upper)[0]
        raise ValueError(f"user {n}, slot {t}: lower bound {lower[n, t]} exceeds upper bound {upper[n, t]}")
    if (a <= 0).any():
        raise ValueError("cost coefficients a must be positive (strictly convex slot costs)")
    short = np.flatnonzero(upper.sum(1) < energy - 1e-12)
    if short.size:
        n = short[0]
        raise ValueError(f"impossible constraints: user {n} needs {energy[n]} but can consume at most {upper[n].sum()}")
    over = np.flatnonzero(lower.sum(1) > energy + 1e-12)
    if over.size:
        n = over[0]
        raise ValueError(f"impossible constraints: user {n} must consume at least {lower[n].sum()} > energy {energy[n]}")
    if billing == "hourly" and np.any(renewables != 0):
        raise ValueError("hourly billing with renewables is not supported (the per-slot share is undefined "
                         "when renewables exceed the load); use daily billing")
    K = 0 if storage_capacity is None else np.size(storage_capacity)
    capacity = _array(np.zeros(0) if storage_capacity is None else storage_capacity, "storage_capacity").reshape(-1)
    if storage_capacity is None and any(v is not None for v in (storage_initial, storage_max_charge,
                                                                 storage_max_discharge)):
        raise ValueError("storage parameters given without storage_capacity")
    if K:
        if billing != "daily":
            raise ValueError("storage units are supported with daily billing (hourly shares of a negative "
                             "load are undefined)")
        initial = _array(0.5 * capacity if storage_initial is None else storage_initial, "storage_initial", (K,))
        per_unit = lambda v: np.broadcast_to(np.asarray(v, float), (K,))[:, None] if np.ndim(v) <= 1 else v
        charge = _array(per_unit(capacity if storage_max_charge is None else storage_max_charge),
                        "storage_max_charge", (K, T))
        discharge = _array(per_unit(capacity if storage_max_discharge is None else storage_max_discharge),
                           "storage_max_discharge", (K, T))
        if (capacity < 0).any():
            raise ValueError("storage_capacity must be nonnegative")
        if (initial < 0).any() or (initial > capacity).any():
            raise ValueError("storage_initial must lie in [0, storage_capacity]")
        if (charge < 0).any() or (discharge < 0).any():
            raise ValueError("storage_max_charge and storage_max_discharge must be nonnegative")
        lower = np.concatenate([lower, -discharge])
        upper = np.concatenate([upper, charge])
        energy = np.concatenate([energy, np.zeros(K)])
    else:
        initial = np.zeros(0)
    return DemandResponseGame(jnp.asarray(lower), jnp.asarray(upper), jnp.asarray(energy), jnp.asarray(a),
                              jnp.asarray(b), jnp.asarray(renewables), jnp.asarray(capacity), jnp.asarray(initial),
                              billing)


def datacenter_user(baseline, training_energy, *, start: int, deadline: int, max_power):
    """Bounds of a data center: an inflexible inference ``baseline`` (T,) plus a training job of
    ``training_energy`` that may run in slots ``start <= t < deadline`` at up to ``max_power`` extra.

    Returns ``(lower, upper, energy)`` rows for :func:`demand_response_game`.
    """
    baseline = _array(baseline, "baseline")
    if baseline.ndim != 1 or (baseline < 0).any():
        raise ValueError("baseline must be a nonnegative (T,) array")
    T = baseline.shape[0]
    if not 0 <= start < deadline <= T:
        raise ValueError(f"need 0 <= start < deadline <= T = {T}; got start={start}, deadline={deadline}")
    window = (np.arange(T) >= start) & (np.arange(T) < deadline)
    upper = baseline + np.where(window, _array(max_power, "max_power", (T,)), 0.0)
    if training_energy < 0 or training_energy > (upper - baseline).sum() + 1e-12:
        raise ValueError(f"the training job ({training_energy}) does not fit before the deadline "
                         f"(room {(upper - baseline).sum()})")
    return baseline, upper, float(baseline.sum() + training_energy)
