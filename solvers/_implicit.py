"""Implicit differentiation of a fixed point ``w* = T(theta, w*)`` (an equilibrium) with a custom VJP.

By the implicit function theorem ``dw*/dtheta = (I - dT/dw)^{-1} dT/dtheta``; reverse mode needs only
the adjoint solve ``(I - dT/dw)^T v = cotangent``, done matrix-free with vector-Jacobian and
Jacobian-vector products of ``T`` (conjugate gradients on the normal equations, since ``I - dT/dw`` is
not symmetric). The iterations that found ``w*`` are never unrolled. Where the fixed point is not
locally unique the derivative does not exist; callers say so with ``unique=False`` and get NaN.

References: M. Blondel, Q. Berthet, M. Cuturi, R. Frostig, S. Hoyer, F. Llinares-Lopez, F. Pedregosa
and J.-P. Vert (2022), "Efficient and modular implicit differentiation", NeurIPS; S. G. Krantz and
H. R. Parks (2002), *The Implicit Function Theorem*.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

__all__ = ["implicit_fixed_point"]


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 3))
def implicit_fixed_point(fixed_map, params, solution, unique=True):
    """Return ``solution`` (a pytree) with the implicit derivatives of ``solution = fixed_map(params, solution)``.

    ``fixed_map`` (hashable, static) maps ``(params, w) -> w``; ``params`` is any pytree of arrays (the
    game and its step size); ``unique`` (static) False makes every parameter cotangent NaN.
    """
    return solution


def _forward(fixed_map, params, solution, unique):
    return solution, (params, solution)


def _backward(fixed_map, unique, residuals, cotangent):
    params, solution = residuals
    flat, unravel = ravel_pytree(solution)
    flat_map = lambda w: ravel_pytree(fixed_map(params, unravel(w)))[0]
    _, vjp_w = jax.vjp(flat_map, flat)
    v = ravel_pytree(cotangent)[0]
    # Adjoint system M y = v with M = (I - dT/dw)^T: CG on M M^T z = v, then y = M^T z.
    M = lambda y: y - vjp_w(y)[0]
    M_T = lambda z: z - jax.jvp(flat_map, (flat,), (z,))[1]
    z, _ = jax.scipy.sparse.linalg.cg(lambda z: M(M_T(z)), v, tol=1e-14, atol=0.0, maxiter=20 * v.size)
    y = unravel(M_T(z))
    _, vjp_params = jax.vjp(lambda p: fixed_map(p, solution), params)
    (params_cotangent,) = vjp_params(y)
    if not unique:  # no derivative exists: say so with NaN rather than differentiate one selection
        params_cotangent = jax.tree_util.tree_map(
            lambda g: jnp.full_like(g, jnp.nan) if jnp.issubdtype(g.dtype, jnp.inexact) else g, params_cotangent)
    return params_cotangent, jax.tree_util.tree_map(jnp.zeros_like, solution)


implicit_fixed_point.defvjp(_forward, _backward)
