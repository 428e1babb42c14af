"""A primal-dual interior-point method for monotone variational inequalities over polyhedra.

The problem (a mixed complementarity problem, the KKT form of the VI; Facchinei and Pang 2003, ch. 11):
find ``x`` in ``X = {lower <= x <= upper, E x = e, A x <= b}`` with ``<F(x), y - x> >= 0`` for every
``y`` in ``X``, for a monotone ``F``; equivalently ``x`` and multipliers ``lam`` (free), ``mu >= 0``,
``z_l, z_u >= 0`` with

    F(x) + E^T lam + A^T mu - z_l + z_u = 0,   E x = e,   A x + s = b,
    z_l (x - lower) = 0,   z_u (upper - x) = 0,   mu s = 0,   all of x - lower, upper - x, s, z_l, z_u, mu >= 0.

For a generalized Nash game with shared constraints ``A x <= b`` (Rosen 1965) ``F`` is the
pseudo-gradient, ``mu`` the common multipliers (the congestion prices), and the solution the variational
equilibrium; without ``A`` it is a plain VI on the players' polyhedral strategy sets.

The method: infeasible-start primal-dual path following, the central path ``z t = sigma nu`` followed by
Newton steps on the perturbed KKT system, with Mehrotra's (1992) predictor-corrector (affine-scaling
predictor, centering ``sigma = (nu_aff / nu)^3``, second-order corrector; one factorization, two solves)
and one step length for primal and dual variables (the VI couples them through ``F``; Ralph and Wright 1997
for monotone LCPs, Wright 1997 ch. 8, 10). The Newton system eliminates the bound duals (a diagonal
``D = z_l / (x - l) + z_u / (u - x)``) and the inequality slacks and multipliers (``W = mu / s``), leaving
the reduced KKT system

    [ J + D + A^T W A   E^T ] [dx  ]   [r_x]
    [ E                  0  ] [dlam] = [r_e],      J = F'(x) (through jvp),

solved by one of two kernels:

- ``"dense"`` (small ``n``, e.g. networked Cournot with one variable per producer): ``J`` from ``n``
  Jacobian-vector products, ``A^T W A`` formed densely from the (tall, thin) constraint matrix -- the
  players' ``n x n`` block plus a Schur complement of the line limits -- and an LU factorization of the
  ``(n + p)``-square KKT matrix;
- ``"aggregative"`` (strategy arrays ``(players, T)``, as in demand response): the operator
  ``v -> J v + A^T W A v`` is probed with ``2 T`` structured directions as ``blockdiag(B_i) + C V^T``,
  per-player ``T x T`` blocks ``B_i`` plus a rank-``T`` coupling through the aggregate ``V^T v =
  sum_i v_i`` (exact for aggregative games, where ``F_i`` depends on ``x_i`` and ``sum_j x_j``; a random
  probe measures the error, reported in ``stats``). Each player's block, bordered by its own equality
  rows, is factorized (batched LU of ``(T + r)``-square blocks), and the coupling is handled by the
  Sherman-Morrison-Woodbury formula with a ``T x T`` capacitance matrix: O(players T^3) a step instead of
  O((players T)^3), with two passes of iterative refinement against the block model (Woodbury loses
  digits when the blocks are ill-conditioned, as interior-point blocks become). Woodbury rather than a
  Krylov method with a block preconditioner: the Woodbury solve is exact in one pass (the
  preconditioned system would be the identity plus a rank-``T`` remainder, i.e. up to ``T + 1`` Krylov
  steps of jvps, each as dear as the whole Woodbury correction, and fewer digits as the barrier
  terms blow up) and it has no iteration count that varies between instances under ``vmap``.

A game's dense shared-constraint matrix (:class:`games.DenseSharedConstraints`) is used as given;
matrix-free ones small enough (``m n <= 2^22``) are formed densely once, before the loop, from the cheaper
side (``n`` forward products for a tall matrix, ``m`` adjoint products for a wide one).
The LU factorizations are vectorized eliminations in plain XLA operations (:func:`_lu_factor`), not
LAPACK's: jaxlib's batched getrf and trsm split a batch over XLA's intra-op threads and, two side by side,
deadlocked on 2 cores. They are kept small (dense kernel up to ``DENSE_LIMIT`` unknowns, blocks of ``T + r``):
OpenBLAS's own threads, next to XLA's, also stalled for 100 ms on a busy 2-core machine once a factorization
was large enough to be threaded.

Degenerate solutions (a limit that binds with a zero multiplier, or the continuum of equilibria of
daily billing) slow every interior-point method to linear convergence with ``min(slack, dual) ~
sqrt(nu)``, so the natural-map residual would need ``nu ~ tol^2``. Once the average complementarity
``nu`` has fallen by ``POLISH_BELOW``, an active-set polish (the crossover of Mehrotra's practice, as
in OSQP's solution polishing, Stellato et al. 2020) takes ``POLISH_STEPS`` Newton steps on the system
of the guessed active set (a pair is active where its dual exceeds its slack): active bounds pinned,
active rows held as equalities by a penalty with method-of-multipliers updates, a tiny proximal term
on the free variables (the Jacobian may be singular on them). The polished point is kept only if its
certificate is better; otherwise the interior-point iteration goes on and the next polish waits for
``nu`` to fall by another ``POLISH_AGAIN``. Every iteration factorizes one matrix: either a
predictor-corrector step or a polish step.

Variables with ``lower == upper`` are fixed and left out of the system; the iterate stays strictly
inside its bounds. The complementarity pairs are stacked: slacks ``t = (x - l, u - x, s)`` and duals
``z = (z_l, z_u, mu)``. The loop (``lax.while_loop``, at most ``max_steps`` iterations, vmappable)
stops when the certificate -- the natural-map residual ``||w - P(w - G(w))||_inf`` of the projected
iterate, for the operator divided by its scale (below) -- is at most ``tol``, when a step fails
(``stats["stalled"]``), or when the duals diverge along a Farkas certificate of infeasibility of the
constraints (``(lam, mu, z)`` with ``E^T lam + A^T mu - z_l + z_u ~ 0`` and ``e.lam + b.mu - l.z_l +
u.z_u < 0``, which no feasible point allows; Wright 1997 ch. 9), reported as infeasible with the
certificate's normalized residual and gap in ``stats``.

Units. Every threshold of the method (the certificate's ``tol``, the starting duals, the polish's
weights, the Farkas test) would otherwise be absolute in the unit of money of ``F``: a game with costs
in units of 1e-9 would look solved at its start, one in units of 1e9 never reach ``tol``. So ``F`` is
divided by its scale ``s`` at the start (the gain ``||J v|| / ||v||`` of its Jacobian on a fixed
direction, ``max |F|`` where that is 0), which multiplies by ``k`` when the costs do: the iterates, the
answer and the status are the same in any unit, the multipliers come back times ``s``. ``residual`` is
then the natural map of ``F / s``, i.e. of the projected step ``1 / s`` (the natural map with any
positive step has the same zeros, Facchinei and Pang 2003, ch. 1); ``stats["natural_residual"]`` is
the unscaled one.

References: S. Mehrotra (1992), "On the implementation of a primal-dual interior point method", SIAM
J. Optim. 2(4); D. Ralph and S. J. Wright (1997), "Superlinear convergence of an interior-point method
for monotone variational inequalities", in *Complementarity and Variational Problems*; S. J. Wright
(1997), *Primal-Dual Interior-Point Methods*, SIAM; F. Facchinei and J.-S. Pang (2003),
*Finite-Dimensional Variational Inequalities and Complementarity Problems*, ch. 11; J. B. Rosen (1965);
W. W. Hager (1989), "Updating the inverse of a matrix", SIAM Review 31(2) (Sherman-Morrison-Woodbury);
B. Stellato, G. Banjac, P. Goulart, A. Bemporad and S. Boyd (2020), "OSQP: an operator splitting solver
for quadratic programs", Math. Prog. Comp. 12 (solution polishing); Rockafellar (1976) (the method of
multipliers as a proximal point method).

Example (inside ``jit``; ``solve_gne`` and ``solve_vi`` wrap it):

    >>> import jax, numpy as np
    >>> from games import ieee14, network_cournot_game
    >>> game = network_cournot_game(ieee14(), [0, 1, 2], cost_linear=10.0, demand_intercept=100.0,
    ...                             demand_slope=1.0)
    >>> out = jax.jit(lambda g: interior_point(g, tol=1e-8, max_steps=50))(game)
    >>> bool(out.converged), round(float(out.x[0]), 6)  # (a - c) / (b (G + 1))
    (True, 22.5)
"""

