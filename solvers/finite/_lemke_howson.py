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
from typing import NamedTuple

import jax
import jax.numpy as jnp

from games import NormalFormGame

from .._core._pivoting import (break_ratio_ties, exchange_split, first_true, last_true, materialized, min_max,
                               min_ratio_rows, one_and_many, unit_range_plus_one)
from .._core._validation import check_game, check_label, check_positive_int, check_tol
from .._core._result import Equilibrium, Status, final_status, maybe_throw

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
      game: a two-player :class:`~games.NormalFormGame`, possibly batched. A batch, or ``jax.vmap`` of
        this function (the same program, the same bits), runs through one jitted work queue of 64 paths
        that take the next game as they finish, each answer certified on its own payoffs.
      init_label: the label dropped first, ``0 <= init_label < m + n``
        (``< m``: a row action, else column action ``init_label - m``).
        Different labels may lead to different equilibria.
      max_steps: the most pivots (static: it fixes the traced loop).
      tol: ``CONVERGED`` needs every player's regret to be at most ``tol`` times that player's own
        payoff range (default 1e-9 in float64, 1e-4 in float32).
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
    init_label = check_label(init_label, m + n)
    max_steps = check_positive_int(max_steps, "max_steps")
    tol = check_tol(tol, game.payoffs.dtype)
    result = _lemke_howson(game.payoffs, jnp.asarray(init_label, jnp.int32), tol, max_steps=max_steps,
                           batch_ndim=len(game.batch_shape))
    return maybe_throw(result, throw, "lemke_howson")


@functools.partial(jax.jit, static_argnames=("max_steps", "batch_ndim", "slots"))
def _lemke_howson(payoffs, init_label, tol, *, max_steps, batch_ndim, slots=None):
    one, many = _entry_points(max_steps, slots)
    tol = jnp.asarray(tol, payoffs.dtype)
    if batch_ndim == 0:
        return one(payoffs, init_label, tol)
    batch_shape = payoffs.shape[:batch_ndim]
    flat = payoffs.reshape((-1,) + payoffs.shape[batch_ndim:])
    count = flat.shape[:1]
    result = many(flat, jnp.broadcast_to(init_label, count), jnp.broadcast_to(tol, count))
    return jax.tree_util.tree_map(lambda a: a.reshape(batch_shape + a.shape[1:]), result)


@functools.lru_cache(maxsize=None)
def _entry_points(max_steps: int, slots: int | None):
    """``(one, many)`` (see :func:`~solvers._core._pivoting.one_and_many`): a stack of games goes through
    the work queue, whether it comes from a batched call or from ``jax.vmap``."""

    def solve_many(payoffs, labels, tols):
        count = payoffs.shape[0]
        num_slots = _default_slots(count) if slots is None else slots
        if num_slots >= count:  # few games: lockstep
            return _lemke_howson_lockstep(payoffs, labels, tols, max_steps=max_steps)
        return _lemke_howson_queue(payoffs, labels, tols, max_steps=max_steps, slots=num_slots)

    return one_and_many(solve_many)


def _default_slots(batch: int) -> int:
    """Slots of the work queue. 64 was fastest for 10,000 random 20x20 games on a shared 2-core CPU
    (48 to 64 within noise; 128 was 10% slower, 256 a third): more slots lengthen the tail after the
    queue empties and leave the working set out of cache, fewer pay the fixed cost of each kernel
    launch on fewer pivots."""
    return int(min(batch, 64))


class _Path(NamedTuple):
    """Where one Lemke-Howson path stands: both dictionaries, their bases, the entering label.

    A dictionary keeps the tableau columns of the nonbasic variables only (the basic ones are unit
    vectors): half the memory and arithmetic of the full tableau. Its right-hand side is kept apart, so
    that the work queue reads a finished path's vertex (right-hand sides and bases) without reading the
    dictionaries (a reader made XLA copy both at every refill).
    """

    D0: jax.Array  # P (rows: column actions' constraints): nonbasic columns; (n, m)
    rhs0: jax.Array  # (n,)
    D1: jax.Array  # Q (rows: row actions' constraints): nonbasic columns; (m, n)
    rhs1: jax.Array  # (m,)
    basis0: jax.Array  # labels of P's basic variables: x_i is label i, slack s_j is label m + j
    nonbasic0: jax.Array
    basis1: jax.Array  # labels of Q's basic variables: slack r_i is label i, y_j is label m + j
    nonbasic1: jax.Array
    label: jax.Array  # the label dropped first; the path ends when it is picked up again
    entering: jax.Array
    turn: jax.Array  # which dictionary pivots next
    done: jax.Array
    degenerate: jax.Array
    steps: jax.Array


