"""Locational marginal prices of a DC optimal power flow (a reference computation: scipy, outside jit).

Reference: F. C. Schweppe, M. C. Caramanis, R. D. Tabors and R. E. Bohn (1988), *Spot Pricing of
Electricity*; Q. Huangfu and J. A. J. Hall (2018), "Parallelizing the dual revised simplex method",
Mathematical Programming Computation 10 (HiGHS).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.optimize

from .._validation import real_dtype

__all__ = ["dc_opf_lmp", "DCOPFResult"]


@dataclasses.dataclass(frozen=True)
class DCOPFResult:
    """Dispatch, flows and locational marginal prices of a DC optimal power flow (numpy arrays)."""

    generation: np.ndarray  # (G,)
    flows: np.ndarray  # (lines,)
    lmp: np.ndarray  # (buses,) marginal cost of one more unit of demand at each bus
    cost: float
    congested: np.ndarray  # (lines,) bool: a line at its limit


def dc_opf_lmp(demand, *, generator_bus, generator_cost, generator_capacity, ptdf, line_capacity) -> DCOPFResult:
    """Least-cost dispatch with line limits, and the LMPs from its duals (HiGHS, outside jit).

    Minimize ``sum_g c_g P_g`` subject to ``sum_g P_g = sum_b d_b``,
    ``|PTDF (G P - d)| <= F`` and ``0 <= P_g <= Pmax_g``, where ``G`` maps
    generators to buses. The LMP at bus ``b`` is ``d cost / d d_b``:
    ``lambda + PTDF[:, b] . (mu_up - mu_down)`` from the balance and line duals.

    Args:
      demand: ``(B,)`` demand per bus.
      generator_bus: ``(G,)`` bus index of each generator.
      generator_cost: ``(G,)`` marginal cost.
      generator_capacity: ``(G,)`` capacity, nonnegative.
      ptdf: ``(lines, B)`` power transfer distribution factors (slack column zero).
      line_capacity: ``(lines,)`` nonnegative limits.

    Reference: Schweppe et al. (1988).
    """
    for name, x in (("demand", demand), ("generator_bus", generator_bus), ("generator_cost", generator_cost),
                    ("generator_capacity", generator_capacity), ("ptdf", ptdf), ("line_capacity", line_capacity)):
        real_dtype(x, name)
    d = np.asarray(demand, dtype=float)
    gb = np.asarray(generator_bus)
    c = np.asarray(generator_cost, dtype=float)
    cap = np.asarray(generator_capacity, dtype=float)
    H = np.asarray(ptdf, dtype=float)
    F = np.asarray(line_capacity, dtype=float)
    B = d.shape[0] if d.ndim == 1 else -1
    if d.ndim != 1 or H.ndim != 2 or H.shape[1] != B:
        raise ValueError(f"demand must be (buses,) and ptdf (lines, buses); got {d.shape} and {H.shape}")
    if not (gb.shape == c.shape == cap.shape) or gb.ndim != 1 or gb.size == 0:
        raise ValueError("generator_bus, generator_cost and generator_capacity must be equal-length 1-D arrays")
    if F.shape != (H.shape[0],):
        raise ValueError(f"line_capacity must have shape ({H.shape[0]},); got {F.shape}")
    for name, x in (("demand", d), ("generator_cost", c), ("generator_capacity", cap), ("ptdf", H),
                    ("line_capacity", F)):
        if not np.isfinite(x).all():
            raise ValueError(f"{name} must be finite")
    if (cap < 0).any() or (F < 0).any():
        raise ValueError("generator_capacity and line_capacity must be nonnegative")
    if not np.issubdtype(gb.dtype, np.integer) or (gb < 0).any() or (gb >= B).any():
        raise ValueError(f"generator_bus must hold bus indices in [0, {B})")
    if cap.sum() < d.sum() - 1e-12:
        raise ValueError(f"infeasible: total demand {d.sum():g} exceeds total capacity {cap.sum():g}")
    G = np.zeros((B, gb.size))
    G[gb, np.arange(gb.size)] = 1.0
    HG = H @ G
    A_ub = np.vstack([HG, -HG])
    b_ub = np.concatenate([F + H @ d, F - H @ d])
    res = scipy.optimize.linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=np.ones((1, gb.size)), b_eq=[d.sum()],
                                 bounds=list(zip(np.zeros_like(cap), cap)), method="highs")
    if res.status != 0:
        raise ValueError(f"infeasible DC-OPF (line limits cannot carry the demand): {res.message}")
    mu = res.ineqlin.marginals
    lines = H.shape[0]
    lmp = res.eqlin.marginals[0] + H.T @ (mu[:lines] - mu[lines:])
    flows = H @ (G @ res.x - d)
    congested = np.abs(np.abs(flows) - F) <= 1e-9 * np.maximum(1.0, F)
    return DCOPFResult(generation=res.x, flows=flows, lmp=lmp, cost=float(res.fun), congested=congested)
