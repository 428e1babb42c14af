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


def one_and_many(solve_many):
    """The single-game and many-game entry points of a pivoting solver, sharing one batched path.

    ``solve_many(*args)`` solves a stack of games: every argument has a leading game axis of the same
    length, and so has every leaf of its result. Returns ``(one, many)``:

    - ``many(*args)`` calls ``solve_many``; under ``jax.vmap`` the mapped axis is folded into the game
      axis, so nested vmaps still make one call of ``solve_many`` on all games;
    - ``one(*args)`` solves a single game (arguments without the game axis) as a stack of one; under
      ``jax.vmap`` it becomes ``many`` on the stacked games (unmapped arguments are broadcast).

    So ``jax.vmap(solver)(games)`` runs the same program as the batched call ``solver(games)`` (for
    Lemke-Howson: its work queue, not lockstep while loops in which every game waits for the slowest),
    and gives the same bits. Built on ``jax.custom_batching.custom_vmap``.
    """

    def fold(axis_size, in_batched, args, game_axis):
        folded = []
        for arg, batched in zip(args, in_batched):
            if not batched:
                arg = jnp.broadcast_to(arg, (axis_size,) + arg.shape)
            if game_axis:
                arg = arg.reshape((axis_size * arg.shape[1],) + arg.shape[2:])
            folded.append(arg)
        return folded

    @jax.custom_batching.custom_vmap
    def many(*args):
        return solve_many(*args)

    @many.def_vmap
    def _many_rule(axis_size, in_batched, *args):
        out = many(*fold(axis_size, in_batched, args, game_axis=True))
        out = jax.tree_util.tree_map(lambda a: a.reshape((axis_size, a.shape[0] // axis_size) + a.shape[1:]), out)
        return out, jax.tree_util.tree_map(lambda _: True, out)

    @jax.custom_batching.custom_vmap
    def one(*args):
        out = many(*(jnp.asarray(a)[None] for a in args))
        return jax.tree_util.tree_map(lambda a: a[0], out)

    @one.def_vmap
    def _one_rule(axis_size, in_batched, *args):
        out = many(*fold(axis_size, in_batched, args, game_axis=False))
        return out, jax.tree_util.tree_map(lambda _: True, out)

    return one, many


def exchange(D: jax.Array, row: jax.Array, col: jax.Array, active: jax.Array | bool = True) -> jax.Array:
    """A pivot in dictionary form: nonbasic column ``col`` enters, the basic variable of ``row`` leaves.

    ``D`` holds the tableau columns of the nonbasic variables and, last, the right-hand side (the basic
    variables' columns are unit vectors and are not stored). With ``p = D[row, col]`` and ``d = D[:, col]``
    every column becomes ``D - (d - e_row) D[row] / p`` (Gauss-Jordan), except column ``col``, which now
    belongs to the leaving variable: ``-d / p`` with ``1 / p`` in ``row``. With ``active`` False, ``D`` is
    returned unchanged.

    The update is a plain rank-one multiply-subtract followed by a write of column ``col`` (a select
    between the two inside the update made the pivot about a third slower on a CPU under ``vmap``).
    """
    return exchange_split(D, None, row, col, active)[0]


def exchange_split(D: jax.Array, rhs: jax.Array | None, row: jax.Array, col: jax.Array,
                   active: jax.Array | bool = True) -> tuple[jax.Array, jax.Array | None]:
    """:func:`exchange` on a dictionary whose right-hand side ``rhs`` is kept apart from its nonbasic
    columns ``D`` (``None``: ``D``'s last column is the right-hand side, as in :func:`exchange`). The same
    arithmetic, so the same bits; returns ``(D, rhs)``.

    Keeping ``rhs`` apart lets a work queue read the current vertex (the right-hand sides and bases)
    without reading ``D``, so XLA updates ``D`` in place instead of copying it for the reader."""
    rows = D.shape[0]
    active = jnp.asarray(active)
    p = D[row, col]
    p = jnp.where(active, p, jnp.ones_like(p))  # an idle pivot may sit on a zero: keep its vectors finite
    d = D[:, col]
    at_row = jnp.arange(rows, dtype=jnp.asarray(row).dtype) == row
    pivot_row = D[row] / p
    adjust = jnp.where(active, d - at_row.astype(D.dtype), jnp.zeros_like(d))
    leaving = jnp.where(active, jnp.where(at_row, 1.0 / p, -d / p), d)  # idle: the column is written back
    D = (D - adjust[:, None] * pivot_row[None, :]).at[:, col].set(leaving)
    if rhs is not None:
        rhs = rhs - adjust * (rhs[row] / p)
    return D, rhs


def materialized(x: jax.Array) -> jax.Array:
    """``x`` unchanged, as the output of a reduction (of ``x`` and zeros, with a reducer XLA does not
    recognize), so that XLA ends a fusion there: a gather or scatter indexed by ``x`` then reads it
    instead of recomputing it for every element it moves. (``lax.optimization_barrier`` does not do
    this on a CPU: it is expanded before fusion.)"""
    return jax.lax.reduce(jnp.stack([x, jnp.zeros_like(x)]), jnp.zeros((), x.dtype), lambda a, b: a - (-b), (0,))


def lex_min_ratio_dictionary(D: jax.Array, col: jax.Array, basis: jax.Array, nonbasic: jax.Array,
                             lex_labels: jax.Array) -> tuple[jax.Array, jax.Array]:
    """:func:`lex_min_ratio` for a dictionary (nonbasic columns, then the right-hand side).

    Ties in ``rhs / D[:, col]`` go to the columns of ``B^{-1}``, i.e. of the original slack variables
    ``lex_labels`` in order: a nonbasic slack's column is in ``D``, a basic one's is a unit vector.
    Returns ``(row, found)``. It is :func:`min_ratio_rows` followed by :func:`break_ratio_ties`.
    """
    candidates, safe, found = min_ratio_rows(D, col)
    candidates = break_ratio_ties(D, candidates, safe, basis, nonbasic, lex_labels)
    return jnp.argmax(candidates), found


def min_ratio_rows(D: jax.Array, col: jax.Array, rhs: jax.Array | None = None
                   ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The first stage of the ratio test for entering column ``col`` of a dictionary: the rows with a
    positive entry whose ratio ``rhs / D[:, col]`` is minimal (within the tie tolerance). ``rhs``: the
    right-hand side where it is kept apart from ``D`` (default: ``D``'s last column).

    Returns ``(candidates, safe, found)``: the rows, the column with non-pivots replaced by one (for
    :func:`break_ratio_ties`) and whether any entry is positive (read off the minimum ratio, which is
    finite exactly then: one reduction fewer).
    """
    pivot_tol, tie_tol = tolerances(D.dtype)
    column = D[:, col]
    positive = column > pivot_tol
    safe = jnp.where(positive, column, 1.0)
    rhs = D[:, -1] if rhs is None else rhs
    ratio = jnp.where(positive, rhs / safe, jnp.asarray(jnp.inf, D.dtype))
    least = jnp.min(ratio)
    return positive & (ratio <= least + tie_tol), safe, jnp.isfinite(least)


def break_ratio_ties(D: jax.Array, candidates: jax.Array, safe: jax.Array, basis: jax.Array,
                     nonbasic: jax.Array, lex_labels: jax.Array) -> jax.Array:
    """The lexicographic stage of the ratio test: while more than one row ties, keep the rows of
    minimal ratio in the next column of ``B^{-1}`` (the columns of the slack labels ``lex_labels``)."""
    _, tie_tol = tolerances(D.dtype)

    def tied(state):
        k, cand = state
        return (k < lex_labels.shape[0]) & (jnp.sum(cand.astype(jnp.int32)) > 1)

    def next_column(state):
        k, cand = state
        label = lex_labels[k]
        is_nonbasic = nonbasic == label
        values = jnp.where(jnp.any(is_nonbasic), D[:, jnp.argmax(is_nonbasic)], (basis == label).astype(D.dtype))
        return k + 1, _keep_minimal(cand, values, safe, tie_tol)

    _, candidates = jax.lax.while_loop(tied, next_column, (jnp.asarray(0, jnp.int32), candidates))
    return candidates


def _keep_minimal(candidates, values, safe, tie_tol):
    ratio = jnp.where(candidates, values / safe, jnp.asarray(jnp.inf, values.dtype))
    return candidates & (ratio <= jnp.min(ratio) + tie_tol)


def first_true(mask: jax.Array) -> jax.Array:
    """Index of the first True along the last axis of ``mask`` (its length where there is none), as a
    minimum over int32 indices (XLA's ``argmax`` is a variadic value-and-index reduction; alone, on a
    CPU, over a (64, 20) batch it measured about five times slower than this)."""
    size = mask.shape[-1]
    return jnp.min(jnp.where(mask, jnp.arange(size, dtype=jnp.int32), jnp.int32(size)), axis=-1)


def last_true(mask: jax.Array) -> jax.Array:
    """Index of the last True along the last axis of ``mask`` (-1 where there is none)."""
    size = mask.shape[-1]
    return jnp.max(jnp.where(mask, jnp.arange(size, dtype=jnp.int32), jnp.int32(-1)), axis=-1)


def min_max(x: jax.Array, axes) -> tuple[jax.Array, jax.Array]:
    """``(min, max)`` of ``x`` over ``axes`` in one pass (a variadic reduction: large batches of games are
    read once, not twice)."""
    inf = jnp.asarray(jnp.inf, x.dtype)

    def combine(a, b):
        return jnp.minimum(a[0], b[0]), jnp.maximum(a[1], b[1])

    return jax.lax.reduce((x, x), (inf, -inf), combine, tuple(axes))


def over_batch(one, many, payoffs, tol, batch_ndim: int):
    """``one(payoffs, tol)`` for a single game, else ``many`` on the flattened batch, reshaped back: the
    entry of the batched finite solvers (the batch axes are the leading ``batch_ndim`` of ``payoffs``)."""
    tol = jnp.asarray(tol, payoffs.dtype)
    if batch_ndim == 0:
        return one(payoffs, tol)
    batch_shape = payoffs.shape[:batch_ndim]
    flat = payoffs.reshape((-1,) + payoffs.shape[batch_ndim:])
    result = many(flat, jnp.broadcast_to(tol, flat.shape[:1]))
    return jax.tree_util.tree_map(lambda a: a.reshape(batch_shape + a.shape[1:]), result)
