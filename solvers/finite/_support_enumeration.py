"""Support enumeration: all Nash equilibria of a nondegenerate two-player game.

In a nondegenerate bimatrix game ``(A, B)`` every equilibrium ``(x, y)`` has
supports ``I``, ``J`` of equal size ``k``, and is the unique solution of the
indifference conditions

    sum_{j in J} A[i, j] y_j = v  (i in I),   sum_j y_j = 1,
    sum_{i in I} B[i, j] x_i = u  (j in J),   sum_i x_i = 1,

with ``x_I > 0``, ``y_J > 0`` and no action outside the support doing better
(``A y <= v``, ``B^T x <= u``). For each ``k`` every pair of supports is solved
at once as one batch of ``(k+1) x (k+1)`` linear systems.

Reference: B. von Stengel (2002), "Computing equilibria for two-person games",
Handbook of Game Theory vol. 3, ch. 45, Algorithm 3.4; see also N. Nisan,
T. Roughgarden, E. Tardos and V. Vazirani (2007), *Algorithmic Game Theory*,
section 3.3.
"""

from __future__ import annotations

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from games import NormalFormGame, regrets

from .._core._batching import over_batch
from .._core._validation import check_game, check_positive_int, check_tol, payoff_scale
from .._core._result import EquilibriumSet, Status

__all__ = ["support_enumeration"]

#: Refuse games whose support pairs exceed this count (the method is exponential).
MAX_SUPPORT_PAIRS = 2_000_000


def _num_support_pairs(m: int, n: int) -> int:
    return sum(math.comb(m, k) * math.comb(n, k) for k in range(1, min(m, n) + 1))


def support_enumeration(
    game: NormalFormGame,
    *,
    max_equilibria: int | None = None,
    tol: float | None = None,
) -> EquilibriumSet:
    """All Nash equilibria of a nondegenerate two-player game, as padded arrays with a mask.

    Args:
      game: a two-player :class:`~games.NormalFormGame`, possibly batched.
      max_equilibria: rows of the padded output (static). Default
        ``2**min(m, n) - 1``, the most a nondegenerate game can have.
      tol: tolerance relative to the payoff range for support positivity and
        best-response checks (default 1e-9 in float64, 1e-4 in float32).

    Returns:
      An :class:`~solvers.EquilibriumSet`. Status ``DEGENERATE`` means the game
      was seen to be degenerate (an equilibrium with more best responses than
      its support size) or more than ``max_equilibria`` equilibria exist: the
      set may then be incomplete, though every returned row is an equilibrium.

    Example:
      >>> import jax.numpy as jnp
      >>> from games import bimatrix
      >>> sexes = bimatrix(jnp.array([[3., 0.], [0., 2.]]), jnp.array([[2., 0.], [0., 3.]]))
      >>> int(support_enumeration(sexes).count)
      3

    Reference: von Stengel (2002), Algorithm 3.4.
    """
    check_game(game, num_players=2)
    m, n = game.num_actions
    pairs = _num_support_pairs(m, n)
    if pairs > MAX_SUPPORT_PAIRS:
        raise ValueError(
            f"support enumeration of a {m}x{n} game needs {pairs} linear solves per game "
            f"(limit {MAX_SUPPORT_PAIRS}); use lemke_howson for one equilibrium"
        )
    if max_equilibria is None:
        max_equilibria = min(2 ** min(m, n) - 1, pairs)
    max_equilibria = check_positive_int(max_equilibria, "max_equilibria")
    tol = check_tol(tol, game.payoffs.dtype)
    return _support_enumeration(game.payoffs, tol, max_equilibria=max_equilibria,
                                batch_ndim=len(game.batch_shape))


@functools.partial(jax.jit, static_argnames=("max_equilibria", "batch_ndim"))
def _support_enumeration(payoffs, tol, *, max_equilibria, batch_ndim):
    single = functools.partial(_support_enumeration_single, max_equilibria=max_equilibria)
    return over_batch(lambda p: single(p, tol), batch_ndim)(payoffs)


def _gauss_jordan_solve(T):
    """Solve ``P`` augmented systems ``T[:, :, p] = [M | b]`` (shape ``(s, s + 1, P)``) at once.

    Gauss-Jordan elimination with partial pivoting, unrolled over the ``s``
    columns, with the systems along the last (fastest) axis so every step is one
    vectorized pass over all of them; pivot rows are picked by one-hot masks, not
    gathers. Support enumeration solves ~10^4 tiny systems per game: this layout
    beats one LAPACK call per matrix (``jnp.linalg.solve`` on CPU), and avoids a
    hang seen with jax 0.10.2 on CPU when one program holds many batched LAPACK
    solves. Returns the solutions ``(s, P)`` and each system's smallest pivot.
    """
    s, _, count = T.shape
    row_index = jnp.arange(s)[:, None]
    used = jnp.zeros((s, count), bool)
    chosen = []
    smallest = jnp.full((count,), jnp.inf, T.dtype)
    for j in range(s):
        column = T[:, j, :]
        row = jnp.argmax(jnp.where(used, -1.0, jnp.abs(column)), axis=0)
        onehot = row_index == row[None, :]
        pivot_row = jnp.sum(jnp.where(onehot[:, None, :], T, 0.0), axis=0)
        smallest = jnp.minimum(smallest, jnp.abs(pivot_row[j]))
        pivot_row = pivot_row / pivot_row[j]
        T = T - (column - onehot.astype(T.dtype))[:, None, :] * pivot_row[None, :, :]
        used = used | onehot
        chosen.append(onehot)
    solution = jnp.stack([jnp.sum(jnp.where(onehot, T[:, s, :], 0.0), axis=0) for onehot in chosen])
    return solution, smallest


