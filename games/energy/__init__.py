"""Energy games: demand response with consumers, data centers and storage (under proportional billing or
a price rule); networked Cournot with line limits; federated-learning contributions. Every game declares the protocols of :mod:`games` it implements."""

from . import _consumers, _cournot, _demand_response, _federated, _priced_demand, _storage, _water_filling
from ._consumers import *  # noqa: F403
from ._cournot import *  # noqa: F403
from ._demand_response import *  # noqa: F403
from ._federated import *  # noqa: F403
from ._priced_demand import *  # noqa: F403
from ._storage import *  # noqa: F403
from ._water_filling import *  # noqa: F403

__all__ = [*_demand_response.__all__, *_priced_demand.__all__, *_consumers.__all__, *_storage.__all__,
           *_water_filling.__all__, *_cournot.__all__, *_federated.__all__]