def _start(payoffs, init_label) -> _Path:
    dtype = payoffs.dtype
    A = unit_range_plus_one(payoffs[0])[0]
    B = unit_range_plus_one(payoffs[1])[0]
    m, n = A.shape
    D0, rhs0 = B.T, jnp.ones(n, dtype)  # s = 1 - B^T x
    D1, rhs1 = A, jnp.ones(m, dtype)  # r = 1 - A y
    false = jnp.asarray(False)
    label = jnp.asarray(init_label, jnp.int32)
    slacks0, xs = jnp.arange(m, m + n, dtype=jnp.int32), jnp.arange(m, dtype=jnp.int32)
    turn = jnp.where(label < m, 0, 1).astype(jnp.int32)
    return _Path(D0, rhs0, D1, rhs1, slacks0, xs, xs, slacks0, label, label, turn, false, false,
                 jnp.asarray(0, jnp.int32))


def _advance(path: _Path, max_steps) -> _Path:
    """Up to two pivots of every path of a batch (leading axis): one in the dictionary of P, then one in
    that of Q (a path alternates).

    The lexicographic stage of the ratio test runs only when some path of the batch has a tie (a
    conditional on the whole batch, rare in nondegenerate games), so the common step is a few fused
    array operations with no loop.
    """
    n, m = path.D0.shape[1], path.D1.shape[1]
    lex = (jnp.arange(m, m + n, dtype=jnp.int32), jnp.arange(m, dtype=jnp.int32))  # slack labels: B^{-1}
    D = [path.D0, path.D1]
    rhs = [path.rhs0, path.rhs1]
    basis = [path.basis0, path.basis1]
    nonbasic = [path.nonbasic0, path.nonbasic1]
    entering, turn, done, degenerate, steps = path.entering, path.turn, path.done, path.degenerate, path.steps
    for t in (0, 1):
        active = (~done) & (turn == t) & (steps < max_steps)
        col = first_true(nonbasic[t] == entering[:, None])
        candidates, safe, found = jax.vmap(min_ratio_rows)(D[t], col, rhs[t])
        row = first_true(candidates)
        tied = jnp.any(active & (last_true(candidates) > row))
        break_ties = jax.vmap(break_ratio_ties, in_axes=(0, 0, 0, 0, 0, None))
        row = jax.lax.cond(tied, lambda r, t=t: first_true(break_ties(D[t], candidates, safe, basis[t], nonbasic[t],
                                                                       lex[t])),
                           lambda r: r, row)
        row = jnp.where(found, row, 0)  # no pivot row: the path stops (DEGENERATE); keep the indices in range
        leaving = jnp.take_along_axis(basis[t], row[:, None], axis=1)[:, 0]
        moving = active & found
        D[t], rhs[t] = jax.vmap(exchange_split)(D[t], rhs[t], row, col, moving)
        at_row = jnp.arange(basis[t].shape[1], dtype=jnp.int32) == row[:, None]
        at_col = jnp.arange(nonbasic[t].shape[1], dtype=jnp.int32) == col[:, None]
        basis[t] = jnp.where(moving[:, None] & at_row, entering[:, None], basis[t])
        nonbasic[t] = jnp.where(moving[:, None] & at_col, leaving[:, None], nonbasic[t])
        degenerate = degenerate | (active & ~found)
        done = done | (moving & (leaving == path.label)) | (active & ~found)
        entering = jnp.where(moving, leaving, entering)
        turn = jnp.where(moving, 1 - t, turn)
        steps = steps + moving.astype(steps.dtype)
    return _Path(D[0], rhs[0], D[1], rhs[1], basis[0], nonbasic[0], basis[1], nonbasic[1], path.label, entering,
                 turn, done, degenerate, steps)


