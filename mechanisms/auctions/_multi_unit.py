"""A multi-unit double auction: Huang, Scheller-Wolf and Sycara (2002).

Each buyer ``i`` reports a unit value ``b_i`` for up to ``qb_i`` units (constant
marginal value), each seller ``j`` a unit cost ``s_j`` for up to ``qs_j``
units: energy offered and wanted in kWh at a price per kWh. Sort buyers by bid
descending and sellers by ask ascending; the stepwise demand curve ``b(u)``
(the bid of the buyer holding unit ``u`` of cumulative demand) and supply curve
``s(u)`` cross at the efficient volume ``Q* = sup{u : b(u) >= s(u)}``. The
*marginal* buyer ``K`` and seller ``L`` are those holding unit ``Q*``.

The rule excludes the marginal traders and uses their reports as prices, which
is what makes it truthful in the reported price:

- buyers ranked before ``K`` buy at ``p_b = b_K``; sellers ranked before ``L``
  sell at ``p_s = s_L <= p_b``;
- they trade the volume ``V = min(D, S)`` (``D``, ``S`` their total demand and
  supply); the long side is rationed by *equal reduction*: each of its traders
  trades ``max(q - delta, 0)`` with ``delta`` chosen so the side totals ``V``
  (Huang et al., footnote on rationing).

Properties (Huang et al. 2002, Theorems 1 to 3): dominant-strategy truthful in
the reported price (quantities held fixed), individually rational, weakly
budget balanced (the market keeps ``V (p_b - p_s) >= 0``). It is *not*
truthful in quantity: a marginal trader can under-report its quantity so that
another becomes marginal and it trades (the tests find such markets). With
unit quantities it reduces to McAfee's (1992) trade-reduction branch: the
``q - 1`` best pairs trade at ``b_(q)`` and ``s_(q)``.

A market without buyers or without sellers (an empty trader axis, padding only,
or zero quantities) is valid: nothing trades, prices and payments are 0.

Reference: P. Huang, A. Scheller-Wolf and K. Sycara (2002), "Design of a
multi-unit double auction e-market", Computational Intelligence 18(4),
596-617. The rationing threshold is the sort-based simplex-projection formula
of M. Held, P. Wolfe and H. Crowder (1974), "Validation of subgradient
optimization", Mathematical Programming 6.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._batching import over_markets
from .._pytree import pytree_dataclass
from .._validation import as_real_array, check_finite_nonnegative, check_order_book

__all__ = ["MultiUnitClearing", "huang_double_auction", "huang_sorted_clearing", "efficient_multi_unit_trades"]


@pytree_dataclass
class MultiUnitClearing:
    """The outcome of a multi-unit double auction.

    Attributes:
      buyer_quantities, seller_quantities: units each trader buys / sells ``(..., B)``, ``(..., S)``.
      buyer_price, seller_price: the unit prices ``(...)`` (0 where nothing trades).
      buyer_payments, seller_receipts: ``price * quantity`` per trader.
      surplus: money left with the market, ``sum(payments) - sum(receipts)``.

    ``buyer_trades`` and ``seller_trades`` alias the quantities, so the property checks of
    :mod:`analysis` (utilities ``quantity * value - payment``) apply unchanged.
    """

    buyer_quantities: jax.Array
    seller_quantities: jax.Array
    buyer_price: jax.Array
    seller_price: jax.Array
    buyer_payments: jax.Array
    seller_receipts: jax.Array
    surplus: jax.Array

    @property
    def buyer_trades(self) -> jax.Array:
        return self.buyer_quantities

    @property
    def seller_trades(self) -> jax.Array:
        return self.seller_quantities

    @property
    def volume(self) -> jax.Array:
        """Units traded, ``sum(buyer_quantities)``."""
        return jnp.sum(self.buyer_quantities, axis=-1)


def _equal_reduction(quantity, eligible, volume):
    """``max(q - delta, 0)`` on the eligible traders with ``delta >= 0`` chosen so the total is ``volume``.

    ``delta`` is the threshold of the Euclidean projection onto a scaled simplex (Held, Wolfe and
    Crowder 1974): sort descending, ``theta_j = (cumsum_j - volume) / j``, ``delta = theta_rho`` at the
    largest ``rho`` with ``q_(rho) > theta_rho``.
    """
    q = jnp.where(eligible, quantity, 0.0)
    ordered = -jnp.sort(-q)
    j = jnp.arange(1, q.shape[-1] + 1, dtype=q.dtype)
    theta = (jnp.cumsum(ordered) - volume) / j
    rho = jnp.max(jnp.where(ordered > theta, jnp.arange(q.shape[-1]), 0))
    delta = jnp.maximum(theta[rho], 0.0)
    return jnp.where(eligible & (volume > 0), jnp.maximum(q - delta, 0.0), 0.0)


def _sorted_book(bids, asks, buyer_mask, seller_mask, buy_quantities, sell_quantities):
    """Buyers by bid descending, sellers by ask ascending; padding and zero-quantity traders carry
    bid -inf / ask +inf and quantity 0. Returns the orders, sorted prices and sorted quantities."""
    inf = jnp.asarray(jnp.inf, bids.dtype)
    b_real = buyer_mask & (buy_quantities > 0)
    s_real = seller_mask & (sell_quantities > 0)
    b_order = jnp.argsort(-jnp.where(b_real, bids, -inf), stable=True)
    s_order = jnp.argsort(jnp.where(s_real, asks, inf), stable=True)
    b = jnp.where(b_real, bids, -inf)[b_order]
    s = jnp.where(s_real, asks, inf)[s_order]
    qb = jnp.where(b_real, buy_quantities, 0.0)[b_order]
    qs = jnp.where(s_real, sell_quantities, 0.0)[s_order]
    return b_order, s_order, b, s, qb, qs


def _check_sorted_book(b, s, qb, qs):
    b, s, qb, qs = (np.asarray(x) for x in (b, s, qb, qs))
    if b.ndim != 1 or s.ndim != 1 or qb.shape != b.shape or qs.shape != s.shape:
        raise ValueError("huang_sorted_clearing: b, qb and s, qs must be one-dimensional pairs of equal length; "
                         f"got {b.shape}, {qb.shape}, {s.shape}, {qs.shape}")
    if np.isnan(b).any() or np.isnan(s).any():
        raise ValueError("huang_sorted_clearing: prices must not be NaN")
    check_finite_nonnegative(qb, "huang_sorted_clearing: qb")
    check_finite_nonnegative(qs, "huang_sorted_clearing: qs")
    if (np.diff(b) > 0).any() or (np.diff(s) < 0).any():
        raise ValueError("huang_sorted_clearing: bids must be sorted descending and asks ascending "
                         "(huang_double_auction sorts an unsorted book)")


def huang_sorted_clearing(b, s, qb, qs):
    """Huang et al.'s (2002) clearing of one book already sorted: ``(bought, sold, buyer_price, seller_price)``.

    ``b`` are the bids in descending and ``s`` the asks in ascending order (ties in index order), the
    absent traders at the end with bid ``-inf`` / ask ``+inf`` and quantity 0; ``qb`` and ``qs`` the
    quantities in the same orders. ``bought`` and ``sold`` are in the sorted orders. It is the clearing
    of :func:`huang_double_auction` after its sort, shared with books ranked another way (the repeated
    market ranks its traders once for every seed).

    Concrete inputs are checked (one-dimensional, matching lengths, sorted, nonnegative quantities): a
    book in another order would clear to a wrong answer, so it is a ``ValueError``; traced inputs are the
    caller's to sort.
    """
    if not any(isinstance(x, jax.core.Tracer) for x in (b, s, qb, qs)):
        _check_sorted_book(b, s, qb, qs)
    dtype = b.dtype
    demand = jnp.cumsum(qb)  # D_k: cumulative demand through sorted buyer k
    supply = jnp.cumsum(qs)
    demand_before = demand - qb
    supply_before = supply - qs
    # Buyer k trades efficiently up to min(D_k, S(m_k)), S(m_k) the supply of the sellers asking <= b_k,
    # provided it gets any unit at all (S(m_k) > D_{k-1}). Q* is the largest such volume.
    m = jnp.searchsorted(s, b, side="right")  # sellers with ask <= b_k (real asks only: padding is +inf)
    supply_at_bid = jnp.concatenate([jnp.zeros(1, dtype), supply])[m]
    candidate = jnp.where((qb > 0) & (supply_at_bid > demand_before), jnp.minimum(demand, supply_at_bid), 0.0)
    efficient_volume = jnp.max(candidate)
    trade = efficient_volume > 0
    # Marginal traders: D_{K-1} < Q* <= D_K (zero-quantity traders can never satisfy both).
    K = jnp.argmax((demand_before < efficient_volume) & (efficient_volume <= demand))
    L = jnp.argmax((supply_before < efficient_volume) & (efficient_volume <= supply))
    buyer_price = jnp.where(trade, b[K], 0.0)
    seller_price = jnp.where(trade, s[L], 0.0)
    buyers = trade & (jnp.arange(b.shape[0]) < K)
    sellers = trade & (jnp.arange(s.shape[0]) < L)
    volume = jnp.where(trade, jnp.minimum(demand_before[K], supply_before[L]), 0.0)
    return _equal_reduction(qb, buyers, volume), _equal_reduction(qs, sellers, volume), buyer_price, seller_price


def _huang_single(bids, asks, buyer_mask, seller_mask, buy_quantities, sell_quantities):
    b_order, s_order, b, s, qb, qs = _sorted_book(bids, asks, buyer_mask, seller_mask, buy_quantities,
                                                  sell_quantities)
    bought_sorted, sold_sorted, buyer_price, seller_price = huang_sorted_clearing(b, s, qb, qs)
    bought = jnp.zeros_like(bought_sorted).at[b_order].set(bought_sorted)
    sold = jnp.zeros_like(sold_sorted).at[s_order].set(sold_sorted)
    payments = buyer_price * bought
    receipts = seller_price * sold
    return MultiUnitClearing(bought, sold, buyer_price, seller_price, payments, receipts,
                             jnp.sum(payments) - jnp.sum(receipts))


_huang = jax.jit(over_markets(_huang_single))


def _quantities(q, like, name, label):
    q = as_real_array(q, f"{name}: {label}").astype(like.dtype)
    try:
        q = jnp.broadcast_to(q, like.shape)
    except ValueError:
        raise ValueError(f"{name}: {label} must broadcast to shape {like.shape}; got {q.shape}") from None
    check_finite_nonnegative(q, f"{name}: {label}")
    return q


def huang_double_auction(bids, asks, buy_quantities, sell_quantities, *, buyer_mask=None,
                         seller_mask=None) -> MultiUnitClearing:
    """Multi-unit double auction of Huang, Scheller-Wolf and Sycara (2002) (see the module docstring).

    Args:
      bids, asks: unit values ``(..., B)`` and unit costs ``(..., S)``; leading axes are markets.
      buy_quantities, sell_quantities: units wanted / offered, broadcast to the shapes of
        ``bids`` / ``asks``; nonnegative (a trader with quantity 0 is absent).
      buyer_mask, seller_mask: False marks padding slots.

    Example:
      >>> c = huang_double_auction([10., 8., 6.], [1., 2., 7.], [3., 2., 4.], [2., 3., 5.])
      >>> # Q* = 5: buyer 8 and seller 2 are marginal; buyer 10 (3 units) and seller 1 (2 units) trade 2
      >>> c.buyer_quantities.tolist(), float(c.buyer_price), float(c.seller_price), float(c.surplus)
      ([2.0, 0.0, 0.0], 8.0, 2.0, 12.0)

    Reference: Huang, Scheller-Wolf and Sycara (2002), Computational Intelligence 18(4).
    """
    name = "huang_double_auction"
    bids, asks, bm, sm = check_order_book(bids, asks, buyer_mask, seller_mask, name)
    qb = _quantities(buy_quantities, bids, name, "buy_quantities")
    qs = _quantities(sell_quantities, asks, name, "sell_quantities")
    if bids.shape[-1] == 0 or asks.shape[-1] == 0:  # a one-sided (or empty) market: a valid market, no trade
        zero = jnp.zeros(bids.shape[:-1], bids.dtype)
        bought, sold = jnp.zeros_like(bids), jnp.zeros_like(asks)
        return MultiUnitClearing(bought, sold, zero, zero, bought, sold, zero)
    return _huang(bids, asks, bm, sm, qb, qs)


def _efficient_single(values, costs, buyer_mask, seller_mask, buy_quantities, sell_quantities):
    dtype = values.dtype
    _, _, b, s, qb, qs = _sorted_book(values, costs, buyer_mask, seller_mask, buy_quantities, sell_quantities)
    demand = jnp.cumsum(qb)
    supply = jnp.cumsum(qs)
    # Between consecutive breakpoints of the two step curves both are constant: integrate (b(u) - s(u))^+.
    points = jnp.sort(jnp.concatenate([jnp.zeros(1, dtype), demand, supply]))
    points = jnp.minimum(points, jnp.minimum(demand[-1], supply[-1]))
    width = jnp.diff(points)
    middle = points[:-1] + 0.5 * width
    bid = b[jnp.clip(jnp.searchsorted(demand, middle, side="right"), 0, b.shape[0] - 1)]
    ask = s[jnp.clip(jnp.searchsorted(supply, middle, side="right"), 0, s.shape[0] - 1)]
    gain = jnp.where((width > 0) & (bid >= ask), width * (bid - ask), 0.0)
    volume = jnp.sum(jnp.where((width > 0) & (bid >= ask), width, 0.0))
    return volume, jnp.sum(gain)


_efficient = jax.jit(over_markets(_efficient_single))


def efficient_multi_unit_trades(values, costs, buy_quantities, sell_quantities, *, buyer_mask=None,
                                seller_mask=None) -> tuple[jax.Array, jax.Array]:
    """The efficient volume ``Q*`` and the optimal gains from trade ``integral_0^Q* (b(u) - s(u)) du``.

    ``b(u)`` and ``s(u)`` are the stepwise demand and supply curves of the true unit values and costs
    (Huang et al. 2002, section 3); the optimum of the transportation LP of a one-good market.
    """
    name = "efficient_multi_unit_trades"
    values, costs, bm, sm = check_order_book(values, costs, buyer_mask, seller_mask, name)
    qb = _quantities(buy_quantities, values, name, "buy_quantities")
    qs = _quantities(sell_quantities, costs, name, "sell_quantities")
    if values.shape[-1] == 0 or costs.shape[-1] == 0:  # one-sided (or empty): nothing can trade
        zero = jnp.zeros(values.shape[:-1], values.dtype)
        return zero, zero
    return _efficient(values, costs, bm, sm, qb, qs)
