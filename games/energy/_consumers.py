"""Flexible consumers: daily energy needs within per-slot bounds (households, data centers).

User ``n`` chooses a schedule ``x_n in R^T`` with ``lower_n <= x_n <= upper_n`` (a zero upper bound
closes a slot: time windows, deadlines) and ``sum_t x_nt = energy_n``. A data center training a large
model is a user with an inflexible inference baseline plus a deferrable training load that must finish
by a deadline: :func:`datacenter_user` builds its rows.

Reference: A.-H. Mohsenian-Rad, V. W. S. Wong, J. Jatskevich, R. Schober and A. Leon-Garcia (2010),
"Autonomous demand-side management based on game-theoretic energy consumption scheduling for the future
smart grid", IEEE Transactions on Smart Grid 1(3), sec. II; A. Radovanovic et al. (2023),
"Carbon-aware computing for datacenters", IEEE Transactions on Power Systems 38(2) (flexible,
deadline-bound compute loads beside inflexible serving load).
"""

from __future__ import annotations

import jax
import numpy as np

from mechanisms import pytree_dataclass

from .._validation import finite_array

__all__ = ["Consumers", "consumers", "datacenter_user"]


@pytree_dataclass
class Consumers:
    """Consumers' strategy sets (an immutable pytree): ``lower``, ``upper`` ``(N, T)``, ``energy`` ``(N,)``.

    The set of user ``n`` is ``{lower_n <= x_n <= upper_n, sum_t x_nt = energy_n}`` (a capped simplex).
    """

    lower: jax.Array
    upper: jax.Array
    energy: jax.Array

    num_users = property(lambda self: int(self.upper.shape[-2]), doc="``N``, the number of consumers.")


def consumers(lower, upper, energy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate consumers' bounds and energies; returns ``(lower, upper, energy)`` as float arrays.

    Raises ``ValueError`` for wrong shapes, NaN, negative bounds, ``lower > upper``, or an energy the
    bounds cannot deliver (impossible constraints), naming the user and slot.
    """
    upper = finite_array(upper, "upper")
    if upper.ndim != 2 or upper.shape[0] < 1 or upper.shape[1] < 1:
        raise ValueError(f"upper must have shape (users, slots) with both >= 1; got {upper.shape}")
    N, T = upper.shape
    lower = finite_array(lower, "lower", (N, T))
    energy = finite_array(energy, "energy", (N,))
    if (lower < 0).any():
        raise ValueError("lower bounds must be nonnegative (consumption)")
    if (lower > upper).any():
        n, t = np.argwhere(lower > upper)[0]
        raise ValueError(f"user {n}, slot {t}: lower bound {lower[n, t]} exceeds upper bound {upper[n, t]}")
    short = np.flatnonzero(upper.sum(1) < energy - 1e-12)
    if short.size:
        n = short[0]
        raise ValueError(f"impossible constraints: user {n} needs {energy[n]} but can consume at most {upper[n].sum()}")
    over = np.flatnonzero(lower.sum(1) > energy + 1e-12)
    if over.size:
        n = over[0]
        raise ValueError(f"impossible constraints: user {n} must consume at least {lower[n].sum()} > energy {energy[n]}")
    return lower, upper, energy


def datacenter_user(baseline, training_energy, *, start: int, deadline: int, max_power):
    """Bounds of a data center: an inflexible inference ``baseline`` (T,) plus a training job of
    ``training_energy`` that may run in slots ``start <= t < deadline`` at up to ``max_power`` extra.

    Returns ``(lower, upper, energy)`` rows for :func:`~games.demand_response_game`.

    Example:
      >>> lower, upper, energy = datacenter_user(np.ones(4), 2.0, start=1, deadline=3, max_power=1.5)
      >>> upper.tolist(), energy
      ([1.0, 2.5, 2.5, 1.0], 6.0)
    """
    baseline = finite_array(baseline, "baseline")
    if baseline.ndim != 1 or (baseline < 0).any():
        raise ValueError("baseline must be a nonnegative (T,) array")
    T = baseline.shape[0]
    if not 0 <= start < deadline <= T:
        raise ValueError(f"need 0 <= start < deadline <= T = {T}; got start={start}, deadline={deadline}")
    window = (np.arange(T) >= start) & (np.arange(T) < deadline)
    upper = baseline + np.where(window, finite_array(max_power, "max_power", (T,)), 0.0)
    if training_energy < 0 or training_energy > (upper - baseline).sum() + 1e-12:
        raise ValueError(f"the training job ({training_energy}) does not fit before the deadline "
                         f"(room {(upper - baseline).sum()})")
    return baseline, upper, float(baseline.sum() + training_energy)