def _indifference_solutions(M, rows, cols):
    """Solve ``[M[I,J] -1; 1 0] [z; v] = [0; 1]`` for every support pair (I, J).

    ``rows``: (p, k) row supports; ``cols``: (q, k) column supports (numpy).
    Returns ``z`` of shape (k, p, q), the value ``v`` of shape (p, q), and
    whether each system was nonsingular.
    """
    p, k = rows.shape
    q = cols.shape[0]
    dtype = M.dtype
    sub = M[rows.T[:, None, :, None], cols.T[None, :, None, :]]  # (k, k, p, q)
    top = jnp.concatenate([sub, jnp.full((k, 1, p, q), -1.0, dtype), jnp.zeros((k, 1, p, q), dtype)], axis=1)
    bottom = jnp.concatenate([jnp.ones((1, k, p, q), dtype), jnp.zeros((1, 1, p, q), dtype),
                              jnp.ones((1, 1, p, q), dtype)], axis=1)
    system = jnp.concatenate([top, bottom], axis=0).reshape(k + 1, k + 2, p * q)
    solution, smallest = _gauss_jordan_solve(system)
    solution = solution.reshape(k + 1, p, q)
    scale = jnp.maximum(jnp.max(jnp.abs(M)), 1.0)
    nonsingular = (smallest > 1e3 * jnp.finfo(dtype).eps * scale).reshape(p, q)
    return solution[:k], solution[k], nonsingular


def _embedding(supports: np.ndarray, size: int) -> np.ndarray:
    """One-hot ``E[r, i, s] = (supports[s, r] == i)``: puts support coordinates into full vectors."""
    return (supports.T[:, None, :] == np.arange(size)[None, :, None]).astype(np.float64)


def _support_enumeration_single(payoffs, tol, *, max_equilibria):
    A, B = payoffs[0], payoffs[1]
    m, n = A.shape
    dtype = A.dtype
    scale = payoff_scale(payoffs, 2)
    atol = tol * scale
    xs, ys, valid, degenerate = [], [], [], []
    for k in range(1, min(m, n) + 1):
        rows = np.array(list(itertools.combinations(range(m), k)), dtype=np.int32)
        cols = np.array(list(itertools.combinations(range(n), k)), dtype=np.int32)
        p, q = rows.shape[0], cols.shape[0]
        y_sup, v, ok_y = _indifference_solutions(A, rows, cols)  # row player indifferent over I
        x_sup, u, ok_x = _indifference_solutions(B.T, cols, rows)  # column player indifferent over J
        x_sup = jnp.swapaxes(x_sup, 1, 2)  # -> (k, p, q)
        u = u.T
        nonsingular = ok_y & ok_x.T
        x = jnp.einsum("rip,rpq->ipq", jnp.asarray(_embedding(rows, m), dtype), x_sup)  # (m, p, q)
        y = jnp.einsum("rjq,rpq->jpq", jnp.asarray(_embedding(cols, n), dtype), y_sup)  # (n, p, q)
        row_values = jnp.einsum("ij,jpq->ipq", A, y)
        col_values = jnp.einsum("ij,ipq->jpq", B, x)
        finite = jnp.all(jnp.isfinite(x_sup), 0) & jnp.all(jnp.isfinite(y_sup), 0)
        finite = finite & jnp.isfinite(u) & jnp.isfinite(v)
        positive = jnp.all(x_sup > tol, 0) & jnp.all(y_sup > tol, 0)
        best = jnp.all(row_values <= v + atol, 0) & jnp.all(col_values <= u + atol, 0)
        ok = finite & positive & best & nonsingular
        # Nondegenerate games: an equilibrium with support size k has exactly k best responses.
        extra = (jnp.sum(row_values >= v - atol, 0) > k) | (jnp.sum(col_values >= u - atol, 0) > k)
        xs.append(x.reshape(m, p * q))
        ys.append(y.reshape(n, p * q))
        valid.append(ok.reshape(-1))
        degenerate.append(jnp.any(ok & extra))
    x = jnp.concatenate(xs, axis=1)
    y = jnp.concatenate(ys, axis=1)
    valid = jnp.concatenate(valid)
    count = jnp.sum(valid)
    (index,) = jnp.nonzero(valid, size=max_equilibria, fill_value=0)
    mask = jnp.arange(max_equilibria) < count
    x = jnp.where(mask[:, None], x[:, index].T, 0.0)
    y = jnp.where(mask[:, None], y[:, index].T, 0.0)
    game = NormalFormGame(payoffs, num_players=2)
    nash_conv = jnp.where(mask, jnp.sum(jax.vmap(lambda a, b: regrets(game, (a, b)))(x, y), -1), 0.0)
    is_degenerate = jnp.any(jnp.stack(degenerate)) | (count > max_equilibria) | (count == 0)
    status = jnp.where(is_degenerate, Status.DEGENERATE, Status.CONVERGED)
    status = jnp.where(jnp.all(jnp.isfinite(payoffs)), status, Status.NONFINITE).astype(jnp.int32)
    return EquilibriumSet(strategies=(x, y), mask=mask, count=jnp.minimum(count, max_equilibria),
                          residual=nash_conv, iterations=jnp.asarray(_num_support_pairs(m, n)), status=status)
