"""Measurements of profiles and mechanisms.

Finite games: NashConv / exploitability and per-player regrets. Mechanisms:
incentive-compatibility regret (``ic_regret``), individual-rationality
violation, budget surplus and efficiency. Learned auctions (``mechanisms.learned``):
``auction_revenue``, ``auction_regret`` (a dense grid plus many-restart gradient
ascent, stronger than the training attack) and ``ir_violation`` (which also takes
``(rule, params, values)``; ``auction_ir_violation`` is the learned-rule form by name).
"""

from ._auctions import auction_ir_violation, auction_regret, auction_revenue, ir_violation
from ._mechanism_checks import budget_surplus, efficiency, ic_regret, trader_utilities
from ._nash_conv import exploitability, nash_conv, player_regrets

__all__ = [
    "nash_conv",
    "exploitability",
    "player_regrets",
    "ic_regret",
    "ir_violation",
    "budget_surplus",
    "efficiency",
    "trader_utilities",
    "auction_revenue",
    "auction_regret",
    "auction_ir_violation",
]
