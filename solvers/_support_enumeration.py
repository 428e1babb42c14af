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

from ._common import check_game, check_positive_int, check_tol, over_batch, payoff_scale
from ._pivoting import pivot
from ._result import EquilibriumSet, Status

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
    """Solve the augmented system ``T = [M | b]`` (shape ``(s, s + 1)``) by Gauss-Jordan
    elimination with partial pivoting, unrolled over the ``s`` columns.

    Support enumeration solves thousands of tiny systems per game; vectorized over
    them this beats one LAPACK call per matrix (``jnp.linalg.solve`` on CPU), and
    avoids a hang seen with jax 0.10.2 on CPU when one program holds many batched
    LAPACK solves. Returns the solution and the smallest pivot magnitude.
    """
    s = T.shape[0]

    def step(j, state):
        T, used, rows, smallest = state
        column = jax.lax.dynamic_index_in_dim(T, j, axis=1, keepdims=False)
        row = jnp.argmax(jnp.where(used, -1.0, jnp.abs(column)))
        smallest = jnp.minimum(smallest, jnp.abs(column[row]))
        return pivot(T, row, j), used.at[row].set(True), rows.at[j].set(row.astype(rows.dtype)), smallest

    state = (T, jnp.zeros(s, bool), jnp.zeros(s, jnp.int32), jnp.asarray(jnp.inf, T.dtype))
    T, _, rows, smallest = jax.lax.fori_loop(0, s, step, state)
    return T[rows, s], smallest


def _indifference_solutions(M, rows, cols):
    """Solve ``[M[I,J] -1; 1 0] [z; v] = [0; 1]`` for every support pair (I, J).

    ``rows``: (p, k) row supports; ``cols``: (q, k) column supports. Returns
    ``z`` of shape (p, q, k), the value ``v`` of shape (p, q), and whether the
    system was nonsingular.
    """
    k = rows.shape[1]
    sub = M[rows[:, None, :, None], cols[None, :, None, :]]  # (p, q, k, k)
    p, q = sub.shape[:2]
    dtype = M.dtype
    top = jnp.concatenate([sub, -jnp.ones((p, q, k, 1), dtype), jnp.zeros((p, q, k, 1), dtype)], axis=-1)
    bottom = jnp.concatenate([jnp.ones((p, q, 1, k), dtype), jnp.zeros((p, q, 1, 1), dtype),
                              jnp.ones((p, q, 1, 1), dtype)], axis=-1)
    system = jnp.concatenate([top, bottom], axis=-2).reshape(p * q, k + 1, k + 2)
    sol, smallest = jax.vmap(_gauss_jordan_solve)(system)
    sol = sol.reshape(p, q, k + 1)
    scale = jnp.maximum(jnp.max(jnp.abs(M)), 1.0)
    nonsingular = (smallest > 1e3 * jnp.finfo(dtype).eps * scale).reshape(p, q)
    return sol[..., :k], sol[..., k], nonsingular


def _support_enumeration_single(payoffs, tol, *, max_equilibria):
    A, B = payoffs[0], payoffs[1]
    m, n = A.shape
    dtype = A.dtype
    scale = payoff_scale(payoffs, 2)
    atol = tol * scale
    xs, ys, valid, degenerate = [], [], [], []
    for k in range(1, min(m, n) + 1):
        rows = jnp.asarray(np.array(list(itertools.combinations(range(m), k)), dtype=np.int32))
        cols = jnp.asarray(np.array(list(itertools.combinations(range(n), k)), dtype=np.int32))
        p, q = rows.shape[0], cols.shape[0]
        y_sup, v, ok_y = _indifference_solutions(A, rows, cols)  # row player indifferent over I
        x_sup, u, ok_x = _indifference_solutions(B.T, cols, rows)  # column player indifferent over J
        x_sup = jnp.swapaxes(x_sup, 0, 1)  # -> (p, q, k)
        u = u.T
        nonsingular = ok_y & ok_x.T
        x = jnp.zeros((p, q, m), dtype).at[jnp.arange(p)[:, None, None], jnp.arange(q)[None, :, None],
                                             rows[:, None, :]].set(x_sup)
        y = jnp.zeros((p, q, n), dtype).at[jnp.arange(p)[:, None, None], jnp.arange(q)[None, :, None],
                                             cols[None, :, :]].set(y_sup)
        row_values = jnp.einsum("ij,pqj->pqi", A, y)
        col_values = jnp.einsum("ij,pqi->pqj", B, x)
        finite = jnp.all(jnp.isfinite(x_sup), -1) & jnp.all(jnp.isfinite(y_sup), -1)
        finite = finite & jnp.isfinite(u) & jnp.isfinite(v)
        positive = jnp.all(x_sup > tol, -1) & jnp.all(y_sup > tol, -1)
        best = jnp.all(row_values <= v[..., None] + atol, -1) & jnp.all(col_values <= u[..., None] + atol, -1)
        ok = finite & positive & best & nonsingular
        # Nondegenerate games: an equilibrium with support size k has exactly k best responses.
        extra = (jnp.sum(row_values >= v[..., None] - atol, -1) > k) | (jnp.sum(col_values >= u[..., None] - atol, -1) > k)
        xs.append(x.reshape(p * q, m))
        ys.append(y.reshape(p * q, n))
        valid.append(ok.reshape(-1))
        degenerate.append(jnp.any(ok & extra))
    x = jnp.concatenate(xs)
    y = jnp.concatenate(ys)
    valid = jnp.concatenate(valid)
    count = jnp.sum(valid)
    (index,) = jnp.nonzero(valid, size=max_equilibria, fill_value=0)
    mask = jnp.arange(max_equilibria) < count
    x = jnp.where(mask[:, None], x[index], 0.0)
    y = jnp.where(mask[:, None], y[index], 0.0)
    game = NormalFormGame(payoffs, num_players=2)
    nash_conv = jnp.where(mask, jnp.sum(jax.vmap(lambda a, b: regrets(game, (a, b)))(x, y), -1), 0.0)
    is_degenerate = jnp.any(jnp.stack(degenerate)) | (count > max_equilibria) | (count == 0)
    status = jnp.where(is_degenerate, Status.DEGENERATE, Status.CONVERGED)
    status = jnp.where(jnp.all(jnp.isfinite(payoffs)), status, Status.NONFINITE).astype(jnp.int32)
    return EquilibriumSet(strategies=(x, y), mask=mask, count=jnp.minimum(count, max_equilibria),
                          nash_conv=nash_conv, status=status)