from __future__ import annotations

import typing

import jax
import jax.numpy as jnp

from games import DeclaresUniqueness, DenseSharedConstraints, SharedLinearConstraints, StrategyEqualities

from .._core._result import Status
from ._problem import Problem

__all__ = ["interior_point", "InteriorPointOutput"]

LINEAR_SOLVERS = ("auto", "dense", "aggregative")
DENSE_CONSTRAINTS_LIMIT = 2**22  # matrix-free shared constraints are formed densely up to this many entries
DENSE_LIMIT = 128  # "auto" uses the dense kernel up to this many unknowns (n + p); see the LAPACK note
STEP_TO_BOUNDARY = 0.995  # fraction of the largest feasible step taken (Mehrotra 1992; Wright 1997)
POLISH_BELOW = 1e-7  # the first active-set polish starts once the average complementarity is below this (x its start)
POLISH_AGAIN = 1e-2  # ... and the next one once it has fallen by this factor more
POLISH_PENALTY = 1e3  # penalty weight of active rows in the polish (x the Jacobian's scale)
POLISH_STEPS = 3  # Newton steps of a polish
POLISH_PROXIMAL = 1e-9  # proximal weight on the free variables in the polish (x the Jacobian's scale)
REFINEMENTS = 2  # iterative-refinement passes of the aggregative kernel
FARKAS_RESIDUAL = 1e-9  # normalized dual residual of an infeasibility certificate
FARKAS_GAP = 1e-6  # normalized gap it must show (negative)
FARKAS_GROWTH = 1e6  # ... and the duals must have grown this much over their start


class InteriorPointOutput(typing.NamedTuple):
    """What :func:`interior_point` returns (flat arrays; ``x`` has the strategy array's shape)."""

    x: jax.Array
    equality_multipliers: jax.Array
    multipliers: jax.Array
    iterations: jax.Array
    residual: jax.Array
    converged: jax.Array
    infeasible: jax.Array
    stats: dict


