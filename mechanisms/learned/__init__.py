"""Parametric rules whose parameters are learned through equilibria or by training (see ``solvers``)."""

from . import _monotone_price
from ._monotone_price import *  # noqa: F403

__all__ = [*_monotone_price.__all__]
