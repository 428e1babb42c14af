"""Games: finite normal-form games, grid topologies (DC power flow) and the
demand-response energy game.

Public names are re-exported here; the code lives in private modules.
"""

from ._cournot import NetworkCournotGame, network_cournot_game
from ._federated import FederatedContributionGame, federated_contribution_game
from ._demand_response import DemandResponseGame, capped_simplex, datacenter_user, demand_response_game
from .energy import PricedDemandResponseGame, priced_demand_response_game  # after capped_simplex, which it uses
from ._nfg import parse_nfg, read_nfg, write_nfg
from ._normal_form import (
    NormalFormGame,
    action_values,
    bimatrix,
    expected_payoffs,
    regrets,
    validate_game,
    validate_profile,
    zero_sum,
)
from ._random import GAME_FAMILIES, random_game
from ._topology import ROLES, Grid, grid_2d, grid_from_networkx, ieee14, ieee30, random_geometric

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
    "validate_profile",
    "ROLES",
    "Grid",
    "grid_from_networkx",
    "grid_2d",
    "random_geometric",
    "ieee14",
    "ieee30",
    "DemandResponseGame",
    "demand_response_game",
    "datacenter_user",
    "capped_simplex",
    "PricedDemandResponseGame",
    "priced_demand_response_game",
    "NetworkCournotGame",
    "network_cournot_game",
    "FederatedContributionGame",
    "federated_contribution_game",
]
