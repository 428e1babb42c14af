"""A simulation as a sweep function: :func:`market_study` (``nashgrid sweep`` scenario ``"market"``).

One row of parameters builds :func:`games.default_market` and simulates it for one Monte Carlo seed
with :func:`simulate_days` (jitted ``scan`` over days); :func:`~analysis.sweep` vectorizes the rows of
equal shapes with ``jax.vmap``, so scenario studies (malicious shares, enforcement on and off, line
ratings, seeds) are one call, chunked and resumable like any sweep.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from games import default_market
from games.market import MECHANISMS

from ..sweeps._studies import STUDIES, _choices, _integers, _reals, _study
from ._simulate import simulate_days

__all__ = ["market_study"]


@_study(static=("agents", "days", "slots", "scenario_seed"), required=("agents", "days"),
        optional=("mechanism", "malicious_share", "enforcement", "line_rating", "seed", "scenario_seed", "slots"))
def market_study(row: dict) -> dict:
    """Summary of a simulated market for one row of parameters.

    Row: ``agents`` and ``days`` (static), optionally ``mechanism`` (``"auction"``, default, or
    ``"pricing"``), ``malicious_share`` (default 0.1), ``enforcement`` (bool, default True),
    ``line_rating`` (default 1.5; ``inf``: no limits), ``seed`` (the Monte Carlo seed: weather errors
    and audits, default 0), ``scenario_seed`` (static: the agents, default 0), ``slots`` (static, 24).

    Returns per row: ``mean_price``, ``renewable_share`` (mean over days), ``unserved_energy``,
    ``emissions``, ``welfare``, ``p2p_volume``, ``late_training`` (totals over the days),
    ``detected_malicious`` (detections of malicious agents), ``malicious_reputation`` and
    ``honest_reputation`` (mean final reputation; NaN when a group is empty), and the invariants'
    worst values ``energy_residual`` and ``money_residual``.

    Example:
      >>> from analysis import grid, sweep
      >>> table = sweep(market_study, grid(agents=[40], days=[30], malicious_share=[0.0, 0.2],
      ...               enforcement=[True, False]), progress=False)  # doctest: +SKIP

    Reference: the model of :mod:`games.market`.
    """
    key = jax.random.key(row.get("scenario_seed", 0))
    scenario = default_market(row["agents"], key, mechanism=row.get("mechanism", "auction"),
                              slots=row.get("slots", 24), malicious_share=row.get("malicious_share", 0.1),
                              enforcement=row.get("enforcement", True), line_rating=row.get("line_rating", 1.5))
    _, out = simulate_days(scenario, jax.random.key(row.get("seed", 0)), days=row["days"])
    malicious = scenario.malicious
    final = out["reputation"][-1]
    mean_over = lambda mask: jnp.sum(jnp.where(mask, final, 0.0)) / jnp.sum(jnp.where(mask, 1.0, 0.0))
    return {
        "mean_price": jnp.mean(out["prices"]),
        "renewable_share": jnp.mean(out["renewable_share"]),
        "unserved_energy": jnp.sum(out["unserved_energy"]),
        "emissions": jnp.sum(out["emissions"]),
        "welfare": jnp.sum(out["welfare"]),
        "p2p_volume": jnp.sum(out["diagnostics.p2p_volume"]),
        "late_training": jnp.sum(out["diagnostics.late_training"]),
        "detected_malicious": jnp.sum(out["diagnostics.detected_malicious"]),
        "malicious_reputation": mean_over(malicious),
        "honest_reputation": mean_over(jnp.logical_not(malicious)),
        "energy_residual": jnp.max(out["diagnostics.energy_residual"]),
        "money_residual": jnp.max(out["diagnostics.money_residual"]),
    }


def _check_market(columns):
    _integers(columns, "agents", 5)
    _integers(columns, "days", 1)
    _integers(columns, "slots", 1)
    _integers(columns, "seed", 0, 2**32 - 1)
    _integers(columns, "scenario_seed", 0, 2**32 - 1)
    _choices(columns, "mechanism", MECHANISMS)
    _reals(columns, "malicious_share", lambda x: (x >= 0) & (x <= 1), "in [0, 1]")
    _reals(columns, "line_rating", lambda x: x > 0, "positive (inf: no limits)")
    if "enforcement" in columns and columns["enforcement"].dtype.kind != "b":
        raise ValueError(f"parameter 'enforcement' must be True or False; got {sorted(set(columns['enforcement'].tolist()))}")


market_study.check_rows = _check_market
STUDIES["market"] = market_study  # `nashgrid sweep` scenario "market"
