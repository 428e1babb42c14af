"""RegretNet: allocation and payment networks for several additive bidders, trained against regret.

Two perceptrons read the ``n x m`` bids ``b`` (flattened). The allocation network's outputs
``z in R^{(n+1) x m}`` become, for every item ``j``, a softmax over the ``n`` bidders and a dummy
bidder ``n+1`` (the item unsold):

    a_ij(b) = exp(z_ij) / sum_{k <= n+1} exp(z_kj),      so  a_ij >= 0  and  sum_i a_ij <= 1,

a feasible (randomized) allocation by construction. The payment network's outputs ``y in R^n`` set
each payment as a fraction of the bidder's reported value for what it receives,

    p_i(b) = sigmoid(y_i) * sum_j a_ij(b) b_ij,

so a truthful bidder's utility ``(1 - sigmoid(y_i)) sum_j a_ij v_ij >= 0``: individually rational by
construction. Incentive compatibility is not built in; it is what training buys with a constraint on
each bidder's regret (the largest gain from a misreport), see :func:`solvers.train_auction`.

Reference: P. Duetting, Z. Feng, H. Narasimhan, D. C. Parkes and S. S. Ravindranath (2019),
"Optimal auctions through deep learning", ICML (RegretNet, Sec. 4; additive bidders, Fig. 2).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from ._protocol import LearnedAuction
from ._networks import cast_params, check_bids, check_sizes, perceptron_apply, perceptron_init

__all__ = ["RegretNet"]


@dataclasses.dataclass(frozen=True)
class RegretNet(LearnedAuction):
    """Allocation and payment networks for ``num_bidders`` additive bidders and ``num_items`` items.

    Args:
      num_bidders, num_items: ``n`` and ``m``.
      hidden: widths of the hidden ``tanh`` layers of each network.

    Feasible (each item goes to at most one bidder in expectation) and individually rational for
    every parameter value; incentive compatible only as far as training makes it so.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> rule = RegretNet(2, 2, hidden=(16, 16))
      >>> allocation, payments = rule(rule.init(jax.random.key(0)), jnp.full((4, 2, 2), 0.5))
      >>> bool((allocation.sum(axis=1) <= 1).all()), payments.shape
      (True, (4, 2))

    Reference: Duetting, Feng, Narasimhan, Parkes and Ravindranath (2019), Sec. 4.
    """

    num_bidders: int
    num_items: int
    hidden: tuple = (100, 100, 100)

    exactly_truthful = False

    def __post_init__(self):
        check_sizes("RegretNet", num_bidders=self.num_bidders, num_items=self.num_items)
        hidden = tuple(self.hidden)
        if not hidden:
            raise ValueError("RegretNet: hidden must name at least one layer width")
        for width in hidden:
            check_sizes("RegretNet", hidden=width)
        object.__setattr__(self, "hidden", hidden)

    def init(self, key):
        """Glorot-uniform weights, zero biases (Duetting et al.'s ``gu`` initialization)."""
        k_alloc, k_pay = jax.random.split(key)
        inputs = self.num_bidders * self.num_items
        return {"allocation": perceptron_init(k_alloc, (inputs, *self.hidden, (self.num_bidders + 1) * self.num_items)),
                "payment": perceptron_init(k_pay, (inputs, *self.hidden, self.num_bidders))}

    def __call__(self, params, bids):
        """``(allocation (batch, n, m), payments (batch, n))`` for bids ``(batch, n, m)``."""
        bids = check_bids("RegretNet", bids, self.num_bidders, self.num_items)
        params = cast_params(params, bids.dtype)
        n, m = self.num_bidders, self.num_items
        flat = bids.reshape(*bids.shape[:-2], n * m)
        logits = perceptron_apply(params["allocation"], flat).reshape(*bids.shape[:-2], n + 1, m)
        allocation = jax.nn.softmax(logits, axis=-2)[..., :n, :]
        fractions = jax.nn.sigmoid(perceptron_apply(params["payment"], flat))
        payments = fractions * jnp.sum(allocation * bids, axis=-1)
        return allocation, payments

    relaxed = __call__

    def objective(self, values, allocation, payments):
        """What the designer maximizes: revenue per profile, ``sum_i payments_i``."""
        return jnp.sum(payments, axis=-1)

    def training_defaults(self):
        """Keyword defaults of :func:`solvers.train_auction` for this rule.

        Measured on values uniform on [0, 1] (benchmarks/results/auctions.md). One item: 20,000 steps of
        128 profiles, multipliers updated every 5 steps, the step decayed along a cosine to 0.3 of its
        start (without decay three bidders stopped at 98.9% of Myerson's revenue; decayed to 0.1, two
        bidders reached 101.1%, an approximately truthful rule spending its regret slack above the
        optimum; at 0.3: 100.9% and 100.2%, test regret <= 8e-5). Several items: 40,000 steps,
        multipliers every 60, the step decayed to a tenth. The penalty ``rho`` grows by 5 every 500 steps. Duetting et al. (2019) run 400,000 steps with ``rho`` +5
        every 10,000 and multipliers every 100: the schedule here is compressed ten- to twentyfold.
        """
        common = {"batch_size": 128, "learning_rate": 1e-3, "penalty": 1.0, "penalty_increment": 5.0,
                  "penalty_every": 500, "multiplier_init": 5.0, "misreport_steps": 25, "misreport_learning_rate": 0.1}
        if self.num_items == 1:
            return {**common, "steps": 20_000, "multiplier_every": 5, "learning_rate_decay": 0.3}
        return {**common, "steps": 40_000, "multiplier_every": 60, "learning_rate_decay": 0.1}
