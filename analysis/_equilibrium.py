"""NashConv and per-player regrets of a mixed-strategy profile in a finite game.

``regret_i(s) = max_a u_i(a, s_{-i}) - u_i(s)`` is player ``i``'s gain from its
best unilateral deviation; ``NashConv(s) = sum_i regret_i(s)`` is zero exactly
at a Nash equilibrium. ``exploitability`` is NashConv divided by the number of
players (the average gain), the convention of Lanctot et al.

Reference: J. Nash (1951); M. Lanctot et al. (2017), "A unified game-theoretic
approach to multiagent reinforcement learning", NeurIPS (NashConv).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import games
from games import NormalFormGame, validate_game, validate_profile

__all__ = ["nash_conv", "exploitability", "player_regrets"]


def _check_profile(game: NormalFormGame, strategies) -> tuple[jax.Array, ...]:
    validate_game(game)
    # Solvers' profiles may carry rounding-level negatives; allow 1e-12.
    return validate_profile(game, strategies, negative_tol=1e-12)


def player_regrets(game: NormalFormGame, strategies) -> jax.Array:
    """Each player's best-response gain, shape ``batch_shape + (num_players,)``.

    Example:
      >>> import jax.numpy as jnp
      >>> from games import zero_sum
      >>> pennies = zero_sum(jnp.array([[1., -1.], [-1., 1.]]))
      >>> player_regrets(pennies, (jnp.array([1., 0.]), jnp.array([.5, .5]))).tolist()
      [0.0, 1.0]
    """
    return games.regrets(game, _check_profile(game, strategies))


def nash_conv(game: NormalFormGame, strategies) -> jax.Array:
    """NashConv: the sum over players of the best-response gain (0 at a Nash equilibrium)."""
    return jnp.sum(player_regrets(game, strategies), axis=-1)


def exploitability(game: NormalFormGame, strategies) -> jax.Array:
    """NashConv divided by the number of players."""
    return nash_conv(game, strategies) / game.num_players
