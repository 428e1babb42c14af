"""Pricing: retail tariffs, proportional billing of the cost of supply, marginal-cost and nodal prices."""

from . import _billing, _nodal, _tariffs
from ._billing import *  # noqa: F403
from ._nodal import *  # noqa: F403
from ._tariffs import *  # noqa: F403

__all__ = [*_tariffs.__all__, *_billing.__all__, *_nodal.__all__]
