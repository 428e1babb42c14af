"""The typed protocols of continuous games: what a game declares, what the solvers dispatch on.

A continuous game has ``N`` players whose strategies are stacked in one array ``x`` (players on the
leading axis, e.g. ``(N, T)`` schedules). Player ``i`` minimizes its cost ``J_i(x_i, x_-i)`` over a
closed convex set ``X_i``. Under convexity, ``x*`` is a Nash equilibrium exactly when it solves the
variational inequality ``<F(x*), x - x*> >= 0`` for all ``x in X``, where the pseudo-gradient
``F(x) = (grad_{x_i} J_i(x))_i`` stacks each player's gradient of its own cost (Facchinei and Pang
2003, ch. 1).

Every game declares what it implements by subclassing these protocols (``typing.Protocol``), and the
solvers dispatch with ``isinstance`` on them: never on a concrete game class or its fields. A game
written in a notebook that does not subclass them still works: the checks are structural
(``runtime_checkable``), so a class with the right methods conforms.

- :class:`ContinuousGame` (required by every continuous solver): ``pseudo_gradient``, ``project``,
  ``initial_point``, ``lipschitz_bound``.
- :class:`ScaledPseudoGradient`: ``vi_operator(x)``, the pseudo-gradient with each player's block
  multiplied by a positive constant. Same equilibria; used instead of ``pseudo_gradient`` where a
  scaling makes the operator monotone (daily proportional billing).
- :class:`SharedLinearConstraints`: constraints ``A x <= upper`` shared by the players (line limits,
  state-of-charge limits), matrix-free. :class:`DenseSharedConstraints`: the same as a dense ``A``.
  Rows with an infinite ``upper`` are inactive. With them the equilibrium sought is the variational
  (generalized Nash) equilibrium of Rosen (1965).
- :class:`BoxStrategySets` and :class:`StrategyEqualities`: the strategy sets as the polyhedron
  ``{lower <= x <= upper, E x = e}`` (the same sets ``project`` projects onto), for the methods that
  work with the complementarity form (Newton, interior point).
- :class:`BestResponses`: exact best-response sweeps (Gauss-Seidel).
- :class:`DeclaresUniqueness`: ``unique_equilibrium``, whether implicit derivatives exist.

A new game in about 20 lines (see the README for solving it)::

    @pytree_dataclass
    class Duopoly(ContinuousGame):
        cost: jax.Array                                # (2,) marginal costs, inverse demand 10 - Q
        def pseudo_gradient(self, q):
            return self.cost - (10.0 - jnp.sum(q)) + q  # d/dq_i [c_i q_i - (10 - Q) q_i]
        def project(self, q):
            return jnp.maximum(q, 0.0)
        def initial_point(self):
            return jnp.zeros(2)
        def lipschitz_bound(self):
            return 3.0

Reference: F. Facchinei and J.-S. Pang (2003), *Finite-Dimensional Variational Inequalities and
Complementarity Problems*; J. B. Rosen (1965), "Existence and uniqueness of equilibrium points for
concave n-person games", Econometrica 33(3).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import jax

__all__ = [
    "ContinuousGame",
    "ScaledPseudoGradient",
    "SharedLinearConstraints",
    "DenseSharedConstraints",
    "BoxStrategySets",
    "StrategyEqualities",
    "BestResponses",
    "DeclaresUniqueness",
]


@runtime_checkable
class ContinuousGame(Protocol):
    """A game with continuous strategies: what every continuous solver needs."""

    def pseudo_gradient(self, x: jax.Array) -> jax.Array:
        """``F(x)``: each player's gradient of its own cost with respect to its own strategy, stacked
        like ``x``. For aggregative games it costs O(players x dims), not O(players^2)."""
        ...

    def project(self, x: jax.Array) -> jax.Array:
        """The Euclidean projection of ``x`` onto the strategy sets ``X = X_1 x ... x X_N``."""
        ...

    def initial_point(self) -> jax.Array:
        """A feasible profile to start from (it fixes the shape and dtype of the strategies)."""
        ...

    def lipschitz_bound(self) -> jax.Array:
        """An upper bound ``L`` on the Lipschitz constant of the operator the solvers use
        (``vi_operator`` where the game has one, else ``pseudo_gradient``): steps scale as ``1 / L``."""
        ...


@runtime_checkable
class ScaledPseudoGradient(Protocol):
    """A positive block scaling of the pseudo-gradient (same equilibria, better behaved)."""

    def vi_operator(self, x: jax.Array) -> jax.Array:
        """``D F(x)`` with ``D`` positive and constant on each player's block."""
        ...


@runtime_checkable
class SharedLinearConstraints(Protocol):
    """Shared constraints ``A x <= upper``, matrix-free (``m`` rows)."""

    def constraint_values(self, x: jax.Array) -> jax.Array:
        """``A x``, shape ``(m,)``."""
        ...

    def constraint_adjoint(self, multipliers: jax.Array) -> jax.Array:
        """``A^T mu`` as a strategy-shaped array."""
        ...

    def constraint_upper(self) -> jax.Array:
        """``upper``, shape ``(m,)``; ``inf`` switches a row off."""
        ...

    def constraint_norm_bound(self) -> jax.Array:
        """An upper bound on ``||A||_2`` (for step sizes)."""
        ...


@runtime_checkable
class DenseSharedConstraints(Protocol):
    """Shared constraints ``A x <= upper`` as a dense matrix acting on the flattened strategies."""

    def shared_constraints(self) -> tuple[jax.Array, jax.Array]:
        """``(A, upper)`` with ``A`` of shape ``(m, x.size)``; ``inf`` in ``upper`` switches a row off."""
        ...


@runtime_checkable
class BoxStrategySets(Protocol):
    """The box part ``lower <= x <= upper`` of polyhedral strategy sets."""

    def lower_bounds(self) -> jax.Array:
        """Lower bounds, strategy-shaped (finite)."""
        ...

    def upper_bounds(self) -> jax.Array | None:
        """Upper bounds, strategy-shaped (``inf`` where none), or ``None`` when no upper bound is finite."""
        ...


@runtime_checkable
class StrategyEqualities(Protocol):
    """The equality part ``E x = e`` of polyhedral strategy sets (``p`` rows)."""

    def equality_values(self, x: jax.Array) -> jax.Array:
        """``E x``, shape ``(p,)``."""
        ...

    def equality_adjoint(self, multipliers: jax.Array) -> jax.Array:
        """``E^T lam`` as a strategy-shaped array."""
        ...

    def equality_target(self) -> jax.Array:
        """``e``, shape ``(p,)``."""
        ...


@runtime_checkable
class BestResponses(Protocol):
    """Exact best responses."""

    def best_response_sweep(self, x: jax.Array) -> jax.Array:
        """One Gauss-Seidel sweep: each player in turn replaces its strategy by a best response.
        May raise ``ValueError`` (at trace time) where the game's configuration has no closed form."""
        ...


@runtime_checkable
class DeclaresUniqueness(Protocol):
    """Whether the equilibrium is unique, so that its implicit derivatives exist."""

    @property
    def unique_equilibrium(self) -> bool:
        """``False`` makes gradients through the equilibrium NaN instead of those of one selection."""
        ...
