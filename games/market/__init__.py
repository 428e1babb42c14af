"""The repeated market: agents, days and state for agent-based simulation of energy trading for AI compute.

A :class:`MarketScenario` (agents, grid, profiles, parameters, and the replaceable pieces of a day,
:class:`MarketRules`), a :class:`MarketState` carried from day to day, and :func:`step`, one day:
weather, schedules, offers, clearing, dispatch on the grid, enforcement (penalties, slashing,
reputation), credits and settlement, with the day's invariants. :func:`default_market` builds the
built-in synthetic scenario; :func:`simbench_market` one on a SimBench grid with its profiles (the
optional ``simbench`` package). :func:`analysis.simulate` runs a scenario over days and seeds.
"""

from . import _default, _pieces, _scenario, _simbench
from ._default import *  # noqa: F403
from ._pieces import *  # noqa: F403
from ._scenario import *  # noqa: F403
from ._simbench import *  # noqa: F403

__all__ = [*_scenario.__all__, *_pieces.__all__, *_default.__all__, *_simbench.__all__]
