"""Finite games in normal (strategic) form.

Axis convention (as in QuantEcon's ``game_theory`` and Gambit): for an
``n``-player game with action counts ``(m_1, ..., m_n)`` the payoff tensor has
shape ``(n, m_1, ..., m_n)`` and ``payoffs[i, a_1, ..., a_n]`` is the payoff of
player ``i`` when player ``j`` plays action ``a_j``. Payoffs are *maximized*.

Any number of leading axes before the player axis is a batch of games of equal
shape: ``payoffs.shape == batch_shape + (n, m_1, ..., m_n)``. A batched game is
still one pytree, so ``jax.vmap(solver)(game)`` solves every game in the stack.

A mixed-strategy profile is a tuple of ``n`` arrays, the ``i``-th of shape
``batch_shape + (m_i,)``, each on the probability simplex.

Reference: J. von Neumann and O. Morgenstern (1944), *Theory of Games and
Economic Behavior*; J. Nash (1951), "Non-cooperative games", Annals of
Mathematics 54(2).
"""

from __future__ import annotations

import string

import jax
import jax.numpy as jnp
import numpy as np

from mechanisms import pytree_dataclass, static_field

from .._validation import as_float_array

__all__ = [
    "NormalFormGame",
    "bimatrix",
    "zero_sum",
    "action_values",
    "expected_payoffs",
    "regrets",
    "validate_game",
    "validate_profile",
]


