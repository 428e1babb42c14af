"""Simulation: the repeated market of :mod:`games.market` over days and Monte Carlo seeds (:func:`simulate`,
jitted ``scan`` over days and ``vmap`` over seeds, chunked with progress, checkpoints and a settlement
ledger), and :func:`market_study`, a simulation as a sweep function."""

from . import _simulate, _study
from ._simulate import *  # noqa: F403
from ._study import *  # noqa: F403

__all__ = [*_simulate.__all__, *_study.__all__]
