"""Finite games: Lemke-Howson (one equilibrium) and support enumeration (all equilibria)."""

from __future__ import annotations

import signal
import warnings

warnings.filterwarnings("ignore", category=RuntimeWarning, module="nashpy")

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._timing import median_time, timed_call
from games import random_game
from solvers import Status, lemke_howson, support_enumeration, vertex_enumeration


class _OutOfTime(Exception):
    pass


def _peer(name, fn, count, repeats=3, budget_s=120):
    """Per-game time of a peer, or a string saying why there is none (failure, or over budget)."""

    def alarm(signum, frame):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(budget_s)
    try:
        fn(1)  # warm-up (numba compilation)
        return median_time(lambda: fn(count), repeats) / count
    except _OutOfTime:
        return f"over the {budget_s} s budget for {count} games"
    except Exception as err:  # a peer missing or failing is reported, not fatal
        warnings.warn(f"{name} failed: {err!r}")
        return f"failed: {type(err).__name__}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _row(name, per_game, ours, count, note=""):
    if isinstance(per_game, str):
        return f"| {name} | {per_game} | | {count} games{note} |"
    return f"| {name} | {per_game * 1e6:,.1f} us | {per_game / ours:,.1f}x | {count} games{note} |"


def lemke_howson_section(quick):
    B, size = (1000, 20) if quick else (10_000, 20)
    games = random_game(jax.random.key(0), (size, size), batch_shape=(B,))
    P = np.array(games.payoffs)  # writable: numba (QuantEcon) rejects read-only arrays
    result, ours_total, compile_and_run = timed_call(lambda: lemke_howson(games), 5)
    per_game = ours_total / B
    # jax.vmap takes the same batched path (custom_vmap): timed separately, answers compared bit for bit.
    vmapped = jax.jit(jax.vmap(lambda g: lemke_howson(g)))
    vmap_result, vmap_total, vmap_compile = timed_call(lambda: vmapped(games), 5)
    same_bits = all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(result),
                                                         jax.tree_util.tree_leaves(vmap_result)))
    vmap_per_game = vmap_total / B
    ok = np.mean((np.asarray(result.nash_conv) <= 1e-9) & (np.asarray(result.status) == Status.CONVERGED))

    import quantecon.game_theory as gt

    def quantecon(count):
        for k in range(count):
            g = gt.NormalFormGame([gt.Player(P[k, 0]), gt.Player(P[k, 1].T)])
            gt.lemke_howson(g, init_pivot=0)

    def nashpy(count):
        import nashpy as nash

        for k in range(count):
            nash.Game(P[k, 0], P[k, 1]).lemke_howson(initial_dropped_label=0)

    def gambit(count):
        import pygambit as gbt

        for k in range(count):
            g = gbt.Game.from_arrays(P[k, 0], P[k, 1]) if hasattr(gbt.Game, "from_arrays") else \
                gbt.StrategicGame.from_arrays(P[k, 0], P[k, 1])
            gbt.nash.lcp_solve(g, rational=False, stop_after=1)

    qe_count = min(B, 2000)
    qe = _peer("quantecon", quantecon, qe_count)
    npy = _peer("nashpy", nashpy, 3, repeats=1)
    gam = _peer("pygambit", gambit, 200, repeats=1)
    return [
        f"## Lemke-Howson: one equilibrium of each of {B:,} random {size}x{size} games",
        "",
        f"nashgrid `lemke_howson` on the whole batch in one jitted call: **{per_game * 1e6:,.1f} us per game** "
        f"({ours_total:.3f} s for the batch; first call with compilation {compile_and_run:.2f} s). "
        f"{ok * 100:.2f}% of answers have status CONVERGED and NashConv <= 1e-9; largest NashConv "
        f"{float(jnp.max(result.nash_conv)):.1e}; pivots per game mean {float(jnp.mean(result.iterations)):.1f}, "
        f"max {int(jnp.max(result.iterations))}.",
        "",
        f"`jax.jit(jax.vmap(lemke_howson))` on the same games: **{vmap_per_game * 1e6:,.1f} us per game** (first "
        f"call {vmap_compile:.2f} s); answers {'bit for bit equal to' if same_bits else 'DIFFERENT from'} the "
        f"batched call; QuantEcon's loop / vmap time: "
        f"{(qe / vmap_per_game if not isinstance(qe, str) else float('nan')):.1f}x.",
        "",
        "| peer (same games, looped) | time per game | nashgrid speed-up | instances |",
        "|---|---|---|---|",
        _row("QuantEcon `lemke_howson` (numba)", qe, per_game, qe_count, ", incl. NormalFormGame construction"),
        _row("nashpy `lemke_howson`", npy, per_game, 3),
        _row("pygambit `lcp_solve` (float)", gam, per_game, 200, ", game built per instance"),
    ]


