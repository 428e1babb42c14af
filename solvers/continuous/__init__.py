"""Continuous games: variational inequalities (``solve_vi``) and generalized Nash equilibria with shared
constraints (``solve_gne``): first-order methods, semismooth Newton, implicit derivatives."""

from . import _gne, _variational
from ._gne import *  # noqa: F403
from ._variational import *  # noqa: F403

__all__ = [*_variational.__all__, *_gne.__all__]