class _Polyhedral:
    """The VI of a game in the form the method needs, built at trace time from the protocols the game
    declares (through :class:`~solvers.continuous._problem.Problem`): ``F`` (``vi_operator`` where the game
    implements :class:`games.ScaledPseudoGradient`, else ``pseudo_gradient``), ``project``, the box
    (:class:`games.BoxStrategySets`), the equalities (:class:`games.StrategyEqualities`) and, with
    ``shared=True``, the shared constraints (:class:`games.SharedLinearConstraints` or
    :class:`games.DenseSharedConstraints`). Everything acts on flat vectors."""

    def __init__(self, game, shared: bool):
        problem = Problem(game)
        x0 = jnp.asarray(game.initial_point())
        self.shape, self.dtype, self.n = x0.shape, x0.dtype, x0.size
        shape, dtype = self.shape, self.dtype
        self.x_init = x0.ravel()
        operator = problem.operator
        self.F = lambda v: operator(v.reshape(shape)).ravel()
        self.project = lambda v: problem.project(v.reshape(shape)).ravel()
        lower, upper = problem.box()
        self.lower = jnp.broadcast_to(jnp.asarray(lower, dtype), shape).ravel()
        self.upper = jnp.broadcast_to(jnp.asarray(jnp.inf if upper is None else upper, dtype), shape).ravel()
        eq_values, eq_adjoint, target = problem.equalities()
        if isinstance(game, StrategyEqualities):
            self.eq_shape = jax.eval_shape(game.equality_target).shape
        else:
            self.eq_shape = (0,)
        eq_shape = self.eq_shape
        self.eq_values = lambda v: eq_values(v.reshape(shape)).ravel()
        self.eq_adjoint = lambda lam: eq_adjoint(lam.reshape(eq_shape)).ravel()
        self.eq_target = jnp.asarray(target, dtype).ravel()
        self.p = self.eq_target.size
        self.A = None
        if shared:
            b = jnp.where(problem.active, problem.upper, jnp.inf).astype(dtype)
            self.in_values = lambda v: problem.values(v.reshape(shape)).ravel()
            self.in_adjoint = lambda mu: problem.adjoint(mu).ravel()
        else:
            b = jnp.zeros(0, dtype)
            self.in_values = lambda v: jnp.zeros(0, dtype)
            self.in_adjoint = lambda mu: jnp.zeros(self.n, dtype)
        self.m = b.size
        if shared and problem.matrix is not None and self.m > 0:
            self.A = jnp.asarray(problem.matrix, dtype).reshape(self.m, self.n)  # the game's own matrix
        elif 0 < self.m * self.n <= DENSE_CONSTRAINTS_LIMIT:
            # Small enough: form A once, from the cheaper side: n products with the (linear) values map
            # for a tall A, m with its adjoint for a wide one (a 50x50 lattice has 9,800 line rows on 50
            # strategies: the adjoint side built a 9,800 x 9,800 identity first, about half of the solve).
            if self.n <= self.m:
                zero = jnp.zeros(self.n, dtype)
                column = lambda e: jax.jvp(self.in_values, (zero,), (e,))[1]
                self.A = jax.vmap(column, out_axes=1)(jnp.eye(self.n, dtype=dtype))
            else:
                self.A = jax.vmap(self.in_adjoint)(jnp.eye(self.m, dtype=dtype))
        if self.A is not None:
            self.in_values = lambda v: self.A @ v
            self.in_adjoint = lambda mu: mu @ self.A
        self.active = jnp.isfinite(b)
        self.b = jnp.where(self.active, b, 0.0)

    def natural_residual(self, x, mu):
        """``max(||x - P_X(x - F(x) - A^T mu)||_inf, ||mu - max(mu - (b - A x), 0)||_inf)`` (inactive rows
        excluded): the natural-map residual of the primal-dual VI."""
        Gx = self.F(x) + self.in_adjoint(mu)
        rx = jnp.max(jnp.abs(x - self.project(x - Gx)), initial=0.0)
        Gmu = jnp.where(self.active, self.b - self.in_values(x), 0.0)
        pmu = jnp.where(self.active, jnp.maximum(mu - Gmu, 0.0), 0.0)
        return jnp.maximum(rx, jnp.max(jnp.abs(mu - pmu), initial=0.0))


class _State(typing.NamedTuple):
    # the interior-point iterate: x, the duals z = (z_l, z_u, mu) of the slacks t = (x - l, u - x, s)
    x: jax.Array
    z: jax.Array
    lam: jax.Array
    s: jax.Array
    gap: jax.Array  # its average complementarity
    # the active-set polish: iterate, guessed active set, mode and step
    px: jax.Array
    plam: jax.Array
    pmu: jax.Array
    pfree: jax.Array
    prows: jax.Array
    polishing: jax.Array
    pstep: jax.Array
    next_polish: jax.Array  # complementarity below which the next polish starts
    # the best certified point so far (projected), its multipliers and natural-map residual
    best_x: jax.Array
    best_lam: jax.Array
    best_mu: jax.Array
    residual: jax.Array
    # bookkeeping
    k: jax.Array
    stalled: jax.Array
    infeasible: jax.Array
    farkas_residual: jax.Array
    farkas_gap: jax.Array
    dual_norm: jax.Array
    step: jax.Array
    structure_error: jax.Array
    polishes: jax.Array


def _choose_linear_solver(vi: _Polyhedral, linear_solver: str) -> str:
    if linear_solver not in LINEAR_SOLVERS:
        raise ValueError(f"linear_solver must be one of {LINEAR_SOLVERS}; got {linear_solver!r}")
    aggregative_shapes = (len(vi.shape) == 2 and vi.shape[0] >= 2
                          and (vi.p == 0 or (len(vi.eq_shape) >= 1 and vi.eq_shape[0] == vi.shape[0])))
    if linear_solver == "aggregative" and not aggregative_shapes:
        raise ValueError("linear_solver='aggregative' needs strategies of shape (players, T) with at least two "
                         f"players and equalities indexed by player first; got strategies {vi.shape} and "
                         f"equalities {vi.eq_shape}")
    if linear_solver == "auto":
        return "aggregative" if aggregative_shapes and vi.n + vi.p > DENSE_LIMIT else "dense"
    return linear_solver


