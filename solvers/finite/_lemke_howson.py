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

from games import NormalFormGame, regrets

from .._core._validation import check_game, check_positive_int, check_tol, payoff_scale
from .._core._pivoting import lex_min_ratio, pivot, unit_range_plus_one
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


@functools.partial(jax.jit, static_argnames=("max_steps", "batch_ndim", "slots"))
def _lemke_howson(payoffs, init_label, tol, *, max_steps, batch_ndim, slots=None):
    if batch_ndim == 0:
        return _lemke_howson_single(payoffs, init_label, tol, max_steps=max_steps)
    batch_shape = payoffs.shape[:batch_ndim]
    flat = payoffs.reshape((-1,) + payoffs.shape[batch_ndim:])
    if slots is None:
        slots = _default_slots(flat.shape[0])
    if slots >= flat.shape[0]:
        result = jax.vmap(lambda p: _lemke_howson_single(p, init_label, tol, max_steps=max_steps))(flat)
    else:
        result = _lemke_howson_queue(flat, init_label, tol, max_steps=max_steps, slots=slots)
    return jax.tree_util.tree_map(lambda a: a.reshape(batch_shape + a.shape[1:]), result)


def _default_slots(batch: int) -> int:
    """Slots of the work queue. 128 was fastest for 10,000 random 20x20 games on a 2-core CPU
    (benchmarks/RESULTS.md); more slots lengthen the tail after the queue empties, fewer
    leave the vector units idle."""
    return int(min(batch, 128))


class _Path(NamedTuple):
    """Where one Lemke-Howson path stands: both tableaux, their bases, the entering label."""

    T0: jax.Array  # tableau of P (rows: column actions): x (labels 0..m-1), slacks s (labels m..), rhs
    T1: jax.Array  # tableau of Q (rows: row actions): slacks r (labels 0..m-1), y (labels m..), rhs
    basis0: jax.Array
    basis1: jax.Array
    entering: jax.Array
    turn: jax.Array  # which tableau pivots next
    done: jax.Array
    degenerate: jax.Array
    steps: jax.Array


def _start(payoffs, init_label) -> _Path:
    dtype = payoffs.dtype
    A = unit_range_plus_one(payoffs[0])[0]
    B = unit_range_plus_one(payoffs[1])[0]
    m, n = A.shape
    T0 = jnp.concatenate([B.T, jnp.eye(n, dtype=dtype), jnp.ones((n, 1), dtype)], axis=1)
    T1 = jnp.concatenate([jnp.eye(m, dtype=dtype), A, jnp.ones((m, 1), dtype)], axis=1)
    false = jnp.asarray(False)
    return _Path(T0, T1, jnp.arange(m, m + n), jnp.arange(m), jnp.asarray(init_label),
                 jnp.where(init_label < m, 0, 1), false, false, jnp.asarray(0))


def _advance(path: _Path, init_label, max_steps) -> _Path:
    """Up to two pivots: one in the tableau of P, then one in that of Q (the path alternates)."""
    n, m = path.T0.shape[0], path.T1.shape[0]
    rhs = m + n
    lex = ((m, n), (0, m))  # the slack block of each tableau holds B^{-1}: columns [start, start+size)
    T = [path.T0, path.T1]
    basis = [path.basis0, path.basis1]
    entering, turn, done, degenerate, steps = path.entering, path.turn, path.done, path.degenerate, path.steps
    for t in (0, 1):
        active = (~done) & (turn == t) & (steps < max_steps)
        row, found = lex_min_ratio(T[t], entering, rhs=rhs, lex_start=lex[t][0], lex_size=lex[t][1])
        leaving = basis[t][row]
        moving = active & found
        T[t] = pivot(T[t], row, entering, moving)
        basis[t] = jnp.where(moving, basis[t].at[row].set(entering), basis[t])
        degenerate = degenerate | (active & ~found)
        done = done | (moving & (leaving == init_label)) | (active & ~found)
        entering = jnp.where(moving, leaving, entering)
        turn = jnp.where(moving, 1 - t, turn)
        steps = steps + moving.astype(steps.dtype)
    return _Path(T[0], T[1], basis[0], basis[1], entering, turn, done, degenerate, steps)