def _vertex(path: _Path):
    """The (unnormalized) x and y of the current vertex of every path of a batch (leading axis)."""
    return _vertex_of(path.rhs0, path.basis0, path.rhs1, path.basis1)


def _vertex_of(rhs0, basis0, rhs1, basis1):
    """x and y from the right-hand sides and bases of both dictionaries: x_i is the value of label i
    where it is basic in P (else 0), y_j that of label m + j in Q."""
    m, n = rhs1.shape[-1], rhs0.shape[-1]
    is_x = basis0[..., None, :] == jnp.arange(m, dtype=basis0.dtype)[:, None]  # (..., m, n)
    is_y = basis1[..., None, :] == jnp.arange(m, m + n, dtype=basis1.dtype)[:, None]  # (..., n, m)
    x = jnp.sum(jnp.where(is_x, rhs0[..., None, :], 0.0), axis=-1)
    y = jnp.sum(jnp.where(is_y, rhs1[..., None, :], 0.0), axis=-1)
    return x, y


def _finish(payoffs, x, y, done, degenerate, steps, tols) -> Equilibrium:
    """Normalize and certify the vertices of a batch of games (leading axis) on their own payoffs.

    Regrets are computed on each player's payoffs shifted to a minimum of zero (so a shift of the
    payoffs adds no rounding, and each player is certified against its own payoff range), then NashConv
    is reported in payoff units. Written on the whole batch, never slicing one player's payoffs out of
    ``payoffs``: XLA's CPU reductions copied such a slice (and a shift broadcast over whole matrices)
    before reading it, which made certifying 10,000 random 20x20 games cost 4 us per game instead of 2.
    """
    x = x / jnp.sum(x, axis=-1, keepdims=True)
    y = y / jnp.sum(y, axis=-1, keepdims=True)
    lo, hi = min_max(payoffs, axes=(2, 3))  # (games, 2): each player's payoff range
    m, n = payoffs.shape[-2:]
    # The shift broadcast along one axis only, materialized (see the docstring).
    lo_rows = materialized(jnp.broadcast_to(lo[..., None], lo.shape + (n,)))[..., None, :]
    lo_cols = materialized(jnp.broadcast_to(lo[..., None], lo.shape + (m,)))[..., :, None]
    row_values = jnp.sum((payoffs - lo_rows) * y[:, None, None, :], axis=-1)[:, 0]  # (games, m)
    col_values = jnp.sum((payoffs - lo_cols) * x[:, None, :, None], axis=-2)[:, 1]  # (games, n)
    regrets = jnp.stack([jnp.max(row_values, -1) - jnp.sum(row_values * x, -1),
                         jnp.max(col_values, -1) - jnp.sum(col_values * y, -1)], axis=-1)
    nash_conv = jnp.sum(regrets, axis=-1)
    spread = hi - lo
    unit_regrets = regrets / jnp.where(spread > 0, spread, 1.0)
    status = final_status(jnp.max(unit_regrets, axis=-1), done, tols, degenerate=degenerate)
    # A path cut short ends at a vertex where one player's vector may be zero (NaN once
    # normalized): that is a MAX_STEPS result, not a numerical failure.
    status = jnp.where(done, status, Status.MAX_STEPS).astype(jnp.int32)
    return Equilibrium(strategies=(x, y), residual=nash_conv, iterations=steps, status=status)


def _lemke_howson_lockstep(payoffs, labels, tols, *, max_steps):
    """A few games (leading axis) in lockstep: every game pivots until the last path ends."""
    path = jax.lax.while_loop(
        lambda p: jnp.any((~p.done) & (p.steps < max_steps)),
        lambda p: _advance(p, max_steps),
        jax.vmap(_start)(payoffs, labels),
    )
    return _finish(payoffs, *_vertex(path), path.done, path.degenerate, path.steps, tols)