def _lu_factor(a):
    """LU factorization with partial pivoting of ``a`` (``(..., n, n)``, batched over leading axes) in plain
    XLA operations: ``(lu, permutation)`` with ``a[permutation] = L U``, ``L`` unit lower triangular.

    Not ``jax.lax.linalg.lu``: jaxlib's batched LAPACK kernels (getrf, trsm) split the batch over XLA's
    intra-op thread pool and wait for the pieces, so two of them running side by side on a 2-thread pool
    deadlock (observed with jax 0.10 on 2 cores); the matrices here are small (players' blocks, a
    ``T x T`` capacitance, the dense kernel's at most ``DENSE_LIMIT`` unknowns), so ``n`` vectorized
    elimination steps cost little."""
    n = a.shape[-1]
    index = jnp.arange(n)

    def eliminate(k, carry):
        lu, permutation = carry
        column = jnp.take(lu, k, axis=-1)  # (..., n)
        pivot_row = jnp.argmax(jnp.where(index >= k, jnp.abs(column), -1.0), axis=-1)[..., None]
        swap = jnp.where(index == k, pivot_row, jnp.where(index == pivot_row, k, index))  # (..., n)
        lu = jnp.take_along_axis(lu, swap[..., :, None], axis=-2)
        permutation = jnp.take_along_axis(permutation, swap, axis=-1)
        row = jnp.take(lu, k, axis=-2)  # (..., n): the pivot row
        below = index > k
        factor = jnp.where(below, jnp.take(lu, k, axis=-1) / jnp.take(row, k, axis=-1)[..., None], 0.0)
        lu = lu - factor[..., :, None] * jnp.where(index > k, row, 0.0)[..., None, :]
        return jnp.where(below[:, None] & (index == k)[None, :], factor[..., :, None], lu), permutation

    permutation = jnp.broadcast_to(index, a.shape[:-1])
    return jax.lax.fori_loop(0, n, eliminate, (a, permutation))


def _lu_solve(factors, b):
    """Solve ``a x = b`` (``b``: ``(..., n, k)``) from :func:`_lu_factor`'s factors: the row permutation,
    then forward and back substitution (plain XLA operations, see :func:`_lu_factor`)."""
    lu, permutation = factors
    n = lu.shape[-1]
    index = jnp.arange(n)
    b = jnp.take_along_axis(b, permutation[..., :, None], axis=-2)

    def forward(i, y):  # y_i = b_i - sum_{j < i} L_ij y_j
        row = jnp.where(index < i, jnp.take(lu, i, axis=-2), 0.0)
        value = jnp.take(y, i, axis=-2) - jnp.einsum("...j,...jk->...k", row, y)
        return jnp.where((index == i)[:, None], value[..., None, :], y)

    def backward(step, x):  # x_i = (y_i - sum_{j > i} U_ij x_j) / U_ii
        i = n - 1 - step
        row = jnp.take(lu, i, axis=-2)
        value = (jnp.take(x, i, axis=-2) - jnp.einsum("...j,...jk->...k", jnp.where(index > i, row, 0.0), x))
        value = value / jnp.take(row, i, axis=-1)[..., None]
        return jnp.where((index == i)[:, None], value[..., None, :], x)

    return jax.lax.fori_loop(0, n, backward, jax.lax.fori_loop(0, n, forward, b))


def _pseudo_random(size, dtype, seed):
    """A fixed, well-spread test vector (no random-number generator in the compiled program)."""
    k = jnp.arange(size, dtype=dtype)
    return jnp.sin(12.9898 * k + 78.233 * seed) * 1.5 + jnp.cos(4.1414 * k + seed)


def _dense_matrix(linear, size, n, dtype):
    """The matrix of a linear map on ``(n,)`` vectors (rows = outputs) by ``n`` products."""
    if size == 0:
        return jnp.zeros((0, n), dtype)
    return jax.vmap(linear, out_axes=1)(jnp.eye(n, dtype=dtype))


class _DenseKernel:
    """The reduced KKT matrix formed densely (``J`` by ``n`` jvps, ``A^T W A`` from the dense constraint
    matrix) and factorized by LU; for small ``n``.

    ``factor(jvp, D, W, free)`` returns ``solve(rx, re) -> (dx, dlam)`` for the system
    ``[K_ff E_f^T; E_f 0] [dx_f; dlam] = [rx_f; re]``, ``dx = rx`` off ``free``, with
    ``K = J + diag(D) + A^T diag(W) A``; equality rows without a free variable get ``dlam = re``."""

    def __init__(self, vi: _Polyhedral):
        self.n, self.p = vi.n, vi.p
        # Constant matrices: built once, outside the loop.
        self.A = vi.A if vi.A is not None else _dense_matrix(vi.in_values, vi.m, vi.n, vi.dtype)
        self.E = _dense_matrix(vi.eq_values, vi.p, vi.n, vi.dtype)

    def factor(self, jvp, D, W, free):
        n = self.n
        J = jax.vmap(jvp, out_axes=1)(jnp.eye(n, dtype=D.dtype))
        K = J + jnp.diag(D) + self.A.T @ (W[:, None] * self.A)
        K = jnp.where(free[:, None] & free[None, :], K, 0.0) + jnp.diag(jnp.where(free, 0.0, 1.0))
        if self.p:
            E = jnp.where(free[None, :], self.E, 0.0)
            empty = jnp.sum(jnp.abs(E), axis=1) == 0
            K = jnp.block([[K, E.T], [E, jnp.diag(empty.astype(K.dtype))]])
        factors = _lu_factor(K)

        def solve(rx, re):
            z = _lu_solve(factors, jnp.concatenate([rx, re])[:, None])[:, 0]
            return z[:n], z[n:]

        return solve, jnp.zeros((), D.dtype)


