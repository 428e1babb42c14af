"""Energy games: the demand-response game (Mohsenian-Rad et al. 2010), N users x 24 slots."""

from __future__ import annotations

import signal
import time
import warnings

import jax.numpy as jnp
import numpy as np

from benchmarks._timing import timed_call
import networkx as nx

from games import demand_response_game, grid_from_networkx, ieee30, network_cournot_game
from mechanisms import daily_proportional_user_bill
from solvers import natural_map_residual, solve_gne, solve_vi

T = 24


def instance(N, seed=0):
    """Users with random windows (6-17 slots), energy 30-70% of their room; a day-night cost curve."""
    rng = np.random.default_rng(seed)
    start, length = rng.integers(0, 12, N), rng.integers(6, 18, N)
    t = np.arange(T)
    window = (t[None] >= start[:, None]) & (t[None] < np.minimum(start + length, T)[:, None])
    upper = np.where(window, rng.uniform(0.5, 2.0, (N, T)), 0.0)
    energy = upper.sum(1) * rng.uniform(0.3, 0.7, N)
    a = (0.3 + 0.2 * np.sin(np.linspace(0, 2 * np.pi, T))) / N
    return demand_response_game(np.zeros((N, T)), upper, energy, a=a, b=np.full(T, 0.1))


def _ours(game, method="best_response", repeats=3):
    eq, seconds, first = timed_call(lambda: solve_vi(game, method=method, tol=1e-8, implicit=False), repeats)
    return seconds, first, eq


def _bills(game):
    """Each user's daily bill as a function of the flattened profile (nashopt's nonlinear GNEP)."""
    N, (a, b) = game.num_users, (game.a, game.b)

    def bill(i):
        def f(x):
            X = x.reshape(N, T)
            return daily_proportional_user_bill(X[i], X.sum(0), a=a, b=b)
        return f

    return [bill(i) for i in range(N)]


def _quadratic_bills(game):
    """The same bills as ``0.5 x^T Q_i x + c_i^T x`` (nashopt's linear-quadratic GNEP): user i pays
    ``share_i sum_t (a_t L_t^2 + b_t L_t)`` with ``L = sum_n x_n``."""
    N, a, b, E = game.num_users, np.asarray(game.a), np.asarray(game.b), np.asarray(game.energy)
    share = E / E.sum()
    Q = 2 * np.kron(np.ones((N, N)), np.diag(a))
    return [s * Q for s in share], [s * np.tile(b, N) for s in share]


def _nashopt(game, solver, budget_s=300):
    """nashopt on the same instance: each agent minimizes its daily bill; its energy balance is a linear
    equality (shared form, variational), its bounds a box. ``solver``: ``"GNEP"`` (the nonlinear class,
    KKT system by scipy's hybrid method) or ``"GNEP_LQ"`` (the linear-quadratic class with its proximal
    ADMM, tolerance 1e-10); ``(seconds, profile, note)``, ``seconds`` None past the budget."""
    from nashopt import GNEP, GNEP_LQ

    N = game.num_users
    lo, hi = np.asarray(game.lower).ravel(), np.asarray(game.upper).ravel()
    Aeq, E = np.kron(np.eye(N), np.ones((1, T))), np.asarray(game.energy)
    x0 = np.asarray(game.initial_point()).ravel()

    def alarm(signum, frame):
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(budget_s)
    try:
        start = time.perf_counter()
        if solver == "GNEP":
            problem = GNEP([T] * N, _bills(game), lb=lo, ub=hi, Aeq=Aeq, beq=E, variational=True)
            out = problem.solve(x0=x0, verbose=0)
        else:
            Q, c = _quadratic_bills(game)
            # GNEP_LQ's proximal ADMM needs a shared inequality block: one that never binds.
            problem = GNEP_LQ([T] * N, Q, c, lb=lo, ub=hi, A=np.zeros((1, N * T)), b=np.ones(1), Aeq=Aeq, beq=E,
                              variational=True, solver="prox_admm")
            out = problem.solve(verbose=0, solver_options=dict(maxiter=100_000, tol=1e-10))
        seconds = time.perf_counter() - start
    except TimeoutError:
        return None, None, f"over the {budget_s} s budget"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return seconds, np.asarray(out.x).reshape(N, T), ""


