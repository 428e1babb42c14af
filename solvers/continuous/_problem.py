"""What a continuous solver reads from a game, by the protocols the game declares (never by its class).

:func:`check_continuous_game` validates eagerly; :class:`Problem` gathers, at trace time, the operator,
the projection, the shared constraints (matrix-free, whether the game gave them dense or not), the
polyhedral description of the strategy sets where the game gives one, and whether the equilibrium is
unique. Every dispatch is an ``isinstance`` check on a protocol of :mod:`games`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from games import (BestResponses, BoxStrategySets, ContinuousGame, DeclaresUniqueness, DenseSharedConstraints,
                   ScaledPseudoGradient, SharedLinearConstraints, StrategyEqualities)

__all__ = ["Problem", "check_continuous_game", "has_shared_constraints", "has_binding_constraints",
           "has_best_responses", "is_polyhedral"]


def check_continuous_game(game, solver: str) -> None:
    """``ValueError`` unless ``game`` implements :class:`~games.ContinuousGame`, naming what is missing."""
    if not isinstance(game, ContinuousGame):
        required = ("pseudo_gradient", "project", "initial_point", "lipschitz_bound")
        missing = [m for m in required if m not in dir(game)]
        raise ValueError(f"{solver} needs a continuous game (games.ContinuousGame); {type(game).__name__} "
                         f"lacks {', '.join(missing)}")


def has_shared_constraints(game) -> bool:
    return isinstance(game, (SharedLinearConstraints, DenseSharedConstraints))


def is_polyhedral(game) -> bool:
    """Whether the game describes its strategy sets as a box (and possibly equalities)."""
    return isinstance(game, BoxStrategySets)


def has_best_responses(game) -> bool:
    return isinstance(game, BestResponses)


def has_binding_constraints(game) -> bool:
    """Whether the game has shared constraints with a finite limit (checked eagerly; False when traced)."""
    if not has_shared_constraints(game):
        return False
    upper = _constraints(game)[2]
    if isinstance(upper, jax.core.Tracer):
        return False
    return bool(np.isfinite(np.asarray(upper)).any())


def _constraints(game):
    """``(values, adjoint, upper, norm_bound)`` of the shared constraints, matrix-free either way."""
    if isinstance(game, SharedLinearConstraints):
        return (game.constraint_values, game.constraint_adjoint, game.constraint_upper(),
                game.constraint_norm_bound)
    A, upper = game.shared_constraints()
    shape = jax.eval_shape(game.initial_point).shape
    norm = lambda: jnp.linalg.norm(A, 2) if A.size else jnp.zeros((), A.dtype)
    return (lambda x: A @ x.ravel()), (lambda mu: (A.T @ mu).reshape(shape)), upper, norm


class Problem:
    """A game's variational inequality as the solvers see it (built inside or outside ``jit``).

    Attributes:
      operator: ``F`` (``vi_operator`` where the game has one, else ``pseudo_gradient``).
      project: the projection onto the strategy sets.
      shape: the strategies' shape.
      unique: whether the equilibrium is unique (implicit derivatives exist).
      values, adjoint, upper, active, norm_bound: the shared constraints ``A x <= upper`` (none: zero rows).
    """

    def __init__(self, game):
        self.game = game
        self.operator = game.vi_operator if isinstance(game, ScaledPseudoGradient) else game.pseudo_gradient
        self.project = game.project
        start = jax.eval_shape(game.initial_point)  # shape and dtype only: nothing runs or compiles eagerly
        self.shape, self.dtype = start.shape, start.dtype
        self.unique = bool(game.unique_equilibrium) if isinstance(game, DeclaresUniqueness) else True
        if has_shared_constraints(game):
            self.values, self.adjoint, upper, self._norm = _constraints(game)
        else:
            self.values = lambda x: jnp.zeros(0, x.dtype)
            self.adjoint = lambda mu: jnp.zeros(self.shape, mu.dtype)
            upper, self._norm = jnp.zeros(0, self.dtype), lambda: jnp.zeros((), self.dtype)
        self.active = jnp.isfinite(upper)
        self.upper = jnp.where(self.active, upper, 0.0)

    def norm_bound(self):
        """An upper bound on ``||A||_2`` (0 without rows)."""
        return self._norm()

    def box(self):
        """``(lower, upper)`` strategy bounds (``upper`` None when no upper bound is finite)."""
        return self.game.lower_bounds(), self.game.upper_bounds()

    def equalities(self):
        """``(values, adjoint, target)`` of ``E x = e`` (zero rows where the game has none)."""
        if isinstance(self.game, StrategyEqualities):
            target = jnp.asarray(self.game.equality_target()).ravel()
            return self.game.equality_values, self.game.equality_adjoint, target
        return (lambda x: jnp.zeros(0, x.dtype)), (lambda lam: jnp.zeros(self.shape, lam.dtype)), jnp.zeros(
            0, self.dtype)

    # -- the primal-dual VI (F(x) + A^T mu, upper - A x) on X x R_+^m, rows with infinite upper off ------
    def primal_dual_operator(self, w):
        x, mu = w
        Fx = self.operator(x) + self.adjoint(mu)
        Fmu = jnp.where(self.active, self.upper - self.values(x), 0.0)
        return Fx, Fmu

    def primal_dual_project(self, w):
        x, mu = w
        return self.project(x), jnp.where(self.active, jnp.maximum(mu, 0.0), 0.0)

    def natural_residual(self, x):
        """``||x - P(x - F(x))||_inf``, zero exactly at a solution of the VI."""
        return jnp.max(jnp.abs(x - self.project(x - self.operator(x))))

    def primal_dual_residual(self, w):
        """The natural-map residual of the primal-dual VI (both blocks, sup norm)."""
        x, mu = w
        Fx, Fmu = self.primal_dual_operator(w)
        px, pmu = self.primal_dual_project((x - Fx, mu - Fmu))
        return jnp.maximum(jnp.max(jnp.abs(x - px)), jnp.max(jnp.abs(mu - pmu), initial=0.0))
