"""Nash equilibria of continuous games as solutions of variational inequalities.

A profile ``x*`` is a Nash equilibrium of a game with convex costs and convex
strategy sets ``X`` exactly when it solves the variational inequality
``<F(x*), x - x*> >= 0`` for all ``x in X``, where ``F`` stacks each player's
gradient of its own cost (the pseudo-gradient), i.e. when it is a fixed point
of the natural map: ``x* = P_X(x* - F(x*))``. The certified residual is
``||x - P_X(x - F(x))||_inf``.

A game for :func:`solve_vi` provides ``project(x)``, ``pseudo_gradient(x)``
(or ``vi_operator(x)``, the pseudo-gradient with each player's block scaled by
a positive constant, which has the same solutions), optionally
``lipschitz_bound()`` (for the default step ``1 / L``), ``initial_point()``
and ``best_response_sweep(x)``.

Methods:

- ``"projected_gradient"``: ``x <- P(x - g F(x))`` (converges for cocoercive F).
- ``"extragradient"``: ``y = P(x - g F(x))``, ``x <- P(x - g F(y))`` (Korpelevich 1976; monotone F).
- ``"optimistic"``: ``x <- P(x - g (2 F(x_k) - F(x_{k-1})))`` (Popov 1980).
- ``"best_response"``: Gauss-Seidel sweeps of exact best responses (games that provide them).
- ``"semismooth_newton"``: Newton's method on Robinson's normal map with matrix-free GMRES, Armijo
  backtracking and an extragradient fallback (see :mod:`solvers._newton`; Qi and Sun 1993); locally
  superlinear, a few dozen iterations where first-order methods need thousands.
- ``"interior_point"``: for polyhedral strategy sets (the game's ``lower_bounds``, optionally
  ``upper_bounds`` and equalities), a primal-dual path-following method with Mehrotra's
  predictor-corrector (Mehrotra 1992; Ralph and Wright 1997), 10-30 iterations whatever the size; see
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

from ._common import check_positive_int, check_tol, has_binding_constraints
from ._implicit import implicit_fixed_point
from ._newton import semismooth_newton
from ._result import Status, final_status, maybe_throw, still_iterating
from .continuous._interior_point import interior_point

__all__ = ["solve_vi", "VariationalEquilibrium", "VI_METHODS", "natural_map_residual"]

VI_METHODS = ("projected_gradient", "extragradient", "optimistic", "best_response", "semismooth_newton",
              "interior_point")
DEFAULT_MAX_STEPS = {"semismooth_newton": 500, "interior_point": 100}  # others: 100,000


@dataclasses.dataclass(frozen=True)
class VariationalEquilibrium:
    """A (candidate) equilibrium of a continuous game.

    Attributes:
      strategies: the profile ``x`` (the game's strategy array).
      residual: ``||x - P(x - F(x))||_inf``, zero exactly at an equilibrium.
      iterations: iterations used.
      status: a :class:`~solvers.Status` code.
      stats: method-specific diagnostics (a dict of arrays; empty for the first-order and Newton
        methods; the interior-point method reports its complementarity, step, infeasibility evidence).
    """

    strategies: jax.Array
    residual: jax.Array
    iterations: jax.Array
    status: jax.Array
    stats: dict = dataclasses.field(default_factory=dict, kw_only=True)

    @property
    def converged(self):
        return self.status == Status.CONVERGED


jax.tree_util.register_dataclass(
    VariationalEquilibrium, data_fields=["strategies", "residual", "iterations", "status", "stats"], meta_fields=[]
)


def _operator(game):
    return game.vi_operator if hasattr(game, "vi_operator") else game.pseudo_gradient


def natural_map_residual(game, x):
    """``||x - P(x - F(x))||_inf`` with ``F`` the game's (block-scaled) pseudo-gradient."""
    return jnp.max(jnp.abs(x - game.project(x - _operator(game)(x))))


def solve_vi(game, *, method: str = "extragradient", step_size=None, tol: float | None = None,
             max_steps: int | None = None, x0=None, implicit: bool = True, throw: bool = False) -> VariationalEquilibrium:
    """Solve a continuous game's variational inequality to a natural-map residual of ``tol``.

    Args:
      game: a continuous game (see the module docstring), e.g. :class:`~games.DemandResponseGame`.
      method: one of :data:`VI_METHODS`.
      step_size: the step ``g`` (default ``0.9 / L`` with ``L = game.lipschitz_bound()``, ``0.45 / L``
        for the optimistic method); may be traced.
      tol: natural-map residual for ``CONVERGED`` (default 1e-8 in float64, 1e-4 in float32); may be traced.
      max_steps: the most iterations (static; default 500 Newton steps, 100 interior-point iterations,
        100,000 for the others).
      x0: starting profile (default ``game.initial_point()``), projected first.
      implicit: attach implicit derivatives (static): ``jax.grad`` of any function of the
        equilibrium with respect to the game's arrays differentiates the fixed point
        ``x = P(x - g F(x))`` by the implicit function theorem, ``dx = (I - dT/dx)^{-1} dT/dtheta``,
        with a matrix-free conjugate-gradient solve (a custom VJP, Blondel et al. 2022); the
        iterations are not unrolled.
        A game whose ``unique_equilibrium`` is False (daily billing: only the aggregate load is
        unique) gets NaN gradients: the implicit function theorem does not apply there.
      throw: raise (outside jit) if it did not converge.

    Raises ``ValueError`` for a game with finite shared constraints (they need :func:`solve_gne`), an
    unknown method, or best responses a game does not provide.

    Example:
      >>> import numpy as np
      >>> from games import demand_response_game
      >>> game = demand_response_game(np.zeros((3, 4)), np.ones((3, 4)), [2.0, 1.0, 1.5], a=[1., 2., 3., 4.])
      >>> eq = solve_vi(game, method="best_response")
      >>> bool(eq.converged)
      True

    Reference: Facchinei and Pang (2003); Korpelevich (1976); Popov (1980).
    """
    if method not in VI_METHODS:
        raise ValueError(f"method must be one of {VI_METHODS}; got {method!r}")
    if method == "best_response" and not hasattr(game, "best_response_sweep"):
        raise ValueError(f"{type(game).__name__} provides no best responses; choose a gradient method")
    if method == "best_response" and getattr(game, "billing", "daily") != "daily":
        raise ValueError("closed-form best responses exist for daily billing only; choose a gradient method")
    if method == "best_response" and getattr(game, "num_storage", 0):
        raise ValueError("best responses ignore the storage units' state-of-charge limits; use solve_gne")
    if has_binding_constraints(game):
        raise ValueError(f"{type(game).__name__} has shared constraints with finite limits (line ratings, "
                         "state-of-charge limits) that solve_vi would ignore; use solve_gne")
    if method == "interior_point" and not hasattr(game, "lower_bounds"):
        raise ValueError(f"interior_point needs polyhedral strategy sets (a game.lower_bounds() method, optionally "
                         f"upper_bounds() and equality_values/equality_adjoint/equality_target); "
                         f"{type(game).__name__} has none: choose a gradient method")
    max_steps = check_positive_int(DEFAULT_MAX_STEPS.get(method, 100_000) if max_steps is None else max_steps,
                                   "max_steps")
    tol = check_tol(tol, jax.tree_util.tree_leaves(game)[0].dtype, float64=1e-8)
    if step_size is None:  # strictly inside 1/L (extragradient can stall at exactly 1/L); optimistic: half
        step_size = (0.45 if method == "optimistic" else 0.9) / game.lipschitz_bound()
    elif not isinstance(step_size, jax.core.Tracer) and not float(step_size) > 0:
        raise ValueError(f"step_size must be positive; got {step_size!r}")
    if method == "interior_point":
        unique = bool(getattr(game, "unique_equilibrium", True)) if implicit else True
        result = _solve_vi_interior_point(game, None if x0 is None else jnp.asarray(x0), jnp.asarray(step_size),
                                          jnp.asarray(tol), max_steps=max_steps, implicit=implicit, unique=unique)
        return maybe_throw(result, throw, f"solve_vi[{method}]")
    result = _solve_vi(game, None if x0 is None else jnp.asarray(x0), jnp.asarray(step_size), jnp.asarray(tol),
                       method=method, max_steps=max_steps)
    if implicit:
        x = implicit_fixed_point(_fixed_point_map, (game, jnp.asarray(step_size)),
                                 jax.lax.stop_gradient(result.strategies), getattr(game, "unique_equilibrium", True))
        result = dataclasses.replace(result, strategies=x)
    return maybe_throw(result, throw, f"solve_vi[{method}]")


def interior_point_status(out):
    """The :class:`~solvers.Status` of an interior-point run: converged, infeasible, nonfinite, max_steps."""
    return jnp.where(out.converged, Status.CONVERGED, jnp.where(
        out.infeasible, Status.INFEASIBLE, jnp.where(jnp.isfinite(out.residual), Status.MAX_STEPS,
                                                     Status.NONFINITE))).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("max_steps", "implicit", "unique"))
