"""Tiny markets shared by the market and simulation tests: one shape (12 agents, 6 slots), so that every
test reuses the same few compiled programs."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from analysis import simulate_days
from games import default_market

AGENTS, SLOTS, DAYS = 12, 6, 4
#: ``simulate`` arguments of the fast tests: one compiled program (2 seeds, chunks of 2 days) for them all.
SIM = dict(days=DAYS, seeds=2, chunk_days=2, progress=False)


def tiny_market(seed: int = 0, **kwargs):
    """The default market with 12 agents and 6 slots a day."""
    return default_market(AGENTS, jax.random.key(seed), slots=SLOTS, **kwargs)


def honest(scenario, *, line_limits: bool = False):
    """No malicious agents, exact forecasts, no batteries, jobs that cannot pause (so every day's book is a
    function of the scenario alone), ample plants, and no line limits unless asked."""
    zeros = jnp.zeros_like(scenario.capacity)
    plants = scenario.role == 1
    grid = scenario.grid if line_limits else dataclasses.replace(
        scenario.grid, capacity=jnp.full_like(scenario.grid.capacity, jnp.inf))
    return dataclasses.replace(scenario, malicious=jnp.zeros_like(scenario.malicious), forecast_error=zeros,
                               battery_capacity=zeros, battery_power=zeros, battery_initial=zeros,
                               capacity=jnp.where(plants, 5.0 * scenario.capacity, scenario.capacity),
                               jobs=dataclasses.replace(scenario.jobs, pausable=jnp.zeros_like(scenario.jobs.pausable)),
                               grid=grid)


@functools.partial(jax.jit, static_argnames=("days",))
def run_days(scenario, key, days: int = DAYS):
    """One seed, jitted (one compiled program for every tiny auction market; the slow tests use it)."""
    return simulate_days(scenario, key, days=days)


INVARIANT_TOLERANCE = 1e-9


def invariant_violations(out: dict) -> dict:
    """The invariants of a run (``simulate_days`` outputs or a ``SimulationResult.diagnostics``) that fail."""
    get = lambda name: np.asarray(out[f"diagnostics.{name}"] if f"diagnostics.{name}" in out else out[name])
    checks = {
        "energy balance": float(np.max(get("energy_residual"))) <= INVARIANT_TOLERANCE,
        "money balance": float(np.max(get("money_residual"))) <= INVARIANT_TOLERANCE,
        "battery within [0, capacity]": float(np.min(get("min_battery"))) >= -1e-12,
        "credits >= 0": float(np.min(get("min_credits"))) >= 0.0,
        "stakes >= 0": float(np.min(get("min_stakes"))) >= 0.0,
        "lines within limits": float(np.max(get("max_line_loading"))) <= 1.0 + INVARIANT_TOLERANCE,
    }
    return {name: ok for name, ok in checks.items() if not ok}
