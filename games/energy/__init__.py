"""Energy games (the lead is moving the existing ones here): demand response under a price rule."""

from ._priced_demand import PricedDemandResponseGame, priced_demand_response_game

__all__ = ["PricedDemandResponseGame", "priced_demand_response_game"]
