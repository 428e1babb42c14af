"""RochetNet: a learned menu of lotteries for one bidder, exactly truthful by construction.

A menu is ``K`` lotteries ``w_k in [0, 1]^m`` (the probability of receiving each of the ``m`` items)
with prices ``p_k``, plus the null option ``(w_0, p_0) = (0, 0)``. The bidder reports ``b`` and gets
the option that maximizes its reported utility,

    k*(b) = argmax_k  u_k(b),   u_k(b) = <w_k, b> - p_k,   allocation w_{k*}, payment p_{k*}.

A bidder who misreports only picks another option from the same menu, which it could have picked
truthfully, so the rule is dominant-strategy incentive compatible, and individually rational
because the null option is always there (Rochet 1987: the utility ``max_k u_k`` is a convex function
of the type, whose gradient is the allocation; every IC mechanism for one bidder is such a menu).

Training replaces the argmax by a softmax with a small temperature ``t`` (Duetting et al. 2019 use
``1/t = 1000`` for values on ``[0, 1]``):

    s_k(b) = exp(u_k(b) / t) / sum_l exp(u_l(b) / t),   allocation sum_k s_k w_k,   payment sum_k s_k p_k,

which is ``relaxed``; ``__call__`` is the exact argmax rule that is deployed and tested.

Valuations: ``"additive"`` (``w_k = sigmoid(a_k)``, any subset of items) or ``"unit_demand"`` (the bidder
wants one item: ``w_k`` is the first ``m`` entries of a softmax over ``m + 1``, so ``sum_j w_kj <= 1``).

References: J.-C. Rochet (1987), "A necessary and sufficient condition for rationalizability in a
quasi-linear context", J. Math. Econ. 16; P. Duetting, Z. Feng, H. Narasimhan, D. C. Parkes and
S. S. Ravindranath (2019), "Optimal auctions through deep learning", ICML (RochetNet, Sec. 3).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from ._protocol import LearnedAuction
from ._networks import cast_params, check_bids, check_sizes

__all__ = ["RochetNet"]

_VALUATIONS = ("additive", "unit_demand")


@dataclasses.dataclass(frozen=True)
class RochetNet(LearnedAuction):
    """A menu of ``menu_size`` lotteries and prices for one bidder: exactly truthful and individually rational.

    Args:
      num_items: items for sale ``m``.
      menu_size: lotteries on the menu ``K`` (the null option comes on top).
      valuation: ``"additive"`` or ``"unit_demand"``.
      softmax_temperature: ``t`` of the training relaxation, in units of the values.

    Bids, allocation and payments follow the learned-rule protocol of :mod:`mechanisms.learned`: bids
    ``(batch, 1, m)``, allocation ``(batch, 1, m)``, payments ``(batch, 1)``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> rule = RochetNet(2, menu_size=8)
      >>> params = rule.init(jax.random.key(0))
      >>> allocation, payments = rule(params, jnp.array([[[0.9, 0.2]]]))
      >>> allocation.shape, payments.shape
      ((1, 1, 2), (1, 1))

    Reference: Duetting, Feng, Narasimhan, Parkes and Ravindranath (2019), Sec. 3 (RochetNet).
    """

    num_items: int
    menu_size: int = 1000
    valuation: str = "additive"
    softmax_temperature: float = 1e-3

    num_bidders = 1
    exactly_truthful = True

    def __post_init__(self):
        check_sizes("RochetNet", num_items=self.num_items, menu_size=self.menu_size)
        if self.valuation not in _VALUATIONS:
            raise ValueError(f"RochetNet: valuation must be one of {_VALUATIONS}; got {self.valuation!r}")
        if not float(self.softmax_temperature) > 0:
            raise ValueError(f"RochetNet: softmax_temperature must be positive; got {self.softmax_temperature!r}")

    def init(self, key):
        """Lottery logits ``N(0, 1)`` and prices uniform on ``[0, max(1, m / 2)]``."""
        k_lottery, k_price = jax.random.split(key)
        columns = self.num_items + (self.valuation == "unit_demand")
        dtype = jnp.result_type(float)
        return {"lottery_logits": jax.random.normal(k_lottery, (self.menu_size, columns), dtype),
                "prices": jax.random.uniform(k_price, (self.menu_size,), dtype, 0.0, max(1.0, self.num_items / 2))}

    def menu(self, params):
        """``(lotteries (K + 1, m), prices (K + 1,))`` with the null option first."""
        logits = params["lottery_logits"]
        if self.valuation == "additive":
            lotteries = jax.nn.sigmoid(logits)
        else:
            lotteries = jax.nn.softmax(logits, axis=-1)[:, : self.num_items]
        lotteries = jnp.concatenate([jnp.zeros((1, self.num_items), lotteries.dtype), lotteries])
        prices = jnp.concatenate([jnp.zeros((1,), params["prices"].dtype), params["prices"]])
        return lotteries, prices

    def _utilities(self, params, bids):
        bids = check_bids("RochetNet", bids, 1, self.num_items)
        lotteries, prices = self.menu(cast_params(params, bids.dtype))
        return bids[..., 0, :] @ lotteries.T - prices, lotteries, prices

    def __call__(self, params, bids):
        """The deployed rule: the bidder's utility-maximizing option (argmax; ties to the first listed)."""
        utilities, lotteries, prices = self._utilities(params, bids)
        choice = jnp.argmax(utilities, axis=-1)
        return lotteries[choice][..., None, :], prices[choice][..., None]

    def relaxed(self, params, bids):
        """The training rule: a softmax over the options at temperature ``softmax_temperature``."""
        utilities, lotteries, prices = self._utilities(params, bids)
        weights = jax.nn.softmax(utilities / self.softmax_temperature, axis=-1)
        return (weights @ lotteries)[..., None, :], (weights @ prices)[..., None]

    def objective(self, values, allocation, payments):
        """What the designer maximizes: revenue per profile, ``sum_i payments_i``."""
        return jnp.sum(payments, axis=-1)

    def training_defaults(self):
        """Keyword defaults of :func:`solvers.train_auction` for this rule.

        Measured to reach the optima for values on [0, 1] (benchmarks/results/auctions.md): 5,000 Adam
        steps of 1,024 profiles for up to two items, 20,000 for more; step 3e-3 decayed to 3e-4.
        """
        return {"steps": 5_000 if self.num_items <= 2 else 20_000, "batch_size": 1024, "learning_rate": 3e-3,
                "learning_rate_decay": 0.1}
