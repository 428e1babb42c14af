"""Solver results: the :class:`Equilibrium` pytree and its :class:`Status` codes.

Solvers never raise inside jitted code. They return the profile together with
the residual that certifies it (NashConv for finite games), the number of
iterations and a status code; ``throw=True`` (outside ``jit``) turns a failure
into an exception.
"""

from __future__ import annotations

import dataclasses
import enum

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Status", "Equilibrium", "EquilibriumSet", "NonConvergenceError"]


class Status(enum.IntEnum):
    """Why a solver stopped. Stored in results as an integer array."""

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
    """The constraints admit no point (a certificate of infeasibility was found, see the result's
    ``stats``); the profile is NaN, never a plausible answer."""


class NonConvergenceError(RuntimeError):
    """Raised by a solver called with ``throw=True`` when some game did not converge."""


@dataclasses.dataclass(frozen=True)
class Equilibrium:
    """A (candidate) Nash equilibrium and the evidence for it.

    Attributes:
      strategies: tuple with one mixed strategy per player, ``batch_shape + (m_i,)``.
      nash_conv: sum over players of the best-response gain; ``0`` at a Nash equilibrium.
      iterations: iterations (pivots, steps) used.
      status: a :class:`Status` code per game.
    """

    strategies: tuple[jax.Array, ...]
    nash_conv: jax.Array
    iterations: jax.Array
    status: jax.Array

    @property
    def converged(self) -> jax.Array:
        """Boolean array: which games converged."""
        return self.status == Status.CONVERGED


@dataclasses.dataclass(frozen=True)
class EquilibriumSet:
    """Several equilibria of one game, padded to a fixed count with a mask.

    Attributes:
      strategies: tuple with one array per player, ``batch_shape + (max_equilibria, m_i)``;
        rows where ``mask`` is False are zero padding.
      mask: ``batch_shape + (max_equilibria,)``, True for real equilibria.
      count: number of equilibria found.
      nash_conv: NashConv of each row (0 in padding rows).
      status: a :class:`Status` code per game; ``DEGENERATE`` when the game is
        degenerate (the enumerated set may then be incomplete) or more
        equilibria exist than ``max_equilibria``.
    """

    strategies: tuple[jax.Array, ...]
    mask: jax.Array
    count: jax.Array
    nash_conv: jax.Array
    status: jax.Array

    def to_list(self) -> list[tuple[np.ndarray, ...]]:
        """The equilibria of a single (unbatched) game as a list of numpy profiles."""
        mask = np.asarray(self.mask)
        if mask.ndim != 1:
            raise ValueError("to_list needs a single game's result; index the batch first")
        return [tuple(np.asarray(s)[k] for s in self.strategies) for k in np.flatnonzero(mask)]


for _cls in (Equilibrium, EquilibriumSet):
    _fields = [f.name for f in dataclasses.fields(_cls)]
    jax.tree_util.register_dataclass(_cls, data_fields=_fields, meta_fields=[])


def final_status(nash_conv, finished, tol, *, degenerate=False):
    """Status code from a residual: nonfinite beats degenerate beats converged beats max_steps."""
    nash_conv = jnp.asarray(nash_conv)
    status = jnp.where(finished & (nash_conv <= tol), Status.CONVERGED, Status.MAX_STEPS)
    status = jnp.where(degenerate, Status.DEGENERATE, status)
    return jnp.where(jnp.isfinite(nash_conv), status, Status.NONFINITE).astype(jnp.int32)


def still_iterating(k, residual, max_steps, tol):
    """The ``while_loop`` condition of the iterative solvers: steps left, residual above ``tol`` and finite."""
    return (k < max_steps) & (residual > tol) & jnp.isfinite(residual)


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