def support_enumeration_section(quick):
    B = 50 if quick else 200
    games = random_game(jax.random.key(1), (8, 8), batch_shape=(B,))
    P = np.array(games.payoffs)  # writable: numba (QuantEcon) rejects read-only arrays
    result, seconds, compile_and_run = timed_call(lambda: support_enumeration(games), 3)
    per_game = seconds / B
    counts = np.asarray(result.count)
    by_vertices, vertex_seconds, vertex_compile = timed_call(lambda: vertex_enumeration(games), 3)
    vertex_per_game = vertex_seconds / B
    same_sets = int(np.sum(np.asarray(by_vertices.count) == counts))

    import quantecon.game_theory as gt

    def quantecon(count):
        for k in range(count):
            g = gt.NormalFormGame([gt.Player(P[k, 0]), gt.Player(P[k, 1].T)])
            gt.support_enumeration(g)

    def nashpy(count):
        import nashpy as nash

        for k in range(count):
            list(nash.Game(P[k, 0], P[k, 1]).support_enumeration())

    def gambit(count):
        import pygambit as gbt

        for k in range(count):
            g = gbt.StrategicGame.from_arrays(P[k, 0], P[k, 1])
            gbt.nash.enummixed_solve(g, rational=False)

    def quantecon_vertices(count):
        for k in range(count):
            gt.vertex_enumeration(gt.NormalFormGame([gt.Player(P[k, 0]), gt.Player(P[k, 1].T)]))

    qe = _peer("quantecon", quantecon, min(B, 50))
    qe_vertices = _peer("quantecon vertex_enumeration", quantecon_vertices, min(B, 50))
    npy = _peer("nashpy", nashpy, 3, repeats=1)
    gam = _peer("pygambit", gambit, 20, repeats=1)
    # Cross-check the counts against QuantEcon on the games both solved.
    agree = sum(
        len(gt.support_enumeration(gt.NormalFormGame([gt.Player(P[k, 0]), gt.Player(P[k, 1].T)]))) == counts[k]
        for k in range(min(B, 20))
    )
    return [
        f"## Support enumeration: all equilibria of each of {B} random 8x8 games",
        "",
        f"nashgrid `support_enumeration` (12,869 support pairs per game, batched): **{per_game * 1e3:,.2f} ms per "
        f"game** (first call with compilation {compile_and_run:.1f} s). Equilibria per game: mean "
        f"{counts.mean():.2f}, max {counts.max()}; the count equals QuantEcon's on {agree} of {min(B, 20)} games "
        "checked.",
        "",
        "| peer (same games, looped) | time per game | nashgrid speed-up | instances |",
        "|---|---|---|---|",
        _row("QuantEcon `support_enumeration` (numba)", qe, per_game, min(B, 50)),
        _row("nashpy `support_enumeration`", npy, per_game, 3),
        _row("pygambit `enummixed_solve` (float)", gam, per_game, 20),
        "",
        f"nashgrid `vertex_enumeration` (Avis-Fukuda reverse search, batched) on the same games: "
        f"**{vertex_per_game * 1e3:,.2f} ms per game** (first call with compilation {vertex_compile:.1f} s); its count "
        f"equals support enumeration's on {same_sets} of {B} games.",
        "",
        "| peer (same games, looped) | time per game | nashgrid speed-up | instances |",
        "|---|---|---|---|",
        _row("QuantEcon `vertex_enumeration` (qhull)", qe_vertices, vertex_per_game, min(B, 50)),
        _row("QuantEcon `support_enumeration` (numba)", qe, vertex_per_game, min(B, 50)),
    ]


def run(quick=False):
    return [lemke_howson_section(quick), support_enumeration_section(quick)]
