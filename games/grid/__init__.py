"""Grids: networkx topologies in, differentiable DC power-flow arrays (PTDF) out; built-in cases."""

from . import _cases, _grid
from ._cases import *  # noqa: F403
from ._grid import *  # noqa: F403

__all__ = [*_grid.__all__, *_cases.__all__]
