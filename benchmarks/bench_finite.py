"""Finite games: Lemke-Howson (one equilibrium) and support enumeration (all equilibria)."""

from __future__ import annotations

import datetime
import signal
import subprocess
import time
import warnings

warnings.filterwarnings("ignore", category=RuntimeWarning, module="nashpy")

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._timing import loadavg, median_time, timed_call
from analysis import nash_conv
from games import bimatrix, random_game
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


def pivot_step_seconds(payoffs, slots=64, advances=400, rounds=5):
    """Seconds of one step of the batched pivot alone (``_advance``: a pivot in each dictionary of ``slots``
    paths side by side, no queue), the minimum over ``rounds``: what bounds the solver's speed. Paths that
    end keep pivoting (their ``done`` is cleared) so that every step does the same work."""
    from solvers.finite import _lemke_howson as L

    paths = jax.vmap(L._start)(payoffs[:slots], jnp.zeros(slots, jnp.int32))

    @jax.jit
    def steps(paths):
        return jax.lax.fori_loop(0, advances, lambda i, p: L._advance(p._replace(done=jnp.zeros_like(p.done)),
                                                                       2**30), paths)

    jax.block_until_ready(steps(paths))
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        jax.block_until_ready(steps(paths))
        best = min(best, time.perf_counter() - start)
    return best / advances


