"""Vertex enumeration: all extreme Nash equilibria of a two-player game, by reverse search over the
vertices of both best-response polytopes.

**Equilibria as vertex pairs.** With each player's payoffs mapped onto ``[1, 2]`` (a positive affine
map: no equilibrium changes), the best-response polytopes are

    P = {x in R^m : x >= 0, B^T x <= 1},     Q = {y in R^n : y >= 0, A y <= 1}.

A point of ``P`` carries label ``i`` when ``x_i = 0`` and label ``m + j`` when ``(B^T x)_j = 1``; a
point of ``Q`` carries ``i`` when ``(A y)_i = 1`` and ``m + j`` when ``y_j = 0``. The extreme
equilibria are exactly the completely labelled vertex pairs ``(x, y) != (0, 0)`` (every label of
``0..m+n-1`` on ``x`` or on ``y``), normalized to sum 1 (von Stengel 2002, Theorem 3.4 and section
3.5; Avis, Rosenberg, Savani and von Stengel 2010). In a nondegenerate game these are all its
equilibria; in a degenerate one every equilibrium component is the convex hull of such pairs, which
is what Gambit's ``enummixed`` reports too.

**Reverse search.** The vertices of each polytope are listed by Avis and Fukuda's reverse search
(1992): the simplex method minimizing ``sum(z)`` from any basis, with Bland's rule for the entering
variable and the lexicographic minimum-ratio test for the leaving one (so degenerate vertices never
make it cycle: Avis 2000, lrs), defines a tree on the lexicographically feasible bases rooted at the
origin (the unique optimum). The tree is walked depth first *backwards*: at a basis, each cobasic
variable ``v`` in increasing order is pivoted in; the result is a child when the simplex step from it
is exactly the pivot back. No stack is kept: returning to the parent is one simplex step, and the
walk continues after the variable that just left. Every lexicographically feasible basis is visited
once; a degenerate vertex (several bases) is stored once. The walks of a batch of games (and of
``jax.vmap``, through ``custom_vmap``: the same program) run side by side in one
``jax.lax.while_loop``, their vertices in one flat buffer sized by McMullen's upper bound theorem; a
vertex is looked up among the stored ones by a scalar key and compared in full with its key matches.

**Tolerances.** Pivots and ties use :func:`solvers._core._pivoting.tolerances` on the ``[1, 2]``
payoffs; labels are read with ``tol`` (unit-free); every returned pair is checked independently
(each player's regret at most ``tol`` times its own payoff range).

References: D. Avis and K. Fukuda (1992), "A pivoting algorithm for convex hulls and vertex
enumeration of arrangements and polyhedra", Discrete & Computational Geometry 8; D. Avis (2000),
"lrs: a revised implementation of the reverse search vertex enumeration algorithm", in *Polytopes:
Combinatorics and Computation*; B. von Stengel (2002), "Computing equilibria for two-person games",
Handbook of Game Theory vol. 3, ch. 45; D. Avis, G. D. Rosenberg, R. Savani and B. von Stengel
(2010), "Enumeration of Nash equilibria for two-player games", Economic Theory 42.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from games import NormalFormGame

from .._core._pivoting import over_batch, exchange, lex_min_ratio_dictionary, one_and_many, tolerances, unit_range_plus_one
from .._core._result import EquilibriumSet, Status
from .._core._validation import check_count, check_game, check_tol
from ._support_enumeration import _max_vertices, max_nondegenerate_equilibria

__all__ = ["vertex_enumeration"]


class _Walk(NamedTuple):
    """The reverse-search walk over the bases of ``{z >= 0 : M z <= 1}``."""

    D: jax.Array  # dictionary: nonbasic columns, then the right-hand side; (r, c + 1)
    basis: jax.Array  # labels of the basic variables (z_k is label k, slack s_i is label c + i)
    nonbasic: jax.Array
    next_label: jax.Array  # try cobasic variables with labels >= this one
    depth: jax.Array
    count: jax.Array
    overflow: jax.Array
    steps: jax.Array


def _reduced_costs(D, basis, nonbasic, c):
    """Reduced costs of the nonbasic variables for ``min sum(z)``: ``cost_N - cost_B^T D_N``."""
    cost_basic = (basis < c).astype(D.dtype)
    cost_nonbasic = (nonbasic < c).astype(D.dtype)
    return cost_nonbasic - cost_basic @ D[:, :-1]


def _simplex_step(D, basis, nonbasic, c, lex):
    """Bland's entering variable (the improving one of least label) and the lex-min-ratio row.

    Returns ``(row, col, found)``; ``found`` is False at the optimum (the origin, the root)."""
    pivot_tol, _ = tolerances(D.dtype)
    improving = _reduced_costs(D, basis, nonbasic, c) < -pivot_tol
    big = jnp.iinfo(jnp.int32).max
    col = jnp.argmin(jnp.where(improving, nonbasic, big))
    row, bounded = lex_min_ratio_dictionary(D, col, basis, nonbasic, lex)
    return row, col, jnp.any(improving) & bounded


def _pivot(D, basis, nonbasic, row, col):
    leaving = basis[row]
    return exchange(D, row, col), basis.at[row].set(nonbasic[col]), nonbasic.at[col].set(leaving)


def _point(D, basis, c):
    """The basic solution's ``z``."""
    return jnp.zeros(c, D.dtype).at[jnp.where(basis < c, basis, c)].set(D[:, -1], mode="drop")


