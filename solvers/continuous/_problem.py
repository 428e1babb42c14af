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
           "has_best_responses", "initial_point_aval", "is_polyhedral"]


def check_continuous_game(game, solver: str) -> None:
    """``ValueError`` unless ``game`` implements :class:`~games.ContinuousGame`, naming what is missing."""
    if not isinstance(game, ContinuousGame):
        required = ("pseudo_gradient", "project", "initial_point", "lipschitz_bound")
        missing = [m for m in required if m not in dir(game)]
        raise ValueError(f"{solver} needs a continuous game (games.ContinuousGame); {type(game).__name__} "
                         f"lacks {', '.join(missing)}")
    for path, leaf in jax.tree_util.tree_leaves_with_path(game):  # e.g. a NaN rating set by dataclasses.replace
        if isinstance(leaf, jax.core.Tracer) or not isinstance(leaf, (jax.Array, np.ndarray)):
            continue
        if jnp.issubdtype(leaf.dtype, jnp.inexact) and bool(np.isnan(np.asarray(leaf)).any()):
            raise ValueError(f"{solver}: the game's {jax.tree_util.keystr(path).lstrip('.')} contains NaN")


_INITIAL_POINT_AVALS: dict = {}


def _initial_point(game):
    return game.initial_point()


def initial_point_aval(game) -> jax.ShapeDtypeStruct:
    """Shape and dtype of ``game.initial_point()`` without running it: ``jax.eval_shape``, cached per game
    structure (pytree definition, static fields included, and the leaves' shapes and dtypes). Tracing it
    afresh on every eager call cost 0.5-1.4 ms, more than the IEEE 30 Cournot solve itself (0.4-0.6 ms)."""
    leaves, treedef = jax.tree_util.tree_flatten(game)
    try:
        key = (treedef, tuple(jax.typeof(leaf) for leaf in leaves))  # shape, dtype and weak type (tracers too)
        hash(key)
    except TypeError:  # an unhashable static field or a leaf that is not an array: no cache
        return jax.eval_shape(game.initial_point)
    aval = _INITIAL_POINT_AVALS.get(key)
    if aval is None:
        if len(_INITIAL_POINT_AVALS) >= 256:
            _INITIAL_POINT_AVALS.clear()
        aval = _INITIAL_POINT_AVALS[key] = jax.eval_shape(_initial_point, game)
    return aval


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
    """``(values, adjoint, upper, norm_bound, matrix)`` of the shared constraints: matrix-free maps either
    way, and ``A`` itself (``(m, x.size)``) where the game gives it densely (else ``None``)."""
    if isinstance(game, SharedLinearConstraints):
        return (game.constraint_values, game.constraint_adjoint, game.constraint_upper(),
                game.constraint_norm_bound, None)
    A, upper = game.shared_constraints()
    shape = initial_point_aval(game).shape
    norm = lambda: jnp.linalg.norm(A, 2) if A.size else jnp.zeros((), A.dtype)
    return (lambda x: A @ x.ravel()), (lambda mu: (A.T @ mu).reshape(shape)), upper, norm, A


class Problem:
    """A game's variational inequality as the solvers see it (built inside or outside ``jit``).

    Attributes:
      operator: ``F`` (``vi_operator`` where the game has one, else ``pseudo_gradient``).
      project: the projection onto the strategy sets.
      shape: the strategies' shape.
      unique: whether the equilibrium is unique (implicit derivatives exist).
      values, adjoint, upper, active, norm_bound: the shared constraints ``A x <= upper`` (none: zero rows).
      matrix: ``A`` as a dense ``(m, x.size)`` array where the game gives it so
        (:class:`games.DenseSharedConstraints`), else ``None``.
    """

    def __init__(self, game):
        self.game = game
        self.operator = game.vi_operator if isinstance(game, ScaledPseudoGradient) else game.pseudo_gradient
        self.project = game.project
        start = initial_point_aval(game)  # shape and dtype only: nothing runs or compiles eagerly
        self.shape, self.dtype = start.shape, start.dtype
        self.unique = bool(game.unique_equilibrium) if isinstance(game, DeclaresUniqueness) else True
        if has_shared_constraints(game):
            self.values, self.adjoint, upper, self._norm, self.matrix = _constraints(game)
        else:
            self.matrix = None
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

    def lipschitz(self):
        """``L``, the game's bound on the operator's Lipschitz constant: the scale of ``F`` (money per
        unit of strategy squared), positive."""
        return jnp.asarray(self.game.lipschitz_bound(), self.dtype)

    def natural_residual(self, x):
        """The scale-invariant natural-map residual ``||x - P(x - F(x) / L)||_inf / max(1, ||x||_inf)``.

        Zero exactly at a solution of the VI. Dividing ``F`` by its Lipschitz bound ``L`` measures the
        residual in the strategies' units whatever the units of money (scaling every cost by ``c``
        scales ``F`` and ``L`` alike); dividing by ``max(1, ||x||_inf)`` makes it relative for large
        strategies and absolute for small ones (Facchinei and Pang 2003, sec. 1.5: the natural map with
        any positive step characterizes the solutions).
        """
        step = jnp.reciprocal(self.lipschitz())
        return jnp.max(jnp.abs(x - self.project(x - step * self.operator(x)))) / _size(x)

    def constraint_scale(self):
        """``||A||`` (the game's bound), or 1 without constraint rows: the scaled multipliers are
        ``mu ||A|| / L`` and the scaled slacks ``(upper - A x) / ||A||``."""
        norm = self.norm_bound()
        return jnp.where(norm > 0, norm, 1.0)

    def primal_dual_residual(self, w):
        """The scale-invariant natural-map residual of the primal-dual VI (both blocks, sup norm).

        The primal block is :meth:`natural_residual` of ``F(x) + A^T mu``; the multipliers are measured
        as ``mu_tilde = mu ||A|| / L`` (in the strategies' units, whatever the units of money), whose
        operator block is ``(upper - A x) / ||A||``: the block is ``|mu_tilde - max(0, mu_tilde - (upper -
        A x) / ||A||)|``, complementarity of the scaled multipliers and the scaled slacks.
        """
        x, mu = w
        L = self.lipschitz()
        norm = self.constraint_scale()
        Fx, Fmu = self.primal_dual_operator(w)
        primal = jnp.max(jnp.abs(x - self.project(x - Fx / L)))
        mu_scaled = mu * norm / L
        dual = jnp.where(self.active, mu_scaled - jnp.maximum(mu_scaled - Fmu / norm, 0.0), 0.0)
        return jnp.maximum(primal, jnp.max(jnp.abs(dual), initial=0.0)) / _size(x)


def _size(x):
    """``max(1, ||x||_inf)``: the strategies' scale in the residual."""
    return jnp.maximum(jnp.max(jnp.abs(x), initial=0.0), 1.0)
