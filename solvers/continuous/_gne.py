"""Variational equilibria of games with shared linear constraints (generalized Nash equilibria).

Players minimize their costs subject to their own sets ``X`` and shared constraints ``A x <= u``. The
variational equilibrium (Rosen 1965; Facchinei, Fischer and Piccialli 2007) is the solution of the VI
on ``X intersect {A x <= u}``; with multipliers ``mu >= 0`` common to all players it is the solution of
the monotone VI in ``(x, mu)``

    F(x) + A^T mu  and  u - A x   on  X x R_+^m,

solved here, for polyhedral strategy sets ``{lower <= x <= upper, E x = e}`` (all the energy games),
by default by a primal-dual interior-point method (:mod:`solvers.continuous._interior_point`:
Mehrotra's predictor-corrector with structure-exploiting linear algebra), or by the extragradient
method (a primal-dual method: the multipliers are updated by the constraint violation) or semismooth
Newton steps on its Fischer-Burmeister (mixed) complementarity form inside proximal-point
iterations. In the networked Cournot
game the multipliers of the line limits are the congestion prices that make up the locational
marginal prices.

References: J. B. Rosen (1965), Econometrica 33(3); F. Facchinei, A. Fischer and V. Piccialli (2007),
"On generalized Nash games and variational inequalities", Operations Research Letters 35;
G. M. Korpelevich (1976); T. De Luca, F. Facchinei and C. Kanzow (1996); R. T. Rockafellar (1976);
S. Mehrotra (1992), SIAM J. Optim. 2(4); D. Ralph and S. J. Wright (1997); F. Facchinei and J.-S. Pang
(2003), ch. 11.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from mechanisms import pytree_dataclass

from .._core._adjoint import ImplicitAdjoint, UnrolledAdjoint, check_adjoint, implicit_fixed_point
from .._core._loop import iterate, traced_budget
from .._core._result import final_status, maybe_throw
from .._core._validation import check_positive_int, check_step_size, check_tol
from ._certify import certify_deviations
from ._first_order import extragradient_step, projected_step
from ._interior_point import declared_unique, fixed_point_steps, interior_point, interior_point_status
from ._newton import proximal_complementarity_newton
from ._problem import Problem, check_continuous_game, has_shared_constraints, initial_point_aval, is_polyhedral
from ._variational import VariationalEquilibrium

__all__ = ["solve_gne", "GeneralizedEquilibrium", "GNE_METHODS"]


@pytree_dataclass(kw_only=True)
class GeneralizedEquilibrium(VariationalEquilibrium):
    """A variational equilibrium with the multipliers of the shared constraints (``residual`` is the
    natural-map residual of the primal-dual VI)."""

    multipliers: jax.Array


GNE_METHODS = ("interior_point", "extragradient", "semismooth_newton")
INTERIOR_POINT_MAX_STEPS = 100


def solve_gne(game, *, method: str | None = None, step_size=None, tol: float | None = None,
              max_steps: int | None = None, adjoint=ImplicitAdjoint(), certify: bool = True,
              throw: bool = False) -> GeneralizedEquilibrium:
    """The variational equilibrium of a game with shared linear constraints ``A x <= upper``.

    The game implements :class:`games.ContinuousGame` (its ``vi_operator`` is used where it implements
    :class:`games.ScaledPseudoGradient`, as in :func:`~solvers.solve_vi`) and gives its shared
    constraints by :class:`games.DenseSharedConstraints` (``shared_constraints() -> (A, upper)`` with
    ``A`` acting on the flattened strategies) or, for many constraints, matrix-free by
    :class:`games.SharedLinearConstraints`; rows with an infinite ``upper`` are inactive (their
    multipliers stay 0). A constraint that involves one player's strategy only (a storage unit's state
    of charge) is that player's own constraint: the variational equilibrium is then a plain Nash
    equilibrium with private constraints.

    Args:
      method: ``"interior_point"`` (the default where the game declares polyhedral strategy sets,
        :class:`games.BoxStrategySets`), ``"extragradient"`` (primal-dual extragradient, Korpelevich
        1976; the default otherwise) or ``"semismooth_newton"``.

        ``"interior_point"``: primal-dual path following with Mehrotra's predictor-corrector on the KKT
        system of the VI over ``{lower <= x <= upper, E x = e, A x <= upper}`` (Mehrotra 1992; Ralph and
        Wright 1997; Facchinei and Pang 2003, ch. 11), jitted and vmappable with a near-constant
        iteration count (10-30): the reduced Newton system is factorized densely for small games
        (networked Cournot: the players' block plus the line limits' Schur complement) or by per-player
        blocks and a Sherman-Morrison-Woodbury correction for aggregative games (demand response); an
        active-set polish finishes degenerate solutions. Its stopping rule is scale-invariant: the
        operator is divided by its scale ``s`` (``stats["operator_scale"]``), so ``residual`` and
        ``tol`` are the natural-map residual of ``(F / s + A^T mu / s, upper - A x)`` and the same game
        with costs in any unit of money gives the same answer and status (``stats["natural_residual"]``
        is the residual the other methods certify). Infeasible constraints are detected from
        the diverging duals (a Farkas certificate): status ``INFEASIBLE``, NaN strategies and
        multipliers, the evidence in ``stats`` (``farkas_residual``, ``farkas_gap``: normalized, a
        certificate has a residual ~0 and a negative gap; ``dual_norm``). See
        :mod:`solvers.continuous._interior_point`.

        ``"semismooth_newton"`` is for polyhedral strategy sets described by the game
        (:class:`games.BoxStrategySets` and, where there are equalities ``E x = e``,
        :class:`games.StrategyEqualities`: the same sets that ``project`` projects onto). The primal-dual VI becomes a mixed complementarity problem in
        ``(x, lam, mu)``, solved by Fischer-Burmeister semismooth Newton (Billups' box form) with
        Levenberg-Marquardt regularization and an Armijo search, matrix-free, inside proximal-point
        steps; see :func:`solvers._newton.complementarity_newton`. Newton is the method of choice
        once many line limits bind (networked Cournot), where the first-order method needs hundreds
        of thousands of steps; on games whose equilibria form a continuum (daily billing with many
        users) it can be slower than extragradient (``benchmarks/RESULTS.md``).
      step_size: the primal and dual steps ``(g_x, g_mu)`` (a scalar uses one step for both). Default:
        ``g_x = 0.45 / L`` and ``g_mu = 0.45 L / ||A||_2^2``, the extragradient step ``0.45 / L`` after
        rescaling the multipliers by ``L / ||A||`` so that both blocks of the operator have Lipschitz
        constant ``L`` (a state-of-charge operator with ``||A|| ~ T`` would otherwise force a tiny
        primal step); ``0.9 / L`` for both without constraint rows.
      tol: the scale-invariant natural-map residual of the primal-dual VI for ``CONVERGED`` (default 1e-10
        in float64, 1e-4 in float32): the primal block ``||x - P(x - (F(x) + A^T mu) / L)||_inf``, the dual
        block in the scaled multipliers ``mu ||A|| / L``, both over ``max(1, ||x||_inf)``; invariant to
        the units of money. For ``"interior_point"`` (default 1e-8) the residual of the operator divided by
        its Jacobian's scale (also invariant; see above); ``stats["natural_residual"]`` is the residual the
        other methods certify.
      max_steps: the most iterations (traced: a new budget does not recompile, except with
        :class:`~solvers.UnrolledAdjoint`; default 100 interior-point iterations, 200,000 extragradient
        or 5,000 Newton steps, enough for a 50x50 lattice with 4,900 tightly rated lines, which needs
        about 2,600).
      adjoint: how derivatives pass through the solve (static). :class:`~solvers.ImplicitAdjoint`
        (default): ``jax.grad`` through the strategies and the multipliers with respect to the game's
        arrays (costs, demand, reactances, capacities) by the implicit function theorem on the
        primal-dual fixed point (a custom VJP, Blondel et al. 2022). They exist where the equilibrium
        is strongly regular (unique multipliers, strict complementarity).
        For the interior-point method the fixed point is the projected step with the extragradient steps
        (``step_size``, default as above with ``||A||_F`` for ``||A||_2``); its derivative does not depend
        on them. :class:`~solvers.UnrolledAdjoint` differentiates through ``max_steps`` extragradient steps;
        ``None`` attaches no derivative rule.
      certify: for a game that reports its players' costs (:class:`games.PlayerCosts`), verify a
        ``CONVERGED`` answer by unilateral deviations (toward the initial point and the bounds; see
        :mod:`solvers.continuous._certify`): where a player gains more than the residual allows, the
        status is ``PROFITABLE_DEVIATION`` (a stationary point that is not an equilibrium) and
        ``stats['deviation_gain']`` says by how much.

    Example:
      >>> from games import ieee14, network_cournot_game
      >>> game = network_cournot_game(ieee14(), [0, 1, 2], cost_linear=10.0, demand_intercept=100.0,
      ...                             demand_slope=1.0)
      >>> eq = solve_gne(game)  # interior point
      >>> bool(eq.converged), round(float(eq.strategies[0]), 6)  # (a - c) / (b (G + 1)) = 22.5
      (True, 22.5)

    Reference: Rosen (1965); Facchinei, Fischer and Piccialli (2007); Korpelevich (1976); Qi and Sun (1993);
    Mehrotra (1992); Ralph and Wright (1997); Facchinei and Pang (2003).
    """
    check_continuous_game(game, "solve_gne")
    if not has_shared_constraints(game):
        raise ValueError(f"{type(game).__name__} has no shared constraints; use solve_vi")
    if method is None:
        method = "interior_point" if is_polyhedral(game) else "extragradient"
    if method not in GNE_METHODS:
        raise ValueError(f"method must be one of {GNE_METHODS}; got {method!r}")
    if method == "interior_point":
        return _interior_point_entry(game, step_size, tol, max_steps, adjoint, certify, throw)
    if method == "semismooth_newton":
        if not is_polyhedral(game):
            raise ValueError(f"semismooth_newton in solve_gne needs polyhedral strategy sets (games.BoxStrategySets: "
                             f"lower_bounds() and upper_bounds()); {type(game).__name__} has none: use method='extragradient'")
        lower = game.lower_bounds()
        if not isinstance(lower, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(lower))):
            raise ValueError("semismooth_newton needs finite lower_bounds() (strategy sets bounded below)")
    adjoint = check_adjoint(adjoint, unrolled_ok=method == "extragradient", solver=f"solve_gne[{method}]")
    default_steps = 5_000 if method == "semismooth_newton" else 200_000
    max_steps = check_positive_int(default_steps if max_steps is None else max_steps, "max_steps")
    dtype = initial_point_aval(game).dtype
    tol = check_tol(tol, dtype, float64=1e-10)
    if step_size is None:
        L, norm = game.lipschitz_bound(), Problem(game).norm_bound()
        step_size = jnp.where(norm > 0, jnp.stack([0.45 / L, 0.45 * L / jnp.where(norm > 0, norm, 1.0) ** 2]),
                              jnp.stack([0.9 / L, 0.9 / L]))
    step_size = jnp.broadcast_to(jnp.asarray(check_step_size(step_size), dtype), (2,))
    unrolled = isinstance(adjoint, UnrolledAdjoint)  # its scan needs a static length; otherwise max_steps is traced
    result = _solve_gne(game, step_size, jnp.asarray(tol), traced_budget(max_steps), method=method,
                        unroll=max_steps if unrolled else None, certify=certify)
    if isinstance(adjoint, ImplicitAdjoint):
        x, mu = implicit_fixed_point(adjoint, _fixed_point_map, (game, step_size),
                                     jax.lax.stop_gradient((result.strategies, result.multipliers)),
                                     Problem(game).unique)
        result = dataclasses.replace(result, strategies=x, multipliers=mu)
    return maybe_throw(result, throw, f"solve_gne[{method}]")


def _interior_point_entry(game, step_size, tol, max_steps, adjoint, certify, throw):
    """``solve_gne(method="interior_point")``: eager validation, then one jitted program."""
    if not is_polyhedral(game):
        raise ValueError(f"interior_point needs polyhedral strategy sets (games.BoxStrategySets: lower_bounds() and "
                         f"upper_bounds()); {type(game).__name__} has none: use method='extragradient'")
    adjoint = check_adjoint(adjoint, unrolled_ok=False, solver="solve_gne[interior_point]")
    max_steps = check_positive_int(INTERIOR_POINT_MAX_STEPS if max_steps is None else max_steps, "max_steps")
    dtype = initial_point_aval(game).dtype
    tol = check_tol(tol, dtype, float64=1e-8)
    if step_size is not None:
        step_size = jnp.broadcast_to(jnp.asarray(check_step_size(step_size), dtype), (2,))
    result = _solve_gne_interior_point(game, step_size, jnp.asarray(tol), adjoint,
                                       max_steps=traced_budget(max_steps),
                                       unique=declared_unique(game), certify=certify)
    return maybe_throw(result, throw, "solve_gne[interior_point]")


@functools.partial(jax.jit, static_argnames=("adjoint", "unique", "certify"))
def _solve_gne_interior_point(game, step_size, tol, adjoint, *, max_steps, unique, certify):
    out = interior_point(jax.lax.stop_gradient(game), tol=tol, max_steps=max_steps)
    x = jnp.where(out.infeasible, jnp.nan, out.x)  # never a plausible profile for infeasible constraints
    mu = jnp.where(out.infeasible, jnp.nan, out.multipliers)
    if isinstance(adjoint, ImplicitAdjoint):
        steps = fixed_point_steps(game) if step_size is None else step_size
        x, mu = implicit_fixed_point(adjoint, _fixed_point_map, (game, steps), (x, mu), unique)
    # The residual the other methods certify (scale-invariant: over L and max(1, |x|)), for comparison.
    stats = dict(out.stats, natural_residual=Problem(game).primal_dual_residual((x, mu)))
    result = GeneralizedEquilibrium(strategies=x, multipliers=mu, residual=out.residual, iterations=out.iterations,
                                    status=interior_point_status(out), stats=stats)
    # In the solve's program: the deviations' constraint products reuse what the solve derived (a
    # separate call would derive the grid's factors again: +0.23 s on the 50x50 lattice).
    return certify_deviations(game, result, tol) if certify else result


def _fixed_point_map(params, w):
    game, step_size = params
    problem = Problem(game)
    return projected_step(problem.primal_dual_operator, problem.primal_dual_project, w, tuple(step_size))


@functools.partial(jax.jit, static_argnames=("method", "unroll", "certify"))
def _solve_gne(game, step_size, tol, max_steps, *, method, unroll=None, certify=False):
    """``unroll``: ``None``, or the static number of steps of an unrolled solve (then ``max_steps`` is unused)."""
    unrolled = unroll is not None
    max_steps = unroll if unrolled else max_steps
    problem = Problem(game)
    x0 = game.initial_point()
    mu0 = jnp.zeros_like(problem.upper)
    if method == "semismooth_newton":
        x, mu, k, r = _complementarity_newton(problem, x0, mu0, step_size, tol, max_steps)
    else:
        def step(w):
            w = extragradient_step(problem.primal_dual_operator, problem.primal_dual_project, w, tuple(step_size))
            return w, problem.primal_dual_residual(w)

        (x, mu), k, r = iterate(step, (x0, mu0), problem.primal_dual_residual((x0, mu0)), max_steps=max_steps,
                                tol=tol, unrolled=unrolled)
    result = GeneralizedEquilibrium(strategies=x, multipliers=mu, residual=r, iterations=k,
                                    status=final_status(r, True, tol))
    return certify_deviations(game, result, tol) if certify else result  # in the solve's program


def _complementarity_newton(problem, x0, mu0, step_size, tol, max_steps):
    """The mixed complementarity form of the primal-dual VI: ``w = (x, lam, mu)`` with ``x`` in its box,
    the multipliers ``lam`` of the strategy sets' equalities ``E x = e`` free, ``mu >= 0``; switched-off
    rows get ``G = 1``, whose complementary multiplier is 0."""
    shape, n = problem.shape, x0.size
    eq_values, eq_adjoint, eq_target = problem.equalities()
    p = eq_target.size
    split = lambda w: (w[:n].reshape(shape), w[n:n + p], w[n + p:])
    # Solved in money-free units: the operator over L, the multipliers times ||A|| / L (equalities' times
    # 1 / L), the slacks over ||A||, so that Newton's steps and its proximal regularization do not depend
    # on the units of money (the certificate is the scale-invariant residual either way).
    L = problem.lipschitz()
    norm = problem.constraint_scale()
    unscale = lambda w: (lambda x, lam, mu: (x, lam * L, mu * L / norm))(*split(w))

    def G(w):
        x, lam, mu = unscale(w)
        Fx, Fmu = problem.primal_dual_operator((x, mu))
        return jnp.concatenate([((Fx + eq_adjoint(lam)) / L).ravel(), eq_target - eq_values(x),
                                jnp.where(problem.active, Fmu / norm, 1.0)])

    box = lambda x_bound, lam_bound, mu_bound: jnp.concatenate([
        jnp.broadcast_to(x_bound, shape).ravel().astype(x0.dtype), jnp.full(p, lam_bound, x0.dtype),
        jnp.full(mu0.shape, mu_bound, x0.dtype)])
    x_lower, x_upper = problem.box()
    lower = box(x_lower, -jnp.inf, 0.0)
    # Without upper bounds or equalities (Cournot) it is a plain complementarity problem: upper=None.
    plain = p == 0 and x_upper is None
    upper = None if plain else box(jnp.inf if x_upper is None else x_upper, jnp.inf, jnp.inf)
    w0 = jnp.concatenate([x0.ravel(), jnp.zeros(p, x0.dtype), mu0])
    residual = lambda w: problem.primal_dual_residual(unscale(w)[::2])
    w, k, r = proximal_complementarity_newton(G, lower, upper, w0, tol, residual, max_steps=max_steps,
                                              scale=1.0 / (step_size[0] * L))
    x, _, mu = unscale(w)
    x, mu = problem.primal_dual_project((x, mu))  # exact feasibility (Newton iterates may sit a rounding error outside)
    return x, mu, k, r
