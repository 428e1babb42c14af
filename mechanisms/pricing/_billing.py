"""Sharing the cost of supply among consumers: proportional billing and marginal-cost prices.

The slot cost is a quadratic generation cost ``C_t(L) = a_t L^2 + b_t L`` of the net load.

- Daily proportional billing (Mohsenian-Rad et al. 2010): ``bill_n = (sum_t l_nt / sum_t L_t)
  sum_t C_t(L_t)``; its energy-consumption game has the social optimum as Nash equilibrium.
- Hourly proportional billing: ``bill_n = sum_t (l_nt / L_t) C_t(L_t)``.
- Marginal-cost (spot) prices ``p_t = C_t'(L_t - r_t)`` and what a storage unit pays at them.

Two forms of each rule: ``*_bills(loads, ...)`` takes the whole ``(..., N, T)`` load matrix, validates it
and returns every user's bill; ``*_user_bill(own, total, ...)`` is one user's bill given its own schedule
and the total load: unvalidated and differentiable, the aggregative building block of games (O(T)).

References: A.-H. Mohsenian-Rad, V. W. S. Wong, J. Jatskevich, R. Schober and A. Leon-Garcia (2010),
"Autonomous demand-side management based on game-theoretic energy consumption scheduling for the
future smart grid", IEEE Transactions on Smart Grid 1(3); F. C. Schweppe, M. C. Caramanis, R. D.
Tabors and R. E. Bohn (1988), *Spot Pricing of Electricity*.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import check_loads, check_per_slot

__all__ = [
    "quadratic_cost",
    "marginal_cost_price",
    "storage_arbitrage_payment",
    "daily_proportional_user_bill",
    "hourly_proportional_user_bill",
    "daily_proportional_bills",
    "hourly_proportional_bills",
]


def quadratic_cost(total_load, a, b):
    """Generation cost ``C_t(L) = a_t L^2 + b_t L`` per slot."""
    return a * total_load**2 + b * total_load


def _cost_coefficients(loads, a, b):
    a = check_per_slot(a, loads, "a")
    b = check_per_slot(b, loads, "b")
    if not isinstance(a, jax.core.Tracer) and (np.asarray(a) < 0).any():
        raise ValueError("a must be nonnegative (a convex cost)")
    return a, b


def marginal_cost_price(total, *, a, b, renewables=0.0):
    """Real-time price at marginal cost, ``p_t = C_t'(L_t - r_t) = 2 a_t (L_t - r_t) + b_t`` (``(..., T)``).

    Spot pricing at the marginal cost of supply (Schweppe, Caramanis, Tabors and Bohn 1988); a
    real-time price linear in load (:func:`real_time_prices` with ``alpha = b - 2 a r``, ``beta = 2 a``),
    unvalidated and differentiable: the building block of games (net loads may be negative here).

    Reference: F. C. Schweppe, M. C. Caramanis, R. D. Tabors and R. E. Bohn (1988), *Spot Pricing of
    Electricity*, Kluwer.
    """
    return 2.0 * a * (total - renewables) + b


def storage_arbitrage_payment(own, total, *, a, b, renewables=0.0):
    """What a storage unit pays for its net charging ``own`` at the marginal-cost price: ``sum_t p_t own_t``
    (negative: revenue from discharging at high prices). Unvalidated and differentiable."""
    return jnp.sum(marginal_cost_price(total, a=a, b=b, renewables=renewables) * own, axis=-1)


def daily_proportional_user_bill(own, total, *, a, b, renewables=0.0):
    """One user's daily proportional bill from its schedule ``own`` and the total load ``total`` (both ``(..., T)``).

    ``(sum_t own_t / sum_t total_t) sum_t C_t(total_t - renewables_t)``: the
    day's cost of the net load, shared by daily energy. Unvalidated and
    differentiable: the building block of games (an aggregative form, O(T)).

    Reference: Mohsenian-Rad et al. (2010), eq. (14).
    """
    cost = jnp.sum(quadratic_cost(total - renewables, a, b), axis=-1)
    day = jnp.sum(total, axis=-1)
    return jnp.where(day > 0, jnp.sum(own, axis=-1) / jnp.where(day > 0, day, 1.0), 0.0) * cost


def hourly_proportional_user_bill(own, total, *, a, b, renewables=0.0):
    """One user's hourly proportional bill: ``sum_t (own_t / total_t) C_t(total_t - renewables_t)``."""
    share = jnp.where(total > 0, own / jnp.where(total > 0, total, 1.0), 0.0)
    return jnp.sum(share * quadratic_cost(total - renewables, a, b), axis=-1)


def daily_proportional_bills(loads, *, a, b, renewables=0.0):
    """Each user pays the day's total cost in proportion to its daily energy (Mohsenian-Rad et al. 2010)."""
    loads = check_loads(loads)
    a, b = _cost_coefficients(loads, a, b)
    renewables = check_per_slot(renewables, loads, "renewables")
    return daily_proportional_user_bill(loads, jnp.sum(loads, axis=-2, keepdims=True), a=a, b=b, renewables=renewables)


def hourly_proportional_bills(loads, *, a, b, renewables=0.0):
    """Each user pays each slot's cost in proportion to its load in that slot."""
    loads = check_loads(loads)
    a, b = _cost_coefficients(loads, a, b)
    renewables = check_per_slot(renewables, loads, "renewables")
    return hourly_proportional_user_bill(loads, jnp.sum(loads, axis=-2, keepdims=True), a=a, b=b, renewables=renewables)
