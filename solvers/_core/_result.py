"""Solver results: one base type, :class:`Solution`, and the :class:`Status` codes.

Every solver returns a pytree that carries its answer (a profile, a value, a set of profiles) together
with the evidence for it: the ``residual`` it certifies (NashConv for finite games, the natural-map
residual for continuous ones), the ``iterations`` used, a ``status`` code per game and a ``stats``
dictionary of solver-specific diagnostics (arrays). Solvers never raise inside jitted code;
``throw=True`` (outside ``jit``) turns a failure into :class:`NonConvergenceError`, as optimistix does.

The layout follows optimistix's ``Solution`` (``value``, ``result``, ``stats``); P. Kidger and J. Rader
(2023), "Optimistix: modular optimisation in JAX and Equinox".
"""

from __future__ import annotations

import dataclasses
import enum

import jax
import jax.numpy as jnp
import numpy as np

from mechanisms import pytree_dataclass

__all__ = ["Status", "Solution", "Equilibrium", "EquilibriumSet", "NonConvergenceError"]


class Status(enum.IntEnum):
    """Why a solver stopped. Stored in results as an integer array; prints as its name."""

    CONVERGED = 0
    """The certified residual is at most the requested tolerance."""
    MAX_STEPS = 1
    """The step budget ran out before the tolerance was met."""
    NONFINITE = 2
    """A NaN or infinity appeared; the profile must not be used."""
    DEGENERATE = 3
    """The algorithm met a degeneracy it does not resolve (e.g. a singular
    support system, or no pivot row): the answer may be incomplete."""
    INFEASIBLE = 4
    """The constraints admit no point (evidence in ``stats``); the profile must not be used."""

    def __str__(self) -> str:
        return self.name


class NonConvergenceError(RuntimeError):
    """Raised by a solver called with ``throw=True`` when some game did not converge."""


@pytree_dataclass(kw_only=True)
class Solution:
    """What every solver returns: the evidence beside the answer (subclasses add the answer).

    Attributes:
      residual: the certificate (0 exactly at a solution), one per game.
      iterations: iterations (pivots, steps) used.
      status: a :class:`Status` code per game.
      stats: solver-specific diagnostics (a dict of arrays; empty by default).
    """

    residual: jax.Array
    iterations: jax.Array
    status: jax.Array
    stats: dict = dataclasses.field(default_factory=dict)

    @property
    def converged(self) -> jax.Array:
        """Boolean array: which games converged."""
        return self.status == Status.CONVERGED


@pytree_dataclass(kw_only=True)
class Equilibrium(Solution):
    """A (candidate) Nash equilibrium of a finite game and the evidence for it.

    Attributes:
      strategies: tuple with one mixed strategy per player, ``batch_shape + (m_i,)``.
      residual: NashConv, the sum over players of the best-response gain; ``0`` at a Nash equilibrium
        (also available as ``nash_conv``).
    """

    strategies: tuple[jax.Array, ...]

    @property
    def nash_conv(self) -> jax.Array:
        """NashConv of the profile (the ``residual``)."""
        return self.residual


@pytree_dataclass(kw_only=True)
class EquilibriumSet(Solution):
    """Several equilibria of one game, padded to a fixed count with a mask.

    Attributes:
      strategies: tuple with one array per player, ``batch_shape + (max_equilibria, m_i)``;
        rows where ``mask`` is False are zero padding.
      mask: ``batch_shape + (max_equilibria,)``, True for real equilibria.
      count: number of equilibria found.
      residual: NashConv of each row (0 in padding rows); also ``nash_conv``.
      status: a :class:`Status` code per game; ``DEGENERATE`` when the game is
        degenerate (the enumerated set may then be incomplete) or more
        equilibria exist than ``max_equilibria``.
    """

    strategies: tuple[jax.Array, ...]
    mask: jax.Array
    count: jax.Array

    @property
    def nash_conv(self) -> jax.Array:
        """NashConv of each row (the ``residual``)."""
        return self.residual

    def to_list(self) -> list[tuple[np.ndarray, ...]]:
        """The equilibria of a single (unbatched) game as a list of numpy profiles."""
        mask = np.asarray(self.mask)
        if mask.ndim != 1:
            raise ValueError("to_list needs a single game's result; index the batch first")
        return [tuple(np.asarray(s)[k] for s in self.strategies) for k in np.flatnonzero(mask)]


def final_status(residual, finished, tol, *, degenerate=False):
    """Status code from a residual: nonfinite beats degenerate beats converged beats max_steps."""
    residual = jnp.asarray(residual)
    status = jnp.where(finished & (residual <= tol), Status.CONVERGED, Status.MAX_STEPS)
    status = jnp.where(degenerate, Status.DEGENERATE, status)
    return jnp.where(jnp.isfinite(residual), status, Status.NONFINITE).astype(jnp.int32)


def maybe_throw(result, throw: bool, solver: str):
    """Raise :class:`NonConvergenceError` if ``throw`` and any game did not converge (outside jit only)."""
    if throw:
        status = np.asarray(result.status)
        bad = status != Status.CONVERGED
        if bad.any():
            first = tuple(int(k) for k in np.argwhere(bad)[0]) if status.ndim else ()
            code = Status(int(status[first] if status.ndim else status))
            raise NonConvergenceError(
                f"{solver}: {int(bad.sum())} of {status.size} game(s) did not converge; "
                f"first at batch index {first} with status {code.name}"
            )
    return result
