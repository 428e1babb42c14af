"""A learned double auction for peer-to-peer energy: truthful, individually rational, never in deficit.

``B`` buyers want one unit each (values ``v_i``), ``S`` sellers have one unit each (costs ``c_j``).
In the learned-rule protocol the traders are stacked on the bidder axis, buyers first:
``bids[:, :B, 0]`` are the buyers' bids and ``bids[:, B:, 0]`` the sellers' asks. A buyer's
allocation is the probability it buys, a seller's is minus the probability it sells, and a seller's
payment is minus what it receives, so every trader's utility is ``allocation * value - payment``.

The rule generalizes McAfee's trade reduction (McAfee 1992) with a learned reference price. Sort the
book, bids descending ``b_(1) >= b_(2) >= ...`` and asks ascending ``s_(1) <= s_(2) <= ...``; let
``q = max{k : b_(k) >= s_(k)}`` be the efficient number of trades and ``b_(q+1)``, ``s_(q+1)`` the best
excluded bid and ask (the support's bounds ``lo``, ``hi`` when a side has no ``(q+1)``-th trader).
A perceptron ``g_w`` of ``(q / K, b_(q+1), s_(q+1))`` (``K = min(B, S)``) sets the reference price

    p0 = clip(m + g_w(q / K, b_(q+1), s_(q+1)), b_(q+1), s_(q+1)),   m = (b_(q+1) + s_(q+1)) / 2,

and then, as in McAfee's rule: if ``s_(q) <= p0 <= b_(q)`` the ``q`` best buyers and sellers trade at
``p0``; otherwise the ``q - 1`` best pairs trade, buyers paying ``b_(q)`` and sellers receiving
``s_(q)``. With ``g_w = 0`` this is McAfee's rule (except where a side has no ``(q+1)``-th trader:
McAfee then always reduces trade, here the support's bound stands in).

Guarantees for every parameter value (tests check them, the first against the exact critical-report
search of ``analysis.ic_regret``):

- dominant-strategy incentive compatibility: a trader among the ``q`` best cannot move ``p0``, which
  depends only on the excluded ``(q+1)``-th bid and ask and lies between them; one outside them
  only trades by outbidding a trader whose report is at least its own value (McAfee's argument,
  which uses nothing of the midpoint but its place in ``[b_(q+1), s_(q+1)]``);
- individual rationality: buyers pay at most their bid, sellers receive at least their ask;
- weak budget balance: surplus ``0`` when the ``q`` pairs trade at ``p0``, ``(q - 1)(b_(q) - s_(q)) >= 0``
  otherwise: the operator never pays in.

What is learned is where the reference price sits, which decides how often the ``q``-th trade
survives: training maximizes the expected gains from trade through a relaxation of the indicator
``s_(q) <= p0 <= b_(q)`` (a product of two sigmoids at temperature ``softness``, ``relaxed``); the
deployed rule (``__call__``) uses the exact indicator, as RochetNet deploys its argmax.

:class:`ClearingRule` puts the classical rules (``mcafee_double_auction``, ``sbba_double_auction``,
``k_double_auction``) in the same protocol, and :class:`DoubleAuctionNet` is the generic,
regret-trained alternative.

References: R. P. McAfee (1992), "A dominant strategy double auction", JET 56; E. Segal-Halevi,
A. Hassidim and Y. Aumann (2016), "SBBA", SAGT (trade reduction and its variants); P. Duetting,
Z. Feng, H. Narasimhan, D. C. Parkes and S. S. Ravindranath (2019), "Optimal auctions through deep
learning", ICML (truthful-by-construction learned rules: RochetNet).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from ._double_auction_net import gains_from_trade
from ._protocol import LearnedAuction
from ._networks import cast_params, check_bids, check_sizes, perceptron_apply, perceptron_init

__all__ = ["LearnedDoubleAuction", "ClearingRule"]


@dataclasses.dataclass(frozen=True)
class LearnedDoubleAuction(LearnedAuction):
    """Trade reduction with a learned reference price: truthful, IR, weakly budget balanced (see the module).

    Args:
      num_buyers, num_sellers: ``B`` and ``S``.
      hidden: widths of the reference-price perceptron's hidden ``tanh`` layers.
      support: ``(lo, hi)``, the range of values and costs; it stands in for a missing ``(q+1)``-th
        bid or ask.
      softness: temperature of the training relaxation of the trade indicator (units of the values).

    Bids ``(batch, B + S, 1)`` (buyers first), allocation ``(batch, B + S, 1)`` (sellers negative),
    payments ``(batch, B + S)`` (sellers negative: they receive).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> rule = LearnedDoubleAuction(3, 3)  # at init: McAfee's rule
      >>> bids = jnp.array([[[0.9], [0.7], [0.2], [0.1], [0.3], [0.8]]])  # q = 2, p0 = (0.2 + 0.8) / 2
      >>> allocation, payments = rule(rule.init(jax.random.key(0)), bids)
      >>> allocation[0, :, 0].tolist(), payments[0].tolist()
      ([1.0, 1.0, 0.0, -1.0, -1.0, 0.0], [0.5, 0.5, 0.0, -0.5, -0.5, 0.0])

    Reference: McAfee (1992), with a learned reference price.
    """

    num_buyers: int
    num_sellers: int
    hidden: tuple = (32, 32)
    support: tuple = (0.0, 1.0)
    softness: float = 0.01

    num_items = 1
    exactly_truthful = True

    def __post_init__(self):
        check_sizes("LearnedDoubleAuction", num_buyers=self.num_buyers, num_sellers=self.num_sellers)
        hidden = tuple(self.hidden)
        for width in hidden:
            check_sizes("LearnedDoubleAuction", hidden=width)
        object.__setattr__(self, "hidden", hidden)
        try:
            lo, hi = (float(x) for x in self.support)
        except (TypeError, ValueError):
            raise ValueError(f"LearnedDoubleAuction: support must be a pair (lo, hi); got {self.support!r}") from None
        if not lo < hi:
            raise ValueError(f"LearnedDoubleAuction: support must have lo < hi; got {self.support!r}")
        object.__setattr__(self, "support", (lo, hi))
        if not float(self.softness) > 0:
            raise ValueError(f"LearnedDoubleAuction: softness must be positive; got {self.softness!r}")

    @property
    def num_bidders(self) -> int:
        return self.num_buyers + self.num_sellers

    def init(self, key):
        """Glorot-uniform hidden layers and a zero output layer: McAfee's midpoint at the start."""
        layers = perceptron_init(key, (3, *self.hidden, 1))
        layers[-1] = {name: jnp.zeros_like(x) for name, x in layers[-1].items()}
        return {"price": layers}

    def book(self, params, bids):
        """``(buyer ranks, seller ranks, q, b_(q), s_(q), p0)`` of each market (0-based ranks, best first)."""
        bids = check_bids("LearnedDoubleAuction", bids, self.num_bidders, 1)
        params = cast_params(params, bids.dtype)
        B, S = self.num_buyers, self.num_sellers
        K = min(B, S)
        lo, hi = self.support
        buy, sell = bids[..., :B, 0], bids[..., B:, 0]
        b = -jnp.sort(-buy, axis=-1)
        s = jnp.sort(sell, axis=-1)
        q = jnp.sum(b[..., :K] >= s[..., :K], axis=-1)
        pad = lambda x, value: jnp.concatenate([x, jnp.full(x.shape[:-1] + (1,), value, x.dtype)], -1)  # noqa: E731
        at = lambda x, k: jnp.take_along_axis(x, k[..., None], axis=-1)[..., 0]  # noqa: E731
        b_next, s_next = at(pad(b, lo), q), at(pad(s, hi), q)  # b_(q+1), s_(q+1) (0-based index q)
        b_q = at(b, jnp.maximum(q - 1, 0))
        s_q = at(s, jnp.maximum(q - 1, 0))
        low, high = jnp.minimum(b_next, s_next), jnp.maximum(b_next, s_next)
        features = jnp.stack([(q / K).astype(bids.dtype), b_next, s_next], axis=-1)
        p0 = jnp.clip((b_next + s_next) / 2 + perceptron_apply(params["price"], features)[..., 0], low, high)
        buyer_rank = jnp.argsort(jnp.argsort(-buy, axis=-1, stable=True), axis=-1)
        seller_rank = jnp.argsort(jnp.argsort(sell, axis=-1, stable=True), axis=-1)
        return buyer_rank, seller_rank, q, b_q, s_q, p0

    def _outcome(self, buyer_rank, seller_rank, q, b_q, s_q, p0, full):
        """Allocation and payments when the ``q``-th pair trades with probability ``full`` (0/1 when deployed)."""
        dtype = p0.dtype
        trades = q > 0
        core_b = (buyer_rank < (q - 1)[..., None]).astype(dtype)  # the q - 1 best always trade (when q >= 1)
        core_s = (seller_rank < (q - 1)[..., None]).astype(dtype)
        last_b = (buyer_rank == (q - 1)[..., None]).astype(dtype) * jnp.where(trades, full, 0.0)[..., None]
        last_s = (seller_rank == (q - 1)[..., None]).astype(dtype) * jnp.where(trades, full, 0.0)[..., None]
        buyer_price = full * p0 + (1 - full) * b_q  # in expectation over the two cases
        seller_price = full * p0 + (1 - full) * s_q
        buyer_pay = core_b * buyer_price[..., None] + last_b * p0[..., None]
        seller_get = core_s * seller_price[..., None] + last_s * p0[..., None]
        allocation = jnp.concatenate([core_b + last_b, 0.0 - (core_s + last_s)], axis=-1)[..., None]
        payments = jnp.concatenate([buyer_pay, 0.0 - seller_get], axis=-1)
        return allocation, payments

    def __call__(self, params, bids):
        """The deployed rule: ``(allocation (batch, B + S, 1), payments (batch, B + S))``, sellers negative."""
        buyer_rank, seller_rank, q, b_q, s_q, p0 = self.book(params, bids)
        full = ((s_q <= p0) & (p0 <= b_q)).astype(p0.dtype)
        return self._outcome(buyer_rank, seller_rank, q, b_q, s_q, p0, full)

    def relaxed(self, params, bids):
        """The training rule: the ``q``-th trade's indicator smoothed by sigmoids at temperature ``softness``."""
        buyer_rank, seller_rank, q, b_q, s_q, p0 = self.book(params, bids)
        full = jax.nn.sigmoid((p0 - s_q) / self.softness) * jax.nn.sigmoid((b_q - p0) / self.softness)
        return self._outcome(buyer_rank, seller_rank, q, b_q, s_q, p0, full)

    def reference_price(self, params, bids):
        """``p0`` of each market (for inspection)."""
        return self.book(params, bids)[-1]

    def objective(self, values, allocation, payments):
        """What the designer maximizes: gains from trade per market."""
        return gains_from_trade(values, allocation, payments)

    def training_defaults(self):
        """Keyword defaults of :func:`solvers.train_auction` for this rule."""
        return {"steps": 3_000, "batch_size": 1024, "learning_rate": 3e-3, "learning_rate_decay": 0.1}


