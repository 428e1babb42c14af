"""Market simulation: seed-days per second of ``analysis.simulate`` and how the cost grows.

The built-in market (``games.default_market``: IEEE 30 with line limits, 10% malicious agents,
hourly slots) under the daily Huang double auction and under daily proportional billing with the
demand-response equilibrium (best-response sweeps each day). For each size the simulation is warmed
up on the same shapes (one chunk of ``CHUNK`` days: the compiled program of a year-long run, whose
365 days go in 13 chunks of 29), then one chunk is timed; a year (365 days) is extrapolated as 13
chunks (``lax.scan`` runs the chunks one after another, each the same program) and one row per
mechanism runs the whole year to check the extrapolation.

Peer: the same ``step`` driven by a Python loop over seeds and days, one jitted call per day (the way
agent-based frameworks such as Mesa step a model from Python), on the same scenario and keys; its
arrays equal the scanned and vmapped run's. A loop that steps each agent in Python (Mesa's
``agent.step()``) was not written: its ratio is not measured here.
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from analysis import simulate
from analysis.simulation import with_equilibrium_solver
from games import default_market
from games.market import MarketInputs, initial_market_state, market_network, step

CHUNK = 29  # days per chunk of a 365-day run (13 chunks)


def timed_chunk(scenario, seeds: int, key: int) -> tuple[float, object]:
    """Wall seconds of ``CHUNK`` days x ``seeds`` (compiled already), and the result."""
    start = time.perf_counter()
    result = simulate(scenario, days=CHUNK, seeds=seeds, key=jax.random.key(key), progress=False)
    return time.perf_counter() - start, result


@jax.jit
def _day_step(scenario, network, state, day, key):
    return step(state, MarketInputs(scenario, day, network), key)


def python_day_loop(scenario, keys, days: int):
    """The same model stepped from Python: for each seed, for each day, one jitted ``step`` call."""
    scenario = with_equilibrium_solver(scenario)
    network = jax.jit(market_network)(scenario)
    prices = []
    for seed_key in keys:
        state, rows = initial_market_state(scenario), []
        for day in range(days):
            state, record = _day_step(scenario, network, state, jnp.int32(day), jax.random.fold_in(seed_key, day))
            rows.append(record.prices)
        prices.append(np.asarray(jnp.stack(rows)))
    return np.stack(prices)


def run(quick: bool = False):
    load = [os.getloadavg()[0]]
    sizes = {"auction": [(100, 1), (100, 8), (1000, 1), (1000, 8)] if not quick else [(100, 1), (100, 4)],
             "pricing": [(100, 1), (1000, 1), (1000, 4)] if not quick else [(100, 1)]}
    targets = {"auction": (1000, 64, 60.0), "pricing": (1000, 16, 300.0)}
    rows, compile_s = [], {}
    for mechanism, grid in sizes.items():
        for agents, seeds in grid:
            scenario = default_market(agents, jax.random.key(0), mechanism=mechanism)
            start = time.perf_counter()
            timed_chunk(scenario, seeds, 0)  # compile (and a first run)
            compile_s[(mechanism, agents, seeds)] = time.perf_counter() - start
            seconds, result = timed_chunk(scenario, seeds, 1)
            if result.invariants()["energy_residual"] > 1e-9 or result.invariants()["money_residual"] > 1e-9:
                raise RuntimeError(f"{mechanism} {agents} agents: an invariant failed: {result.invariants()}")
            rows.append((mechanism, agents, seeds, seconds, seconds * -(-365 // CHUNK)))
    load.append(os.getloadavg()[0])

    # a whole year, to check the extrapolation
    year = []
    for mechanism, agents, seeds in ([("auction", 100, 4)] if quick else [("auction", 1000, 8), ("pricing", 1000, 4)]):
        scenario = default_market(agents, jax.random.key(0), mechanism=mechanism)
        simulate(scenario, days=CHUNK, seeds=seeds, key=jax.random.key(0), progress=False)  # compiled
        start = time.perf_counter()
        simulate(scenario, days=365, seeds=seeds, key=jax.random.key(1), progress=False)
        year.append((mechanism, agents, seeds, time.perf_counter() - start))
    load.append(os.getloadavg()[0])

    # the Python day loop on the same scenario and keys
    loop_agents, loop_seeds, loop_days = (100, 2, 10) if quick else (1000, 2, CHUNK)
    scenario = default_market(loop_agents, jax.random.key(0))
    keys = jax.random.split(jax.random.key(3), loop_seeds)
    python_day_loop(scenario, keys[:1], 1)  # compile
    start = time.perf_counter()
    looped = python_day_loop(scenario, keys, loop_days)
    loop_s = time.perf_counter() - start
    simulate(scenario, days=loop_days, seeds=loop_seeds, key=keys, progress=False)  # compile
    start = time.perf_counter()
    scanned = simulate(scenario, days=loop_days, seeds=loop_seeds, key=keys, progress=False)
    scan_s = time.perf_counter() - start
    same = float(np.max(np.abs(scanned.prices - looped)))
    load.append(os.getloadavg()[0])

    lines = [
        "## Market simulation: `analysis.simulate` of the built-in market",
        "",
        f"`default_market(agents)` on IEEE 30 with line limits, 24 hourly slots, 10% malicious agents; one chunk "
        f"of {CHUNK} days timed after a warm-up on the same shapes (compilation excluded, listed below); a year "
        f"is {-(-365 // CHUNK)} chunks (the last one masked). Every run keeps energy and money balance to 1e-9.",
        "",
        f"| mechanism | agents | seeds | {CHUNK} days | seed-days / s | agent-seed-days / s | a year (extrapolated) |",
        "|---|---|---|---|---|---|---|",
        *[f"| {m} | {a:,} | {s} | {t:.2f} s | {s * CHUNK / t:,.1f} | {a * s * CHUNK / t:,.0f} | {y:.1f} s |"
          for m, a, s, t, y in rows],
        "",
        "A whole year (365 days, 13 chunks), measured: "
        + "; ".join(f"{m}, {a:,} agents x {s} seeds: {t:.1f} s" for m, a, s, t in year) + ".",
        "",
    ]
    for mechanism, (agents, seeds, budget) in targets.items():
        whole = [(s, t) for m, a, s, t in year if m == mechanism and a == agents]
        chunked = [(s, y) for m, a, s, t, y in rows if m == mechanism and a == agents]
        if whole or chunked:  # a measured year if there is one (it includes the load's swings), else a chunk's
            s, y = max(whole) if whole else max(chunked)
            estimate = y * seeds / s
            source = "the measured year" if whole else "one chunk"
            lines.append(f"Issue target, {mechanism}: {agents:,} agents x 365 days x {seeds} seeds within {budget:.0f} s; "
                         f"extrapolated linearly in seeds from {source} of {s} seed(s): {estimate:,.0f} s "
                         f"({'met' if estimate <= budget else f'missed by {estimate / budget:.1f}x'}).")
    lines += [
        "",
        f"Python day loop (one jitted `step` call per seed and day) against `simulate` (scan over days, vmap over "
        f"seeds) on the same scenario and keys, {loop_agents:,} agents x {loop_seeds} seeds x {loop_days} days: "
        f"{loop_s:.2f} s against {scan_s:.2f} s, ratio {loop_s / scan_s:.1f}x; prices equal to {same:.1e}.",
        "",
        "Compilation: " + ", ".join(f"{m} {a:,} agents x {s} seeds {c:.0f} s" for (m, a, s), c in compile_s.items())
        + ".",
        "",
        "Growth: days are sequential (a scan: linear); seeds are vmapped (linear once the cores are busy; a "
        "GPU or several devices split them, `simulate` shards the seed axis over local devices); agents "
        "enter through sorting the auction's book (N log N), the dispatch's line limits (agents x lines) and "
        "the pricing equilibrium's sweeps (users x slots per sweep).",
        "",
        f"Caveat: the 2 cores were shared with other engineers' jobs (1-minute load average "
        f"{', '.join(f'{x:.1f}' for x in load)}); times are pessimistic and noisy.",
    ]
    return [lines]
