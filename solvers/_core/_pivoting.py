"""Tableau pivoting shared by the complementary-pivoting and simplex solvers.

A tableau ``T`` of shape ``(rows, columns)`` holds ``B^{-1} [M | I | q]`` for a
current basis ``B``. :func:`pivot` is one Gauss-Jordan step; :func:`lex_min_ratio`
is the lexicographic minimum-ratio test, which never cycles on degenerate
problems because rows of ``[q | B^{-1}]`` are linearly independent.

Reference: G. B. Dantzig, A. Orden and P. Wolfe (1955), "The generalized simplex
method for minimizing a linear form under linear inequality restraints",
Pacific Journal of Mathematics 5(2) (lexicographic rule); B. von Stengel (2002),
"Computing equilibria for two-person games", Handbook of Game Theory vol. 3,
section 3.7 (its use in Lemke-Howson).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def tolerances(dtype) -> tuple[float, float]:
    """``(pivot_tol, tie_tol)`` for a dtype: entries above ``pivot_tol`` may be pivots;
    ratios within ``tie_tol`` tie and go to the next lexicographic column."""
    if jnp.finfo(dtype).bits >= 64:
        return 1e-10, 1e-13
    return 1e-5, 1e-6


def unit_range_plus_one(X: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Positive affine map of ``X`` onto ``[1, 2]`` (a constant maps to 1), for tableaux with a positive
    payoff matrix. Returns ``(mapped, lo, spread)`` so that ``X = (mapped - 1) * spread + lo``."""
    lo, hi = jnp.min(X), jnp.max(X)
    spread = jnp.where(hi > lo, hi - lo, 1.0)
    return (X - lo) / spread + 1.0, lo, spread


def pivot(T: jax.Array, row: jax.Array, col: jax.Array, active: jax.Array | bool = True) -> jax.Array:
    """Gauss-Jordan pivot on ``T[row, col]``: column ``col`` becomes the ``row``-th unit vector.

    With ``active`` False the tableau is returned unchanged (one fused update, no select).
    """
    pivot_row = T[row] / T[row, col]
    adjust = T[:, col] - (jnp.arange(T.shape[0]) == row).astype(T.dtype)
    adjust = adjust * jnp.asarray(active, T.dtype)
    return T - adjust[:, None] * pivot_row[None, :]


def lex_min_ratio(
    T: jax.Array, col: jax.Array, *, rhs: int, lex_start: int, lex_size: int
) -> tuple[jax.Array, jax.Array]:
    """Lexicographic minimum-ratio test for entering column ``col``.

    Among rows with ``T[i, col] > pivot_tol``, choose the row minimizing
    ``(T[i, rhs], T[i, lex_start], ..., T[i, lex_start + lex_size - 1]) / T[i, col]``
    lexicographically. The later columns are consulted only while ties remain,
    so a nondegenerate step costs one ratio column.

    Returns ``(row, found)``; ``found`` is False when no entry is positive
    (an unbounded ray: never the case for the positive games Lemke-Howson uses).
    """
    pivot_tol, tie_tol = tolerances(T.dtype)
    column = T[:, col]
    positive = column > pivot_tol
    safe = jnp.where(positive, column, 1.0)
    inf = jnp.asarray(jnp.inf, T.dtype)

    def keep_minimal(candidates, values):
        ratio = jnp.where(candidates, values / safe, inf)
        return candidates & (ratio <= jnp.min(ratio) + tie_tol)

    candidates = keep_minimal(positive, T[:, rhs])

    def tied(state):
        k, cand = state
        return (k < lex_size) & (jnp.sum(cand) > 1)

    def next_column(state):
        k, cand = state
        values = jax.lax.dynamic_index_in_dim(T, lex_start + k, axis=1, keepdims=False)
        return k + 1, keep_minimal(cand, values)

    _, candidates = jax.lax.while_loop(tied, next_column, (jnp.asarray(0), candidates))
    return jnp.argmax(candidates), jnp.any(positive)