@dataclasses.dataclass(frozen=True)
class ClearingRule(LearnedAuction):
    """A classical double auction (``(bids, asks) -> Clearing``) in the learned-rule protocol, to be measured alike.

    Args:
      mechanism: e.g. ``mcafee_double_auction``, ``functools.partial(k_double_auction, k=0.5)`` or
        ``functools.partial(sbba_double_auction, key=jax.random.key(0))``.
      num_buyers, num_sellers: market size.

    ``init`` returns an empty parameter dict; ``rule({}, bids)`` has the shapes and signs of
    :class:`LearnedDoubleAuction` (sellers' allocation and payments negative).

    Example:
      >>> import jax.numpy as jnp
      >>> from mechanisms import mcafee_double_auction
      >>> rule = ClearingRule(mcafee_double_auction, 3, 3)
      >>> allocation, payments = rule({}, jnp.array([[[10.], [8.], [3.], [2.], [6.], [9.]]]))
      >>> allocation[0, :, 0].tolist(), payments[0].tolist()
      ([1.0, 1.0, 0.0, -1.0, -1.0, 0.0], [6.0, 6.0, 0.0, -6.0, -6.0, 0.0])
    """

    mechanism: Callable
    num_buyers: int
    num_sellers: int

    num_items = 1
    exactly_truthful = False

    def __post_init__(self):
        check_sizes("ClearingRule", num_buyers=self.num_buyers, num_sellers=self.num_sellers)
        if not callable(self.mechanism):
            raise ValueError("ClearingRule: mechanism must be a function (bids, asks) -> Clearing")

    @property
    def num_bidders(self) -> int:
        return self.num_buyers + self.num_sellers

    def init(self, key=None):
        return {}

    def __call__(self, params, bids):
        bids = check_bids("ClearingRule", bids, self.num_bidders, 1)
        clearing = self.mechanism(bids[..., : self.num_buyers, 0], bids[..., self.num_buyers:, 0])
        dtype = bids.dtype
        allocation = jnp.concatenate([clearing.buyer_trades.astype(dtype), -clearing.seller_trades.astype(dtype)], -1)
        payments = jnp.concatenate([clearing.buyer_payments.astype(dtype), -clearing.seller_receipts.astype(dtype)], -1)
        return allocation[..., None], payments

    relaxed = __call__

    def objective(self, values, allocation, payments):
        """Gains from trade per market."""
        return gains_from_trade(values, allocation, payments)
