"""Eager validation and tolerances shared by the solvers: the one validation module of ``solvers``.

Everything here runs outside ``jit`` (tracers pass through unchecked) and raises ``ValueError`` naming
the argument and the problem.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from games import NormalFormGame, validate_game

__all__ = ["default_tol", "payoff_scale", "check_game", "check_positive_int", "check_tol", "check_step_size"]


def default_tol(dtype, *, float64: float = 1e-9, float32: float = 1e-4) -> float:
    """Default tolerance by dtype (NashConv relative to the payoff range: 1e-9 in float64, 1e-4 in float32)."""
    return float64 if jnp.finfo(dtype).bits >= 64 else float32


def payoff_scale(payoffs: jax.Array, num_players: int) -> jax.Array:
    """Largest payoff range over players (at least 1e-300): tolerances are relative to it."""
    axes = tuple(range(payoffs.ndim - num_players, payoffs.ndim))
    spread = jnp.max(payoffs, axis=axes) - jnp.min(payoffs, axis=axes)
    return jnp.maximum(jnp.max(spread, axis=-1), jnp.finfo(payoffs.dtype).tiny)


def check_game(game: NormalFormGame, *, num_players: int | None = None, min_players: int = 1) -> None:
    """Eager validation for a solver's entry point (tracers are skipped by ``validate_game``)."""
    validate_game(game, num_players=num_players)
    if game.num_players < min_players:
        raise ValueError(f"this solver needs at least {min_players} players; got {game.num_players}")


def check_positive_int(value, name: str) -> int:
    """``value`` if it is a positive integer (not a bool), else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return value


def check_tol(tol, dtype, *, float64: float = 1e-9, float32: float = 1e-4) -> float:
    """``tol``, or the dtype's default when None; a given tolerance must be positive (tracers pass)."""
    if tol is None:
        return default_tol(dtype, float64=float64, float32=float32)
    if not isinstance(tol, jax.core.Tracer):
        t = float(tol)
        if not t > 0 or t != t:
            raise ValueError(f"tol must be a positive number; got {tol!r}")
    return tol


def check_step_size(step_size):
    """A positive step size (or array of them); tracers pass."""
    if not isinstance(step_size, jax.core.Tracer) and not bool(np.all(np.asarray(step_size) > 0)):
        raise ValueError(f"step_size must be positive; got {step_size!r}")
    return step_size