def _key_weights(columns, dtype):
    """The lookup key's weights: ``1 + frac(k / golden ratio)``, distinct and irrational-spaced, so distinct
    vertices rarely share a key (the lookup stays exact when they do: key matches are compared in full)."""
    return jnp.asarray([1.0 + (k * 0.6180339887498949) % 1.0 for k in range(1, columns + 1)], dtype)


def _vertices_many(Ms, *, capacity, max_steps):
    """All vertices of ``{z >= 0 : M z <= 1}`` for each of a stack of positive ``M`` (``(G, r, c)``):
    ``(vertices, count, overflow, steps)`` per polytope, the origin first; ``overflow`` when more than
    ``capacity`` vertices or ``max_steps`` ran out.

    The walks run side by side in one ``while_loop`` whose condition is *any walk still running* (a
    scalar), and a finished walk's step changes nothing; the vertex storage of all walks is one flat
    buffer written by one scatter per step (a ``vmap``-ed loop's per-step select, or a batched scatter,
    copied it whole at every step: 2.4x slower on 8x8 games). A new vertex is looked up among the stored
    ones by a scalar key ``z @ weights`` (irrational weights), and the first key match compared in full."""
    _, r, c = Ms.shape
    dtype = Ms.dtype
    lex = jnp.arange(c, c + r, dtype=jnp.int32)  # the slacks' columns hold B^{-1}
    same_tol = 1e3 * tolerances(dtype)[0]
    weights = _key_weights(c, dtype)
    key_scale = 2.0 * c  # |key(z) - key(z')| <= sum(weights) * max|z - z'|

    def start(M):
        zero = jnp.asarray(0, jnp.int32)
        D = jnp.concatenate([M, jnp.ones((r, 1), dtype)], axis=1)
        return _Walk(D, lex, jnp.arange(c, dtype=jnp.int32), zero, zero, jnp.asarray(1, jnp.int32),
                     jnp.asarray(False), zero)

    def unfinished(w):
        return (w.depth > 0) | jnp.any(w.nonbasic >= w.next_label)

    def running(w):
        return unfinished(w) & (w.steps < max_steps)

    def body(w):
        active = running(w)
        candidates = w.nonbasic >= w.next_label
        col = jnp.argmin(jnp.where(candidates, w.nonbasic, jnp.iinfo(jnp.int32).max))
        # Down: pivot the least untried cobasic variable in; a child if the simplex step leads back.
        row, bounded = lex_min_ratio_dictionary(w.D, col, w.basis, w.nonbasic, lex)
        D2, basis2, nonbasic2 = _pivot(w.D, w.basis, w.nonbasic, row, col)
        back_row, back_col, has_step = _simplex_step(D2, basis2, nonbasic2, c, lex)
        child = active & jnp.any(candidates) & bounded & has_step & (back_row == row) & (back_col == col)
        # Up (no candidate left): one simplex step to the parent; continue after the variable that left.
        up_row, up_col, _ = _simplex_step(w.D, w.basis, w.nonbasic, c, lex)
        D3, basis3, nonbasic3 = _pivot(w.D, w.basis, w.nonbasic, up_row, up_col)
        up = active & ~jnp.any(candidates)

        def pick(down, stay, parent):
            return jnp.where(child, down, jnp.where(up, parent, stay))

        D_new = pick(D2, w.D, D3)
        basis_new = pick(basis2, w.basis, basis3)
        nonbasic_new = pick(nonbasic2, w.nonbasic, nonbasic3)
        next_label = jnp.where(child, 0, jnp.where(up, w.basis[up_row] + 1,
                                                   jnp.where(active, w.nonbasic[col] + 1, w.next_label)))
        depth = w.depth + child.astype(jnp.int32) - up.astype(jnp.int32)
        # A new basis: store its vertex unless a degenerate sibling basis stored it already.
        z = _point(D2, basis2, c)
        walk = _Walk(D_new, basis_new, nonbasic_new, next_label.astype(jnp.int32), depth, w.count, w.overflow,
                     w.steps + active.astype(jnp.int32))
        return walk, z, child

    def step(state):
        # The storage of all walks is one flat buffer written by one scatter (one row per walk and step):
        # inside vmap it would be a batched scatter that XLA copies whole at every step.
        W, vertices, keys = state
        W, z, child = jax.vmap(body)(W)
        key = z @ weights
        stored = jnp.arange(capacity, dtype=jnp.int32)[None, :] < W.count[:, None]
        near = stored & (jnp.abs(keys.reshape(G, capacity) - key[:, None]) <= same_tol * key_scale)
        first = jnp.argmax(near, axis=1) + jnp.arange(G) * capacity
        seen = jnp.any(near, axis=1) & jnp.all(jnp.abs(vertices[first] - z) <= same_tol, axis=1)
        # Keys can coincide for distinct vertices: where a walk has more than one key match, compare all of
        # them in full (rare, so behind a conditional on the whole batch), so a vertex seen before is never
        # stored twice because another vertex's key came first.
        several = child & (jnp.sum(near.astype(jnp.int32), axis=1) > 1)

        def compare_all(seen):
            close = jnp.all(jnp.abs(vertices.reshape(G, capacity, c) - z[:, None, :]) <= same_tol, axis=2)
            return jnp.where(several, jnp.any(near & close, axis=1), seen)

        seen = jax.lax.cond(jnp.any(several), compare_all, lambda seen: seen, seen)
        new = child & ~seen
        row_of_walk = jnp.arange(G, dtype=jnp.int32) * capacity
        slot = jnp.where(new & (W.count < capacity), row_of_walk + W.count, G * capacity)
        vertices = vertices.at[slot].set(z, mode="drop")
        keys = keys.at[slot].set(key, mode="drop")
        W = W._replace(count=W.count + new.astype(jnp.int32), overflow=W.overflow | (new & (W.count >= capacity)))
        return W, vertices, keys

    G = Ms.shape[0]
    state = (jax.vmap(start)(Ms), jnp.zeros((G * capacity, c), dtype), jnp.zeros(G * capacity, dtype))
    walks, vertices, _ = jax.lax.while_loop(lambda S: jnp.any(jax.vmap(running)(S[0])), step, state)
    return (vertices.reshape(G, capacity, c), jnp.minimum(walks.count, capacity),
            walks.overflow | jax.vmap(unfinished)(walks), walks.steps)


