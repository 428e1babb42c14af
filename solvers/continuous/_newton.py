"""Globalized semismooth Newton methods for variational inequalities.

Two forms: :func:`semismooth_newton` on Robinson's normal map (any projection; used by ``solve_vi``),
and :func:`proximal_complementarity_newton` on the Fischer-Burmeister form of a mixed complementarity
problem (variables in boxes ``[lower, upper]``, bounds possibly infinite; used by ``solve_gne``),
described in their docstrings.

The normal-map method:

For ``VI(X, F)`` and a step ``g > 0`` the normal map ``N(z) = g F(P(z)) + z - P(z)`` vanishes exactly
when ``x = P(z)`` solves the VI (then ``z = x - g F(x)``). ``N`` is semismooth when ``P`` is piecewise
smooth (boxes, capped simplices, orthants), and Newton's method with any element of its generalized
Jacobian ``g JF(P(z)) JP(z) + I - JP(z)`` converges locally superlinearly (quadratically for piecewise
affine ``P`` and affine ``F``) at a strongly regular solution. Here:

- the generalized Jacobian is applied matrix-free (``jax.jvp`` of ``N``, which differentiates the
  projection on its current active set), and the Newton system is solved by restarted GMRES to a
  relative accuracy ``min(0.1, ||N(z)||)`` (an inexact Newton method, Dembo, Eisenstat and Steihaug 1982);
- globalization: backtracking on ``||N||`` (Armijo decrease); a step that no backtrack accepts is
  replaced by one extragradient step from ``x = P(z)`` (with ``z = x`` afterwards), so the method is
  never worse than a slow first-order method and never stops at a non-solution that looks converged.

The iterate ``x = P(z)`` is always feasible, and the certified residual is the natural-map residual
``||x - P(x - F(x))||_inf`` used by every other method.

References: S. M. Robinson (1992), "Normal maps induced by linear transformations", Mathematics of
Operations Research 17(3); L. Qi and J. Sun (1993), "A nonsmooth version of Newton's method",
Mathematical Programming 58; F. Facchinei and J.-S. Pang (2003), *Finite-Dimensional Variational
Inequalities and Complementarity Problems*, ch. 7-8; R. S. Dembo, S. C. Eisenstat and T. Steihaug
(1982), "Inexact Newton methods", SIAM Journal on Numerical Analysis 19(2); Y. Saad and M. H. Schultz
(1986), "GMRES", SIAM J. Sci. Stat. Comput. 7(3).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._core._complementarity import box_fischer_burmeister, box_natural_residual
from .._core._loop import iterate
from ._first_order import extragradient_step

__all__ = ["semismooth_newton", "complementarity_newton", "proximal_complementarity_newton"]

BACKTRACKS = 12  # step halvings tried by the line searches
CG_FORCING = 0.1  # relative accuracy of the inner linear solves, times min(1, ||residual||)


def semismooth_newton(F, P, x0, step_size, tol, *, max_steps, krylov_restart=50, krylov_restarts=20):
    """Run the method on flat vectors. ``F``, ``P``: callables on ``(n,)``; ``x0`` feasible.

    Returns ``(x, natural-map residual, iterations)``; to be called inside ``jit``.
    """

    def normal_map(z):
        x = P(z)
        return step_size * F(x) + z - x

    def residual(x):
        return jnp.max(jnp.abs(x - P(x - F(x))))

    restart = min(krylov_restart, x0.size)

    def step(z):
        r = normal_map(z)
        norm = jnp.linalg.norm(r)
        matvec = lambda v: jax.jvp(normal_map, (z,), (v,))[1]
        d, _ = jax.scipy.sparse.linalg.gmres(matvec, -r, tol=jnp.minimum(0.1, norm), atol=0.0, restart=restart,
                                             maxiter=krylov_restarts, solve_method="batched")
        t = 0.5 ** jnp.arange(BACKTRACKS, dtype=z.dtype)
        trial_norms = jax.vmap(lambda s: jnp.linalg.norm(normal_map(z + s * d)))(t)
        accept = jnp.isfinite(trial_norms) & (trial_norms <= (1.0 - 1e-4 * t) * norm)
        first = jnp.argmax(accept)

        def newton(_):
            return z + t[first] * d

        def extragradient(_):
            return extragradient_step(F, P, P(z), step_size)

        z = jax.lax.cond(jnp.any(accept), newton, extragradient, None)
        return z, residual(P(z))

    z, k, res = iterate(step, x0, residual(x0), max_steps=max_steps, tol=tol)
    return P(z), res, k


def complementarity_newton(G, lower, upper, w0, tol, residual, *, max_steps, krylov_iterations=None):
    """Semismooth Newton for the mixed complementarity problem: ``w in [lower, upper]`` with ``G(w) >= 0``
    where ``w = lower``, ``G(w) <= 0`` where ``w = upper`` and ``G(w) = 0`` in between (bounds may be
    infinite: ``[0, inf)`` is a nonlinear complementarity problem, ``(-inf, inf)`` an equation;
    ``upper=None`` says that no upper bound is finite and every lower bound is).

    The equation ``Phi(w) = 0`` (Billups' box Fischer-Burmeister function, :func:`~solvers._core._complementarity.box_fischer_burmeister`)
    is solved by Newton steps with a Levenberg-Marquardt regularization ``(J^T J + lam I) d = -J^T Phi``,
    ``lam = min(1, ||Phi||) * 1e-6`` (well defined when ``J`` is singular, as with more binding
    constraints than players; Yamashita and Fukushima 2001), solved by conjugate gradients with
    Jacobian-vector and vector-Jacobian products, and an Armijo line search on the merit
    ``||Phi||^2 / 2``, which is continuously differentiable (unlike ``||normal map||``), so the search
    always succeeds; for monotone ``G`` every stationary point of the merit is a solution (De Luca,
    Facchinei and Kanzow 1996; Billups 1995 for boxes).

    ``residual(w)`` is the certificate checked against ``tol``. Returns ``(w, iterations, residual)``.

    References: A. Fischer (1992), "A special Newton-type optimization method", Optimization 24;
    T. De Luca, F. Facchinei and C. Kanzow (1996), "A semismooth equation approach to the solution of
    nonlinear complementarity problems", Mathematical Programming 75; S. C. Billups (1995), *Algorithms
    for complementarity problems and generalized equations*, PhD thesis, University of Wisconsin;
    N. Yamashita and M. Fukushima (2001), "On the rate of convergence of the Levenberg-Marquardt
    method", Computing Suppl. 15.
    """
    n = w0.size
    krylov_iterations = 10 * n if krylov_iterations is None else krylov_iterations

    def Phi(w):
        return box_fischer_burmeister(w, G(w), lower, upper)

    def step(w):
        phi, jvp = jax.linearize(Phi, w)
        vjp = jax.linear_transpose(jvp, w)
        gradient = vjp(phi)[0]  # grad of ||Phi||^2 / 2
        merit = 0.5 * jnp.dot(phi, phi)
        lam = 1e-6 * jnp.minimum(1.0, jnp.sqrt(2 * merit))
        normal = lambda d: vjp(jvp(d))[0] + lam * d
        forcing = CG_FORCING * jnp.minimum(1.0, jnp.sqrt(2 * merit))  # inexact Newton (Dembo et al. 1982)
        d, _ = jax.scipy.sparse.linalg.cg(normal, -gradient, tol=forcing, atol=0.0, maxiter=krylov_iterations)
        slope = jnp.dot(gradient, d)
        d = jnp.where(jnp.isfinite(slope) & (slope < 0), d, -gradient)  # steepest descent as a safeguard
        slope = jnp.dot(gradient, d)
        t = 0.5 ** jnp.arange(2 * BACKTRACKS, dtype=w.dtype)
        trial = jax.vmap(lambda s: 0.5 * jnp.sum(Phi(w + s * d) ** 2))(t)
        accept = jnp.isfinite(trial) & (trial <= merit + 1e-4 * t * slope)
        length = jnp.where(jnp.any(accept), t[jnp.argmax(accept)], t[-1])
        w = w + length * d
        return w, residual(w)

    return iterate(step, w0, residual(w0), max_steps=max_steps, tol=tol)


def proximal_complementarity_newton(G, lower, upper, w0, tol, residual, *, max_steps, scale, inner_steps=50):
    """Solve a *monotone* mixed complementarity problem (see :func:`complementarity_newton`) by inexact proximal-point steps, each solved by
    :func:`complementarity_newton`.

    Plain Fischer-Burmeister Newton can crawl near points where ``JG`` is nearly singular (more binding
    line limits than free producers, large multipliers). The proximal subproblem at the center ``c``,
    ``G(w) + eps (w - c)``, is strongly monotone, so its Newton iteration is fast and globally well
    behaved; the outer iteration ``c <- w(c)`` converges for monotone ``G`` (Rockafellar 1976) and
    superlinearly as ``eps -> 0``. Here ``eps = min(eps_k, residual)`` with ``eps_0 = 1e-4 scale``
    (``scale`` ~ the operator's Lipschitz constant); a subproblem that fails within ``inner_steps``
    multiplies ``eps_k`` by 10 (more regularization), one that succeeds halves it. ``max_steps``
    bounds the total number of Newton steps.

    References: R. T. Rockafellar (1976), "Monotone operators and the proximal point algorithm", SIAM J.
    Control Optim. 14(5); F. Facchinei and J.-S. Pang (2003), section 12.3 (proximal point with
    semismooth Newton inner solves).
    """

    def step(state):
        center, eps_k, k, res = state
        eps = jnp.minimum(eps_k, res)
        Gc = lambda v: G(v) + eps * (v - center)
        inner_tol = 1e-2 * res
        inner_residual = lambda v: box_natural_residual(v, Gc(v), lower, upper)
        w, steps, r_inner = complementarity_newton(Gc, lower, upper, center, inner_tol, inner_residual,
                                                   max_steps=jnp.minimum(inner_steps, max_steps - k))
        solved = r_inner <= inner_tol
        eps_k = jnp.where(solved, 0.5 * eps_k, 10.0 * eps_k)
        w = jnp.where(solved | (residual(w) < res), w, center)  # keep the center if nothing improved
        r = residual(w)
        return (w, eps_k, k + steps, r), r, steps

    r0 = residual(w0)
    (w, _, _, _), k, res = iterate(step, (w0, 1e-4 * scale, jnp.asarray(0), r0), r0, max_steps=max_steps, tol=tol)
    return w, k, res
