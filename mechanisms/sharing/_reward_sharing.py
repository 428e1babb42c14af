"""Reward sharing: splitting a pool among contributors (federated learning, data centers).

A cooperative game on ``n`` players is a *value function* ``v`` taking
coalition membership masks ``(..., n)`` (bool) to values ``(...)``; it must
be vectorized over leading axes (``jnp`` operations do this for free).

- Proportional: ``r_i = pool * c_i / sum_j c_j``.
- Shapley value (Shapley 1953): ``phi_i = sum_{S not containing i}
  |S|! (n - |S| - 1)! / n! * (v(S + i) - v(S))``; exact by evaluating ``v`` once
  on all ``2^n`` coalitions (``n <= 16``), then combining the marginals with
  vectorized index arithmetic.
- Monte Carlo Shapley (Castro, Gomez and Tejada 2009): the average marginal
  contribution over random permutations, with its standard error.
- VCG / Clarke-pivot rewards (Clarke 1971; Groves 1973): each player is paid
  its externality on the others, ``v(N) - v(N minus i)``, which makes reporting
  one's true contribution a dominant strategy, but the payments need not sum
  to ``v(N)`` (a deficit in games with complementarities).

References: L. S. Shapley (1953), "A value for n-person games", Contributions
to the Theory of Games II; J. Castro, D. Gomez and J. Tejada (2009),
"Polynomial calculation of the Shapley value based on sampling", Computers
& Operations Research 36(5); E. H. Clarke (1971), "Multipart pricing of public
goods", Public Choice 11; T. Groves (1973), "Incentives in teams",
Econometrica 41.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import as_real_array, check_num_players, real_dtype

__all__ = [
    "proportional_rewards",
    "proportional_user_reward",
    "shapley_values",
    "monte_carlo_shapley",
    "clarke_pivot_rewards",
    "MAX_EXACT_SHAPLEY_PLAYERS",
]

MAX_EXACT_SHAPLEY_PLAYERS = 16


def proportional_rewards(contributions, pool):
    """Split ``pool`` in proportion to nonnegative ``contributions`` (equal split if all are zero).

    Example:
      >>> proportional_rewards(jnp.array([1., 3.]), 8.0).tolist()
      [2.0, 6.0]
    """
    contributions = as_real_array(contributions, "contributions")
    real_dtype(pool, "pool")
    if not isinstance(contributions, jax.core.Tracer):
        c = np.asarray(contributions)
        if c.ndim < 1 or c.shape[-1] < 1:
            raise ValueError(f"contributions need a player axis with at least one player; got shape {c.shape}")
        if not np.isfinite(c).all() or (c < 0).any():
            raise ValueError("contributions must be finite and nonnegative")
    total = jnp.sum(contributions, axis=-1, keepdims=True)
    n = contributions.shape[-1]
    share = jnp.where(total > 0, contributions / jnp.where(total > 0, total, 1.0), 1.0 / n)
    return jnp.asarray(pool)[..., None] * share if jnp.ndim(pool) else pool * share


def proportional_user_reward(own, total, pool):
    """One participant's proportional share ``pool * own / total`` from its own contribution and the total
    (an aggregative, differentiable form for games; 0 when the total is 0)."""
    positive = total > 0
    return jnp.where(positive, pool * own / jnp.where(positive, total, 1.0), 0.0)


def _all_coalitions(n):
    codes = np.arange(2**n, dtype=np.int64)
    return ((codes[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)  # (2^n, n), bit i = player i


def shapley_values(value_fn, num_players: int):
    """Exact Shapley values of the cooperative game ``value_fn`` on ``num_players <= 16`` players.

    Example:
      >>> v = lambda S: jnp.where(S[..., 0] & S[..., 1], 1.0, 0.0)  # unanimity of players 0 and 1
      >>> shapley_values(v, 3).tolist()
      [0.5, 0.5, 0.0]

    Reference: Shapley (1953).
    """
    check_num_players(num_players, MAX_EXACT_SHAPLEY_PLAYERS)
    n = num_players
    masks = _all_coalitions(n)
    values = jnp.asarray(value_fn(jnp.asarray(masks)))
    if values.shape != (2**n,):
        raise ValueError(f"value_fn must map masks of shape (k, {n}) to values of shape (k,); got {values.shape}")
    sizes = masks.sum(1)
    weights = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) if s < n else 0.0
                        for s in range(n + 1)])
    codes = np.arange(2**n)
    # Row i lists the coalitions without player i; all players' marginals in one gather.
    without = np.stack([codes[(codes >> i) & 1 == 0] for i in range(n)])  # (n, 2^(n-1))
    with_i = without | (1 << np.arange(n))[:, None]
    marginal = values[with_i] - values[without]
    return jnp.sum(jnp.asarray(weights[sizes[without]], values.dtype) * marginal, axis=1)


def monte_carlo_shapley(value_fn, num_players: int, *, key, num_permutations: int = 1000):
    """Shapley values estimated from random permutations, with standard errors.

    Returns ``(estimate, standard_error)``, each of shape ``(num_players,)``.

    Reference: Castro, Gomez and Tejada (2009).
    """
    check_num_players(num_players)
    if isinstance(num_permutations, bool) or not isinstance(num_permutations, int) or num_permutations < 2:
        raise ValueError(f"num_permutations must be an integer >= 2; got {num_permutations!r}")
    n = num_players
    keys = jax.random.split(key, num_permutations)
    orders = jax.vmap(lambda k: jax.random.permutation(k, n))(keys)  # (P, n)
    position = jnp.argsort(orders, axis=1)  # position of each player in each permutation
    # Prefix coalitions: prefix t holds the first t players of the permutation, t = 0..n.
    prefixes = position[:, None, :] < jnp.arange(n + 1)[None, :, None]  # (P, n+1, n)
    values = jnp.asarray(value_fn(prefixes))  # (P, n+1)
    step_gain = values[:, 1:] - values[:, :-1]  # gain of the player entering at step t
    marginals = jnp.take_along_axis(step_gain, position, axis=1)  # (P, n): player i's marginal
    estimate = jnp.mean(marginals, axis=0)
    standard_error = jnp.std(marginals, axis=0, ddof=1) / jnp.sqrt(num_permutations)
    return estimate, standard_error


def clarke_pivot_rewards(value_fn, num_players: int):
    """VCG rewards with the Clarke pivot: ``r_i = v(N) - v(N minus {i})``, each player's marginal contribution.

    Example:
      >>> v = lambda S: jnp.where(S[..., 0] & S[..., 1], 1.0, 0.0)  # complements: a deficit
      >>> clarke_pivot_rewards(v, 2).tolist()
      [1.0, 1.0]

    Reference: Clarke (1971); Groves (1973).
    """
    check_num_players(num_players)
    n = num_players
    masks = np.ones((n + 1, n), bool)
    masks[np.arange(n), np.arange(n)] = False  # row i: everyone but i; last row: everyone
    values = jnp.asarray(value_fn(jnp.asarray(masks)))
    if values.shape != (n + 1,):
        raise ValueError(f"value_fn must map masks of shape (k, {n}) to values of shape (k,); got {values.shape}")
    return values[n] - values[:n]