class _AggregativeKernel:
    """Per-player blocks plus a rank-``T`` aggregate coupling, solved by Sherman-Morrison-Woodbury (same
    interface as :class:`_DenseKernel`)."""

    def __init__(self, vi: _Polyhedral):
        P, T = vi.shape
        self.P, self.T, self.vi = P, T, vi
        dtype = vi.dtype
        # Equalities: the rows of player i act on x_i only; E_i[:, t] = (E (1 x e_t))_i.
        self.r = r = vi.p // P if vi.p else 0
        if r:
            probes = jnp.broadcast_to(jnp.eye(T, dtype=dtype)[:, None, :], (T, P, T)).reshape(T, -1)
            columns = jax.vmap(vi.eq_values)(probes).reshape(T, P, r)  # [t, i, row]
            self.E = jnp.transpose(columns, (1, 2, 0))  # (P, r, T)
        # Probing directions w x e_t for w = 1 and w = [i even].
        even = (jnp.arange(P) % 2 == 0).astype(dtype)
        eye = jnp.eye(T, dtype=dtype)
        ones_dirs = jnp.broadcast_to(eye[:, None, :], (T, P, T))
        even_dirs = even[None, :, None] * eye[:, None, :]
        self.directions = jnp.concatenate([ones_dirs, even_dirs]).reshape(2 * T, P * T)
        self.even = even
        self.count_all, self.count_even = float(P), float((P + 1) // 2)
        self.check = _pseudo_random(P * T, dtype, 0)

    def factor(self, jvp, D, W, free_flat):
        P, T, r, vi = self.P, self.T, self.r, self.vi
        free = free_flat.reshape(P, T)
        operator = lambda v: jvp(v) + vi.in_adjoint(W * vi.in_values(v))
        # One batch of operator products: the 2 T probes and a fixed random direction to check them.
        Y = jax.vmap(operator)(jnp.concatenate([self.directions, self.check[None]]))
        exact = Y[-1].reshape(P, T)
        Y = Y[:-1].reshape(2, T, P, T)  # [probe, t, i, row]
        Y1, Y2 = jnp.transpose(Y[0], (1, 2, 0)), jnp.transpose(Y[1], (1, 2, 0))  # (P, row, column)
        det = self.count_even - self.even * self.count_all  # (P,), never 0 for P >= 2
        C = (Y2 - self.even[:, None, None] * Y1) / det[:, None, None]
        B = Y1 - self.count_all * C
        # Structure check on a fixed random direction: relative error of the block + coupling model.
        V = self.check.reshape(P, T)
        model = jnp.einsum("iab,ib->ia", B, V) + jnp.einsum("iab,b->ia", C, jnp.sum(V, axis=0))
        structure_error = jnp.max(jnp.abs(exact - model)) / jnp.maximum(jnp.max(jnp.abs(exact)), 1e-300)
        # Variables off ``free``: rows and columns become the identity, and they leave the aggregate.
        both = free[:, :, None] & free[:, None, :]
        eye = jnp.eye(T, dtype=D.dtype)
        Bm = jnp.where(both, B, 0.0) + eye * jnp.where(free, D.reshape(P, T), 1.0)[:, :, None]
        U = jnp.where(free[:, :, None], C, 0.0)  # (P, T, T): player i's coupling columns
        if r:
            E = jnp.where(free[:, None, :], self.E, 0.0)
            empty = jnp.sum(jnp.abs(E), axis=2) == 0  # (P, r)
            lower_right = jax.vmap(jnp.diag)(empty.astype(D.dtype))
            blocks = jnp.concatenate([jnp.concatenate([Bm, jnp.transpose(E, (0, 2, 1))], axis=2),
                                      jnp.concatenate([E, lower_right], axis=2)], axis=1)
            U = jnp.concatenate([U, jnp.zeros((P, r, T), D.dtype)], axis=1)
        else:
            blocks = Bm
        factors = _lu_factor(blocks)
        block_solve = lambda rhs: _lu_solve(factors, rhs)  # (P, T + r, k)
        Z = block_solve(U)  # (P, T + r, T)
        aggregate = lambda y: jnp.sum(jnp.where(free[:, :, None], y[:, :T], 0.0), axis=0)  # V^T y
        capacitance = jnp.eye(T, dtype=D.dtype) + aggregate(Z)
        cap_factors = _lu_factor(capacitance)

        def woodbury(rx, re):
            rhs = rx.reshape(P, T)
            if r:
                rhs = jnp.concatenate([rhs, re.reshape(P, r)], axis=1)
            y = block_solve(rhs[:, :, None])  # (P, T + r, 1)
            correction = _lu_solve(cap_factors, aggregate(y))  # (T, 1)
            z = (y - jnp.einsum("iab,bc->iac", Z, correction))[:, :, 0]
            return z[:, :T].ravel(), z[:, T:].ravel()

        def matvec(dx, dlam):  # the block + coupling model (exact for aggregative operators)
            X = jnp.where(free, dx.reshape(P, T), 0.0)
            out = (jnp.einsum("iab,ib->ia", Bm, X) + jnp.einsum("iab,b->ia", U[:, :T], jnp.sum(X, axis=0)))
            out_e = jnp.zeros(0, D.dtype)
            if r:
                L = dlam.reshape(P, r)
                out = out + jnp.einsum("irt,ir->it", E, L)
                out_e = (jnp.einsum("irt,it->ir", E, X) + jnp.where(empty, L, 0.0)).ravel()
            return jnp.where(free, out, dx.reshape(P, T)).ravel(), out_e

        def solve(rx, re):
            def refine(_, z):
                ax, ae = matvec(*z)
                cx, cl = woodbury(rx - ax, re - ae)
                return z[0] + cx, z[1] + cl

            return jax.lax.fori_loop(0, REFINEMENTS, refine, woodbury(rx, re))

        return solve, structure_error


def _max_step(v, dv, mask):
    """Largest ``a <= 1`` with ``v + a dv >= 0`` on ``mask``."""
    ratio = jnp.where(mask & (dv < 0), -v / jnp.where(dv < 0, dv, -1.0), jnp.inf)
    return jnp.minimum(1.0, jnp.min(ratio, initial=jnp.inf))


def interior_point(game, *, tol, max_steps: int, shared: bool = True, linear_solver: str = "auto", x0=None,
                   scale_invariant: bool = True):
    """Solve the game's VI over its polyhedral strategy sets (and shared constraints) by the
    predictor-corrector interior-point method of the module docstring. Call inside ``jit`` (it traces
    the game). Returns :class:`InteriorPointOutput`; its ``residual`` is the natural-map residual of the
    (projected) point returned, ``converged`` says whether it is at most ``tol``.

    Args:
      game: a :class:`games.ContinuousGame` with :class:`games.BoxStrategySets` (optionally
        :class:`games.StrategyEqualities`, :class:`games.ScaledPseudoGradient`) and, used when
        ``shared``, shared constraints (:class:`games.SharedLinearConstraints` or
        :class:`games.DenseSharedConstraints`).
      tol: natural-map residual to reach (may be traced).
      max_steps: the most iterations (a Python int or a traced integer: ``solve_vi`` and ``solve_gne``
        trace it, so a new budget reuses the compiled program).
      shared: include the game's shared constraints (``solve_gne``) or not (``solve_vi``) (static).
      linear_solver: ``"dense"``, ``"aggregative"`` or ``"auto"`` (aggregative for strategy arrays
        ``(players, T)`` with more than ``DENSE_LIMIT`` unknowns, dense otherwise) (static). The
        aggregative kernel assumes an aggregative Jacobian; ``stats["structure_error"]`` measures how far
        the game is from it (a large value slows convergence, it never changes the certificate).
      x0: a starting point (default ``game.initial_point()``), pushed inside the bounds.
      scale_invariant: divide the operator by its scale ``s`` (static; default True): the gain
        ``||J v|| / ||v||`` of its Jacobian on a fixed direction at the start (``max |F|`` where that is
        0). Every threshold then sees the same problem whatever the unit of money: costs times ``k``
        make ``s`` times ``k`` and leave the iterates, the answer and the status unchanged (the
        multipliers come back times ``k``). The ``residual`` (and ``tol``) is then the natural-map
        residual of ``F / s``, i.e. of the projected step ``1 / s`` (in the strategies' units);
        ``stats["natural_residual"]`` is the unscaled one, ``stats["operator_scale"]`` is ``s``.
        ``False`` (an absolute stopping rule, for comparison only) makes a game in small units look
        solved at its start and one in large units unsolvable to ``tol``.

    The complementarity pairs are stacked: slacks ``t = (x - l, u - x, s) = M x + const`` with
    ``M = [I; -I; -A]`` and duals ``z = (z_l, z_u, mu)``, so that the dual residual is
    ``F + E^T lam - M^T z`` and the reduced matrix ``J + M^T diag(z / t) M``. Every loop iteration
    factorizes one linear system: an interior-point step (predictor and corrector share the
    factorization) or, once the average complementarity has fallen below a threshold, one of
    ``POLISH_STEPS`` Newton steps of the active-set polish; ``iterations`` counts both."""
    vi = _Polyhedral(game, shared)
    if x0 is not None:
        vi.x_init = jnp.broadcast_to(jnp.asarray(x0, vi.dtype), vi.shape).ravel()
    kind = _choose_linear_solver(vi, linear_solver)
    n, p, m, dtype = vi.n, vi.p, vi.m, vi.dtype
    lower, upper = vi.lower, vi.upper
    fixed = upper - lower <= 1e-12 * jnp.maximum(1.0, jnp.abs(lower))
    free = ~fixed
    hl = jnp.isfinite(lower) & free
    hu = jnp.isfinite(upper) & free
    act = vi.active
    l = jnp.where(jnp.isfinite(lower), lower, 0.0)
    u = jnp.where(jnp.isfinite(upper), upper, 0.0)
    b = vi.b
    paired = jnp.concatenate([hl, hu, act])  # which stacked pairs exist
    pairs = jnp.maximum(jnp.sum(paired), 1).astype(dtype)
    kernel = _DenseKernel(vi) if kind == "dense" else _AggregativeKernel(vi)

    def split(v):
        return v[:n], v[n:2 * n], v[2 * n:]

    def slack(x, s):
        return jnp.where(paired, jnp.concatenate([x - l, u - x, s]), 1.0)

    def M(dx):  # the slacks' change (without the rows' primal residual)
        return jnp.concatenate([dx, -dx, -vi.in_values(dx)])

    def M_T(v):
        v1, v2, v3 = split(jnp.where(paired, v, 0.0))
        return v1 - v2 - vi.in_adjoint(v3)

    def complementarity(t, z):
        return jnp.sum(jnp.where(paired, t * z, 0.0)) / pairs

    def certificate(x, mu):
        """The natural-map residual at the projected point: ``(x, mu, residual)``."""
        x, mu = vi.project(x), jnp.where(act, jnp.maximum(mu, 0.0), 0.0)
        return x, mu, vi.natural_residual(x, mu)

    # -c . z = -l.z_l + u.z_u + b.mu: the Farkas gap's terms of the bounds and rows.
    c = jnp.concatenate([jnp.where(hl, l, 0.0), -jnp.where(hu, u, 0.0), -b])

    def farkas(z, lam):
        """Normalized infeasibility certificate of the current duals: ``(residual, gap, norm)``."""
        combination = vi.eq_adjoint(lam) - M_T(z)  # E^T lam + A^T mu - z_l + z_u
        norm = jnp.maximum(jnp.max(jnp.abs(lam), initial=0.0), jnp.max(jnp.abs(z), initial=0.0))
        gap = (jnp.dot(vi.eq_target, lam) - jnp.dot(c, z) - jnp.dot(jnp.where(fixed, l, 0.0), combination))
        safe = jnp.maximum(norm, 1e-300)
        return jnp.max(jnp.abs(jnp.where(free, combination, 0.0)), initial=0.0) / safe, gap / safe, norm

    # Starting point: the game's initial point pushed inside its bounds; slacks at least a hundredth of
    # the limits; duals at the operator's scale.
    x = vi.x_init
    width = u - l
    x = jnp.where(hl & hu, jnp.clip(x, l + 0.1 * width, u - 0.1 * width), x)
    x = jnp.where(hl & ~hu, jnp.maximum(x, l + 1.0), x)
    x = jnp.where(hu & ~hl, jnp.minimum(x, u - 1.0), x)
    x = jnp.where(fixed, l, x)
    probe = jnp.where(free, _pseudo_random(n, dtype, 1), 0.0)
    # Money units: the operator is divided by its scale (the Jacobian's gain on a fixed direction at the
    # start, else |F|), so that every threshold below -- the certificate's tol, the starting duals, the
    # polish's weights, the Farkas test -- sees the same problem whatever unit the costs are in.
    raw_F = vi.F
    if scale_invariant:
        F0, J0 = jax.jvp(raw_F, (x,), (probe,))
        gain = jnp.linalg.norm(jnp.where(free, J0, 0.0)) / jnp.maximum(jnp.linalg.norm(probe), 1e-300)
        size = jnp.max(jnp.abs(jnp.where(free, F0, 0.0)), initial=0.0)
        operator_scale = jnp.where(gain > 0, gain, jnp.where(size > 0, size, 1.0))
        operator_scale = jnp.where(jnp.isfinite(operator_scale), operator_scale, 1.0)
    else:
        operator_scale = jnp.ones((), dtype)
    vi.F = lambda v: raw_F(v) / operator_scale
    Fx, J_probe = jax.jvp(vi.F, (x,), (probe,))
    scale = jnp.maximum(1.0, jnp.max(jnp.abs(jnp.where(free, Fx, 0.0)), initial=0.0))
    # ||J v|| / ||v|| for a fixed v: the scale of the operator's Jacobian (for the polish's weights).
    jacobian_scale = jnp.maximum(jnp.linalg.norm(jnp.where(free, J_probe, 0.0)) / jnp.maximum(
        jnp.linalg.norm(probe), 1e-300), 1e-12)
    polish_penalty, polish_proximal = POLISH_PENALTY * jacobian_scale, POLISH_PROXIMAL * jacobian_scale
    s = jnp.where(act, jnp.maximum(b - vi.in_values(x), jnp.maximum(1e-2 * jnp.abs(b), 1e-2)), 1.0)
    z = jnp.where(paired, scale, 0.0)
    lam = jnp.zeros(p, dtype)
    _, _, norm0 = farkas(z, lam)
    gap0 = complementarity(slack(x, s), z)
    best_x, best_mu, residual0 = certificate(x, jnp.zeros(m, dtype))
    zero = jnp.zeros((), dtype)
    state = _State(x, z, lam, s, gap0,
                   x, lam, best_mu, free, act, jnp.asarray(False), jnp.asarray(0), POLISH_BELOW * gap0,
                   best_x, lam, best_mu, residual0,
                   jnp.asarray(0), jnp.asarray(False), jnp.asarray(False), zero, zero, norm0, zero, zero,
                   jnp.asarray(0))

    def body(st):
        x, z, lam, s, polishing = st.x, st.z, st.lam, st.s, st.polishing
        t = slack(x, s)
        scaling = jnp.where(paired, z / t, 0.0)
        # One linearization and one factorization: of the interior-point system at x or of the polish's
        # active-set system at px (active bounds pinned, active rows penalized, a proximal term).
        Fx, jvp = jax.linearize(vi.F, jnp.where(polishing, st.px, x))
        zl_t, zu_t, W = split(scaling)
        D = jnp.where(polishing, polish_proximal, zl_t + zu_t)
        W = jnp.where(polishing, jnp.where(st.prows, polish_penalty, 0.0), W)
        solve, structure_error = kernel.factor(jvp, D, W, jnp.where(polishing, st.pfree, free))

        # Interior-point residuals: dual, equalities, rows' slacks (stacked as rt), complementarity.
        rd = jnp.where(free, Fx + vi.eq_adjoint(lam) - M_T(z), 0.0)
        re = vi.eq_values(x) - vi.eq_target
        rt = jnp.concatenate([jnp.zeros(2 * n, dtype), jnp.where(act, vi.in_values(x) + s - b, 0.0)])
        nu = st.gap
        products = jnp.where(paired, t * z, 0.0)

        def rhs(rc):
            return jnp.where(free, -rd - M_T((rc - z * rt) / t), 0.0), -re

        def direction(rc, solution):
            """The full direction from the reduced solution, and the largest step inside the orthant."""
            dx, dlam = solution
            dx = jnp.where(free, dx, 0.0)
            dt = jnp.where(paired, M(dx) - rt, 0.0)
            dz = jnp.where(paired, (-rc - z * dt) / t, 0.0)
            alpha = _max_step(jnp.concatenate([t, z]), jnp.concatenate([dt, dz]), jnp.concatenate([paired, paired]))
            return dx, dlam, dt, dz, alpha

        def corrector(first):
            """Mehrotra's centering and second-order term from the predictor (affine-scaling) solution."""
            _, _, dt, dz, alpha_aff = direction(products, first)
            nu_aff = complementarity(t + alpha_aff * dt, z + alpha_aff * dz)
            sigma = jnp.clip((nu_aff / jnp.maximum(nu, 1e-300)) ** 3, 0.0, 1.0)
            return jnp.where(paired, products + dt * dz - sigma * nu, 0.0)

        polish_rx = jnp.where(st.pfree, -(Fx + vi.in_adjoint(st.pmu + W * (vi.in_values(st.px) - b))), 0.0)
        polish_re = vi.eq_target - vi.eq_values(st.px)

        rx_pred, re_pred = rhs(products)
        first = solve(jnp.where(polishing, polish_rx, rx_pred), jnp.where(polishing, polish_re, re_pred))
        second = solve(*rhs(corrector(first)))
        dx, dlam, dt, dz, alpha_max = direction(corrector(first), second)
        alpha = jnp.minimum(1.0, STEP_TO_BOUNDARY * alpha_max)
        ok = jnp.isfinite(alpha * (jnp.sum(dx) + jnp.sum(dlam) + jnp.sum(dz) + jnp.sum(dt))) & (alpha > 0)
        update = ~polishing & ok
        x = jnp.where(update, x + alpha * dx, x)
        z = jnp.where(update, z + alpha * dz, z)
        lam = jnp.where(update, lam + alpha * dlam, lam)
        s = jnp.where(update, jnp.where(act, split(t + alpha * dt)[2], 1.0), s)
        t = slack(x, s)
        gap = complementarity(t, z)
        mu = split(z)[2]

        # The polish's update (method of multipliers on the active rows).
        px = st.px + jnp.where(st.pfree, first[0], 0.0)
        plam = first[1]
        pmu = jnp.where(st.prows, st.pmu + W * (vi.in_values(px) - b), 0.0)

        # Certify the new point (the interior-point iterate or the polished one); keep the best.
        cx, cmu, c_res = certificate(jnp.where(polishing, px, x), jnp.where(polishing, pmu, mu))
        c_res = jnp.where(jnp.isfinite(jnp.sum(cx) + jnp.sum(cmu)) & (polishing | ok), c_res, jnp.inf)
        better = c_res < st.residual
        best = (jnp.where(better, cx, st.best_x), jnp.where(better, jnp.where(polishing, plam, lam), st.best_lam),
                jnp.where(better, cmu, st.best_mu), jnp.minimum(c_res, st.residual))

        # Mode: a polish runs POLISH_STEPS steps (or until it certifies); a new one starts from the
        # interior-point iterate once its complementarity has fallen below the threshold.
        pstep = jnp.where(polishing, st.pstep + 1, 0)
        polish_done = polishing & ((pstep >= POLISH_STEPS) | (c_res <= tol) | ~jnp.isfinite(c_res))
        start = ~polishing & ok & (gap <= st.next_polish) & (best[3] > tol)
        active = paired & (z > t)  # the guessed active set: duals above their slacks
        at_l, at_u, rows = split(active)
        at_u = at_u & ~at_l
        started = (jnp.where(at_l, l, jnp.where(at_u, u, x)), lam, jnp.where(rows, mu, 0.0),
                   free & ~(at_l | at_u), rows)
        px, plam, pmu, pfree, prows = (jnp.where(start, new, old) for new, old in
                                       zip(started, (px, plam, pmu, st.pfree, st.prows)))
        next_polish = jnp.where(start, gap * POLISH_AGAIN, st.next_polish)

        f_res, f_gap, norm = farkas(z, lam)
        # The certificate must beat its own residual over the iterate's scale: for feasible x of that
        # size, -gap <= residual * ||x||_1 (so a feasible problem cannot show it).
        x_scale = jnp.sum(jnp.abs(x)) + 1.0
        infeasible = ((f_res <= FARKAS_RESIDUAL) & (f_gap <= -jnp.maximum(FARKAS_GAP, 1e3 * f_res * x_scale))
                      & (norm >= FARKAS_GROWTH * jnp.maximum(norm0, 1.0)))
        return _State(x, z, lam, s, gap,
                      px, plam, pmu, pfree, prows, start | (polishing & ~polish_done), pstep, next_polish,
                      *best,
                      st.k + 1, ~polishing & ~ok, infeasible, f_res, f_gap, norm, jnp.where(polishing, st.step, alpha),
                      jnp.maximum(st.structure_error, jnp.where(polishing, 0.0, structure_error)),
                      st.polishes + start.astype(st.polishes.dtype))

    def cond(st):
        return (st.k < max_steps) & (st.residual > tol) & ~st.stalled & ~st.infeasible

    st = jax.lax.while_loop(cond, body, state)
    converged = st.residual <= tol
    # Back to the game's units: the multipliers scale with the operator.
    lam_out, mu_out = st.best_lam * operator_scale, st.best_mu * operator_scale
    vi.F = raw_F
    stats = dict(complementarity=st.gap, step=st.step, farkas_residual=st.farkas_residual, farkas_gap=st.farkas_gap,
                 dual_norm=st.dual_norm, stalled=st.stalled, polishes=st.polishes,
                 structure_error=st.structure_error, operator_scale=operator_scale,
                 natural_residual=vi.natural_residual(st.best_x, mu_out),
                 primal_infeasibility=jnp.maximum(
                     jnp.max(jnp.abs(vi.eq_values(st.x) - vi.eq_target), initial=0.0),
                     jnp.max(jnp.where(act, jnp.maximum(vi.in_values(st.x) - b, 0.0), 0.0), initial=0.0)))
    return InteriorPointOutput(st.best_x.reshape(vi.shape), lam_out, mu_out, st.k, st.residual,
                               converged, st.infeasible & ~converged, stats)


def interior_point_status(out: InteriorPointOutput):
    """The :class:`~solvers.Status` of a run: CONVERGED, else INFEASIBLE (a Farkas certificate), else
    MAX_STEPS (budget spent or a failed step, ``stats["stalled"]``), NONFINITE where the residual is not finite."""
    return jnp.where(out.converged, Status.CONVERGED, jnp.where(
        out.infeasible, Status.INFEASIBLE, jnp.where(jnp.isfinite(out.residual), Status.MAX_STEPS,
                                                     Status.NONFINITE))).astype(jnp.int32)


def fixed_point_steps(game):
    """Positive primal and dual steps ``(g_x, g_mu)`` for the projected-step map whose fixed points are the
    equilibria, through which the implicit derivatives of an interior-point solution are taken (their
    value does not change the derivative). Traceable, and without an SVD (no LAPACK call in the compiled
    program, see :func:`_lu_factor`): ``||A||_F >= ||A||_2`` for dense constraints."""
    L = game.lipschitz_bound()
    if isinstance(game, SharedLinearConstraints):
        norm = game.constraint_norm_bound()
    elif isinstance(game, DenseSharedConstraints):
        norm = jnp.linalg.norm(game.shared_constraints()[0])
    else:
        norm = jnp.zeros_like(L)
    return jnp.where(norm > 0, jnp.stack([0.45 / L, 0.45 * L / jnp.where(norm > 0, norm, 1.0) ** 2]),
                     jnp.stack([0.9 / L, 0.9 / L]))


def declared_unique(game) -> bool:
    """Whether the game declares a unique equilibrium (as :attr:`Problem.unique`, without building the
    problem eagerly: for a grid game that would derive the PTDF op by op before the compiled solve)."""
    return bool(game.unique_equilibrium) if isinstance(game, DeclaresUniqueness) else True
