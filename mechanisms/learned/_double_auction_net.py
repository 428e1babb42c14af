"""A RegretNet-style double auction network: individually rational and never in deficit, by construction.

``B`` buyers want one unit each (values ``v_i``), ``S`` sellers have one unit each (costs ``c_j``).
In the learned-rule protocol the traders are stacked on the bidder axis, buyers first:
``bids[:, :B, 0]`` are the buyers' bids and ``bids[:, B:, 0]`` the sellers' asks. A buyer's
allocation is the probability it buys, a seller's is minus the probability it sells, and a seller's
payment is minus what it receives, so every trader's utility is ``allocation * value - payment``
(a seller's "value" is its cost).

The rule (all from the reports):

1. Sort the order book: bids descending ``b_(1) >= b_(2) >= ...``, asks ascending
   ``s_(1) <= s_(2) <= ...``. Only the assortative pairs ``(k-th buyer, k-th seller)``,
   ``k <= K = min(B, S)``, may trade: for any number of trades they maximize the gains from trade.
2. A perceptron (``tanh`` layers plus a linear skip connection) reads the sorted book and returns,
   for every pair ``k``, a trade logit ``o_k``, a buyer price ``P_k`` and a seller price ``R_k``.
3. Pair ``k`` trades with probability ``t_k = sigmoid(o_k) * clip((b_(k) - s_(k)) / gate_width, 0, 1)``:
   never when ``b_(k) <= s_(k)``.
4. Its buyer pays ``t_k pi_k`` with ``pi_k = clip(P_k, s_(k), b_(k))`` and its seller receives
   ``t_k rho_k`` with ``rho_k = clip(R_k, s_(k), pi_k)``. Nobody else pays or receives anything.

Guarantees for every parameter value (no training needed):

- individual rationality: a truthful buyer gets ``t_k (b_(k) - pi_k) >= 0``, a truthful seller
  ``t_k (rho_k - s_(k)) >= 0``;
- weak budget balance, pair by pair: the operator keeps ``sum_k t_k (pi_k - rho_k) >= 0``, so no
  deficit is possible whatever the reports (strong budget balance is the special case ``rho = pi``);
- feasibility and balance of goods: each trader trades at most one unit, and units bought equal
  units sold (``sum_k t_k`` on each side).

Incentive compatibility is what training adds (:func:`solvers.train_auction` with the regret of every
trader, buyers and sellers, under an augmented Lagrangian), with the gains from trade
``sum_k t_k (v_(k) - c_(k))`` as the objective. The classical rules the learned one is compared with
(McAfee 1992; Segal-Halevi, Hassidim and Aumann 2016, SBBA; the k-double auction) are in
:mod:`mechanisms`; :class:`ClearingRule` puts them in the same protocol. Measured against them
(benchmarks/results/auctions.md), this generic network pays for its regret constraint with
welfare; :class:`LearnedDoubleAuction`, truthful by construction, does not.

References: R. P. McAfee (1992), "A dominant strategy double auction", JET 56 (trade reduction:
the design space this rule learns in); P. Duetting, Z. Feng, H. Narasimhan, D. C. Parkes and
S. S. Ravindranath (2019), "Optimal auctions through deep learning", ICML (regret-constrained
training); R. B. Myerson and M. A. Satterthwaite (1983), JET 29 (why some efficiency must be lost).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from ._protocol import LearnedAuction
from ._networks import cast_params, check_bids, check_sizes, perceptron_apply, perceptron_init

__all__ = ["DoubleAuctionNet"]


def gains_from_trade(values, allocation, payments):
    """``sum_i allocation_i * value_i`` over traders: buyers' values minus sellers' costs of what trades."""
    return jnp.sum(allocation[..., 0] * values[..., 0], axis=-1)


@dataclasses.dataclass(frozen=True)
class DoubleAuctionNet(LearnedAuction):
    """A regret-trained double auction network: IR and weakly budget balanced by construction (see the module).

    Args:
      num_buyers, num_sellers: ``B`` and ``S``.
      hidden: widths of the perceptron's hidden ``tanh`` layers.
      gate_width: the trade probability of a pair ramps from 0 to its learned value as the pair's
        reported gap ``b_(k) - s_(k)`` grows from 0 to ``gate_width`` (units of the values): a pair
        with ``b <= s`` never trades, and utilities stay continuous in the reports.

    Bids ``(batch, B + S, 1)`` (buyers first), allocation ``(batch, B + S, 1)`` (sellers negative),
    payments ``(batch, B + S)`` (sellers negative: they receive).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> rule = DoubleAuctionNet(2, 2, hidden=(16,))
      >>> bids = jnp.array([[[0.9], [0.4], [0.1], [0.6]]])  # buyers 0.9, 0.4; sellers 0.1, 0.6
      >>> allocation, payments = rule(rule.init(jax.random.key(0)), bids)
      >>> bool(payments.sum() >= 0), bool(allocation[0, 1, 0] == 0)  # no deficit; 0.4 < 0.6: no trade
      (True, True)

    Reference: McAfee (1992); Duetting, Feng, Narasimhan, Parkes and Ravindranath (2019).
    """

    num_buyers: int
    num_sellers: int
    hidden: tuple = (64, 64)
    gate_width: float = 0.01

    num_items = 1
    exactly_truthful = False

    def __post_init__(self):
        check_sizes("DoubleAuctionNet", num_buyers=self.num_buyers, num_sellers=self.num_sellers)
        hidden = tuple(self.hidden)
        for width in hidden:
            check_sizes("DoubleAuctionNet", hidden=width)
        object.__setattr__(self, "hidden", hidden)
        if not float(self.gate_width) > 0:
            raise ValueError(f"DoubleAuctionNet: gate_width must be positive; got {self.gate_width!r}")

    @property
    def num_bidders(self) -> int:
        return self.num_buyers + self.num_sellers

    @property
    def num_pairs(self) -> int:
        return min(self.num_buyers, self.num_sellers)

    def init(self, key):
        """Glorot-uniform perceptron, zero skip connection."""
        inputs = self.num_bidders
        return {"network": perceptron_init(key, (inputs, *self.hidden, 3 * self.num_pairs)),
                "skip": jnp.zeros((inputs, 3 * self.num_pairs), jnp.result_type(float))}

    def pairs(self, params, bids):
        """The sorted book and the per-pair outcome: ``(b_sorted, s_sorted, buyer order, seller order, t, pi, rho)``."""
        bids = check_bids("DoubleAuctionNet", bids, self.num_bidders, 1)
        params = cast_params(params, bids.dtype)
        B, K = self.num_buyers, self.num_pairs
        buy, sell = bids[..., :B, 0], bids[..., B:, 0]
        buyer_order = jnp.argsort(-buy, axis=-1, stable=True)
        seller_order = jnp.argsort(sell, axis=-1, stable=True)
        b = jnp.take_along_axis(buy, buyer_order, axis=-1)
        s = jnp.take_along_axis(sell, seller_order, axis=-1)
        book = jnp.concatenate([b, s], axis=-1)
        out = perceptron_apply(params["network"], book) + book @ params["skip"]
        logits, buyer_price, seller_price = out[..., :K], out[..., K:2 * K], out[..., 2 * K:]
        gap = b[..., :K] - s[..., :K]
        trade = jax.nn.sigmoid(logits) * jnp.clip(gap / self.gate_width, 0.0, 1.0)
        pi = jnp.minimum(jnp.maximum(buyer_price, s[..., :K]), b[..., :K])
        rho = jnp.minimum(jnp.maximum(seller_price, s[..., :K]), pi)
        return b, s, buyer_order, seller_order, trade, pi, rho

    def __call__(self, params, bids):
        """``(allocation (batch, B + S, 1), payments (batch, B + S))``; sellers' entries are negative."""
        _, _, buyer_order, seller_order, trade, pi, rho = self.pairs(params, bids)
        B, S, K = self.num_buyers, self.num_sellers, self.num_pairs
        pad = lambda x, n: jnp.concatenate([x, jnp.zeros(x.shape[:-1] + (n - K,), x.dtype)], axis=-1)  # noqa: E731

        def unsort(sorted_values, order):  # the entry of rank r goes to trader order[r]
            return jnp.take_along_axis(sorted_values, jnp.argsort(order, axis=-1), axis=-1)

        buyer_trade, seller_trade = unsort(pad(trade, B), buyer_order), unsort(pad(trade, S), seller_order)
        buyer_pay = unsort(pad(trade * pi, B), buyer_order)
        seller_receive = unsort(pad(trade * rho, S), seller_order)
        allocation = jnp.concatenate([buyer_trade, -seller_trade], axis=-1)[..., None]
        payments = jnp.concatenate([buyer_pay, -seller_receive], axis=-1)
        return allocation, payments

    relaxed = __call__

    def objective(self, values, allocation, payments):
        """What the designer maximizes: gains from trade per market, ``sum_k t_k (v_(k) - c_(k))``."""
        return gains_from_trade(values, allocation, payments)

    def training_defaults(self):
        """Keyword defaults of :func:`solvers.train_auction` for this rule (one measured run: 5 + 5 uniform
        traders reach regret ~1e-3 at 85% of the first-best gains, below McAfee's 95%)."""
        return {"steps": 8_000, "batch_size": 128, "learning_rate": 1e-3, "learning_rate_decay": 0.1,
                "misreport_starts": 32, "multiplier_init": 1.0, "multiplier_every": 10, "penalty_increment": 5.0,
                "penalty_every": 500}
