"""Nash equilibria of continuous games as solutions of variational inequalities.

A profile ``x*`` is a Nash equilibrium of a game with convex costs and convex
strategy sets ``X`` exactly when it solves the variational inequality
``<F(x*), x - x*> >= 0`` for all ``x in X``, where ``F`` stacks each player's
gradient of its own cost (the pseudo-gradient), i.e. when it is a fixed point
of the natural map: ``x* = P_X(x* - F(x*) / L)`` for any ``L > 0``. The certified residual is
scale-invariant: ``||x - P_X(x - F(x) / L)||_inf / max(1, ||x||_inf)`` with ``L`` the game's
``lipschitz_bound()``, so the same game with money in cents or in millions stops at the same point with
the same status (an absolute residual converges early in small units and never in large ones).

A game for :func:`solve_vi` implements :class:`games.ContinuousGame`
(``pseudo_gradient``, ``project``, ``initial_point``, ``lipschitz_bound``);
where it also implements :class:`games.ScaledPseudoGradient` its ``vi_operator``
(the pseudo-gradient with each player's block scaled by a positive constant,
same solutions) is used, and :class:`games.BestResponses` enables the
best-response method.

Methods:

- ``"projected_gradient"``: ``x <- P(x - g F(x))`` (converges for cocoercive F).
- ``"extragradient"``: ``y = P(x - g F(x))``, ``x <- P(x - g F(y))`` (Korpelevich 1976; monotone F).
- ``"optimistic"``: ``x <- P(x - g (2 F(x_k) - F(x_{k-1})))`` (Popov 1980).
- ``"best_response"``: Gauss-Seidel sweeps of exact best responses (games that provide them).
- ``"semismooth_newton"``: Newton's method on Robinson's normal map with matrix-free GMRES, Armijo
  backtracking and an extragradient fallback (Qi and Sun 1993); locally superlinear, a few dozen
  iterations where first-order methods need thousands.
- ``"interior_point"``: for polyhedral strategy sets (:class:`games.BoxStrategySets`, optionally
  :class:`games.StrategyEqualities`), a primal-dual path-following method with Mehrotra's
  predictor-corrector (Mehrotra 1992; Ralph and Wright 1997; Facchinei and Pang 2003, ch. 11), 10-30
  iterations whatever the size, with a scale-invariant stopping rule; see
  :mod:`solvers.continuous._interior_point`.

References: F. Facchinei and J.-S. Pang (2003), *Finite-Dimensional Variational
Inequalities and Complementarity Problems*; G. M. Korpelevich (1976), "The
extragradient method for finding saddle points and other problems", Ekonomika
i Matematicheskie Metody 12; L. D. Popov (1980), "A modification of the
Arrow-Hurwicz method for search of saddle points", Mathematical Notes 28(5).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from mechanisms import pytree_dataclass

from .._core._adjoint import ImplicitAdjoint, UnrolledAdjoint, check_adjoint, implicit_fixed_point
from .._core._loop import iterate, traced_budget
from .._core._result import Solution, final_status, maybe_throw
from .._core._validation import check_positive_int, check_step_size, check_tol
from ._certify import certify_deviations
from ._first_order import extragradient_step, projected_step
from ._interior_point import declared_unique, interior_point, interior_point_status
from ._newton import semismooth_newton
from ._problem import (Problem, check_continuous_game, has_best_responses, has_binding_constraints, initial_point_aval,
                       is_polyhedral)

__all__ = ["solve_vi", "VariationalEquilibrium", "VI_METHODS", "natural_map_residual"]

VI_METHODS = ("projected_gradient", "extragradient", "optimistic", "best_response", "semismooth_newton",
              "interior_point")
FIRST_ORDER = ("projected_gradient", "extragradient", "optimistic")
DEFAULT_MAX_STEPS = {"semismooth_newton": 500, "interior_point": 100}  # others: 100,000


@pytree_dataclass(kw_only=True)
class VariationalEquilibrium(Solution):
    """A (candidate) equilibrium of a continuous game.

    Attributes:
      strategies: the profile ``x`` (the game's strategy array).
      residual: ``||x - P(x - F(x) / L)||_inf / max(1, ||x||_inf)`` (``L = game.lipschitz_bound()``),
        zero exactly at an equilibrium and invariant to the units of money.
      iterations: iterations used.
      status: a :class:`~solvers.Status` code.
      stats: method-specific diagnostics (empty for the first-order and Newton methods; the
        interior-point method reports its complementarity, step, scale and infeasibility evidence).
    """

    strategies: jax.Array


def natural_map_residual(game, x):
    """The certified residual of :func:`solve_vi`: ``||x - P(x - F(x) / L)||_inf / max(1, ||x||_inf)`` with
    ``F`` the game's (block-scaled) pseudo-gradient and ``L = game.lipschitz_bound()``."""
    return Problem(game).natural_residual(x)


def solve_vi(game, *, method: str | None = None, step_size=None, tol: float | None = None,
             max_steps: int | None = None, x0=None, adjoint=ImplicitAdjoint(),
             certify: bool = True, throw: bool = False) -> VariationalEquilibrium:
    """Solve a continuous game's variational inequality to a natural-map residual of ``tol``.

    Args:
      game: a continuous game (:class:`games.ContinuousGame`), e.g. :class:`~games.DemandResponseGame`.
      method: one of :data:`VI_METHODS`. Default (``None``): ``"interior_point"`` where the game declares
        polyhedral strategy sets (:class:`games.BoxStrategySets`: every built-in energy game), the
        fastest reliable method there (10-30 Newton-type iterations whatever the conditioning; see
        :func:`~solvers.solve_gne`), and ``"extragradient"`` (Korpelevich 1976) otherwise or with an
        :class:`~solvers.UnrolledAdjoint` (which differentiates a first-order method's iterations).
      step_size: the step ``g`` (default ``0.9 / L`` with ``L = game.lipschitz_bound()``, ``0.45 / L``
        for the optimistic method); may be traced.
      tol: the scale-invariant natural-map residual for ``CONVERGED``,
        ``||x - P(x - F(x) / L)||_inf / max(1, ||x||_inf) <= tol`` (default 1e-10 in float64, 1e-4 in
        float32); may be traced. For ``"interior_point"`` (default 1e-8) the residual of the operator
        divided by its Jacobian's scale (also invariant to the units of money: see
        :func:`~solvers.solve_gne`); ``stats["natural_residual"]`` is the residual the other
        methods certify.
      max_steps: the most iterations (traced: a new budget does not recompile, except with
        :class:`~solvers.UnrolledAdjoint`; default 500 Newton steps, 100 interior-point iterations,
        100,000 for the others).
      x0: starting profile (default ``game.initial_point()``), projected first.
      adjoint: how derivatives pass through the solve (static). :class:`~solvers.ImplicitAdjoint`
        (default): ``jax.grad`` of any function of the equilibrium with respect to the game's arrays
        differentiates the fixed point ``x = P(x - g F(x))`` by the implicit function theorem,
        ``dx = (I - dT/dx)^{-1} dT/dtheta``, with a matrix-free linear solve (a custom VJP, Blondel et
        al. 2022); the iterations are not unrolled. A game whose ``unique_equilibrium`` is False (daily
        billing: only the aggregate load is unique) gets NaN gradients: the implicit function theorem
        does not apply there. :class:`~solvers.UnrolledAdjoint`: differentiate through exactly
        ``max_steps`` iterations of a first-order method. ``None``: no derivative rule.
      certify: for a game that reports its players' costs (:class:`games.PlayerCosts`), verify a
        ``CONVERGED`` answer by unilateral deviations (toward the initial point and the bounds; see
        :mod:`solvers.continuous._certify`): where a player gains more than the residual allows, the
        status is ``PROFITABLE_DEVIATION`` (a stationary point that is not an equilibrium) and
        ``stats['deviation_gain']`` says by how much.
      throw: raise (outside jit) if it did not converge.

    Raises ``ValueError`` for a game with finite shared constraints (they need :func:`solve_gne`), an
    unknown method, best responses a game does not provide, or a wrongly shaped ``x0``.

    Example:
      >>> import numpy as np
      >>> from games import demand_response_game
      >>> game = demand_response_game(np.zeros((3, 4)), np.ones((3, 4)), [2.0, 1.0, 1.5], a=[1., 2., 3., 4.])
      >>> eq = solve_vi(game, method="best_response")
      >>> bool(eq.converged)
      True

    Reference: Facchinei and Pang (2003); Korpelevich (1976); Popov (1980).
    """
    check_continuous_game(game, "solve_vi")
    if method is None:
        method = ("interior_point" if is_polyhedral(game) and not isinstance(adjoint, UnrolledAdjoint)
                  else "extragradient")
    if method not in VI_METHODS:
        raise ValueError(f"method must be one of {VI_METHODS}; got {method!r}")
    if method == "interior_point" and not is_polyhedral(game):
        raise ValueError(f"interior_point needs polyhedral strategy sets (games.BoxStrategySets: lower_bounds() and "
                         f"upper_bounds()); {type(game).__name__} has none: choose a gradient method")
    if method == "best_response" and not has_best_responses(game):
        raise ValueError(f"{type(game).__name__} provides no best responses; choose a gradient method")
    if has_binding_constraints(game):
        raise ValueError(f"{type(game).__name__} has shared constraints with finite limits (line ratings, "
                         "storage state-of-charge limits) that solve_vi would ignore; use solve_gne")
    adjoint = check_adjoint(adjoint, unrolled_ok=method in FIRST_ORDER, solver=f"solve_vi[{method}]")
    max_steps = check_positive_int(DEFAULT_MAX_STEPS.get(method, 100_000) if max_steps is None else max_steps,
                                   "max_steps")
    start = initial_point_aval(game)  # shape and dtype, without running anything eagerly
    tol = check_tol(tol, start.dtype, float64=1e-8 if method == "interior_point" else 1e-10)
    if x0 is not None:
        x0 = jnp.asarray(x0, start.dtype)
        if x0.shape != start.shape:
            raise ValueError(f"x0 must have the strategies' shape {start.shape}; got {x0.shape}")
    if step_size is None:  # strictly inside 1/L (extragradient can stall at exactly 1/L); optimistic: half
        step_size = (0.45 if method == "optimistic" else 0.9) / game.lipschitz_bound()
    step_size = jnp.asarray(check_step_size(step_size))
    if method == "interior_point":
        result = _solve_vi_interior_point(game, x0, step_size, jnp.asarray(tol), adjoint,
                                          max_steps=traced_budget(max_steps),
                                          unique=declared_unique(game), certify=certify)
        return maybe_throw(result, throw, f"solve_vi[{method}]")
    unrolled = isinstance(adjoint, UnrolledAdjoint)
    # max_steps is traced (a new budget reuses the compiled program) except under UnrolledAdjoint, whose
    # scan has a static length
    result = _solve_vi(game, x0, step_size, jnp.asarray(tol), traced_budget(max_steps), method=method,
                       unroll=max_steps if unrolled else None, certify=certify)
    if isinstance(adjoint, ImplicitAdjoint):
        x = implicit_fixed_point(adjoint, _fixed_point_map, (game, step_size), jax.lax.stop_gradient(result.strategies),
                                 Problem(game).unique)
        result = dataclasses.replace(result, strategies=x)
    return maybe_throw(result, throw, f"solve_vi[{method}]")


@functools.partial(jax.jit, static_argnames=("adjoint", "unique", "certify"))
def _solve_vi_interior_point(game, x0, step_size, tol, adjoint, *, max_steps, unique, certify):
    out = interior_point(jax.lax.stop_gradient(game), tol=tol, max_steps=max_steps, shared=False,
                         x0=None if x0 is None else jax.lax.stop_gradient(x0))
    x = jnp.where(out.infeasible, jnp.nan, out.x)  # never a plausible profile for an empty strategy set
    if isinstance(adjoint, ImplicitAdjoint):
        x = implicit_fixed_point(adjoint, _fixed_point_map, (game, step_size), x, unique)
    stats = dict(out.stats, natural_residual=Problem(game).natural_residual(x))  # the other methods' residual
    result = VariationalEquilibrium(strategies=x, residual=out.residual, iterations=out.iterations,
                                    status=interior_point_status(out), stats=stats)
    # In the solve's program: the deviations' constraint products reuse what the solve derived (a
    # separate call would derive the grid's factors again).
    return certify_deviations(game, result, tol) if certify else result


def _fixed_point_map(params, x):
    """``T(x) = P(x - g F(x))``, whose fixed points are the equilibria; ``params = (game, g)``."""
    game, step_size = params
    problem = Problem(game)
    return projected_step(problem.operator, problem.project, x, step_size)


@functools.partial(jax.jit, static_argnames=("method", "unroll", "certify"))
def _solve_vi(game, x0, step_size, tol, max_steps, *, method, unroll=None, certify=False):
    """``unroll``: ``None``, or the static number of steps of an unrolled solve (then ``max_steps`` is unused)."""
    result = _iterate_vi(game, x0, step_size, tol, method=method, max_steps=max_steps if unroll is None else unroll,
                         unrolled=unroll is not None)
    return certify_deviations(game, result, tol) if certify else result  # in the solve's program


def _iterate_vi(game, x0, step_size, tol, *, method, max_steps, unrolled):
    problem = Problem(game)
    F, P = problem.operator, problem.project
    x0 = game.initial_point() if x0 is None else P(x0)  # inside jit: no eager op-by-op dispatch
    if method == "semismooth_newton":
        shape = x0.shape
        x, residual, k = semismooth_newton(lambda v: F(v.reshape(shape)).ravel(), lambda v: P(v.reshape(shape)).ravel(),
                                           x0.ravel(), step_size, tol,
                                           lambda v: problem.natural_residual(v.reshape(shape)), max_steps=max_steps)
        return _result(x.reshape(shape), k, residual, tol)

    def step(state):
        x, previous_F = state
        if method == "projected_gradient":
            x = projected_step(F, P, x, step_size)
        elif method == "extragradient":
            x = extragradient_step(F, P, x, step_size)
        elif method == "optimistic":
            Fx = F(x)
            x, previous_F = projected_step(F, P, x, step_size, direction=2.0 * Fx - previous_F), Fx
        else:
            x = game.best_response_sweep(x)
        return (x, previous_F), problem.natural_residual(x)

    (x, _), k, residual = iterate(step, (x0, F(x0)), problem.natural_residual(x0), max_steps=max_steps, tol=tol,
                                  unrolled=unrolled)
    return _result(x, k, residual, tol)


def _result(x, k, residual, tol):
    return VariationalEquilibrium(strategies=x, residual=residual, iterations=k,
                                  status=final_status(residual, True, tol))
