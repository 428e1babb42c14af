"""The learned-auction protocol: what a rule trained by :func:`solvers.train_auction` and measured by
``analysis.auction_regret`` declares.

A rule is a hashable object (a frozen dataclass) with

- ``init(key) -> params``: a pytree of parameters;
- ``rule(params, bids) -> (allocation, payments)``: the deployed rule, a pure function of parameters and
  bids ``(batch, bidders, items)``; allocation ``(batch, bidders, items)``, payments ``(batch, bidders)``.
  Bidder ``i`` with values ``v_i`` gets the quasi-linear utility ``<allocation_i, v_i> - payment_i``;
- ``relaxed(params, bids)``: the differentiable version used in training (by default the rule itself;
  RochetNet's softmax over its menu where the deployed rule takes the argmax);
- ``objective(values, allocation, payments) -> (batch,)``: what the designer maximizes (revenue, gains
  from trade);
- ``num_bidders``, ``num_items``; ``exactly_truthful`` (True: truthful by construction, trained on its
  objective alone); ``training_defaults()``: keyword defaults of ``train_auction`` for this rule.

Subclassing :class:`LearnedAuction` supplies the defaults (``relaxed`` = the rule, not exactly truthful,
no training defaults); the check is structural (``runtime_checkable``), so a class with the same members
conforms without subclassing.

Reference: P. Duetting, Z. Feng, H. Narasimhan, D. C. Parkes and S. S. Ravindranath (2019), "Optimal
auctions through deep learning", ICML, Sec. 2 (the auction design problem as learning).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["LearnedAuction"]


@runtime_checkable
class LearnedAuction(Protocol):
    """A parametric auction: ``init``, ``__call__``, ``relaxed``, ``objective`` and its sizes (see the module)."""

    num_bidders: int
    num_items: int
    exactly_truthful: bool = False

    def init(self, key):
        """Parameters (a pytree)."""
        ...

    def __call__(self, params, bids):
        """``(allocation (batch, bidders, items), payments (batch, bidders))`` of the deployed rule."""
        ...

    def relaxed(self, params, bids):
        """The differentiable rule used in training (default: the deployed rule)."""
        return self(params, bids)

    def objective(self, values, allocation, payments):
        """``(batch,)`` what the designer maximizes."""
        ...

    def training_defaults(self) -> dict:
        """Keyword defaults of :func:`solvers.train_auction` for this rule (default: none)."""
        return {}
