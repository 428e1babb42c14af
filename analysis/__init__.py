"""Measurements of profiles and mechanisms.

Equilibrium: NashConv / exploitability and per-player regrets. Incentives: regret of misreports
(``ic_regret``), individual-rationality violation. Welfare: budget surplus and efficiency.
"""

from . import _equilibrium, _incentives, _welfare
from ._equilibrium import *  # noqa: F403
from ._incentives import *  # noqa: F403
from ._welfare import *  # noqa: F403

__all__ = [*_equilibrium.__all__, *_incentives.__all__, *_welfare.__all__]
