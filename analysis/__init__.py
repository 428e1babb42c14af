"""Measurements of profiles and mechanisms.

Finite games: NashConv / exploitability and per-player regrets. Mechanisms:
incentive-compatibility regret (``ic_regret``), individual-rationality
violation, budget surplus and efficiency.
"""

from ._mechanism_checks import budget_surplus, efficiency, ic_regret, ir_violation, trader_utilities
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
]
