"""Storage units (batteries): a player type that charges and discharges within its state of charge.

Unit ``k`` chooses a signed schedule ``s_k in R^T`` (charging positive) within its power limits
``-max_discharge_kt <= s_kt <= max_charge_kt``, returns to its initial state of charge by the end of the
day (``sum_t s_kt = 0``) and keeps its state of charge ``e_kt = e_k0 + sum_{tau <= t} s_k tau`` within
``[0, capacity_k]``. The state-of-charge limits are linear constraints on the unit's own schedule, given
matrix-free (cumulative sums, O(K T)); their multipliers value one more unit of capacity in each slot.

Reference: H. Mohsenian-Rad (2016), "Coordinated price-maker operation of large energy storage units in
nodal energy markets", IEEE Transactions on Power Systems 31(1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mechanisms import pytree_dataclass

from .._validation import finite_array

__all__ = ["StorageUnits", "storage_units"]


@pytree_dataclass
class StorageUnits:
    """``K`` storage units (an immutable pytree): ``capacity``, ``initial`` ``(K,)``; ``max_charge``,
    ``max_discharge`` ``(K, T)``."""

    capacity: jax.Array
    initial: jax.Array
    max_charge: jax.Array
    max_discharge: jax.Array

    @property
    def num_units(self) -> int:
        return int(self.capacity.shape[-1])

    def state_of_charge(self, s):
        """``(K, T)``: each unit's state of charge at the end of every slot."""
        return self.initial[:, None] + jnp.cumsum(s, axis=-1)

    def constraint_values(self, s):
        """``A s``: cumulative charge of every unit, then its negative, ``(2 K T,)``."""
        charge = jnp.cumsum(s, axis=-1).ravel()
        return jnp.concatenate([charge, -charge])

    def constraint_adjoint(self, multipliers):
        """``A^T mu`` as a ``(K, T)`` array: reverse cumulative sums."""
        K, T = self.max_charge.shape
        up, down = multipliers[: K * T].reshape(K, T), multipliers[K * T:].reshape(K, T)
        tail = lambda m: jnp.cumsum(m[:, ::-1], axis=-1)[:, ::-1]
        return tail(up) - tail(down)

    def constraint_upper(self):
        """``(2 K T,)``: ``capacity - e_0`` for the upper limits, ``e_0`` for the lower."""
        T = self.max_charge.shape[-1]
        up = jnp.repeat((self.capacity - self.initial)[:, None], T, axis=1)
        down = jnp.repeat(self.initial[:, None], T, axis=1)
        return jnp.concatenate([up.ravel(), down.ravel()])


def storage_units(capacity, num_slots: int, *, initial=None, max_charge=None, max_discharge=None) -> StorageUnits:
    """Build and validate :class:`StorageUnits` (``initial`` defaults to half the capacity, power limits
    to the capacity per slot; limits may be ``(K,)`` or ``(K, T)``)."""
    capacity = finite_array(capacity, "storage_capacity").reshape(-1)
    K, T = capacity.size, num_slots
    initial = finite_array(0.5 * capacity if initial is None else initial, "storage_initial", (K,))
    per_unit = lambda v: np.broadcast_to(np.asarray(v, float), (K,))[:, None] if np.ndim(v) <= 1 else v
    charge = finite_array(per_unit(capacity if max_charge is None else max_charge), "storage_max_charge", (K, T))
    discharge = finite_array(per_unit(capacity if max_discharge is None else max_discharge),
                             "storage_max_discharge", (K, T))
    if (capacity < 0).any():
        raise ValueError("storage_capacity must be nonnegative")
    if (initial < 0).any() or (initial > capacity).any():
        raise ValueError("storage_initial must lie in [0, storage_capacity]")
    if (charge < 0).any() or (discharge < 0).any():
        raise ValueError("storage_max_charge and storage_max_discharge must be nonnegative")
    return StorageUnits(jnp.asarray(capacity), jnp.asarray(initial), jnp.asarray(charge), jnp.asarray(discharge))
