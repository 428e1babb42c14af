"""Games: what is played.

- ``finite``: normal-form games, random families, Gambit ``.nfg`` files;
- ``grid``: grids (networkx in, differentiable DC power flow out), IEEE cases;
- ``energy``: demand response (consumers, data centers, storage), networked Cournot, federated
  contributions;
- ``market``: the repeated market (agents, days, state) for agent-based simulation;
- the protocols every continuous game declares (:class:`ContinuousGame` and its companions), on which
  the solvers dispatch.

Every public name is re-exported here: ``from games import demand_response_game``.
"""

from . import _protocol, energy, finite, grid, market
from ._protocol import *  # noqa: F403
from .energy import *  # noqa: F403
from .finite import *  # noqa: F403
from .grid import *  # noqa: F403
from .market import *  # noqa: F403

__all__ = [*finite.__all__, *grid.__all__, *energy.__all__, *market.__all__, *_protocol.__all__]
