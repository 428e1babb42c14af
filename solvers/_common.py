"""Helpers shared by the solvers: validation, batching, tolerances."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from games import NormalFormGame, validate_game


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


def over_batch(fn, batch_ndim: int):
    """``fn`` vmapped over ``batch_ndim`` leading axes of every argument."""
    for _ in range(batch_ndim):
        fn = jax.vmap(fn)
    return fn


def constraint_norm(game):
    """``||A||_2`` of the game's shared constraints (or the game's bound on it), 0 without rows."""
    if hasattr(game, "constraint_norm_bound"):
        return game.constraint_norm_bound()
    A, _ = game.shared_constraints()
    return jnp.linalg.norm(A, 2) if A.size else jnp.zeros((), A.dtype)


def has_binding_constraints(game) -> bool:
    """Whether the game has shared constraints with a finite limit (checked eagerly; False when traced)."""
    if not hasattr(game, "shared_constraints"):
        return False
    upper = game.constraint_upper() if hasattr(game, "constraint_upper") else game.shared_constraints()[1]
    if isinstance(upper, jax.core.Tracer):
        return False
    return bool(np.isfinite(np.asarray(upper)).any())
