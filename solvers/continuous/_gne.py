"""Variational equilibria of games with shared linear constraints (generalized Nash equilibria).

Players minimize their costs subject to their own sets ``X`` and shared constraints ``A x <= u``. The
variational equilibrium (Rosen 1965; Facchinei, Fischer and Piccialli 2007) is the solution of the VI
on ``X intersect {A x <= u}``; with multipliers ``mu >= 0`` common to all players it is the solution of
the monotone VI in ``(x, mu)``

    F(x) + A^T mu  and  u - A x   on  X x R_+^m,

solved here by the extragradient method (a primal-dual method: the multipliers are updated by the
constraint violation) or, for polyhedral strategy sets ``{lower <= x <= upper, E x = e}``, by
semismooth Newton steps on its Fischer-Burmeister (mixed) complementarity form inside proximal-point
iterations. In the networked Cournot
game the multipliers of the line limits are the congestion prices that make up the locational
marginal prices.

References: J. B. Rosen (1965), Econometrica 33(3); F. Facchinei, A. Fischer and V. Piccialli (2007),
"On generalized Nash games and variational inequalities", Operations Research Letters 35;
G. M. Korpelevich (1976); T. De Luca, F. Facchinei and C. Kanzow (1996); R. T. Rockafellar (1976).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from mechanisms import pytree_dataclass

from .._core._adjoint import ImplicitAdjoint, UnrolledAdjoint, check_adjoint, implicit_fixed_point
from .._core._loop import iterate
from .._core._result import final_status, maybe_throw
from .._core._validation import check_positive_int, check_step_size, check_tol
from ._first_order import extragradient_step, projected_step
from ._newton import proximal_complementarity_newton
from ._problem import Problem, check_continuous_game, has_shared_constraints, is_polyhedral
from ._variational import VariationalEquilibrium

__all__ = ["solve_gne", "GeneralizedEquilibrium", "GNE_METHODS"]


@pytree_dataclass(kw_only=True)
class GeneralizedEquilibrium(VariationalEquilibrium):
    """A variational equilibrium with the multipliers of the shared constraints (``residual`` is the
    natural-map residual of the primal-dual VI)."""

    multipliers: jax.Array


GNE_METHODS = ("extragradient", "semismooth_newton")


def solve_gne(game, *, method: str = "extragradient", step_size=None, tol: float | None = None,
              max_steps: int | None = None, adjoint=ImplicitAdjoint(), throw: bool = False) -> GeneralizedEquilibrium:
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
      method: ``"extragradient"`` (primal-dual extragradient, Korpelevich 1976) or
        ``"semismooth_newton"`` for polyhedral strategy sets described by the game
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
      tol: natural-map residual of the primal-dual VI (default 1e-8 in float64, 1e-4 in float32).
      max_steps: the most iterations (static; default 200,000 extragradient or 5,000 Newton steps, enough
        for a 50x50 lattice with 4,900 tightly rated lines, which needs about 2,600).
      adjoint: how derivatives pass through the solve (static). :class:`~solvers.ImplicitAdjoint`
        (default): ``jax.grad`` through the strategies and the multipliers with respect to the game's
        arrays (costs, demand, reactances, capacities) by the implicit function theorem on the
        primal-dual fixed point (a custom VJP, Blondel et al. 2022). They exist where the equilibrium
        is strongly regular (unique multipliers, strict complementarity).
        :class:`~solvers.UnrolledAdjoint` differentiates through ``max_steps`` extragradient steps;
        ``None`` attaches no derivative rule.

    Example:
      >>> from games import ieee14, network_cournot_game
      >>> game = network_cournot_game(ieee14(), [0, 1, 2], cost_linear=10.0, demand_intercept=100.0,
      ...                             demand_slope=1.0)
      >>> eq = solve_gne(game, method="semismooth_newton")
      >>> bool(eq.converged), round(float(eq.strategies[0]), 6)  # (a - c) / (b (G + 1)) = 22.5
      (True, 22.5)

    Reference: Rosen (1965); Facchinei, Fischer and Piccialli (2007); Korpelevich (1976); Qi and Sun (1993).
    """
    check_continuous_game(game, "solve_gne")
    if not has_shared_constraints(game):
        raise ValueError(f"{type(game).__name__} has no shared constraints; use solve_vi")
    if method not in GNE_METHODS:
        raise ValueError(f"method must be one of {GNE_METHODS}; got {method!r}")
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
    dtype = jax.eval_shape(game.initial_point).dtype
    tol = check_tol(tol, dtype, float64=1e-8)
    if step_size is None:
        L, norm = game.lipschitz_bound(), Problem(game).norm_bound()
        step_size = jnp.where(norm > 0, jnp.stack([0.45 / L, 0.45 * L / jnp.where(norm > 0, norm, 1.0) ** 2]),
                              jnp.stack([0.9 / L, 0.9 / L]))
    step_size = jnp.broadcast_to(jnp.asarray(check_step_size(step_size), dtype), (2,))
    result = _solve_gne(game, step_size, jnp.asarray(tol), method=method, max_steps=max_steps,
                        unrolled=isinstance(adjoint, UnrolledAdjoint))
    if isinstance(adjoint, ImplicitAdjoint):
        x, mu = implicit_fixed_point(adjoint, _fixed_point_map, (game, step_size),
                                     jax.lax.stop_gradient((result.strategies, result.multipliers)),
                                     Problem(game).unique)
        result = dataclasses.replace(result, strategies=x, multipliers=mu)
    return maybe_throw(result, throw, f"solve_gne[{method}]")


