"""Games: finite normal-form games now; energy-market games built from grid topologies next.

Public names are re-exported here; the code lives in private modules.
"""

from ._nfg import parse_nfg, read_nfg, write_nfg
from ._normal_form import (
    NormalFormGame,
    action_values,
    bimatrix,
    expected_payoffs,
    regrets,
    validate_game,
    zero_sum,
)
from ._random import GAME_FAMILIES, random_game

__all__ = [
    "NormalFormGame",
    "bimatrix",
    "zero_sum",
    "random_game",
    "GAME_FAMILIES",
    "read_nfg",
    "write_nfg",
    "parse_nfg",
    "action_values",
    "expected_payoffs",
    "regrets",
    "validate_game",
]