def _solve_vi_interior_point(game, x0, step_size, tol, *, max_steps, implicit, unique):
    out = interior_point(jax.lax.stop_gradient(game), tol=tol, max_steps=max_steps, shared=False,
                         x0=None if x0 is None else jax.lax.stop_gradient(x0))
    x = jnp.where(out.infeasible, jnp.nan, out.x)  # never a plausible profile for an empty strategy set
    if implicit:
        x = implicit_fixed_point(_fixed_point_map, (game, step_size), x, unique)
    return VariationalEquilibrium(strategies=x, residual=out.residual, iterations=out.iterations,
                                  status=interior_point_status(out), stats=out.stats)


def _fixed_point_map(params, x):
    """``T(x) = P(x - g F(x))``, whose fixed points are the equilibria; ``params = (game, g)``."""
    game, step_size = params
    return game.project(x - step_size * _operator(game)(x))


@functools.partial(jax.jit, static_argnames=("method", "max_steps"))
def _solve_vi(game, x0, step_size, tol, *, method, max_steps):
    F = _operator(game)
    P = game.project
    x0 = game.initial_point() if x0 is None else P(x0)  # inside jit: no eager op-by-op dispatch
    if method == "semismooth_newton":
        shape = x0.shape
        x, residual, k = semismooth_newton(lambda v: F(v.reshape(shape)).ravel(), lambda v: P(v.reshape(shape)).ravel(),
                                           x0.ravel(), step_size, tol, max_steps=max_steps)
        return _result(x.reshape(shape), k, residual, tol)

    def step(state):
        x, previous_F = state
        if method == "projected_gradient":
            return P(x - step_size * F(x)), previous_F
        if method == "extragradient":
            y = P(x - step_size * F(x))
            return P(x - step_size * F(y)), previous_F
        if method == "optimistic":
            Fx = F(x)
            return P(x - step_size * (2.0 * Fx - previous_F)), Fx
        return game.best_response_sweep(x), previous_F

    def cond(carry):
        _, k, residual = carry
        return still_iterating(k, residual, max_steps, tol)

    def body(carry):
        state, k, _ = carry
        state = step(state)
        return state, k + 1, natural_map_residual(game, state[0])

    state0 = (x0, F(x0))
    (x, _), k, residual = jax.lax.while_loop(cond, body, (state0, jnp.asarray(0), natural_map_residual(game, x0)))
    return _result(x, k, residual, tol)


def _result(x, k, residual, tol):
    return VariationalEquilibrium(strategies=x, residual=residual, iterations=k,
                                  status=final_status(residual, True, tol))