def _fixed_point_map(params, w):
    game, step_size = params
    problem = Problem(game)
    return projected_step(problem.primal_dual_operator, problem.primal_dual_project, w, tuple(step_size))


@functools.partial(jax.jit, static_argnames=("method", "max_steps", "unrolled"))
def _solve_gne(game, step_size, tol, *, method, max_steps, unrolled=False):
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
    return GeneralizedEquilibrium(strategies=x, multipliers=mu, residual=r, iterations=k,
                                  status=final_status(r, True, tol))


def _complementarity_newton(problem, x0, mu0, step_size, tol, max_steps):
    """The mixed complementarity form of the primal-dual VI: ``w = (x, lam, mu)`` with ``x`` in its box,
    the multipliers ``lam`` of the strategy sets' equalities ``E x = e`` free, ``mu >= 0``; switched-off
    rows get ``G = 1``, whose complementary multiplier is 0."""
    shape, n = problem.shape, x0.size
    eq_values, eq_adjoint, eq_target = problem.equalities()
    p = eq_target.size
    split = lambda w: (w[:n].reshape(shape), w[n:n + p], w[n + p:])

    def G(w):
        x, lam, mu = split(w)
        Fx, Fmu = problem.primal_dual_operator((x, mu))
        return jnp.concatenate([(Fx + eq_adjoint(lam)).ravel(), eq_target - eq_values(x),
                                jnp.where(problem.active, Fmu, 1.0)])

    box = lambda x_bound, lam_bound, mu_bound: jnp.concatenate([
        jnp.broadcast_to(x_bound, shape).ravel().astype(x0.dtype), jnp.full(p, lam_bound, x0.dtype),
        jnp.full(mu0.shape, mu_bound, x0.dtype)])
    x_lower, x_upper = problem.box()
    lower = box(x_lower, -jnp.inf, 0.0)
    # Without upper bounds or equalities (Cournot) it is a plain complementarity problem: upper=None.
    plain = p == 0 and x_upper is None
    upper = None if plain else box(jnp.inf if x_upper is None else x_upper, jnp.inf, jnp.inf)
    w0 = jnp.concatenate([x0.ravel(), jnp.zeros(p, x0.dtype), mu0])
    residual = lambda w: problem.primal_dual_residual(split(w)[::2])
    w, k, r = proximal_complementarity_newton(G, lower, upper, w0, tol, residual, max_steps=max_steps,
                                              scale=1.0 / step_size[0])
    x, _, mu = split(w)
    x, mu = problem.primal_dual_project((x, mu))  # exact feasibility (Newton iterates may sit a rounding error outside)
    return x, mu, k, r
