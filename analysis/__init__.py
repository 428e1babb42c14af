"""Measurements of profiles and mechanisms, and the runs that produce them.

Equilibrium: NashConv / exploitability and per-player regrets. Incentives: regret of misreports
(``ic_regret``), individual-rationality violation. Welfare: budget surplus and efficiency. Sweeps:
``sweep`` over a ``grid`` or a ``sample`` of parameters (chunked, vectorized, resumable, on Dask too)
and the built-in studies. Simulation: ``simulate`` a repeated market (:mod:`games.market`) over days and
seeds, returning a ``SimulationResult``; ``market_study`` runs one as a sweep function. Learned auctions (``mechanisms.learned``): ``auction_revenue``,
``auction_regret`` (a dense grid plus many-restart gradient ascent, stronger than the training attack)
and ``ir_violation``, which also takes ``(rule, params, values)`` (``auction_ir_violation`` by name).
"""

from . import _auctions, _equilibrium, _incentives, _welfare, simulation, sweeps
from ._equilibrium import *  # noqa: F403
from ._incentives import *  # noqa: F403
from ._welfare import *  # noqa: F403
from .simulation import *  # noqa: F403
from .sweeps import *  # noqa: F403
from ._auctions import *  # noqa: F403  (last: its ir_violation also takes a learned rule)

__all__ = [*_equilibrium.__all__, *_incentives.__all__, *_welfare.__all__, *sweeps.__all__, *simulation.__all__,
           *(name for name in _auctions.__all__ if name not in _incentives.__all__)]
