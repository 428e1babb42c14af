"""Settlement: proof-of-stake rewards and slashing, and a hash-chained SQLite settlement ledger (I/O)."""

from . import _ledger, _staking
from ._ledger import *  # noqa: F403
from ._staking import *  # noqa: F403

__all__ = [*_staking.__all__, *_ledger.__all__]
