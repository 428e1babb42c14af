"""Sweeps: evaluate a function of parameters over a grid or a random design, chunked, vectorized,
resumable, on one machine or a Dask cluster (:func:`sweep`), and the built-in studies
(:func:`demand_response_study`, :func:`network_cournot_study`, :func:`mechanism_study`)."""

from ._grid import ParameterTable, grid, sample
from ._studies import (
    STUDIES,
    cournot_scenario,
    demand_response_scenario,
    demand_response_study,
    mechanism_study,
    network_cournot_study,
)
from ._sweep import MANIFEST, SweepError, sweep

__all__ = [
    "sweep",
    "grid",
    "sample",
    "ParameterTable",
    "SweepError",
    "MANIFEST",
    "STUDIES",
    "demand_response_study",
    "demand_response_scenario",
    "network_cournot_study",
    "cournot_scenario",
    "mechanism_study",
]