def _vertex(path: _Path):
    """The (unnormalized) x and y of the current vertex."""
    n, m = path.T0.shape[0], path.T1.shape[0]
    rhs = m + n
    dtype = path.T0.dtype
    x = jnp.zeros(m, dtype).at[jnp.where(path.basis0 < m, path.basis0, m)].set(path.T0[:, rhs], mode="drop")
    y = jnp.zeros(n, dtype).at[jnp.where(path.basis1 >= m, path.basis1 - m, n)].set(path.T1[:, rhs], mode="drop")
    return x, y


def _finish(payoffs, x, y, done, degenerate, steps, tol) -> Equilibrium:
    strategies = (x / jnp.sum(x), y / jnp.sum(y))
    nash_conv = jnp.sum(regrets(NormalFormGame(payoffs, num_players=2), strategies))
    status = final_status(nash_conv, done, tol * payoff_scale(payoffs, 2), degenerate=degenerate)
    # A path cut short ends at a vertex where one player's vector may be zero (NaN once
    # normalized): that is a MAX_STEPS result, not a numerical failure.
    status = jnp.where(done, status, Status.MAX_STEPS).astype(jnp.int32)
    return Equilibrium(strategies=strategies, residual=nash_conv, iterations=steps, status=status)


def _lemke_howson_single(payoffs, init_label, tol, *, max_steps):
    path = jax.lax.while_loop(
        lambda p: (~p.done) & (p.steps < max_steps),
        lambda p: _advance(p, init_label, max_steps),
        _start(payoffs, init_label),
    )
    return _finish(payoffs, *_vertex(path), path.done, path.degenerate, path.steps, tol)


def _lemke_howson_queue(payoffs, init_label, tol, *, max_steps, slots, refill_every=4):
    """Many games through a fixed number of ``slots`` (a work queue inside one jitted loop).

    Paths have very different lengths (for random 20x20 games the mean is near 27
    pivots and the longest of 10,000 over 400), so running all games in lockstep
    wastes most of the work. Here each slot follows one path; every
    ``refill_every`` double pivots, finished slots hand their vertex to the output
    and take the next game from the queue.
    """
    num_games = payoffs.shape[0]
    m, n = payoffs.shape[-2:]
    dtype = payoffs.dtype
    start = jax.vmap(lambda p: _start(p, init_label))
    advance = jax.vmap(lambda p: _advance(p, init_label, max_steps))
    vertex = jax.vmap(_vertex)

    ids = jnp.arange(slots)
    outputs = (jnp.zeros((num_games, m), dtype), jnp.zeros((num_games, n), dtype),
               jnp.zeros(num_games, bool), jnp.zeros(num_games, bool), jnp.zeros(num_games, jnp.int32))
    state = (start(payoffs[:slots]), ids, jnp.ones(slots, bool), jnp.asarray(slots), outputs)

    def cond(state):
        _, _, busy, _, _ = state
        return jnp.any(busy)

    def body(state):
        paths, ids, busy, queued, outputs = state
        paths = jax.lax.fori_loop(0, refill_every, lambda _, p: advance(p), paths)
        finished = busy & (paths.done | (paths.steps >= max_steps))
        x, y = vertex(paths)
        where = jnp.where(finished, ids, num_games)  # out of range: dropped
        xs, ys, dones, degenerates, steps = outputs
        outputs = (xs.at[where].set(x, mode="drop"), ys.at[where].set(y, mode="drop"),
                   dones.at[where].set(paths.done, mode="drop"),
                   degenerates.at[where].set(paths.degenerate, mode="drop"),
                   steps.at[where].set(paths.steps.astype(jnp.int32), mode="drop"))
        new_ids = queued + jnp.cumsum(finished) - 1
        refill = finished & (new_ids < num_games)
        fresh = start(payoffs[jnp.where(refill, new_ids, 0)])
        paths = jax.tree_util.tree_map(
            lambda new, old: jnp.where(refill.reshape((-1,) + (1,) * (old.ndim - 1)), new, old), fresh, paths)
        ids = jnp.where(refill, new_ids, ids)
        busy = jnp.where(finished, refill, busy)
        return paths, ids, busy, queued + jnp.sum(finished), outputs

    _, _, _, _, (xs, ys, dones, degenerates, steps) = jax.lax.while_loop(cond, body, state)
    return jax.vmap(lambda p, x, y, d, g, s: _finish(p, x, y, d, g, s, tol))(payoffs, xs, ys, dones,
                                                                               degenerates, steps)