def _lemke_howson_queue(payoffs, labels, tols, *, max_steps, slots, refill_every=3, refill_size=None):
    """Many games through a fixed number of ``slots`` (a work queue inside one jitted loop).

    Paths have very different lengths (for random 20x20 games the mean is near 27
    pivots and the longest of 10,000 over 400), so running all games in lockstep
    wastes most of the work. Here each slot follows one path; every
    ``refill_every`` double pivots, up to ``refill_size`` idle slots write the vertex their
    path ended at (and its flags) to the output and take the next games of the queue (a
    contiguous block of the input). Only those few slots are read and written, and only
    their right-hand sides and bases, never the dictionaries (which XLA then updates in
    place); the slots still holding a finished path when the queue is empty are written
    out once, at the end. Every answer is then certified on its own payoffs in one
    vectorized pass over all games: certifying each refill's games inside the loop
    gathered their payoffs there and took a third of the time (10,000 random 20x20 games:
    21 us per game against 30 us, the same answers).
    """
    num_games = payoffs.shape[0]
    m, n = payoffs.shape[-2:]
    dtype = payoffs.dtype
    refill_size = max(1, slots // 4) if refill_size is None else min(refill_size, slots)
    start = jax.vmap(_start)

    def running(paths, holding):
        return holding & ~(paths.done | (paths.steps >= max_steps))

    def write(outputs, paths, slot, where):
        """The vertices and flags of the paths in slots ``slot`` into rows ``where`` of the outputs (out of
        range: dropped). Only what the vertex and the status need is read from the slots."""
        rhs0, basis0, rhs1, basis1, done, degenerate, steps = (
            a[slot] for a in (paths.rhs0, paths.basis0, paths.rhs1, paths.basis1, paths.done,
                              paths.degenerate, paths.steps))
        found = (*_vertex_of(rhs0, basis0, rhs1, basis1), done, degenerate, steps)
        return tuple(out.at[where].set(new, mode="drop") for out, new in zip(outputs, found))

    outputs = (jnp.zeros((num_games, m), dtype), jnp.zeros((num_games, n), dtype), jnp.zeros(num_games, bool),
               jnp.zeros(num_games, bool), jnp.zeros(num_games, jnp.int32))
    state = (start(payoffs[:slots], labels[:slots]), jnp.arange(slots, dtype=jnp.int32), jnp.ones(slots, bool),
             jnp.asarray(slots, jnp.int32), outputs)

    def cond(state):
        paths, _, holding, queued, _ = state
        return jnp.any(running(paths, holding)) | (queued < num_games)

    def body(state):
        paths, ids, holding, queued, outputs = state
        for _ in range(refill_every):  # unrolled: a nested loop would copy the dictionaries in and out
            paths = _advance(paths, max_steps)
        # The first few idle slots write out the path each one holds...
        (free,) = jnp.nonzero(~running(paths, holding), size=refill_size, fill_value=slots)
        free = materialized(free)
        valid = free < slots
        slot = jnp.where(valid, free, 0)
        flush = valid & holding[slot]
        outputs = write(outputs, paths, slot, jnp.where(flush, ids[slot], num_games))
        # ... and take the next games: the block [first, first + refill_size) of the input, less those
        # already taken (the block is shifted back at the end of the queue so that it stays inside).
        first = jnp.minimum(queued, num_games - refill_size)
        block = jnp.arange(refill_size, dtype=jnp.int32)
        rank = block - (queued - first)  # the k-th free slot takes the block's row of rank k
        to = jnp.where(rank >= 0, free[jnp.clip(rank, 0, refill_size - 1)], slots)
        take = (rank >= 0) & (to < slots)
        target = materialized(jnp.where(take, to, slots))  # out of range: dropped
        fresh = start(jax.lax.dynamic_slice_in_dim(payoffs, first, refill_size),
                      jax.lax.dynamic_slice_in_dim(labels, first, refill_size))
        paths = jax.tree_util.tree_map(lambda old, new: old.at[target].set(new, mode="drop"), paths, fresh)
        ids = ids.at[target].set(first + block, mode="drop")
        holding = holding.at[jnp.where(flush, slot, slots)].set(False, mode="drop").at[target].set(True, mode="drop")
        return paths, ids, holding, queued + jnp.sum(take.astype(jnp.int32), dtype=jnp.int32), outputs

    paths, ids, holding, _, outputs = jax.lax.while_loop(cond, body, state)
    outputs = write(outputs, paths, jnp.arange(slots), jnp.where(holding, ids, num_games))
    return _finish(payoffs, *outputs, tols)  # every answer certified on its own payoffs, in one pass
