"""Random families of normal-form games, as used to test and benchmark solvers.

Reference: E. Nudelman, J. Wortman, Y. Shoham and K. Leyton-Brown (2004),
"Run the GAMUT: a comprehensive approach to evaluating game-theoretic
algorithms", AAMAS; Y. Rinott and M. Scarsini (2000), "On the number of pure
strategy Nash equilibria in random games", Games and Economic Behavior 33.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ._normal_form import NormalFormGame

__all__ = ["random_game", "GAME_FAMILIES"]

GAME_FAMILIES = ("uniform", "covariant", "coordination", "zero_sum")


def random_game(
    key: jax.Array,
    num_actions: tuple[int, ...],
    *,
    family: str = "uniform",
    correlation: float = 0.0,
    batch_shape: tuple[int, ...] = (),
    dtype=None,
) -> NormalFormGame:
    """Draw a random game (or a batch of them) from a standard family.

    Families, for ``n = len(num_actions)`` players:

    - ``"uniform"``: every payoff i.i.d. uniform on ``[0, 1)`` (GAMUT's RandomGame).
    - ``"covariant"``: for each pure profile the payoff vector of the ``n``
      players is normal with mean 0, variance 1 and pairwise correlation
      ``correlation`` in ``[-1/(n-1), 1]`` (GAMUT's CovariantGame, Rinott and
      Scarsini 2000). ``correlation=1`` gives common interests; ``-1`` with two
      players gives a zero-sum game.
    - ``"coordination"``: payoffs uniform on ``[1, 2)`` when every player picks
      the same action index and on ``[0, 1)`` otherwise, so each of the
      ``min(num_actions)`` diagonal profiles is a strict pure equilibrium.
    - ``"zero_sum"``: uniform payoffs re-centred so the players' payoffs sum to
      zero at every profile (for two players: ``B = -A``).

    Args:
      key: a ``jax.random`` key; the same key gives the same games.
      num_actions: ``(m_1, ..., m_n)``, each ``>= 1``.
      family: one of :data:`GAME_FAMILIES`.
      correlation: the covariant family's correlation.
      batch_shape: leading axes of a stack of independent games.
      dtype: payoff dtype (default: JAX's default float).

    Example:
      >>> import jax
      >>> games = random_game(jax.random.key(0), (20, 20), batch_shape=(1000,))
      >>> games.batch_shape, games.num_actions
      ((1000,), (20, 20))
    """
    num_actions = tuple(int(m) for m in num_actions)
    batch_shape = tuple(int(b) for b in batch_shape)
    n = len(num_actions)
    if n < 1:
        raise ValueError("num_actions must name at least one player")
    if any(m < 1 for m in num_actions):
        raise ValueError(f"every player needs at least one action; got num_actions={num_actions}")
    if family not in GAME_FAMILIES:
        raise ValueError(f"family must be one of {GAME_FAMILIES}; got {family!r}")
    dtype = jnp.result_type(float) if dtype is None else dtype
    shape = batch_shape + (n,) + num_actions

    if family == "uniform":
        payoffs = jax.random.uniform(key, shape, dtype=dtype)
    elif family == "covariant":
        lower = -1.0 / (n - 1) if n > 1 else -math.inf
        if not (lower <= correlation <= 1.0) or math.isnan(correlation):
            raise ValueError(f"correlation must lie in [{lower}, 1] for {n} players; got {correlation}")
        cov = jnp.full((n, n), correlation, dtype=dtype) + (1.0 - correlation) * jnp.eye(n, dtype=dtype)
        # Symmetric square root via eigh: works for singular covariances (correlation at its bounds).
        w, v = jnp.linalg.eigh(cov)
        root = (v * jnp.sqrt(jnp.clip(w, 0.0))) @ v.T
        z = jax.random.normal(key, batch_shape + num_actions + (n,), dtype=dtype) @ root.T
        payoffs = jnp.moveaxis(z, -1, len(batch_shape))
    elif family == "coordination":
        u = jax.random.uniform(key, shape, dtype=dtype)
        diagonal = jnp.ones((), bool)
        grids = jnp.meshgrid(*[jnp.arange(m) for m in num_actions], indexing="ij")
        for g in grids[1:]:
            diagonal = diagonal & (g == grids[0])
        payoffs = u + diagonal.astype(dtype)
    else:  # zero_sum
        u = jax.random.uniform(key, shape, dtype=dtype)
        axis = len(batch_shape)
        payoffs = u - jnp.mean(u, axis=axis, keepdims=True)
        if n == 2:  # exact negation, not a rounding-level zero sum
            A = jnp.take(payoffs, 0, axis=axis)
            payoffs = jnp.stack([A, -A], axis=axis)
    return NormalFormGame(payoffs, num_players=n)