def lemke_howson_section(quick, rounds=9):
    """The issue's setting: 10,000 random 20x20 games, the batched call and ``jax.jit(jax.vmap(lemke_howson))``
    against QuantEcon's numba loop on the same games in the same run. The machine is shared, so the
    timings alternate between the contenders for ``rounds`` rounds and each keeps its minimum, of wall
    time and of this process's CPU time (all threads: XLA may use both cores, numba uses one)."""
    B, size = (1000, 20) if quick else (10_000, 20)
    games = random_game(jax.random.key(0), (size, size), batch_shape=(B,))
    P = np.array(games.payoffs)  # writable: numba (QuantEcon) rejects read-only arrays
    batched = jax.jit(lambda g: lemke_howson(g))
    vmapped = jax.jit(jax.vmap(lambda g: lemke_howson(g)))
    compile_seconds = {}
    results = {}
    for name, fn in (("batched", batched), ("vmap", vmapped)):
        start = time.perf_counter()
        results[name] = jax.block_until_ready(fn(games))
        compile_seconds[name] = time.perf_counter() - start
    result, vmap_result = results["batched"], results["vmap"]
    same_bits = all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(result),
                                                         jax.tree_util.tree_leaves(vmap_result)))
    verified = (np.asarray(result.nash_conv) <= 1e-9) & (np.asarray(result.status) == Status.CONVERGED)
    verified_vmap = (np.asarray(vmap_result.nash_conv) <= 1e-9) & (np.asarray(vmap_result.status) == Status.CONVERGED)

    import quantecon.game_theory as gt

    def quantecon_game(k):
        return gt.NormalFormGame([gt.Player(P[k, 0]), gt.Player(P[k, 1].T)])

    built = [quantecon_game(k) for k in range(B)]
    gt.lemke_howson(built[0], init_pivot=0)  # numba compilation

    def quantecon_with_construction():
        for k in range(B):
            gt.lemke_howson(quantecon_game(k), init_pivot=0)

    def quantecon_prebuilt():
        for g in built:
            gt.lemke_howson(g, init_pivot=0)

    # QuantEcon's answers checked on the first games too (NashConv on the same tolerance).
    qe_checked = min(B, 200)
    qe_ok = sum(float(nash_conv(bimatrix(P[k, 0], P[k, 1]), tuple(gt.lemke_howson(built[k], init_pivot=0)))) <= 1e-9
                for k in range(qe_checked))
    contenders = {
        "batched": lambda: jax.block_until_ready(batched(games)),
        "vmap": lambda: jax.block_until_ready(vmapped(games)),
        "quantecon": quantecon_with_construction,
        "quantecon_prebuilt": quantecon_prebuilt,
    }
    times = {name: [] for name in contenders}
    cpu_times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            start, cpu_start = time.perf_counter(), time.process_time()
            fn()
            times[name].append(time.perf_counter() - start)
            cpu_times[name].append(time.process_time() - cpu_start)
    best = {name: min(ts) / B for name, ts in times.items()}
    cpu = {name: min(ts) / B for name, ts in cpu_times.items()}

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

    npy = _peer("nashpy", nashpy, 3, repeats=1)
    gam = _peer("pygambit", gambit, 200, repeats=1)
    per_game, vmap_per_game = best["batched"], best["vmap"]
    # What bounds it: one pivot step alone against QuantEcon's time per pivot (same paths: init label 0).
    slots = 64
    step = pivot_step_seconds(games.payoffs, slots=slots)
    qe_pivots = np.mean([gt.lemke_howson(built[k], init_pivot=0, full_output=True)[1].num_iter
                         for k in range(qe_checked)])
    our_pivots = float(np.mean(result.iterations))
    per_pivot = step / (2 * slots)  # a step is one pivot per dictionary of each of the slots' paths
    ideal = per_pivot * our_pivots
    # Per element or per kernel launch? A step's time as fixed + per-slot cost, from 16 and 64 slots.
    step_16 = pivot_step_seconds(games.payoffs, slots=16)
    fixed = max(step_16 - 16 * (step - step_16) / (slots - 16), 0.0)
    per_pivot_32 = pivot_step_seconds(games.payoffs.astype(jnp.float32), slots=slots) / (2 * slots)
    qe, qe_prebuilt = best["quantecon"], best["quantecon_prebuilt"]
    load = loadavg()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return [
        f"## Lemke-Howson: one equilibrium of each of {B:,} random {size}x{size} games",
        "",
        f"_Rerun on {datetime.date.today().isoformat()} at commit {commit}, load average {load} "
        f"(`/proc/loadavg`, 1/5/15 min) on a shared 2-core machine. Each time is the minimum over {rounds} rounds "
        "in which the four contenders alternate (warm: compilation and numba's first call excluded). The wall-time "
        "ratio is the issue's measure; it moves with the load (XLA splits the larger kernels over both cores and "
        "waits for the slower one, numba runs on one), the CPU time less._",
        "",
        f"| {B:,} games, float64, same run | wall time per game | QuantEcon (incl. construction) / this | "
        "QuantEcon (prebuilt games) / this | CPU time per game (ratio incl. construction) |",
        "|---|---|---|---|---|",
        f"| nashgrid `lemke_howson(games)` (batched call, one jitted work queue) | {per_game * 1e6:,.1f} us | "
        f"**{qe / per_game:.2f}x** | {qe_prebuilt / per_game:.2f}x | {cpu['batched'] * 1e6:,.1f} us "
        f"({cpu['quantecon'] / cpu['batched']:.2f}x) |",
        f"| nashgrid `jax.jit(jax.vmap(lemke_howson))(games)` | {vmap_per_game * 1e6:,.1f} us | "
        f"**{qe / vmap_per_game:.2f}x** | {qe_prebuilt / vmap_per_game:.2f}x | {cpu['vmap'] * 1e6:,.1f} us "
        f"({cpu['quantecon'] / cpu['vmap']:.2f}x) |",
        f"| QuantEcon `lemke_howson` (numba) loop, NormalFormGame built per game | {qe * 1e6:,.1f} us | 1.00x | | "
        f"{cpu['quantecon'] * 1e6:,.1f} us |",
        f"| QuantEcon `lemke_howson` (numba) loop, games built beforehand | {qe_prebuilt * 1e6:,.1f} us | | 1.00x | "
        f"{cpu['quantecon_prebuilt'] * 1e6:,.1f} us |",
        "",
        f"Every answer verified: batched {verified.mean() * 100:.2f}%, vmap {verified_vmap.mean() * 100:.2f}% of games "
        f"with status CONVERGED and NashConv <= 1e-9 (largest NashConv {float(np.max(result.nash_conv)):.1e}); "
        f"vmap answers {'bit for bit equal to' if same_bits else 'DIFFERENT from'} the batched call's. "
        f"QuantEcon's answers: NashConv <= 1e-9 on {qe_ok} of the first {qe_checked} games. Pivots per game: "
        f"mean {float(np.mean(result.iterations)):.1f}, max {int(np.max(result.iterations))}. First call with "
        f"compilation: batched {compile_seconds['batched']:.1f} s, vmap {compile_seconds['vmap']:.1f} s.",
        "",
        f"What bounds it (same run): one step of the batched pivot alone (both dictionaries of {slots} paths, "
        f"no queue) takes {step * 1e6:,.1f} us, {per_pivot * 1e6:.2f} us per path and pivot; QuantEcon's prebuilt "
        f"loop spends {qe_prebuilt / qe_pivots * 1e6:.2f} us per pivot ({qe_pivots:.1f} pivots per game on the first "
        f"{qe_checked} games, {our_pivots:.1f} here). The pivots alone would take {ideal * 1e6:,.1f} us per game "
        f"({qe_prebuilt / ideal:.2f}x QuantEcon prebuilt, {qe / ideal:.2f}x with construction); the work queue "
        f"(refills, certification, idle slots and the longest path's tail) adds "
        f"{(per_game / ideal - 1) * 100:.0f}%. A pivot is a few dozen small XLA kernels (ratio test, rank-one "
        f"update, bookkeeping): a step of 16 slots takes {step_16 * 1e6:,.1f} us, so "
        + (f"of the {slots}-slot step {fixed / step * 100:.0f}% is fixed (kernel launches) and the rest grows with "
           "the slots" if fixed > 0 else f"none of the {slots}-slot step is measurably fixed (kernel launches): it "
           "grows with the slots")
        + "; in float32 a path's "
        f"pivot costs {per_pivot_32 * 1e6:.2f} us ({per_pivot / per_pivot_32:.2f}x the speed of float64). The bound is mostly the "
        "generated code's cost per element of these small arrays, not arithmetic or memory. XLA on a CPU runs two "
        "independent loops of one program one after the other, so one call cannot use the second core.",
        "",
        "| other peers (same games, looped) | time per game | nashgrid (batched) speed-up | instances |",
        "|---|---|---|---|",
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


def rerun_lemke_howson(path, quick=False):
    """Rerun only the Lemke-Howson section and put it in place of the old one in ``path`` (the suite's
    results file), keeping the other sections as they were."""
    with open(path) as f:
        text = f.read()
    heading = "## Lemke-Howson:"
    begin = text.index(heading)
    end = text.find("\n## ", begin + len(heading))
    section = "\n".join(lemke_howson_section(quick)) + "\n\n"
    text = text[:begin] + section + (text[end + 1:] if end >= 0 else "")
    with open(path, "w") as f:
        f.write(text)


def run(quick=False):
    return [lemke_howson_section(quick), support_enumeration_section(quick)]
