"""Parametric rules whose parameters are learned through equilibria (``solvers.design``: a monotone
price of load, :class:`MonotonePrice`) or by training (:func:`solvers.train_auction`: the auctions).

The learned-auction protocol (:class:`LearnedAuction`; shared by every rule here, and by any rule a
user writes):

- ``rule.init(key) -> params``: a pytree of parameters.
- ``rule(params, bids) -> (allocation, payments)``: the deployed rule, a pure function; bids
  ``(batch, bidders, items)``, allocation ``(batch, bidders, items)``, payments ``(batch, bidders)``.
  Bidder ``i`` with values ``v_i`` gets ``sum_j allocation_ij v_ij - payment_i``.
- ``rule.relaxed(params, bids)``: the differentiable version used in training (the same function
  unless the rule is discrete at test time, as RochetNet's argmax is).
- ``rule.objective(values, allocation, payments) -> (batch,)``: what the designer maximizes.
- ``rule.num_bidders``, ``rule.num_items``, ``rule.exactly_truthful`` (no regret constraint needed)
  and ``rule.training_defaults()`` (the keyword defaults of ``train_auction`` for this rule).

Rules: :class:`RochetNet` (one bidder, a menu of lotteries; exactly truthful), :class:`RegretNet`
(several additive bidders; feasible and individually rational by construction), and
:class:`LearnedDoubleAuction` (buyers and sellers of one unit each: McAfee's trade reduction with a
learned reference price; truthful, individually rational and weakly budget balanced by construction),
and :class:`DoubleAuctionNet` (a generic network for the same market, individually rational and
weakly budget balanced by construction, trained against regret). :class:`ClearingRule` puts a classical double auction
(``mcafee_double_auction``, ...) in the same protocol, so every rule is measured by the same attack.
"""

from . import _double_auction_net, _learned_double_auction, _monotone_price, _protocol, _regretnet, _rochetnet
from ._double_auction_net import *  # noqa: F403
from ._learned_double_auction import *  # noqa: F403
from ._monotone_price import *  # noqa: F403
from ._protocol import *  # noqa: F403
from ._regretnet import *  # noqa: F403
from ._rochetnet import *  # noqa: F403

__all__ = [*_monotone_price.__all__, *_protocol.__all__, *_rochetnet.__all__, *_regretnet.__all__, *_learned_double_auction.__all__,
           *_double_auction_net.__all__]
