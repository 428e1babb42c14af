"""Continuous games: variational inequalities (``solve_vi``) and generalized Nash equilibria with shared
constraints (``solve_gne``): first-order methods, semismooth Newton, a primal-dual interior-point method
(the default of ``solve_gne`` on polyhedral strategy sets), implicit derivatives."""

from . import _gne, _interior_point, _variational
from ._gne import *  # noqa: F403
from ._interior_point import *  # noqa: F403
from ._variational import *  # noqa: F403

__all__ = [*_variational.__all__, *_gne.__all__, *_interior_point.__all__]