@pytree_dataclass
class NormalFormGame:
    """An ``n``-player finite game, ``payoffs[i, a_1, ..., a_n]`` maximized by player ``i``.

    An immutable pytree: ``payoffs`` is the array leaf, ``num_players`` static
    metadata. Leading axes before the player axis form a batch of games.

    Args:
      payoffs: array of shape ``batch_shape + (n, m_1, ..., m_n)``.
      num_players: ``n``. May be omitted for a single (unbatched) game, where it
        is ``payoffs.shape[0]``; it must be given for a batch.

    When ``num_players`` is omitted the payoffs are validated at once (finite,
    consistent shape, every player with at least one action); solvers validate
    every game they are given outside ``jit``.

    Example:
      >>> import jax.numpy as jnp
      >>> from games import NormalFormGame
      >>> pennies = jnp.array([[1., -1.], [-1., 1.]])
      >>> game = NormalFormGame(jnp.stack([pennies, -pennies]))
      >>> game.num_players, game.num_actions
      (2, (2, 2))
    """

    payoffs: jax.Array
    num_players: int | None = static_field(default=None)

    def __post_init__(self):
        if self.num_players is None:
            # Direct construction by a user (pytree unflattening always passes
            # num_players, and may pass non-array leaves, so it is left alone).
            payoffs = as_float_array(self.payoffs, "payoffs")
            if payoffs.ndim < 2:
                raise ValueError(
                    f"payoffs must have shape (n, m_1, ..., m_n) with n >= 1; got shape {payoffs.shape}"
                )
            object.__setattr__(self, "payoffs", payoffs)
            object.__setattr__(self, "num_players", int(payoffs.shape[0]))
            validate_game(self)

    @property
    def num_actions(self) -> tuple[int, ...]:
        """Number of actions of each player, ``(m_1, ..., m_n)``."""
        return tuple(int(s) for s in self.payoffs.shape[self.payoffs.ndim - self.num_players :])

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading batch axes (``()`` for a single game)."""
        return tuple(self.payoffs.shape[: self.payoffs.ndim - self.num_players - 1])

    def __getitem__(self, index) -> "NormalFormGame":
        """Select games from a batch: ``games[3]`` or ``games[:10]``."""
        if not self.batch_shape:
            raise IndexError("a single game has no batch axis to index")
        return NormalFormGame(self.payoffs[index], num_players=self.num_players)

    def __repr__(self) -> str:
        batch = f", batch_shape={self.batch_shape}" if self.batch_shape else ""
        return f"NormalFormGame(num_actions={self.num_actions}{batch}, dtype={self.payoffs.dtype})"


def validate_game(game: NormalFormGame, *, num_players: int | None = None) -> None:
    """Raise ``ValueError`` unless ``game`` is a well-formed, finite normal-form game.

    Checks, outside ``jit`` (tracers are skipped): the player axis has length
    ``num_players``; every player has at least one action; no payoff is NaN or
    infinite. ``num_players`` (optional) requires that many players.
    """
    if not isinstance(game, NormalFormGame):
        raise ValueError(f"expected a NormalFormGame; got {type(game).__name__}")
    payoffs = game.payoffs
    n = game.num_players
    if payoffs.ndim < n + 1:
        raise ValueError(f"payoffs of a {n}-player game need at least {n + 1} axes; got shape {payoffs.shape}")
    if payoffs.shape[payoffs.ndim - n - 1] != n:
        raise ValueError(
            f"payoffs axis 0 (players) must have length {n} to match the {n} action axes; "
            f"got shape {payoffs.shape}"
        )
    if n < 1:
        raise ValueError("a game needs at least one player")
    for i, m in enumerate(game.num_actions):
        if m < 1:
            raise ValueError(f"player {i} has no actions (payoffs shape {payoffs.shape}); the game is empty")
    if num_players is not None and n != num_players:
        raise ValueError(f"this solver needs a {num_players}-player game; got {n} players")
    if not jnp.issubdtype(payoffs.dtype, jnp.floating):
        raise ValueError(f"payoffs must be floating point; got dtype {payoffs.dtype}")
    if not isinstance(payoffs, jax.core.Tracer):
        finite = np.isfinite(np.asarray(payoffs))
        if not finite.all():
            bad = tuple(int(k) for k in np.argwhere(~finite)[0])
            raise ValueError(f"payoffs must be finite; found {np.asarray(payoffs)[bad]} at index {bad}")


def validate_profile(game: NormalFormGame, strategies, *, name: str = "strategies",
                     negative_tol: float = 0.0) -> tuple[jax.Array, ...]:
    """Check a mixed profile for ``game`` outside jit and return it as arrays of the payoff dtype.

    Raises ``ValueError`` unless ``strategies`` holds one strategy per player, each of shape
    ``batch_shape + (m_i,)``, finite, no entry below ``-negative_tol``, summing to 1 (to 1e-6).
    Tracers pass unchecked except for shapes.
    """
    if not isinstance(strategies, (tuple, list)) or len(strategies) != game.num_players:
        length = len(strategies) if hasattr(strategies, "__len__") else "?"
        raise ValueError(f"{name} must be a tuple of {game.num_players} mixed strategies, one per player; "
                         f"got {type(strategies).__name__} of length {length}")
    out = []
    for i, (s, m) in enumerate(zip(strategies, game.num_actions)):
        s = jnp.asarray(s, dtype=game.payoffs.dtype)
        if s.shape != game.batch_shape + (m,):
            raise ValueError(f"{name}[{i}] must have shape {game.batch_shape + (m,)}; got {s.shape}")
        if not isinstance(s, jax.core.Tracer):
            a = np.asarray(s)
            if not np.isfinite(a).all():
                raise ValueError(f"{name}[{i}] contains NaN or infinity")
            if (a < -negative_tol).any() or not np.allclose(a.sum(-1), 1.0, atol=1e-6):
                raise ValueError(f"{name}[{i}] must be a probability vector (>= 0, summing to 1)")
        out.append(s)
    return tuple(out)


def bimatrix(A, B) -> NormalFormGame:
    """Two-player game with row player payoffs ``A`` and column player payoffs ``B``.

    ``A[a, b]`` and ``B[a, b]`` are the payoffs when the row player plays ``a``
    and the column player ``b``; both have shape ``batch_shape + (m, n)``.

    Example:
      >>> game = bimatrix([[3., 0.], [5., 1.]], [[3., 5.], [0., 1.]])  # prisoner's dilemma
      >>> game.num_actions
      (2, 2)
    """
    A = as_float_array(A, "A")
    B = as_float_array(B, "B")
    if A.ndim < 2 or A.shape != B.shape:
        raise ValueError(f"A and B must be matrices of equal shape (..., m, n); got {A.shape} and {B.shape}")
    dtype = jnp.result_type(A, B)
    payoffs = jnp.stack([A.astype(dtype), B.astype(dtype)], axis=-3)
    game = NormalFormGame(payoffs, num_players=2)
    validate_game(game)
    return game


def zero_sum(A) -> NormalFormGame:
    """Two-player zero-sum game: the row player gets ``A[a, b]``, the column player ``-A[a, b]``."""
    A = as_float_array(A, "A")
    return bimatrix(A, -A)


def _einsum_profile(game: NormalFormGame, strategies, skip: int) -> jax.Array:
    """Contract the payoff tensor of player ``skip`` with every other player's strategy.

    Returns player ``skip``'s payoff of each of its pure actions against the
    others' mixed strategies, shape ``(m_skip,)``. Unbatched: batch with vmap.
    """
    n = game.num_players
    letters = string.ascii_letters
    tensor = "".join(letters[:n])
    operands = [game.payoffs[skip]]
    subscripts = [tensor]
    for j in range(n):
        if j != skip:
            operands.append(strategies[j])
            subscripts.append(letters[j])
    return jnp.einsum(",".join(subscripts) + "->" + letters[skip], *operands)


def action_values(game: NormalFormGame, strategies) -> tuple[jax.Array, ...]:
    """Each player's payoff of each pure action against the others' mixed strategies.

    ``action_values(game, s)[i][a] = sum_{a_-i} payoffs[i, a, a_-i] prod_{j != i} s_j[a_j]``.
    Supports batched games and profiles with matching batch shapes.
    """
    if game.batch_shape:
        return jax.vmap(action_values)(game, strategies)
    return tuple(_einsum_profile(game, strategies, i) for i in range(game.num_players))


def expected_payoffs(game: NormalFormGame, strategies) -> jax.Array:
    """Each player's expected payoff under the mixed profile, shape ``batch_shape + (n,)``."""
    values = action_values(game, strategies)
    return jnp.stack([jnp.sum(v * s, axis=-1) for v, s in zip(values, strategies)], axis=-1)


def regrets(game: NormalFormGame, strategies) -> jax.Array:
    """Each player's gain from a best response, ``max_a u_i(a, s_-i) - u_i(s)``, shape ``batch_shape + (n,)``.

    Zero for every player exactly when the profile is a Nash equilibrium
    (Nash 1951). Their sum is NashConv.
    """
    values = action_values(game, strategies)
    return jnp.stack(
        [jnp.max(v, axis=-1) - jnp.sum(v * s, axis=-1) for v, s in zip(values, strategies)], axis=-1
    )