def _pairs(payoffs, tol, xs, count_p, overflow_p, steps_p, ys, count_q, overflow_q, steps_q, *, rows):
    """The completely labelled vertex pairs of one game, checked, as an :class:`EquilibriumSet`."""
    A, B = payoffs[0], payoffs[1]
    m, n = A.shape
    dtype = A.dtype
    A1, B1 = unit_range_plus_one(A)[0], unit_range_plus_one(B)[0]
    KP, KQ = xs.shape[0], ys.shape[0]
    # The origin pairs with the origin only.
    valid_p = (jnp.arange(KP, dtype=jnp.int32) < count_p) & (jnp.sum(xs, 1) > 0)
    valid_q = (jnp.arange(KQ, dtype=jnp.int32) < count_q) & (jnp.sum(ys, 1) > 0)
    # Labels, read on the [1, 2] payoffs (unit-free): x_i = 0 or (B^T x)_j = 1; (A y)_i = 1 or y_j = 0.
    x_zero, x_tight = xs <= tol, xs @ B1 >= 1.0 - tol
    y_tight, y_zero = ys @ A1.T >= 1.0 - tol, ys <= tol
    labelled = (jnp.all(x_zero[:, None, :] | y_tight[None, :, :], axis=2)
                & jnp.all(x_tight[:, None, :] | y_zero[None, :, :], axis=2)
                & valid_p[:, None] & valid_q[None, :])
    degenerate = (jnp.any(valid_p & (jnp.sum(x_zero, 1) + jnp.sum(x_tight, 1) > m))
                  | jnp.any(valid_q & (jnp.sum(y_tight, 1) + jnp.sum(y_zero, 1) > n)))
    found = jnp.sum(labelled.astype(jnp.int32), dtype=jnp.int32)
    (flat,) = jnp.nonzero(labelled.reshape(-1), size=rows, fill_value=0)
    kept = jnp.arange(rows, dtype=jnp.int32) < found
    x, y = xs[flat // KQ], ys[flat % KQ]
    x = x / jnp.where(kept, jnp.sum(x, 1), 1.0)[:, None]
    y = y / jnp.where(kept, jnp.sum(y, 1), 1.0)[:, None]

    # Independent check of every row, each player against its own payoff range.
    values_row, values_col = y @ A.T, x @ B
    regret_row = jnp.max(values_row, 1) - jnp.sum(values_row * x, 1)
    regret_col = jnp.max(values_col, 1) - jnp.sum(values_col * y, 1)
    spread_a, spread_b = jnp.ptp(A), jnp.ptp(B)
    slop = tol + 16 * max(m, n) * jnp.finfo(dtype).eps
    certified = ((regret_row <= slop * jnp.where(spread_a > 0, spread_a, 1.0))
                 & (regret_col <= slop * jnp.where(spread_b > 0, spread_b, 1.0)))
    good = kept & certified
    order = jnp.argsort(~good, stable=True)
    mask = good[order]
    x = jnp.where(mask[:, None], x[order], 0.0)
    y = jnp.where(mask[:, None], y[order], 0.0)
    nash_conv = jnp.where(mask, (regret_row + regret_col)[order], 0.0)
    rejected = jnp.sum((kept & ~certified).astype(jnp.int32), dtype=jnp.int32)
    truncated = overflow_p | overflow_q | (found > rows)
    status = jnp.where(truncated, Status.MAX_STEPS, Status.CONVERGED)
    status = jnp.where(rejected > 0, Status.DEGENERATE, status)
    status = jnp.where(jnp.all(jnp.isfinite(payoffs)), status, Status.NONFINITE).astype(jnp.int32)
    stats = dict(degenerate=degenerate, found=found, truncated=truncated, rejected=rejected,
                 vertices=jnp.stack([count_p, count_q]))
    return EquilibriumSet(strategies=(x, y), mask=mask, count=jnp.sum(mask.astype(jnp.int32), dtype=jnp.int32),
                          residual=nash_conv, iterations=steps_p + steps_q, status=status, stats=stats)


@functools.lru_cache(maxsize=None)
def _entry_points(rows: int, max_steps: int):
    """``(one, many)`` (see :func:`~solvers._core._pivoting.one_and_many`): a stack of games walks its
    polytopes side by side, whether it comes from a batched call or from ``jax.vmap``."""

    def solve_many(payoffs, tols):
        m, n = payoffs.shape[-2:]
        unit = jax.vmap(lambda X: unit_range_plus_one(X)[0])
        P = _vertices_many(jnp.swapaxes(unit(payoffs[:, 1]), 1, 2), capacity=_max_vertices(m, m + n),
                           max_steps=max_steps)
        Q = _vertices_many(unit(payoffs[:, 0]), capacity=_max_vertices(n, m + n), max_steps=max_steps)
        return jax.vmap(functools.partial(_pairs, rows=rows))(payoffs, tols, *P, *Q)

    return one_and_many(solve_many)


@functools.partial(jax.jit, static_argnames=("rows", "max_steps", "batch_ndim"))
def _vertex_enumeration(payoffs, tol, *, rows, max_steps, batch_ndim):
    one, many = _entry_points(rows, max_steps)
    return over_batch(one, many, payoffs, tol, batch_ndim)


def vertex_enumeration(
    game: NormalFormGame,
    *,
    max_equilibria: int | None = None,
    max_steps: int | None = None,
    tol: float | None = None,
) -> EquilibriumSet:
    """All extreme Nash equilibria of a two-player game, by reverse search over the vertices of the
    best-response polytopes (Avis and Fukuda 1992; lexicographic pivoting as in lrs).

    Each completely labelled pair of vertices ``(x, y)`` of ``P = {x >= 0 : B^T x <= 1}`` and
    ``Q = {y >= 0 : A y <= 1}`` (payoffs mapped onto ``[1, 2]``), other than the origin, is an
    equilibrium ``(x / sum x, y / sum y)``. In a nondegenerate game these are all the equilibria (the
    same set as :func:`support_enumeration`); in a degenerate game they are the extreme equilibria, from
    which every equilibrium component is a convex hull (as Gambit's ``enummixed``).

    Args:
      game: a two-player :class:`~games.NormalFormGame`, possibly batched (``jax.vmap`` works too).
      max_equilibria: rows of the padded output (static). Default: the upper-bound-theorem bound of
        :func:`support_enumeration` (enough for any nondegenerate game), grown to the next power of two
        above the count found when a degenerate game has more extreme equilibria (eager calls; under
        ``jit`` such a game reports ``MAX_STEPS`` with the count in ``stats["found"]``).
      max_steps: the most steps of each polytope's walk (static; default ``64 * (m + n)`` times the
        larger upper-bound-theorem vertex count).
      tol: label tolerance on the ``[1, 2]`` payoffs and the certification tolerance (each player's regret
        relative to its own payoff range); default 1e-9 in float64, 1e-4 in float32.

    Returns:
      An :class:`~solvers.EquilibriumSet`; ``stats``: ``degenerate`` (a vertex carries more labels than
      its dimension), ``found``, ``truncated``, ``rejected`` (rows failing the independent check) and
      ``vertices`` (the vertex counts of ``P`` and ``Q``, origin included). Status ``CONVERGED``: every
      vertex was visited and every pair checked; ``MAX_STEPS``: storage or steps ran out (the rows are
      still equilibria); ``DEGENERATE``: a pair failed the check (labels within ``tol`` of a tie).

    Example:
      >>> import jax.numpy as jnp
      >>> from games import bimatrix
      >>> sexes = bimatrix(jnp.array([[3., 0.], [0., 2.]]), jnp.array([[2., 0.], [0., 3.]]))
      >>> result = vertex_enumeration(sexes)
      >>> int(result.count), str(Status(int(result.status)))
      (3, 'CONVERGED')

    Reference: Avis and Fukuda (1992); Avis (2000); von Stengel (2002), section 3.5; Avis, Rosenberg,
    Savani and von Stengel (2010).
    """
    check_game(game, num_players=2)
    m, n = game.num_actions
    rows = max_nondegenerate_equilibria(m, n) if max_equilibria is None else check_count(max_equilibria,
                                                                                         "max_equilibria")
    if max_steps is None:
        max_steps = 64 * (m + n) * max(_max_vertices(m, m + n), _max_vertices(n, m + n))
    max_steps = check_count(max_steps, "max_steps")
    tol = check_tol(tol, game.payoffs.dtype)
    solve = functools.partial(_vertex_enumeration, game.payoffs, tol, max_steps=max_steps,
                              batch_ndim=len(game.batch_shape))
    result = solve(rows=rows)
    if max_equilibria is None and not isinstance(game.payoffs, jax.core.Tracer):
        # A degenerate game may have more extreme equilibria than any nondegenerate one: grow the output
        # to the count found (outside jit; under jit the status says MAX_STEPS and stats["found"] how many).
        found = int(np.max(np.asarray(result.stats["found"]), initial=0))
        if found > rows:
            result = solve(rows=1 << (found - 1).bit_length())
    return result