def scaling_section(quick):
    sizes = (10, 100, 1000, 10_000) if quick else (10, 100, 1000, 10_000, 100_000)
    rows = []
    for N in sizes:
        game = instance(N)
        seconds, first, eq = _ours(game)
        rows.append(f"| {N:,} | {seconds:.3f} s | {seconds / N * 1e6:,.1f} us | {float(eq.residual):.1e} | "
                    f"{int(eq.iterations)} | {first:.2f} s |")
        if N >= 100_000:
            break
    return [
        f"## Demand response: N users x {T} slots, daily proportional billing",
        "",
        "`solve_vi(game, method=\"best_response\", tol=1e-8)` (Gauss-Seidel water-filling sweeps, O(N T) each).",
        "",
        "| users N | time | per user | natural-map residual | sweeps | first call (compile) |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def nashopt_section(quick):
    rows = []
    for N in (5,) if quick else (5, 20):
        game = instance(N, seed=1)
        ours, _, eq = _ours(game)
        for solver in ("GNEP", "GNEP_LQ"):
            try:
                theirs, x, note = _nashopt(game, solver)
            except Exception as err:  # reported, not fatal
                warnings.warn(f"nashopt {solver} failed: {err!r}")
                theirs, x, note = None, None, f"failed: {type(err).__name__}"
            if theirs is None:
                rows.append(f"| {N} | {ours * 1e3:.1f} ms | `{solver}` | {note} | | | | |")
                continue
            gap = float(np.max(np.abs(x.sum(0) - np.asarray(game.total_load(eq.strategies)))))
            their_residual = float(natural_map_residual(game, jnp.asarray(x)))
            cost_gap = float(game.social_cost(jnp.asarray(x)) - game.social_cost(eq.strategies))
            rows.append(f"| {N} | {ours * 1e3:.1f} ms | `{solver}` | {theirs:.2f} s | {theirs / ours:,.0f}x | {gap:.1e} | "
                        f"{their_residual:.1e} | {cost_gap:+.1e} |")
    return [
        "## Demand response against nashopt (same instances)",
        "",
        "nashopt's nonlinear `GNEP` (KKT system with the Fischer-Burmeister function, scipy's hybrid method, "
        "default settings) and its linear-quadratic `GNEP_LQ` (proximal ADMM, tolerance 1e-10, up to 100,000 "
        "iterations) on the bills written as quadratics.",
        "",
        "| users N | nashgrid best response | nashopt class | nashopt time | speed-up | max aggregate-load difference | "
        "nashopt's natural-map residual | nashopt's social cost minus ours |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "nashgrid's equilibria are certified by their natural-map residual (<= 1e-8) and, in the tests, equal the "
        "social optimum computed independently with scipy. A positive residual and a higher social cost in "
        "nashopt's columns mean its answer is not an equilibrium of the game. Only the aggregate load is "
        "compared: under daily billing the users' own schedules are not unique.",
    ]


def _lattice(side, capacity):
    G = nx.grid_2d_graph(side, side)
    nx.set_node_attributes(G, "prosumer", "role")
    nx.set_edge_attributes(G, 0.1, "reactance")
    nx.set_edge_attributes(G, capacity, "capacity")
    return grid_from_networkx(G, slack=(0, 0))


def _timed_gne(solve):
    """``(result, seconds of a warm call, seconds of the first call, multipliers above 1e-6)``."""
    eq, seconds, first = timed_call(solve, 1)
    return eq, seconds, first, int(np.sum(np.asarray(eq.multipliers) > 1e-6))


def cournot_section(quick):
    rng = np.random.default_rng(0)
    cases = []
    grid = ieee30()
    producers = grid.buses_with_role("producer")
    cases.append(("IEEE 30 (6 producers, published ratings)", network_cournot_game(
        grid, producers, cost_linear=rng.uniform(10, 30, producers.size), cost_quadratic=0.05,
        demand_intercept=100.0, demand_slope=0.2)))
    side = 20 if quick else 50
    grid = _lattice(side, 0.02)
    buses = rng.choice(grid.num_buses, 50, replace=False)
    cases.append((f"{side}x{side} grid ({grid.num_buses} buses, {grid.num_lines} lines, 50 producers)",
                  network_cournot_game(grid, buses, cost_linear=rng.uniform(10, 30, 50), cost_quadratic=0.05,
                                       demand_intercept=100.0, demand_slope=0.2)))
    rows = []
    budgets = {"extragradient": 50_000, "semismooth_newton": 5_000}
    for name, game in cases:
        for method, steps in budgets.items():
            eq, seconds, first, binding = _timed_gne(lambda: solve_gne(game, method=method, max_steps=steps))
            rows.append(f"| {name} | `{method}` | {seconds:.3f} s | {float(eq.residual):.1e} | {int(eq.iterations)} "
                        f"(of {steps:,}) | {binding} | {first:.2f} s |")
    return [
        "## Networked Cournot with line limits (generalized Nash, `solve_gne`)",
        "",
        "| case | method | time | residual | iterations | multipliers > 1e-6 | first call (compile) |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Primal-dual extragradient (steps balanced between the two blocks, see `solve_gne`) converges slowly "
        "once many line limits bind: its "
        "residuals are what 50,000 iterations reach (status MAX_STEPS where above 1e-8). `semismooth_newton` "
        "solves the complementarity form by Fischer-Burmeister Newton steps inside proximal-point iterations "
        "(iterations count Newton steps, each with a matrix-free conjugate-gradient solve); where its residual "
        "is above 1e-8 it too reports MAX_STEPS at its budget. No peer library solves this problem class in "
        "JAX; nashopt's GNEP solver is compared on the demand-response game above.",
    ]


STORAGE_BUDGETS = {"extragradient": 200_000, "semismooth_newton": 5_000}  # solve_gne's defaults


def storage_section(quick):
    rows = []
    for users in (20, 100) if not quick else (20,):
        rng = np.random.default_rng(users)
        upper = rng.uniform(0.5, 2.0, (users, T))
        game = demand_response_game(0.9 * upper, upper, 0.95 * upper.sum(1), a=np.linspace(0.1, 0.3, T), b=0.1,
                                    storage_capacity=[5.0, 3.0], storage_max_charge=[1.0, 0.5])
        for method, steps in STORAGE_BUDGETS.items():
            eq, seconds, first, binding = _timed_gne(lambda: solve_gne(game, method=method, max_steps=steps))
            rows.append(f"| {users} + 2 | `{method}` | {seconds:.2f} s | {float(eq.residual):.1e} | "
                        f"{int(eq.iterations):,} (of {steps:,}) | {binding} | {first:.2f} s |")
    return [
        f"## Demand response with storage units: N users + 2 batteries x {T} slots (`solve_gne`)",
        "",
        "Users with little flexibility (lower bound 0.9 of the upper), two batteries with state-of-charge and "
        "power limits paid the marginal-cost price; the state-of-charge limits are handled by multipliers. "
        "Default budgets (200,000 extragradient iterations, 5,000 Newton steps).",
        "",
        "| players | method | time | residual | iterations | binding SoC limits | first call (compile) |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Under daily billing the users' schedules form a continuum (only the aggregate load is unique), so "
        "the complementarity system of Newton's method is degenerate: with 20 users the proximal steps "
        "cope, with 100 the inner Newton solves stall and the method reports MAX_STEPS at its budget; the "
        "first-order method is the one to use for this game.",
    ]


def run(quick=False):
    return [scaling_section(quick), nashopt_section(quick), storage_section(quick), cournot_section(quick)]
