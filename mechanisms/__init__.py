"""Mechanisms: the rules of energy markets, as pure, jittable functions of reports and parameters.

They know nothing of games or solvers. One subpackage a family of rules, every public name
re-exported here:

- ``auctions``: single-unit double auctions (k-double, McAfee, SBBA, VCG) and a multi-unit double
  auction (Huang et al.);
- ``pricing``: tariffs (flat, time of use, real time), proportional billing of a quadratic cost of
  supply (daily, hourly), marginal-cost prices, DC-OPF locational marginal prices (scipy, outside jit);
- ``sharing``: reward sharing (proportional, exact and Monte Carlo Shapley, Clarke pivot);
- ``reputation``: beta reputation with forgetting, EWMA reliability, EigenTrust, penalties, price tiers;
- ``settlement``: staking and slashing, and a hash-chained SQLite settlement ledger (I/O);
- ``learned``: parametric rules trained through equilibria (a monotone price of load) or by
  ``solvers.train_auction`` (RochetNet, RegretNet, a learned double auction).

Their properties are checked by ``analysis``.
"""

from . import auctions, learned, pricing, reputation, settlement, sharing
from ._pytree import pytree_dataclass, static_field
from .auctions import *  # noqa: F403
from .learned import *  # noqa: F403
from .pricing import *  # noqa: F403
from .reputation import *  # noqa: F403
from .settlement import *  # noqa: F403
from .sharing import *  # noqa: F403

__all__ = [*auctions.__all__, *pricing.__all__, *sharing.__all__, *reputation.__all__, *settlement.__all__,
           *learned.__all__, "pytree_dataclass", "static_field"]
