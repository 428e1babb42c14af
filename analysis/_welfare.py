"""Budget and welfare of a mechanism's outcome: surplus (budget balance) and efficiency.

Reference: N. Nisan, T. Roughgarden, E. Tardos and V. Vazirani (eds., 2007), *Algorithmic Game Theory*,
ch. 9 (budget balance, efficiency); R. P. McAfee (1992), "A dominant strategy double auction", JET 56
(gains from trade as the efficiency measure of double auctions).
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["budget_surplus", "efficiency"]


def budget_surplus(clearing):
    """Money left with the market: payments minus receipts (negative: a deficit)."""
    return clearing.surplus


def efficiency(clearing, values, costs, optimal_gains):
    """Realized gains from trade divided by the optimum (1 where the optimum is 0).

    Gains are ``sum(trades * values) - sum(trades * costs)``: trades may be booleans, probabilities or
    traded quantities (multi-unit rules). Padding slots never trade, whatever their values.
    """
    dtype = clearing.buyer_payments.dtype
    bought, sold = jnp.asarray(clearing.buyer_trades, dtype), jnp.asarray(clearing.seller_trades, dtype)
    realized = jnp.sum(jnp.where(bought != 0, bought * values, 0.0), axis=-1) - jnp.sum(
        jnp.where(sold != 0, sold * costs, 0.0), axis=-1)
    return jnp.where(optimal_gains > 0, realized / jnp.where(optimal_gains > 0, optimal_gains, 1.0), 1.0)
