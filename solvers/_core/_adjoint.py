"""How derivatives pass through a solver: the adjoint, a choice of the caller.

An equilibrium is a fixed point ``w* = T(theta, w*)`` of the solver's map (for a VI, the projected step
``T(w) = P(w - g F(w))``). Two adjoints:

- :class:`ImplicitAdjoint` (the default): by the implicit function theorem
  ``dw*/dtheta = (I - dT/dw)^{-1} dT/dtheta``; reverse mode needs only the adjoint solve
  ``(I - dT/dw)^T y = cotangent``, done matrix-free with vector-Jacobian and Jacobian-vector products of
  ``T`` by a pluggable linear solver. The iterations that found ``w*`` are never unrolled, so the cost is
  independent of how many there were. Where the fixed point is not locally unique the derivative does
  not exist; the solver says so with ``unique=False`` and the gradients are NaN.
- :class:`UnrolledAdjoint`: differentiate through a fixed number of iterations (the solver's
  ``max_steps``), as automatic differentiation of the algorithm does. It costs memory and time in
  proportion to the steps and is offered for comparison and for maps without a usable fixed point.

References: M. Blondel, Q. Berthet, M. Cuturi, R. Frostig, S. Hoyer, F. Llinares-Lopez, F. Pedregosa
and J.-P. Vert (2022), "Efficient and modular implicit differentiation", NeurIPS; S. G. Krantz and
H. R. Parks (2002), *The Implicit Function Theorem*; P. Kidger and J. Rader (2023), optimistix (the
adjoint as a pluggable choice); A. Griewank and A. Walther (2008), *Evaluating Derivatives*, ch. 15
(differentiating iterations).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

__all__ = ["ImplicitAdjoint", "UnrolledAdjoint", "implicit_fixed_point", "check_adjoint"]

LINEAR_SOLVERS = ("normal_cg", "gmres", "bicgstab")


@dataclasses.dataclass(frozen=True)
class ImplicitAdjoint:
    """Implicit differentiation of the solution (see the module docstring).

    Args:
      linear_solver: how the adjoint system ``M y = v`` (``M = (I - dT/dw)^T``, not symmetric) is solved:
        ``"normal_cg"`` (conjugate gradients on ``M M^T z = v``, ``y = M^T z``: robust, the default),
        ``"gmres"``, ``"bicgstab"`` (``jax.scipy.sparse.linalg``), or a callable
        ``solve(matvec, v) -> y`` (e.g. wrapping a lineax solver).
      tol: relative tolerance of the iterative solves.
      max_iterations: their iteration cap (default ``20 n``).
    """

    linear_solver: str | Callable = "normal_cg"
    tol: float = 1e-14
    max_iterations: int | None = None

    def __post_init__(self):
        if not callable(self.linear_solver) and self.linear_solver not in LINEAR_SOLVERS:
            raise ValueError(f"linear_solver must be one of {LINEAR_SOLVERS} or a callable; got {self.linear_solver!r}")


@dataclasses.dataclass(frozen=True)
class UnrolledAdjoint:
    """Differentiate through ``max_steps`` iterations of the solver (first-order methods only)."""


def check_adjoint(adjoint, *, unrolled_ok: bool, solver: str):
    """``adjoint`` if it is a known adjoint (or None: no derivative rule), else ``ValueError``."""
    if adjoint is None or isinstance(adjoint, ImplicitAdjoint):
        return adjoint
    if isinstance(adjoint, UnrolledAdjoint):
        if not unrolled_ok:
            raise ValueError(f"{solver}: UnrolledAdjoint needs a first-order method (its iterations are "
                             "differentiable); use ImplicitAdjoint")
        return adjoint
    raise ValueError(f"adjoint must be ImplicitAdjoint(), UnrolledAdjoint() or None; got {adjoint!r}")


def _solve(adjoint: ImplicitAdjoint, M, M_T, v):
    maxiter = 20 * v.size if adjoint.max_iterations is None else adjoint.max_iterations
    method = adjoint.linear_solver
    if callable(method):
        return method(M, v)
    if method == "normal_cg":
        z, _ = jax.scipy.sparse.linalg.cg(lambda z: M(M_T(z)), v, tol=adjoint.tol, atol=0.0, maxiter=maxiter)
        return M_T(z)
    if method == "gmres":
        y, _ = jax.scipy.sparse.linalg.gmres(M, v, tol=adjoint.tol, atol=0.0, maxiter=maxiter,
                                             restart=min(50, v.size), solve_method="batched")
        return y
    y, _ = jax.scipy.sparse.linalg.bicgstab(M, v, tol=adjoint.tol, atol=0.0, maxiter=maxiter)
    return y


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1, 4))
def implicit_fixed_point(adjoint, fixed_map, params, solution, unique=True):
    """Return ``solution`` (a pytree) with the implicit derivatives of ``solution = fixed_map(params, solution)``.

    ``adjoint`` (an :class:`ImplicitAdjoint`, static) chooses the linear solver; ``fixed_map`` (hashable,
    static) maps ``(params, w) -> w``; ``params`` is any pytree of arrays (the game and its step size);
    ``unique`` (static) False makes every parameter cotangent NaN.
    """
    return solution


def _forward(adjoint, fixed_map, params, solution, unique):
    return solution, (params, solution)


def _backward(adjoint, fixed_map, unique, residuals, cotangent):
    # One compiled program per (adjoint, map, shapes): an eager jax.grad does not retrace the solve op by op.
    return _adjoint_solve(adjoint, fixed_map, unique, *residuals, cotangent)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _adjoint_solve(adjoint, fixed_map, unique, params, solution, cotangent):
    flat, unravel = ravel_pytree(solution)
    flat_map = lambda w: ravel_pytree(fixed_map(params, unravel(w)))[0]
    _, vjp_w = jax.vjp(flat_map, flat)
    v = ravel_pytree(cotangent)[0]
    M = lambda y: y - vjp_w(y)[0]  # (I - dT/dw)^T
    M_T = lambda z: z - jax.jvp(flat_map, (flat,), (z,))[1]
    y = unravel(_solve(adjoint, M, M_T, v))
    _, vjp_params = jax.vjp(lambda p: fixed_map(p, solution), params)
    (params_cotangent,) = vjp_params(y)
    if not unique:  # no derivative exists: say so with NaN rather than differentiate one selection
        params_cotangent = jax.tree_util.tree_map(
            lambda g: jnp.full_like(g, jnp.nan) if jnp.issubdtype(g.dtype, jnp.inexact) else g, params_cotangent)
    return params_cotangent, jax.tree_util.tree_map(jnp.zeros_like, solution)


implicit_fixed_point.defvjp(_forward, _backward)
