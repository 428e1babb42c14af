"""Double auctions: single-unit (k-double, McAfee, SBBA, VCG) and multi-unit (Huang et al.) clearing rules."""

from . import _double_auction, _multi_unit
from ._double_auction import *  # noqa: F403
from ._multi_unit import *  # noqa: F403

__all__ = [*_double_auction.__all__, *_multi_unit.__all__]
