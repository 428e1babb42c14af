"""Measurements of profiles and mechanisms, and the runs that produce them.

Equilibrium: NashConv / exploitability and per-player regrets. Incentives: regret of misreports
(``ic_regret``), individual-rationality violation. Welfare: budget surplus and efficiency. Sweeps:
``sweep`` over a ``grid`` or a ``sample`` of parameters (chunked, vectorized, resumable, on Dask too)
and the built-in studies. Simulation: ``simulate`` a repeated market (:mod:`games.market`) over days and
seeds, returning a ``SimulationResult``; ``market_study`` runs one as a sweep function.
"""

from . import _equilibrium, _incentives, _welfare, simulation, sweeps
from ._equilibrium import *  # noqa: F403
from ._incentives import *  # noqa: F403
from ._welfare import *  # noqa: F403
from .simulation import *  # noqa: F403
from .sweeps import *  # noqa: F403

__all__ = [*_equilibrium.__all__, *_incentives.__all__, *_welfare.__all__, *sweeps.__all__, *simulation.__all__]
