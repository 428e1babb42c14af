"""Support enumeration: all Nash equilibria of a nondegenerate two-player game, and a certificate,
read off the game itself, that the game is nondegenerate.

**Equilibria.** In a nondegenerate bimatrix game ``(A, B)`` of shape ``(m, n)`` every equilibrium
``(x, y)`` has supports ``I``, ``J`` of equal size ``k`` and is the unique solution of the
indifference conditions

    sum_{j in J} A[i, j] y_j = v  (i in I),   sum_j y_j = 1,
    sum_{i in I} B[i, j] x_i = u  (j in J),   sum_i x_i = 1,

with ``x_I > 0``, ``y_J > 0`` and no better action outside the supports (``A y <= v``,
``B^T x <= u``). Every pair of supports is tried (von Stengel 2002, Algorithm 3.4).

**One linear system, two polytopes.** For a pair ``(I, J)`` the ``y``-half above is a basis of the
best-response polytope ``Q = {y >= 0 : A y <= 1}`` (``A`` shifted positive): tight constraints
``y_j = 0`` for ``j`` outside ``J`` and ``(A y)_i = 1`` for ``i`` in ``I``. Its basic solution is a
vertex of ``Q`` when it is feasible, and every vertex of ``Q`` arises this way; likewise the
``x``-half and ``P = {x >= 0 : B^T x <= 1}``.

**Degeneracy, from the game.** A game is nondegenerate iff no mixed strategy with support size ``k``
has more than ``k`` pure best responses (von Stengel 2002, Definition 3.2), iff no point of ``P``
lies on more than ``m`` of its ``m + n`` facets and no point of ``Q`` on more than ``n`` (a point
``x`` of ``P`` carries the labels ``{i : x_i = 0}`` and the best responses to ``x / sum(x)``).
If some point of ``P`` has too many tight constraints, so has a vertex of the face they define,
and that vertex has a nonsingular basis of ``m`` of them: an equal-size pair ``(I, J)`` whose basic
solution is feasible with one more constraint tight. So the game is nondegenerate iff *every*
feasible basic solution of *every* pair, in both polytopes, has all its other constraints slack.
This solver evaluates every basis anyway, so the check costs nothing extra: a basis whose
solution is feasible (to within ``tol`` plus its error bound) and has a probability or a payoff
slack within ``tol`` plus its error bound of zero makes the game ``DEGENERATE``, as does a basis
whose determinant cannot be told from zero. The method never infers nondegeneracy from the
equilibria it found.

**Arithmetic.** Each player's payoffs are mapped onto a unit range first (a positive affine map,
which changes no equilibrium), so tolerances are unit-free and the result does not depend on the
payoff scale or offset. Every basic solution is a ratio of minors, by Cramer's rule: with
``mu(R, C) = det [X_RC | 1]`` (``|R| = |C| + 1``, ``X = A`` for ``Q``, ``X = B^T`` for ``P``),

    y_b = D_b / S,    D_b = +-mu(I, J minus j_b),    S = sum_b D_b,
    v - (A y)_i = +-mu(I + {i}, J) / S    for i outside I,

and all minors of all sizes are built once, level by level, by Laplace expansion of the smaller
ones: ``O(k)`` work per minor instead of an ``O(k^3)`` solve per support pair. The expansion carries
a running bound on its rounding error (the same recursion on absolute values; Higham 2002, ch. 3),
and every decision (positive, slack, singular) is taken only with a margin larger than that bound,
or the game is reported ``DEGENERATE``. A determinant that evaluates to exactly zero (integer-valued
payoffs make this exact) marks a singular basis, which represents no vertex.

References: B. von Stengel (2002), "Computing equilibria for two-person games", Handbook of Game
Theory vol. 3, ch. 45, Algorithm 3.4 and section 3.3; N. Nisan, T. Roughgarden, E. Tardos and
V. Vazirani (eds., 2007), *Algorithmic Game Theory*, ch. 3; N. J. Higham (2002), *Accuracy and
Stability of Numerical Algorithms*, 2nd ed., ch. 3 (running error bounds); P. McMullen (1970), "The
maximum numbers of faces of a convex polytope", Mathematika 17 (the upper bound theorem, which
sizes the output).
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from games import NormalFormGame

from .._core._pivoting import over_batch, one_and_many
from .._core._result import EquilibriumSet, Status
from .._core._validation import check_count, check_game, check_tol

__all__ = ["support_enumeration"]

#: Refuse games whose support pairs exceed this count (the method is exponential).
MAX_SUPPORT_PAIRS = 2_000_000


def num_support_pairs(m: int, n: int) -> int:
    """Pairs of supports of equal size, ``sum_k C(m, k) C(n, k) = C(m + n, m) - 1``."""
    return math.comb(m + n, m) - 1


def _max_vertices(dimension: int, facets: int) -> int:
    """McMullen's upper bound theorem: the most vertices of a ``dimension``-polytope with ``facets`` facets."""
    d, N = dimension, facets
    return math.comb(N - (d + 1) // 2, d // 2) + math.comb(N - d // 2 - 1, (d + 1) // 2 - 1)


def max_nondegenerate_equilibria(m: int, n: int) -> int:
    """An upper bound on the number of equilibria of a nondegenerate ``m x n`` game.

    Each equilibrium is a pair of vertices of ``P`` (dimension ``m``, ``m + n`` facets) and ``Q``
    (dimension ``n``) other than the origin, and each vertex is in at most one, so the count is below
    the upper-bound-theorem vertex counts (McMullen 1970): 3 for 2x2, 111 for 6x6 (von Stengel's 6x6
    games have 75), 659 for 8x8. (``2**min(m, n) - 1``, once used here, is not a bound: von Stengel
    1999.)
    """
    bound = min(_max_vertices(m, m + n), _max_vertices(n, m + n)) - 1
    return int(min(bound, num_support_pairs(m, n)))


# --- static index tables ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _binomials(size: int) -> np.ndarray:
    return np.array([[math.comb(a, b) for b in range(size + 2)] for a in range(size + 2)], np.int64)


def _rank(subsets: np.ndarray, size: int) -> np.ndarray:
    """Colex rank of sorted subsets (last axis): ``sum_t C(s_t, t + 1)``."""
    subsets = np.asarray(subsets, np.int64)
    if subsets.shape[-1] == 0:
        return np.zeros(subsets.shape[:-1], np.int64)
    return _binomials(size)[subsets, np.arange(1, subsets.shape[-1] + 1)].sum(-1)


@functools.lru_cache(maxsize=None)
def _subsets(size: int, k: int) -> np.ndarray:
    """All ``k``-subsets of ``range(size)``, sorted, in colex order (row ``r`` has rank ``r``)."""
    if k == 0:
        return np.zeros((1, 0), np.int64)
    subsets = np.array(list(itertools.combinations(range(size), k)), np.int64)
    return subsets[np.argsort(_rank(subsets, size))]


def _without(subsets: np.ndarray, position: int) -> np.ndarray:
    return np.delete(subsets, position, axis=1)


class _Level(NamedTuple):
    """Index tables of the equal-size pairs ``(R, C)``, ``|R| = |C| = k``, pair ``p = rank(R) * C(c, k) + rank(C)``."""

    numerators: np.ndarray  # (k, P): mu_{k-1}(R, C minus C_b), giving D_b
    numerator_signs: np.ndarray  # (k, 1)
    slacks: np.ndarray | None  # (r - k, P): mu_k(R + {i}, C) for the rows i outside R
    slack_signs: np.ndarray | None  # (r - k, P)
    rows: np.ndarray  # (k, P): R of each pair
    cols: np.ndarray  # (k, P): C of each pair


class _Tables(NamedTuple):
    """Laplace-expansion tables for all minors of an ``r x c`` matrix ``X`` and of ``[X | 1]``."""

    minor_prev: dict  # k -> (k, N_k) index into the (k-1)-minors; nu_k(R, C) = sum_s (-1)^s X[R_0, C_s] nu_{k-1}(...)
    minor_entry: dict  # k -> (k, N_k) flat index of X[R_0, C_s]
    bordered: dict  # k -> (k + 1, M_k) index into nu_k; mu_k(R, C) = sum_t (-1)^(t+k) nu_k(R minus R_t, C)
    levels: dict  # k -> _Level


@functools.lru_cache(maxsize=None)
def _tables(r: int, c: int) -> _Tables:
    minor_prev, minor_entry, bordered, levels = {}, {}, {}, {}
    for k in range(1, min(r - 1, c) + 1):
        R, C = _subsets(r, k), _subsets(c, k)
        rest_rows = _rank(R[:, 1:], r)  # R minus its first row
        rest_cols = np.stack([_rank(_without(C, s), c) for s in range(k)])  # (k, |C|)
        prev = rest_rows[None, :, None] * math.comb(c, k - 1) + rest_cols[:, None, :]
        entry = R[:, 0][None, :, None] * c + C.T[:, None, :]
        minor_prev[k] = prev.reshape(k, -1).astype(np.int32)
        minor_entry[k] = np.broadcast_to(entry, prev.shape).reshape(k, -1).astype(np.int32)
    for k in range(0, min(r - 1, c) + 1):
        R, num_cols = _subsets(r, k + 1), math.comb(c, k)
        rest_rows = np.stack([_rank(_without(R, t), r) for t in range(k + 1)])  # (k + 1, |R|)
        index = rest_rows[:, :, None] * num_cols + np.arange(num_cols)[None, None, :]
        bordered[k] = index.reshape(k + 1, -1).astype(np.int32)
    for k in range(1, min(r, c) + 1):
        R, C = _subsets(r, k), _subsets(c, k)
        num_rows, num_cols = len(R), len(C)
        # D_b: column b of M replaced by ones, moved last: k - 1 - b transpositions.
        cols_minus = np.stack([_rank(_without(C, b), c) for b in range(k)])
        numerators = np.arange(num_rows)[None, :, None] * math.comb(c, k - 1) + cols_minus[:, None, :]
        numerator_signs = ((-1.0) ** (k - 1 - np.arange(k)))[:, None]
        slacks = slack_signs = None
        if k < r:
            member = np.zeros((num_rows, r), bool)
            member[np.arange(num_rows)[:, None], R] = True
            outside = np.nonzero(~member)[1].reshape(num_rows, r - k)  # rows not in R, sorted
            position = (R[:, None, :] < outside[:, :, None]).sum(-1)  # where row i lands in R + {i}
            grown = np.sort(np.concatenate([np.broadcast_to(R[:, None, :], (num_rows, r - k, k)),
                                            outside[:, :, None]], -1), -1)
            index = _rank(grown, r).T[:, :, None] * num_cols + np.arange(num_cols)[None, None, :]
            # Row i appended last in det [[M, 1], [a_i, 1]], moved to its sorted place: k - position swaps.
            signs = ((-1.0) ** (k - position)).T[:, :, None]
            slacks = index.reshape(r - k, -1).astype(np.int32)
            slack_signs = np.broadcast_to(signs, (r - k, num_rows, num_cols)).reshape(r - k, -1)
        rows = np.broadcast_to(R.T[:, :, None], (k, num_rows, num_cols)).reshape(k, -1)
        cols = np.broadcast_to(C.T[:, None, :], (k, num_rows, num_cols)).reshape(k, -1)
        levels[k] = _Level(numerators.reshape(k, -1).astype(np.int32), numerator_signs, slacks, slack_signs,
                           rows.astype(np.int32), cols.astype(np.int32))
    return _Tables(minor_prev, minor_entry, bordered, levels)


# --- the kernel ------------------------------------------------------------------------------------------


def _unit_payoffs(X):
    """``(X - min) / range``: the positive affine image of ``X`` on ``[0, 1]`` (a constant maps to 0)."""
    lo, hi = jnp.min(X), jnp.max(X)
    return (X - lo) / jnp.where(hi > lo, hi - lo, 1.0)


def _unit_range(X):
    """``(X - mid) * 2**-e`` with ``2**e >= range`` (exact scaling), and the factor that turns its
    payoff differences into those of the unit-range game ``(X - min) / range``."""
    lo, hi = jnp.min(X), jnp.max(X)
    spread = jnp.where(hi > lo, hi - lo, 1.0)
    scale = jnp.exp2(-jnp.ceil(jnp.log2(spread)))
    return (X - (lo + hi) / 2) * scale, 1.0 / (spread * scale)


#: Bases re-examined in exact arithmetic per polytope when the floating-point pass cannot decide them.
EXACT_RECHECKS = 64


class _Bases(NamedTuple):
    """Every equal-size basis of one polytope (all support sizes, concatenated, size-``k`` pairs first in
    order of ``k``): its basic solution and how it was classified."""

    strategy: jax.Array  # (K, P): the mixed strategy on C, zero-padded to K = min(r, c) entries
    accepted: jax.Array  # (P,): nonsingular, probabilities > tol, payoff slacks >= -tol
    ambiguous: jax.Array  # (P,): a decision within tol plus its error bound


def _polytope_bases(X, to_unit, tol):
    """Classify every equal-size basis ``(R, C)`` of the indifference systems of ``X`` (``r x c``).

    For each pair: the strategy ``w`` on ``C`` making the rows ``R`` of ``X`` indifferent, whether it is a
    vertex of the best-response polytope with every constraint satisfied with room (accepted), and
    whether some decision about it falls within ``tol`` plus its rounding-error bound (ambiguous).
    """
    r, c = X.shape
    K = min(r, c)
    dtype = X.dtype
    eps = jnp.finfo(dtype).eps
    tables = _tables(r, c)
    flat = X.reshape(-1)
    # nu_k: all k x k minors of X, and a bound on the rounding error of every one of them (one per size:
    # err_k <= sum_s |x_s| err_{k-1} + (k + 1) eps sum_s |x_s nu_s| taken with the previous size's
    # largest error, which costs no more gathers than the minors themselves).
    minors = {0: jnp.ones((1,), dtype)}
    minor_error = {0: jnp.zeros((), dtype)}
    for k in range(1, min(r - 1, c) + 1):
        prev, entry = tables.minor_prev[k], tables.minor_entry[k]
        entries = flat[entry]
        sign = jnp.asarray((-1.0) ** np.arange(k), dtype)[:, None]
        terms = sign * entries * minors[k - 1][prev]
        minors[k] = jnp.sum(terms, 0)
        minor_error[k] = jnp.max(jnp.sum(jnp.abs(entries), 0) * minor_error[k - 1]
                                 + (k + 1) * eps * jnp.sum(jnp.abs(terms), 0))
    # mu_k: minors of [X | 1] with k + 1 rows, expanded along the ones column.
    bordered, bordered_error = {}, {}
    for k in range(0, min(r - 1, c) + 1):
        terms = jnp.asarray((-1.0) ** (np.arange(k + 1) + k), dtype)[:, None] * minors[k][tables.bordered[k]]
        bordered[k] = jnp.sum(terms, 0)
        bordered_error[k] = (k + 1) * minor_error[k] + (k + 1) * eps * jnp.max(jnp.sum(jnp.abs(terms), 0))
    strategies, accepted, ambiguous = [], [], []
    for k in range(1, K + 1):
        level = tables.levels[k]
        D = jnp.asarray(level.numerator_signs, dtype) * bordered[k - 1][level.numerators]
        D_err = bordered_error[k - 1]
        S = jnp.sum(D, 0)
        S_err = k * D_err + k * eps * jnp.sum(jnp.abs(D), 0)
        singular = S == 0
        S_safe = jnp.where(singular, 1.0, S)
        w = D / S_safe
        w_err = (D_err + jnp.abs(w) * S_err) / jnp.abs(S_safe) + eps * jnp.abs(w)
        ok = ~singular & jnp.all(w > tol, 0)
        near_zero = jnp.any(jnp.abs(w) <= tol + w_err, 0)
        near_feasible = jnp.all(w >= -(tol + w_err), 0)
        # A feasible basic solution has 0 <= w <= 1, so |D_b| <= |S|: when S cannot be told from zero,
        # a numerator clearly larger than S still proves the basis infeasible.
        surely_out = jnp.any(jnp.abs(D) - D_err > jnp.abs(S) + S_err, 0)
        if level.slacks is not None:
            raw = jnp.asarray(level.slack_signs, dtype) * bordered[k][level.slacks] / S_safe
            slack = raw * to_unit
            slack_err = ((bordered_error[k] + jnp.abs(raw) * S_err) / jnp.abs(S_safe) + 2 * eps * jnp.abs(raw)) * to_unit
            ok = ok & jnp.all(slack >= -tol, 0)
            near_zero = near_zero | jnp.any(jnp.abs(slack) <= tol + slack_err, 0)
            near_feasible = near_feasible & jnp.all(slack >= -(tol + slack_err), 0)
        unsure = ~singular & (jnp.abs(S) <= S_err) & ~surely_out
        strategies.append(jnp.pad(w, ((0, K - k), (0, 0))))
        accepted.append(ok)
        ambiguous.append(unsure | (~singular & near_zero & near_feasible))
    return _Bases(jnp.concatenate(strategies, 1), jnp.concatenate(accepted), jnp.concatenate(ambiguous))


def _exact_bases(payoffs, rows, cols, size, tol):
    """Exact rational arithmetic (host side) for the bases the floating-point pass could not decide.

    ``payoffs`` (``r x c``, the original floats, each an exact rational), ``rows``/``cols``
    (``(N, K)``, padded), ``size`` (``(N,)``, 0 for unused slots). For each basis: solve
    ``[X_RC, -1; 1, 0] [w; v] = [0; 1]`` by fraction-exact Gauss-Jordan elimination and decide, without
    rounding, whether it is singular, accepted and ambiguous (the same rules as the floating-point pass
    with zero error). Returns ``(strategy (N, K), accepted (N,), ambiguous (N,))``.
    """
    from fractions import Fraction

    payoffs, rows, cols, size = (np.asarray(a) for a in (payoffs, rows, cols, size))
    N, K = rows.shape
    strategy = np.zeros((N, K), payoffs.dtype)
    accepted, ambiguous = np.zeros(N, bool), np.zeros(N, bool)
    tol = Fraction(float(tol))
    X = [[Fraction(float(v)) for v in row] for row in payoffs]
    spread = max(max(row) for row in X) - min(min(row) for row in X)
    spread = spread if spread > 0 else Fraction(1)
    for t in range(N):
        k = int(size[t])
        if k == 0:
            continue
        R, C = [int(i) for i in rows[t, :k]], [int(j) for j in cols[t, :k]]
        system = [[X[i][j] for j in C] + [Fraction(-1), Fraction(0)] for i in R]
        system.append([Fraction(1)] * k + [Fraction(0), Fraction(1)])
        solution = _gauss_jordan_exact(system)
        if solution is None:  # exactly singular: no vertex
            continue
        w, v = solution[:k], solution[k]
        slacks = [(v - sum(X[i][j] * wj for j, wj in zip(C, w))) / spread for i in range(len(X)) if i not in R]
        values = w + slacks
        strategy[t, :k] = [float(x) for x in w]
        accepted[t] = all(x > tol for x in w) and all(s >= -tol for s in slacks)
        ambiguous[t] = all(x >= -tol for x in values) and any(abs(x) <= tol for x in values)
    return strategy, accepted, ambiguous


def _gauss_jordan_exact(system):
    """Solve an augmented square system of Fractions; None if it is singular."""
    n = len(system)
    for col in range(n):
        pivot = next((i for i in range(col, n) if system[i][col] != 0), None)
        if pivot is None:
            return None
        system[col], system[pivot] = system[pivot], system[col]
        head = system[col][col]
        system[col] = [x / head for x in system[col]]
        for i in range(n):
            if i != col and system[i][col] != 0:
                factor = system[i][col]
                system[i] = [a - factor * b for a, b in zip(system[i], system[col])]
    return [row[n] for row in system]


def _recheck_exactly(bases: _Bases, payoffs, tol, *, r, c) -> _Bases:
    """Re-decide up to ``EXACT_RECHECKS`` ambiguous bases in exact arithmetic (only when there are any)."""
    K = min(r, c)
    tables = _tables(r, c)
    rows = np.concatenate([np.pad(tables.levels[k].rows, ((0, K - k), (0, 0))) for k in range(1, K + 1)], 1)
    cols = np.concatenate([np.pad(tables.levels[k].cols, ((0, K - k), (0, 0))) for k in range(1, K + 1)], 1)
    sizes = np.concatenate([np.full(tables.levels[k].rows.shape[1], k, np.int32) for k in range(1, K + 1)])
    cap = min(EXACT_RECHECKS, sizes.shape[0])

    def recheck(bases):
        (index,) = jnp.nonzero(bases.ambiguous, size=cap, fill_value=0)
        used = jnp.arange(cap) < jnp.sum(bases.ambiguous.astype(jnp.int32))
        shapes = (jax.ShapeDtypeStruct((cap, K), payoffs.dtype), jax.ShapeDtypeStruct((cap,), jnp.bool_),
                  jax.ShapeDtypeStruct((cap,), jnp.bool_))
        strategy, accepted, ambiguous = jax.pure_callback(
            _exact_bases, shapes, payoffs, jnp.asarray(rows.T)[index], jnp.asarray(cols.T)[index],
            jnp.where(used, jnp.asarray(sizes)[index], 0), tol, vmap_method="sequential")
        target = jnp.where(used, index, sizes.shape[0])  # out of range: dropped
        return _Bases(bases.strategy.at[:, target].set(strategy.T, mode="drop"),
                      bases.accepted.at[target].set(accepted, mode="drop"),
                      bases.ambiguous.at[target].set(ambiguous, mode="drop"))

    return jax.lax.cond(jnp.any(bases.ambiguous), recheck, lambda b: b, bases)


def _enumerate(payoffs, tol, *, rows):
    """All equilibria of one game (``payoffs`` of shape ``(2, m, n)``), as an :class:`EquilibriumSet`."""
    A, B = payoffs[0], payoffs[1]
    m, n = A.shape
    dtype = A.dtype
    K = min(m, n)
    X_Q, unit_A = _unit_range(A)  # y-systems: rows I of A indifferent, y on J
    X_P, unit_B = _unit_range(B.T)  # x-systems: rows J of B^T indifferent, x on I
    Q = _recheck_exactly(_polytope_bases(X_Q, unit_A, tol), A, tol, r=m, c=n)
    P = _recheck_exactly(_polytope_bases(X_P, unit_B, tol), B.T, tol, r=n, c=m)
    # Pair (I, J) of size k: Q lists it I-major, P (as (J, I)) J-major.
    to_p_order = np.concatenate([
        offset + np.arange(math.comb(m, k) * math.comb(n, k)).reshape(math.comb(n, k), math.comb(m, k)).T.reshape(-1)
        for k, offset in zip(range(1, K + 1),
                             np.cumsum([0] + [math.comb(m, k) * math.comb(n, k) for k in range(1, K)]))])
    accepted = Q.accepted & P.accepted[to_p_order]
    ambiguous = jnp.any(Q.ambiguous) | jnp.any(P.ambiguous)
    tables = _tables(m, n)
    x_support = np.concatenate([np.pad(tables.levels[k].rows, ((0, K - k), (0, 0)), constant_values=m)
                                for k in range(1, K + 1)], 1)
    y_support = np.concatenate([np.pad(tables.levels[k].cols, ((0, K - k), (0, 0)), constant_values=n)
                                for k in range(1, K + 1)], 1)

    found = jnp.sum(accepted.astype(jnp.int32), dtype=jnp.int32)
    (index,) = jnp.nonzero(accepted, size=rows, fill_value=0)
    kept = jnp.arange(rows, dtype=jnp.int32) < found
    row = jnp.arange(rows)[:, None]
    x_values = P.strategy[:, jnp.asarray(to_p_order)[index]]
    y_values = Q.strategy[:, index]
    x = jnp.zeros((rows, m), dtype).at[row, jnp.asarray(x_support)[:, index].T].set(x_values.T, mode="drop")
    y = jnp.zeros((rows, n), dtype).at[row, jnp.asarray(y_support)[:, index].T].set(y_values.T, mode="drop")
    x = x / jnp.where(kept, jnp.sum(x, 1), 1.0)[:, None]
    y = y / jnp.where(kept, jnp.sum(y, 1), 1.0)[:, None]

    # Independent check of every row, each player against its own unit-range payoffs.
    def regrets(unit_payoffs, own, other):
        values = other @ unit_payoffs.T  # (rows, own actions)
        return jnp.max(values, 1) - jnp.sum(values * own, 1)

    A_unit, B_unit = _unit_payoffs(A), _unit_payoffs(B)
    slop = tol + 16 * max(m, n) * jnp.finfo(dtype).eps
    certified = (regrets(A_unit, x, y) <= slop) & (regrets(B_unit.T, y, x) <= slop)
    good = kept & certified
    order = jnp.argsort(~good, stable=True)  # certified rows first
    mask = good[order]
    x = jnp.where(mask[:, None], x[order], 0.0)
    y = jnp.where(mask[:, None], y[order], 0.0)
    count = jnp.sum(mask.astype(jnp.int32), dtype=jnp.int32)

    values_row, values_col = y @ A.T, x @ B
    nash_conv = (jnp.max(values_row, 1) - jnp.sum(values_row * x, 1)) + (jnp.max(values_col, 1)
                                                                           - jnp.sum(values_col * y, 1))
    nash_conv = jnp.where(mask, nash_conv, 0.0)
    rejected = jnp.sum((kept & ~certified).astype(jnp.int32), dtype=jnp.int32)
    truncated = found > rows
    degenerate = ambiguous | (found == 0) | (rejected > 0)
    status = jnp.where(truncated, Status.MAX_STEPS, Status.CONVERGED)
    status = jnp.where(degenerate, Status.DEGENERATE, status)
    status = jnp.where(jnp.all(jnp.isfinite(payoffs)), status, Status.NONFINITE).astype(jnp.int32)
    stats = dict(degenerate=degenerate, found=found, truncated=truncated, rejected=rejected)
    return EquilibriumSet(strategies=(x, y), mask=mask, count=count, residual=nash_conv,
                          iterations=jnp.asarray(num_support_pairs(m, n), jnp.int32), status=status, stats=stats)


@functools.lru_cache(maxsize=None)
def _entry_points(rows: int):
    """``(one, many)`` for ``rows`` output rows: a stack of games is solved one game after another
    (``lax.map``; each game's support pairs are already vectorized), under ``vmap`` too."""

    def solve_many(payoffs, tol):
        return jax.lax.map(lambda args: _enumerate(*args, rows=rows), (payoffs, tol))

    return one_and_many(solve_many)


@functools.partial(jax.jit, static_argnames=("rows", "batch_ndim"))
def _support_enumeration(payoffs, tol, *, rows, batch_ndim):
    one, many = _entry_points(rows)
    return over_batch(one, many, payoffs, tol, batch_ndim)


def support_enumeration(
    game: NormalFormGame,
    *,
    max_equilibria: int | None = None,
    tol: float | None = None,
) -> EquilibriumSet:
    """All Nash equilibria of a nondegenerate two-player game, and whether the game is nondegenerate.

    Every pair of supports of equal size is solved (by Cramer's rule on minors built once per game);
    the same bases certify, from the game itself, that no mixed strategy has more pure best responses
    than its support size. Status ``CONVERGED`` is that certificate: the game is nondegenerate and
    the rows are *all* its equilibria, each checked independently (every player's regret at most
    ``tol`` times that player's payoff range).

    Args:
      game: a two-player :class:`~games.NormalFormGame`, possibly batched; at most
        ``MAX_SUPPORT_PAIRS`` support pairs (``C(m + n, m) - 1``): up to 10x10.
      max_equilibria: rows of the padded output (static). Default: an upper bound on the number of
        equilibria of any nondegenerate ``m x n`` game (McMullen's upper bound theorem applied to the
        best-response polytopes; 111 for 6x6, 659 for 8x8), so a nondegenerate game is never cut.
      tol: decision tolerance on the unit-range payoffs of each player and on probabilities
        (default 1e-9 in float64, 1e-4 in float32). A basis within ``tol`` (plus its rounding-error
        bound) of a decision makes the game ``DEGENERATE``; the answer does not depend on the payoffs'
        scale or offset.

    Returns:
      An :class:`~solvers.EquilibriumSet` with ``stats`` ``degenerate``, ``found`` (equilibria found,
      before any truncation), ``truncated`` and ``rejected`` (rows that failed the independent check:
      0 unless degenerate). Status:

      - ``CONVERGED``: nondegenerate; the rows are the complete set.
      - ``DEGENERATE``: the game is degenerate, or within ``tol`` of a degenerate one (a continuum
        of equilibria, an equilibrium with supports of unequal sizes, ... may exist); the rows are the
        equilibria with equal-size supports that were found, each still a checked equilibrium.
      - ``MAX_STEPS``: more equilibria than ``max_equilibria`` rows: the first rows are returned.
      - ``NONFINITE``: a payoff is not finite (only possible under ``jit``; eager calls raise).

    Example:
      >>> import jax.numpy as jnp
      >>> from games import bimatrix
      >>> sexes = bimatrix(jnp.array([[3., 0.], [0., 2.]]), jnp.array([[2., 0.], [0., 3.]]))
      >>> result = support_enumeration(sexes)
      >>> int(result.count), str(Status(int(result.status)))
      (3, 'CONVERGED')

    Reference: von Stengel (2002), Algorithm 3.4 and Definition 3.2; McMullen (1970).
    """
    check_game(game, num_players=2)
    m, n = game.num_actions
    pairs = num_support_pairs(m, n)
    if pairs > MAX_SUPPORT_PAIRS:
        raise ValueError(
            f"support enumeration of a {m}x{n} game needs {pairs} support pairs per game "
            f"(limit {MAX_SUPPORT_PAIRS}); use lemke_howson for one equilibrium"
        )
    if max_equilibria is None:
        rows = max_nondegenerate_equilibria(m, n)
    else:
        rows = check_count(max_equilibria, "max_equilibria")
    tol = check_tol(tol, game.payoffs.dtype)
    return _support_enumeration(game.payoffs, tol, rows=rows, batch_ndim=len(game.batch_shape))
