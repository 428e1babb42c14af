"""Mechanism design through equilibria: implicit gradients against finite differences and unrolled solvers.

For study 1 (a learned real-time price for 1,000 households and 4 data centers, 120 parameters) and
study 2 (per-unit subsidies on networked Cournot producers: IEEE 30 with its ratings, a 20x20 lattice),
the same Adam design is run with three gradients of the designer's objective through the players'
equilibrium:

- implicit: :func:`solvers.design` (semismooth Newton solves, the solvers' implicit-function-theorem VJP);
- finite differences: central differences over every parameter, the ``2 p`` solves of a gradient in
  one vmapped call (the fair way to do it in JAX);
- unrolled: ``jax.grad`` through a fixed number ``K`` of (primal-dual) extragradient steps, each step
  rematerialized (``jax.checkpoint``) so the tape fits in memory; ``K`` is what extragradient needs at
  the starting parameters to reach the tolerance, and a design step whose unrolled solve ends above
  the tolerance is rejected by :func:`solvers.design` like any unconverged solve.

Study 2 on IEEE 30 is also designed with nashopt's ``ParametricGNEP.solve`` (Bemporad 2025), the one
peer with a game-design routine: L-BFGS on the players' KKT conditions as a penalty, jointly in
strategies, multipliers and parameters.

"Time to the target" is the time, compilation excluded, until the objective first reaches 99% of the
improvement that the implicit design achieves in its run. Where a method is too slow to run to the
target on the shared development machine, its seconds per step are measured on part of the work
(stated in the table) and the time to the target is that times the steps the implicit design needed,
marked "est.": with the same gradients the optimizer's trajectory is the same, and the table reports how
close each method's gradient is to the implicit one.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from games import grid_from_networkx
from papers.mechanism_design import studies as S
from solvers import GeneralizedEquilibrium, Status, VariationalEquilibrium, design, natural_map_residual, solve_vi

IMPROVEMENT = 0.99


# ---- gradients ---------------------------------------------------------------------------------


def unrolled_vi_solver(K, tol):
    """``K`` extragradient steps from the game's initial point as a plain ``lax.scan`` (differentiated by
    unrolling), each step rematerialized; status CONVERGED only if the residual reaches ``tol``."""

    def solve(game):
        F, P = game.pseudo_gradient, game.project
        g = 0.9 / game.lipschitz_bound()

        @jax.checkpoint
        def step(x, _):
            y = P(x - g * F(x))
            return P(x - g * F(y)), None

        x, _ = jax.lax.scan(step, game.initial_point(), None, length=K)
        residual = natural_map_residual(game, x)
        status = jnp.where(residual <= tol, Status.CONVERGED, Status.MAX_STEPS).astype(jnp.int32)
        return VariationalEquilibrium(strategies=x, residual=residual, iterations=jnp.asarray(K), status=status)

    return solve


def unrolled_gne_solver(K, tol):
    """``K`` primal-dual extragradient steps on ``(F(x) + A^T mu, u - A x)`` (the steps of
    :func:`solvers.solve_gne`), unrolled and rematerialized; CONVERGED only if the residual reaches ``tol``."""

    def solve(game):
        A, upper = game.shared_constraints()
        active = jnp.isfinite(upper)
        A, upper = jnp.where(active[:, None], A, 0.0), jnp.where(active, upper, 0.0)
        L = game.lipschitz_bound()
        norm = jnp.linalg.norm(A, 2)
        gx, gm = 0.45 / L, 0.45 * L / norm**2
        op = lambda x, mu: (game.pseudo_gradient(x) + A.T @ mu, upper - A @ x)
        proj = lambda x, mu: (game.project(x), jnp.maximum(mu, 0.0))

        @jax.checkpoint
        def step(w, _):
            x, mu = w
            fx, fm = op(x, mu)
            y, nu = proj(x - gx * fx, mu - gm * fm)
            fy, fn = op(y, nu)
            return proj(x - gx * fy, mu - gm * fn), None

        x0 = game.initial_point()
        (x, mu), _ = jax.lax.scan(step, (x0, jnp.zeros_like(upper)), None, length=K)
        fx, fm = op(x, mu)
        px, pm = proj(x - fx, mu - fm)
        residual = jnp.maximum(jnp.max(jnp.abs(x - px)), jnp.max(jnp.abs(mu - pm)))
        status = jnp.where(residual <= tol, Status.CONVERGED, Status.MAX_STEPS).astype(jnp.int32)
        return GeneralizedEquilibrium(strategies=x, residual=residual, iterations=jnp.asarray(K), status=status,
                                      multipliers=mu)

    return solve


def fd_gradient_fn(game_fn, objective, solve, params0, h=1e-5):
    """A jitted central-difference gradient: the ``2 p`` perturbed games solved in one vmapped call
    (``count`` of them only, for timing a part)."""
    flat0, unravel = ravel_pytree(params0)
    p = flat0.size

    def value(flat):
        params = unravel(flat)
        game = game_fn(params)
        eq = solve(game)
        return objective(params, game, eq), eq.status

    @functools.partial(jax.jit, static_argnames="count")
    def gradient(flat, count=2 * p):
        directions = jnp.concatenate([jnp.eye(p), -jnp.eye(p)])[:count] * h
        values, status = jax.vmap(lambda d: value(flat + d))(directions)
        g = (values[:p] - values[p:]) / (2 * h) if count == 2 * p else jnp.zeros(p)
        return g, jnp.max(status)

    return gradient, jax.jit(value), flat0, unravel


def fd_design(game_fn, objective, solve, params0, optimizer, steps, target=None, time_budget=None):
    """Adam on finite-difference gradients (the same update as :func:`solvers.design` without constraints).
    Returns ``(objectives, seconds per step, compile seconds, steps to target or None)``."""
    gradient, value, flat, unravel = fd_gradient_fn(game_fn, objective, solve, params0)
    state = optimizer.init(flat)
    update = jax.jit(optimizer.update)
    start = time.perf_counter()
    jax.block_until_ready(gradient(flat))
    compile_seconds = time.perf_counter() - start
    objectives, reached = [], None
    start = time.perf_counter()
    for k in range(steps):
        g, status = gradient(flat)
        updates, state = update(g, state, flat)
        flat = optax.apply_updates(flat, updates)
        f = float(value(flat)[0])
        objectives.append(f)
        if target is not None and reached is None and f <= target:
            reached = k + 1
            break
        if time_budget is not None and time.perf_counter() - start > time_budget:
            break
    seconds = (time.perf_counter() - start) / len(objectives)
    return np.array(objectives), seconds, compile_seconds, reached


def timed_design(game_fn, params0, objective, solve, optimizer, steps):
    """``(result, seconds per step, first-call seconds)``: a warm-up design of one step compiles; the timed
    run's per-step time excludes design's fixed work (checks, the start's evaluation), measured by a
    ``steps=0`` call."""
    start = time.perf_counter()
    design(game_fn, params0, objective, solve=solve, optimizer=optimizer, steps=1, progress=False)
    first = time.perf_counter() - start
    start = time.perf_counter()
    design(game_fn, params0, objective, solve=solve, optimizer=optimizer, steps=0, progress=False)
    fixed = time.perf_counter() - start
    start = time.perf_counter()
    result = design(game_fn, params0, objective, solve=solve, optimizer=optimizer, steps=steps, progress=False)
    total = time.perf_counter() - start
    return result, max(total - fixed, 1e-9) / steps, first


def steps_to(objectives, target):
    hit = np.flatnonzero(np.asarray(objectives) <= target)
    return int(hit[0]) + 1 if hit.size else None


def gradient_agreement(a, b):
    a, b = np.asarray(ravel_pytree(a)[0]), np.asarray(ravel_pytree(b)[0])
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))


def row(case, method, seconds, steps_needed, ratio, note, estimated=False):
    if steps_needed is None:
        reach = "not reached"
    else:
        reach = f"{'est. ' if estimated else ''}{steps_needed * seconds:.1f} s ({steps_needed} steps)"
    per_second = f"{1.0 / seconds:.3g}" if seconds > 0 else "-"
    return f"| {case} | {method} | {seconds:.3g} s | {per_second} | {reach} | {ratio} | {note} |"


HEADER = ["| case | gradient | seconds per design step | steps per second | time to the target | "
          "time per step vs implicit | note |", "|---|---|---|---|---|---|---|"]


# ---- study 1 -------------------------------------------------------------------------------------


def study1_section(quick):
    users, steps = (200, 8) if quick else (1000, 30)
    game, params0 = S.demand_response_instance(users, 4, hours=24)
    pricing = S.DynamicPricing(game, "generation_cost", solve=functools.partial(solve_vi, method="semismooth_newton",
                                                                                 tol=1e-10))
    optimizer = optax.adam(optax.cosine_decay_schedule(0.1, steps, 1e-3))
    # Unconstrained: budget balance only fixes the uniform price level, which moves neither the
    # equilibrium nor the objective (see games.PricedDemandResponseGame), so all methods run without it.
    result, seconds, first = timed_design(pricing.game_fn, params0, pricing.objective, pricing.solve, optimizer, steps)
    f0 = float(design(pricing.game_fn, params0, pricing.objective, solve=pricing.solve, steps=0,
                      progress=False).objective)
    target = f0 - IMPROVEMENT * (f0 - result.objective)
    n_implicit = steps_to(result.history["objective"], target)
    case = f"study 1: {game.num_users} users x 24 h, {ravel_pytree(params0)[0].size} parameters"
    rows = [row(case, "implicit (`design`)", seconds, n_implicit, "1", f"first call {first:.0f} s (compile)")]
    implicit_gradient = design(pricing.game_fn, params0, pricing.objective, solve=pricing.solve, steps=0,
                               progress=False).gradient

    # Unrolled: K extragradient steps, K = what extragradient needs at params0.
    K = int(solve_vi(game, tol=1e-8).iterations) + 50
    unrolled = unrolled_vi_solver(K, 1e-8)
    grad_unrolled = jax.jit(jax.grad(lambda p: pricing.objective(p, pricing.game_fn(p),
                                                                 unrolled(pricing.game_fn(p)))))
    jax.block_until_ready(grad_unrolled(params0))
    start = time.perf_counter()
    g_unrolled = jax.block_until_ready(grad_unrolled(params0))
    unrolled_seconds = time.perf_counter() - start
    rows.append(row(case, f"unrolled ({K} extragradient steps)", unrolled_seconds, n_implicit,
                    f"{unrolled_seconds / seconds:.1f}x",
                    "one gradient timed; relative difference from implicit "
                    f"{gradient_agreement(implicit_gradient, g_unrolled):.1e}",
                    estimated=True))

    # Finite differences: 2 p Newton solves per gradient, timed on 8 of them and scaled.
    gradient, _, flat, _ = fd_gradient_fn(pricing.game_fn, pricing.objective, pricing.solve, params0)
    part = 8
    jax.block_until_ready(gradient(flat, count=part))
    start = time.perf_counter()
    jax.block_until_ready(gradient(flat, count=part))
    fd_seconds = (time.perf_counter() - start) * (2 * flat.size) / part
    rows.append(row(case, f"finite differences ({2 * flat.size} solves)", fd_seconds, n_implicit,
                    f"{fd_seconds / seconds:.0f}x", f"timed on {part} of the {2 * flat.size} vmapped solves, scaled",
                    estimated=True))
    text = [
        f"Study 1: Adam (cosine from 0.1) on the generation cost of the users' equilibrium, {steps} steps; the target "
        f"is {IMPROVEMENT:.0%} of the implicit design's improvement ({f0:.6f} -> {result.objective:.6f}, relative "
        "to the preferred schedules' cost).",
    ]
    return text, rows


# ---- study 2 -------------------------------------------------------------------------------------


def lattice(side, capacity):
    G = nx.grid_2d_graph(side, side)
    nx.set_node_attributes(G, "prosumer", "role")
    nx.set_edge_attributes(G, 0.1, "reactance")
    nx.set_edge_attributes(G, capacity, "capacity")
    return grid_from_networkx(G, slack=(0, 0))


def study2_cases(quick):
    ieee = S.cournot_instance(rated=True)
    rng = np.random.default_rng(0)
    side = 8 if quick else 20
    grid = lattice(side, 10.0)
    buses = rng.choice(grid.num_buses, 20, replace=False)
    from games import network_cournot_game

    lat = network_cournot_game(grid, buses, cost_linear=rng.uniform(10, 30, 20), cost_quadratic=0.05,
                               demand_intercept=100.0, demand_slope=0.2)
    return [(f"study 2: IEEE 30, {ieee.num_producers} producers, rated", ieee, 150, True),
            (f"study 2: {side}x{side} lattice ({grid.num_lines} rated lines), 20 producers", lat,
             4 if quick else 60, False)]


def study2_section(quick):
    rows, text = [], []
    for case, game, steps, run_everything in study2_cases(quick):
        solve = S.cournot_solver(rated=True, tol=1e-10)
        first_best = S.welfare_optimum(game)[1]
        unsubsidized = float(S.social_welfare(game, solve(game).strategies))
        objective = lambda s, g, eq, game=game, fb=first_best, w0=unsubsidized: (
            (fb - S.social_welfare(game, eq.strategies)) / (fb - w0))
        game_fn = lambda s, game=game: S.subsidized(game, s)
        params0 = jnp.zeros(game.num_producers)
        optimizer = optax.adam(optax.cosine_decay_schedule(2.0, steps, 1e-3))
        result, seconds, first = timed_design(game_fn, params0, objective, solve, optimizer, steps)
        target = 1.0 - IMPROVEMENT * (1.0 - result.objective)
        n_implicit = steps_to(result.history["objective"], target)
        rows.append(row(case, "implicit (`design`)", seconds, n_implicit, "1",
                        f"first call {first:.0f} s; deadweight loss left {result.objective:.2e}"))
        implicit_gradient = design(game_fn, params0, objective, solve=solve, steps=0, progress=False).gradient
        if run_everything:
            objectives, fd_seconds, _, reached = fd_design(game_fn, objective, solve, params0, optimizer, steps,
                                                           target=target)
            rows.append(row(case, f"finite differences ({2 * game.num_producers} solves)", fd_seconds, reached,
                            f"{fd_seconds / seconds:.1f}x", "run to the target"))
            K = 20_000
            unrolled = unrolled_gne_solver(K, 1e-8)
            start = time.perf_counter()
            res_u = design(game_fn, params0, objective, solve=unrolled, optimizer=optimizer, steps=1, progress=False)
            first_u = time.perf_counter() - start
            u_result, u_seconds, _ = timed_design(game_fn, params0, objective, unrolled, optimizer, steps)
            residual = float(res_u.equilibrium.residual)
            rows.append(row(case, f"unrolled ({K:,} primal-dual extragradient steps)", u_seconds,
                            steps_to(u_result.history["objective"], target), f"{u_seconds / seconds:.1f}x",
                            f"first call {first_u:.0f} s; residual at the start {residual:.1e}; "
                            f"{int((~u_result.history['accepted']).sum())} steps rejected"))
            rows.append(nashopt_row(case, game, first_best, unsubsidized, seconds, n_implicit, target))
        else:
            gradient, _, flat, _ = fd_gradient_fn(game_fn, objective, solve, params0)
            part = 2
            jax.block_until_ready(gradient(flat, count=part))
            start = time.perf_counter()
            jax.block_until_ready(gradient(flat, count=part))
            fd_seconds = (time.perf_counter() - start) * (2 * flat.size) / part
            rows.append(row(case, f"finite differences ({2 * flat.size} solves)", fd_seconds, n_implicit,
                            f"{fd_seconds / seconds:.0f}x", f"timed on {part} of the {2 * flat.size} solves, scaled",
                            estimated=True))
            K = 5_000
            unrolled = unrolled_gne_solver(K, 1e-8)
            residual = float(unrolled(game).residual)
            if residual > 1e-8:
                rows.append(f"| {case} | unrolled ({K:,} primal-dual extragradient steps) | - | - | not reached | - | "
                            f"the unrolled solve ends at residual {residual:.1e} (not an equilibrium): every "
                            "design step would be rejected |")
            else:
                grad_unrolled = jax.jit(jax.grad(lambda s: objective(s, game_fn(s), unrolled(game_fn(s)))))
                jax.block_until_ready(grad_unrolled(params0))
                start = time.perf_counter()
                g_unrolled = jax.block_until_ready(grad_unrolled(params0))
                u_seconds = time.perf_counter() - start
                rows.append(row(case, f"unrolled ({K:,} primal-dual extragradient steps)", u_seconds, n_implicit,
                                f"{u_seconds / seconds:.1f}x", "one gradient timed; relative difference from "
                                f"implicit {gradient_agreement(implicit_gradient, g_unrolled):.1e}",
                                estimated=True))
        text.append(f"{case}: Adam (cosine from 2.0), {steps} steps; objective = deadweight loss left relative "
                    f"to the unsubsidized market (first best {first_best:.6g}, scipy's QP).")
    return text, rows


def nashopt_row(case, game, first_best, unsubsidized, implicit_seconds, n_implicit, target):
    """nashopt's game design (``ParametricGNEP.solve``) on the same instance, if nashopt is installed."""
    try:
        from nashopt import ParametricGNEP
    except ImportError:
        return f"| {case} | nashopt `ParametricGNEP` | - | - | - | - | nashopt not installed |"
    G = game.num_producers
    A, upper = (np.asarray(m) for m in game.shared_constraints())
    keep = np.isfinite(upper)
    A, upper = jnp.asarray(A[keep]), jnp.asarray(upper[keep])
    c, d = game.cost_linear, game.cost_quadratic
    a, b = game.demand_intercept, game.demand_slope

    def cost(i):
        return lambda x, p: c[i] * x[i] + 0.5 * d[i] * x[i] ** 2 - p[i] * x[i] - (a - b * jnp.sum(x)) * x[i]

    welfare = lambda x: S.social_welfare(game, x)
    J = lambda x, p: (first_best - welfare(x)) / (first_best - unsubsidized)
    problem = ParametricGNEP([1] * G, [cost(i) for i in range(G)], g=lambda x, p: A @ x - upper, ng=int(upper.size),
                             lb=np.zeros(G), ub=np.full(G, np.inf), variational=True, npar=G)
    start = time.perf_counter()
    sol = problem.solve(J=J, p0=np.zeros(G), maxiter=1000, gne_warm_start=True, verbose=False)
    seconds = time.perf_counter() - start
    # Check nashopt's answer: solve the game at its parameters and evaluate the objective there.
    eq = S.cournot_solver(rated=True, tol=1e-10)(S.subsidized(game, jnp.asarray(sol.p)))
    true_objective = float((first_best - welfare(eq.strategies)) / (first_best - unsubsidized))
    reached = true_objective <= target
    versus = (f"{seconds / (implicit_seconds * (n_implicit or 1)):.1f}x the implicit time to the target" if reached
              else "did not reach the target")
    return (f"| {case} | nashopt `ParametricGNEP.solve` (L-BFGS on a KKT penalty, from the same start) | "
            f"{seconds:.3g} s (whole design) | - | {'reached' if reached else 'not reached'} | {versus} | "
            f"its objective {float(sol.J):.2e}; at its parameters the true equilibrium gives {true_objective:.2e} "
            f"(status {Status(int(eq.status)).name}; 1.0 is the unsubsidized market) |")


def run(quick: bool = False):
    from benchmarks._timing import loadavg

    loads = [loadavg()]
    text1, rows1 = study1_section(quick)
    loads.append(loadavg())
    text2, rows2 = study2_section(quick)
    loads.append(loadavg())
    return [[
        "## Mechanism design through equilibria (`solvers.design`)",
        "",
        f"Load averages (1/5/15 min) at the start, after study 1 and after study 2: {'; '.join(loads)}, on a "
        "shared 2-core machine: absolute times move with the load; the ratios, measured minutes apart in one "
        "process, are the meaningful part.",
        "",
        *HEADER,
        *rows1,
        *rows2,
        "",
        *text1,
        "",
        *(t + "" for t in text2),
        "",
        "Implicit gradients cost about one extra linear solve per design step whatever the number of "
        "parameters; finite differences cost two equilibrium solves per parameter, and unrolling costs the "
        "whole first-order path (hundreds to thousands of steps, each replayed in the backward pass) and needs a "
        "step budget that reaches the equilibrium at every design iterate (a solve that stops short is "
        "rejected). \"est.\": seconds per step measured on part of the "
        "work (see the note) times the steps the implicit design needed.",
    ]]


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    for section in run(quick=True):
        print("\n".join(section))
