"""Lemke-Howson: one Nash equilibrium of a two-player game by complementary pivoting.

For a bimatrix game ``(A, B)`` of shape ``(m, n)``, made positive by a positive
affine map (which leaves equilibria unchanged), the best-response polytopes are

    P = {x in R^m : x >= 0, B^T x <= 1},      Q = {y in R^n : A y <= 1, y >= 0}.

Labels ``0..m-1`` are the row player's actions, ``m..m+n-1`` the column
player's. A point of ``P x Q`` is completely labeled exactly when its
normalization is a Nash equilibrium. Starting from the artificial equilibrium
``(0, 0)``, the algorithm drops ``init_label`` and follows the unique path of
almost completely labeled vertices, pivoting alternately in the tableaux of
``P`` and ``Q``, until the missing label is picked up again.

Ties in the ratio test (degenerate games) are broken lexicographically, so the
path never cycles and a degenerate game still yields an equilibrium.

Reference: C. E. Lemke and J. T. Howson (1964), "Equilibrium points of bimatrix
games", SIAM Journal on Applied Mathematics 12(2); B. von Stengel (2002),
"Computing equilibria for two-person games", Handbook of Game Theory vol. 3,
ch. 45, sections 3.4-3.7.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from games import NormalFormGame, regrets

from ._common import check_game, check_positive_int, check_tol, over_batch, payoff_scale
from ._pivoting import lex_min_ratio, pivot
from ._result import Equilibrium, Status, final_status, maybe_throw

__all__ = ["lemke_howson"]


def lemke_howson(
    game: NormalFormGame,
    *,
    init_label: int = 0,
    max_steps: int = 1000,
    tol: float | None = None,
    throw: bool = False,
) -> Equilibrium:
    """One Nash equilibrium of a two-player game by the Lemke-Howson algorithm.

    Args:
      game: a two-player :class:`~games.NormalFormGame`, possibly batched.
      init_label: the label dropped first, ``0 <= init_label < m + n``
        (``< m``: a row action, else column action ``init_label - m``).
        Different labels may lead to different equilibria.
      max_steps: the most pivots (static: it fixes the traced loop).
      tol: NashConv tolerance relative to the payoff range (default 1e-9 in
        float64, 1e-4 in float32) for the ``CONVERGED`` status.
      throw: raise :class:`~solvers.NonConvergenceError` (outside jit) if a game
        did not converge.

    Returns:
      An :class:`~solvers.Equilibrium`; ``iterations`` counts pivots. Status is
      ``MAX_STEPS`` if the path was longer than ``max_steps``, ``DEGENERATE``
      if the ratio test found no pivot row (numerical failure).

    Example:
      >>> import jax.numpy as jnp
      >>> from games import bimatrix
      >>> eq = lemke_howson(bimatrix(jnp.array([[3., 0.], [0., 2.]]), jnp.array([[2., 0.], [0., 3.]])))
      >>> [s.tolist() for s in eq.strategies]
      [[1.0, 0.0], [1.0, 0.0]]

    Reference: Lemke and Howson (1964); von Stengel (2002).
    """
    check_game(game, num_players=2)
    m, n = game.num_actions
    if not isinstance(init_label, jax.core.Tracer):
        if isinstance(init_label, bool) or int(init_label) != init_label or not 0 <= init_label < m + n:
            raise ValueError(f"init_label must be an integer in [0, {m + n}); got {init_label!r}")
    max_steps = check_positive_int(max_steps, "max_steps")
    tol = check_tol(tol, game.payoffs.dtype)
    result = _lemke_howson(game.payoffs, jnp.asarray(init_label), tol, max_steps=max_steps,
                           batch_ndim=len(game.batch_shape))
    return maybe_throw(result, throw, "lemke_howson")


@functools.partial(jax.jit, static_argnames=("max_steps", "batch_ndim"))
def _lemke_howson(payoffs, init_label, tol, *, max_steps, batch_ndim):
    single = functools.partial(_lemke_howson_single, max_steps=max_steps)
    return over_batch(lambda p: single(p, init_label, tol), batch_ndim)(payoffs)


def _to_unit_interval_plus_one(X):
    """Positive affine map of X onto [1, 2] (constant X maps to 1)."""
    lo, hi = jnp.min(X), jnp.max(X)
    return (X - lo) / jnp.where(hi > lo, hi - lo, 1.0) + 1.0


def _lemke_howson_single(payoffs, init_label, tol, *, max_steps):
    dtype = payoffs.dtype
    A = _to_unit_interval_plus_one(payoffs[0])
    B = _to_unit_interval_plus_one(payoffs[1])
    m, n = A.shape
    rhs = m + n
    # Tableau of P (rows: column actions): columns x (labels 0..m-1), slacks s (labels m..), rhs.
    T0 = jnp.concatenate([B.T, jnp.eye(n, dtype=dtype), jnp.ones((n, 1), dtype)], axis=1)
    # Tableau of Q (rows: row actions): slacks r (labels 0..m-1), y (labels m..), rhs.
    T1 = jnp.concatenate([jnp.eye(m, dtype=dtype), A, jnp.ones((m, 1), dtype)], axis=1)
    basis0 = jnp.arange(m, m + n)
    basis1 = jnp.arange(m)
    # The column of a variable in either tableau is its label; the slack block is B^{-1}.
    lex = ((m, n), (0, m))

    def half_step(t, T, basis, entering, turn, done, degenerate, steps):
        active = (~done) & (turn == t) & (steps < max_steps)
        row, found = lex_min_ratio(T, entering, rhs=rhs, lex_start=lex[t][0], lex_size=lex[t][1])
        leaving = basis[row]
        moving = active & found
        T = pivot(T, row, entering, moving)
        basis = jnp.where(moving, basis.at[row].set(entering), basis)
        degenerate = degenerate | (active & ~found)
        done = done | (moving & (leaving == init_label)) | (active & ~found)
        entering = jnp.where(moving, leaving, entering)
        turn = jnp.where(moving, 1 - t, turn)
        return T, basis, entering, turn, done, degenerate, steps + moving

    def cond(state):
        *_, done, _, steps = state
        return (~done) & (steps < max_steps)

    def body(state):
        T0, T1, b0, b1, entering, turn, done, degenerate, steps = state
        T0, b0, entering, turn, done, degenerate, steps = half_step(
            0, T0, b0, entering, turn, done, degenerate, steps)
        T1, b1, entering, turn, done, degenerate, steps = half_step(
            1, T1, b1, entering, turn, done, degenerate, steps)
        return T0, T1, b0, b1, entering, turn, done, degenerate, steps

    turn0 = jnp.where(init_label < m, 0, 1)
    state = (T0, T1, basis0, basis1, init_label, turn0, jnp.asarray(False), jnp.asarray(False),
             jnp.asarray(0))
    T0, T1, basis0, basis1, _, _, done, degenerate, steps = jax.lax.while_loop(cond, body, state)

    x = jnp.zeros(m, dtype).at[jnp.where(basis0 < m, basis0, m)].set(T0[:, rhs], mode="drop")
    y = jnp.zeros(n, dtype).at[jnp.where(basis1 >= m, basis1 - m, n)].set(T1[:, rhs], mode="drop")
    x = x / jnp.sum(x)
    y = y / jnp.sum(y)
    strategies = (x, y)
    nash_conv = jnp.sum(regrets(NormalFormGame(payoffs, num_players=2), strategies))
    scale = payoff_scale(payoffs, 2)
    status = final_status(nash_conv, done, tol * scale, degenerate=degenerate)
    # A path cut short ends at a vertex where one player's vector may be zero (NaN once
    # normalized): that is a MAX_STEPS result, not a numerical failure.
    status = jnp.where(done, status, Status.MAX_STEPS).astype(jnp.int32)
    return Equilibrium(strategies=strategies, nash_conv=nash_conv, iterations=steps, status=status)
