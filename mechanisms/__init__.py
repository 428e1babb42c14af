"""Mechanisms: the rules of energy markets, as pure, jittable functions of reports and parameters.

They know nothing of games or solvers. So far: single-unit double auctions
(k-double, McAfee, SBBA, VCG) and reward sharing (proportional, exact and
Monte Carlo Shapley). Their properties are checked by ``analysis``.
"""

from ._double_auction import (
    Clearing,
    efficient_trades,
    k_double_auction,
    mcafee_double_auction,
    sbba_double_auction,
    vcg_double_auction,
)
from ._reward_sharing import (
    MAX_EXACT_SHAPLEY_PLAYERS,
    monte_carlo_shapley,
    proportional_rewards,
    shapley_values,
)

__all__ = [
    "Clearing",
    "k_double_auction",
    "mcafee_double_auction",
    "sbba_double_auction",
    "vcg_double_auction",
    "efficient_trades",
    "proportional_rewards",
    "shapley_values",
    "monte_carlo_shapley",
    "MAX_EXACT_SHAPLEY_PLAYERS",
]
