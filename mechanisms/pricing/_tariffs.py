"""Retail tariffs over ``T`` time slots: flat, time of use and real-time prices linear in load.

Loads are arrays ``(..., N, T)``: user ``n``'s consumption in slot ``t``; every rule returns each
user's bill ``(..., N)``.

- Flat: ``bill_n = p sum_t l_nt``.
- Time of use: ``bill_n = sum_t p_t l_nt``.
- Real-time, linear in load: ``p_t = alpha + beta L_t`` with ``L_t = sum_n l_nt``.

Reference: F. C. Schweppe, M. C. Caramanis, R. D. Tabors and R. E. Bohn (1988), *Spot Pricing of
Electricity* (real-time prices); S. Borenstein (2005), "The long-run efficiency of real-time
electricity pricing", The Energy Journal 26(3) (flat, time-of-use and real-time tariffs).
"""

from __future__ import annotations

import jax.numpy as jnp

from .._validation import check_loads, check_per_slot

__all__ = ["flat_rate_bills", "time_of_use_bills", "real_time_prices", "real_time_bills"]


def flat_rate_bills(loads, price):
    """``bill_n = price * sum_t l_nt``."""
    loads = check_loads(loads)
    return check_per_slot(price, loads, "price") * jnp.sum(loads, axis=-1)


def time_of_use_bills(loads, prices):
    """``bill_n = sum_t prices_t l_nt``."""
    loads = check_loads(loads)
    return jnp.sum(check_per_slot(prices, loads, "prices") * loads, axis=-1)


def real_time_prices(loads, *, alpha, beta):
    """``p_t = alpha + beta L_t``, linear in the total load of each slot."""
    loads = check_loads(loads)
    return check_per_slot(alpha, loads, "alpha") + check_per_slot(beta, loads, "beta") * jnp.sum(loads, axis=-2)


def real_time_bills(loads, *, alpha, beta):
    """Bills at real-time prices linear in load: ``sum_t (alpha + beta L_t) l_nt``."""
    prices = real_time_prices(loads, alpha=alpha, beta=beta)
    return jnp.sum(prices[..., None, :] * jnp.asarray(loads), axis=-1)
