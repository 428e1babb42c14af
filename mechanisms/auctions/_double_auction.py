"""Single-unit double auctions for peer-to-peer energy trading.

Each buyer wants one unit and reports a bid, each seller has one unit and
reports an ask. Sort bids descending ``b_(1) >= b_(2) >= ...`` and asks
ascending ``s_(1) <= s_(2) <= ...``; the efficient number of trades is
``q = max{i : b_(i) >= s_(i)}`` (``b_(i) = -inf`` and ``s_(i) = +inf`` past the
last trader). The rules differ in who trades and at what prices:

- k-double auction (uniform price; Chatterjee and Samuelson 1983, Wilson
  1985): the ``q`` efficient pairs trade at ``p = (1-k) lo + k hi`` where
  ``[lo, hi] = [max(s_(q), b_(q+1)), min(b_(q), s_(q+1))]`` is the interval of
  market-clearing prices. Budget balanced and individually rational, not
  truthful.
- McAfee's trade reduction (McAfee 1992): with ``p0 = (b_(q+1) + s_(q+1)) / 2``,
  if ``s_(q) <= p0 <= b_(q)`` all ``q`` pairs trade at ``p0``; otherwise the
  ``q - 1`` best pairs trade, buyers paying ``b_(q)`` and sellers receiving
  ``s_(q)``. Dominant-strategy truthful, individually rational, surplus >= 0,
  at least ``(q-1)/q`` of the optimal gains from trade.
- SBBA (Segal-Halevi, Hassidim and Aumann 2016): ``p = min(b_(q), s_(q+1))``.
  If ``p = s_(q+1)`` all ``q`` pairs trade at ``p``; otherwise the ``q - 1``
  best buyers trade at ``p`` with ``q - 1`` of the ``q`` lowest sellers, the
  one left out chosen by a random priority independent of the reports.
  Truthful, individually rational, strongly budget balanced (surplus 0).
- VCG (Vickrey 1961, Clarke 1971, Groves 1973): the ``q`` efficient pairs
  trade; buyers pay ``lo`` and sellers receive ``hi`` (each trader's
  externality). Truthful, efficient, individually rational, and runs a
  deficit ``q (hi - lo) >= 0`` (Myerson and Satterthwaite 1983 say some rule
  must give up one of these).

Markets of different sizes share one shape through masks: ``buyer_mask[i]``
False means buyer slot ``i`` is padding (it never trades). A market without
buyers or without sellers (an empty trader axis, or every slot padding) is a
valid market in which nothing trades. All rules are pure functions, jittable,
and take any leading batch axes.

References: K. Chatterjee and W. Samuelson (1983), "Bargaining under
incomplete information", Operations Research 31; R. Wilson (1985), "Incentive
efficiency of double auctions", Econometrica 53; R. P. McAfee (1992), "A
dominant strategy double auction", Journal of Economic Theory 56;
E. Segal-Halevi, A. Hassidim and Y. Aumann (2016), "SBBA: a strongly-budget-
balanced double-auction mechanism", SAGT; R. B. Myerson and M. A.
Satterthwaite (1983), "Efficient mechanisms for bilateral trading", JET 29.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from .._batching import over_markets
from .._pytree import pytree_dataclass
from .._validation import check_order_book, check_real_scalar

__all__ = [
    "Clearing",
    "k_double_auction",
    "mcafee_double_auction",
    "sbba_double_auction",
    "vcg_double_auction",
    "efficient_trades",
]


@pytree_dataclass
class Clearing:
    """The outcome of a double auction.

    Attributes:
      buyer_trades: ``(..., num_buyers)`` bool, who buys a unit.
      seller_trades: ``(..., num_sellers)`` bool, who sells a unit.
      buyer_payments: what each buyer pays (0 for those who do not trade).
      seller_receipts: what each seller receives (0 for those who do not trade).
      surplus: money left with the market, ``sum(payments) - sum(receipts)``
        (negative: a deficit someone must fund).
    """

    buyer_trades: jax.Array
    seller_trades: jax.Array
    buyer_payments: jax.Array
    seller_receipts: jax.Array
    surplus: jax.Array

    @property
    def num_trades(self) -> jax.Array:
        return jnp.sum(self.buyer_trades, axis=-1)


class _Book:
    """Sorted order book of one market (unbatched)."""

    def __init__(self, bids, asks, buyer_mask, seller_mask):
        inf = jnp.asarray(jnp.inf, bids.dtype)
        self.b_key = jnp.where(buyer_mask, bids, -inf)
        self.s_key = jnp.where(seller_mask, asks, inf)
        self.b_order = jnp.argsort(-self.b_key, stable=True)
        self.s_order = jnp.argsort(self.s_key, stable=True)
        self.b_rank = jnp.argsort(self.b_order)  # rank of each buyer, 0 = highest bid
        self.s_rank = jnp.argsort(self.s_order)  # rank of each seller, 0 = lowest ask
        # Sorted, padded by one sentinel so that b_(q+1), s_(q+1) always exist.
        self.b = jnp.concatenate([self.b_key[self.b_order], -inf[None]])
        self.s = jnp.concatenate([self.s_key[self.s_order], inf[None]])
        depth = min(bids.shape[-1], asks.shape[-1])
        self.q = jnp.sum(self.b[:depth] >= self.s[:depth])  # efficient number of trades

    def bid(self, i):
        """b_(i), 1-indexed; -inf outside the book."""
        return jnp.where(i >= 1, self.b[jnp.clip(i - 1, 0, self.b.shape[0] - 1)], -jnp.inf)

    def ask(self, i):
        """s_(i), 1-indexed; +inf outside the book."""
        return jnp.where(i >= 1, self.s[jnp.clip(i - 1, 0, self.s.shape[0] - 1)], jnp.inf)

    def clearing(self, buyers, sellers, buyer_price, seller_price, seller_trades=None):
        """The ``buyers`` best buyers pay ``buyer_price``; the ``sellers`` best sellers receive ``seller_price``."""
        buyer_trades = self.b_rank < buyers
        if seller_trades is None:
            seller_trades = self.s_rank < sellers
        zero = jnp.zeros((), self.b.dtype)
        payments = jnp.where(buyer_trades, buyer_price, zero)
        receipts = jnp.where(seller_trades, seller_price, zero)
        return Clearing(buyer_trades, seller_trades, payments, receipts, jnp.sum(payments) - jnp.sum(receipts))


def _clearing_interval(book):
    q = book.q
    lo = jnp.maximum(book.ask(q), book.bid(q + 1))
    hi = jnp.minimum(book.bid(q), book.ask(q + 1))
    return q, lo, hi


@functools.partial(jax.jit, static_argnames=())
def _k_double(bids, asks, buyer_mask, seller_mask, k):
    def single(bids, asks, bm, sm, k):
        book = _Book(bids, asks, bm, sm)
        q, lo, hi = _clearing_interval(book)
        price = (1 - k) * lo + k * hi
        price = jnp.where(q > 0, price, 0.0)
        return book.clearing(q, q, price, price)

    return over_markets(single, batched_args=4)(bids, asks, buyer_mask, seller_mask, k)


def k_double_auction(bids, asks, *, k: float = 0.5, buyer_mask=None, seller_mask=None) -> Clearing:
    """Uniform-price k-double auction: the efficient pairs trade at ``(1-k) lo + k hi``.

    Example:
      >>> c = k_double_auction([10., 8., 3.], [2., 6., 9.], k=0.5)
      >>> c.buyer_trades.tolist(), float(c.buyer_payments[0])
      ([True, True, False], 7.0)

    Reference: Chatterjee and Samuelson (1983); Wilson (1985).
    """
    bids, asks, bm, sm = check_order_book(bids, asks, buyer_mask, seller_mask, "k_double_auction")
    k_value = check_real_scalar(k, "k_double_auction: k")
    if not isinstance(k_value, jax.core.Tracer) and not 0.0 <= k_value <= 1.0:
        raise ValueError(f"k_double_auction: k must lie in [0, 1]; got {k!r}")
    return _k_double(bids, asks, bm, sm, jnp.asarray(k, bids.dtype))


@jax.jit
def _mcafee(bids, asks, buyer_mask, seller_mask):
    def single(bids, asks, bm, sm):
        book = _Book(bids, asks, bm, sm)
        q = book.q
        p0 = (book.bid(q + 1) + book.ask(q + 1)) / 2  # NaN or +-inf when a side has no (q+1)-th trader
        all_trade = jnp.isfinite(p0) & (book.ask(q) <= p0) & (p0 <= book.bid(q)) & (q > 0)
        reduced = jnp.maximum(q - 1, 0)
        full = book.clearing(q, q, jnp.where(all_trade, p0, 0.0), jnp.where(all_trade, p0, 0.0))
        cut = book.clearing(reduced, reduced, jnp.where(q > 0, book.bid(q), 0.0),
                            jnp.where(q > 0, book.ask(q), 0.0))
        return jax.tree_util.tree_map(lambda a, b: jnp.where(all_trade, a, b), full, cut)

    return over_markets(single, batched_args=4)(bids, asks, buyer_mask, seller_mask)


def mcafee_double_auction(bids, asks, *, buyer_mask=None, seller_mask=None) -> Clearing:
    """McAfee's dominant-strategy double auction (trade reduction when the candidate price fails).

    Example:
      >>> c = mcafee_double_auction([10., 8., 3.], [2., 6., 9.])  # q = 2, p0 = (3 + 9) / 2 = 6
      >>> c.num_trades.tolist(), float(c.buyer_payments[0]), float(c.surplus)
      (2, 6.0, 0.0)

    Reference: McAfee (1992).
    """
    bids, asks, bm, sm = check_order_book(bids, asks, buyer_mask, seller_mask, "mcafee_double_auction")
    return _mcafee(bids, asks, bm, sm)


@jax.jit
def _sbba(bids, asks, buyer_mask, seller_mask, priority):
    def single(bids, asks, bm, sm, priority):
        book = _Book(bids, asks, bm, sm)
        q = book.q
        upper_seller = book.ask(q + 1)
        price = jnp.minimum(book.bid(q), upper_seller)
        seller_side = (upper_seller <= book.bid(q)) & (q > 0)  # p = s_(q+1): all q pairs trade
        candidates = book.s_rank < q
        # Otherwise the lowest-priority seller among the q lowest is left out (a lottery
        # independent of the reports). Without sellers there is no trade and nobody to leave out.
        if asks.shape[-1] == 0:
            left_out = 0
        else:
            left_out = jnp.argmin(jnp.where(candidates, priority, jnp.inf))
        lottery = candidates & (jnp.arange(asks.shape[-1]) != left_out)
        price = jnp.where(q > 0, price, 0.0)
        full = book.clearing(q, q, price, price)
        reduced = book.clearing(jnp.maximum(q - 1, 0), 0, price, price, seller_trades=lottery)
        return jax.tree_util.tree_map(lambda a, b: jnp.where(seller_side, a, b), full, reduced)

    return over_markets(single, batched_args=4)(bids, asks, buyer_mask, seller_mask, priority)


def sbba_double_auction(bids, asks, *, key, buyer_mask=None, seller_mask=None) -> Clearing:
    """SBBA: strongly budget-balanced, truthful double auction (a seller lottery when trade is reduced).

    Args:
      key: a ``jax.random`` key for the sellers' random priority (drawn per
        seller identity, independent of the asks; shared across a batch).

    Reference: Segal-Halevi, Hassidim and Aumann (2016).
    """
    bids, asks, bm, sm = check_order_book(bids, asks, buyer_mask, seller_mask, "sbba_double_auction")
    priority = jax.random.uniform(key, (asks.shape[-1],), dtype=asks.dtype)
    return _sbba(bids, asks, bm, sm, priority)


@jax.jit
def _vcg(bids, asks, buyer_mask, seller_mask):
    def single(bids, asks, bm, sm):
        book = _Book(bids, asks, bm, sm)
        q, lo, hi = _clearing_interval(book)
        return book.clearing(q, q, jnp.where(q > 0, lo, 0.0), jnp.where(q > 0, hi, 0.0))

    return over_markets(single, batched_args=4)(bids, asks, buyer_mask, seller_mask)


def vcg_double_auction(bids, asks, *, buyer_mask=None, seller_mask=None) -> Clearing:
    """VCG double auction: efficient trade, each trader pays or receives its externality.

    Example:
      >>> c = vcg_double_auction([10., 8., 3.], [2., 6., 9.])  # lo = max(6, 3), hi = min(8, 9)
      >>> float(c.buyer_payments[0]), float(c.seller_receipts[0]), float(c.surplus)
      (6.0, 8.0, -4.0)

    Reference: Vickrey (1961); Clarke (1971); Groves (1973).
    """
    bids, asks, bm, sm = check_order_book(bids, asks, buyer_mask, seller_mask, "vcg_double_auction")
    return _vcg(bids, asks, bm, sm)


def efficient_trades(values, costs, *, buyer_mask=None, seller_mask=None) -> tuple[jax.Array, jax.Array]:
    """Optimal number of trades ``q`` and the optimal gains from trade ``sum_{i<=q} (v_(i) - c_(i))``."""
    values, costs, bm, sm = check_order_book(values, costs, buyer_mask, seller_mask, "efficient_trades")

    def single(v, c, bm, sm):
        book = _Book(v, c, bm, sm)
        depth = min(v.shape[-1], c.shape[-1])
        gains = jnp.where(jnp.arange(depth) < book.q, book.b[:depth] - book.s[:depth], 0.0)
        return book.q, jnp.sum(gains)

    return over_markets(single, batched_args=4)(values, costs, bm, sm)
