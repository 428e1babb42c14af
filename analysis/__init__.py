"""Measurements of profiles and mechanisms.

Finite games: NashConv / exploitability and per-player regrets. Mechanisms:
incentive-compatibility regret (``ic_regret``), individual-rationality
violation, budget surplus and efficiency. Sweeps: ``sweep`` over a ``grid`` or a ``sample`` of
parameters (chunked, vectorized, resumable, on Dask too) and the built-in studies.
"""

from ._mechanism_checks import budget_surplus, efficiency, ic_regret, ir_violation, trader_utilities
from ._nash_conv import exploitability, nash_conv, player_regrets
from .sweeps import (
    STUDIES,
    ParameterTable,
    SweepError,
    cournot_scenario,
    demand_response_scenario,
    demand_response_study,
    grid,
    mechanism_study,
    network_cournot_study,
    sample,
    sweep,
)

__all__ = [
    "nash_conv",
    "exploitability",
    "player_regrets",
    "ic_regret",
    "ir_violation",
    "budget_surplus",
    "efficiency",
    "trader_utilities",
    "sweep",
    "grid",
    "sample",
    "ParameterTable",
    "SweepError",
    "STUDIES",
    "demand_response_study",
    "demand_response_scenario",
    "network_cournot_study",
    "cournot_scenario",
    "mechanism_study",
]
