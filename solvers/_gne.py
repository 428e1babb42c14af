"""Variational equilibria of games with shared linear constraints (generalized Nash equilibria).

Players minimize their costs subject to their own sets ``X`` and shared constraints ``A x <= u``. The
variational equilibrium (Rosen 1965; Facchinei, Fischer and Piccialli 2007) is the solution of the VI
on ``X intersect {A x <= u}``; with multipliers ``mu >= 0`` common to all players it is the solution of
the monotone VI in ``(x, mu)``

    F(x) + A^T mu  and  u - A x   on  X x R_+^m,

solved here by the extragradient method (a primal-dual method: the multipliers are updated by the
constraint violation). In the networked Cournot game the multipliers of the line limits are the
congestion prices that make up the locational marginal prices.

References: J. B. Rosen (1965), Econometrica 33(3); F. Facchinei, A. Fischer and V. Piccialli (2007),
"On generalized Nash games and variational inequalities", Operations Research Letters 35;
G. M. Korpelevich (1976).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from ._common import check_positive_int, check_tol
from ._result import Status, maybe_throw
from ._variational import VariationalEquilibrium

__all__ = ["solve_gne", "GeneralizedEquilibrium"]


@dataclasses.dataclass(frozen=True)
class GeneralizedEquilibrium(VariationalEquilibrium):
    """A variational equilibrium with the multipliers of the shared constraints (``residual`` is the
    natural-map residual of the primal-dual VI)."""

    multipliers: jax.Array


jax.tree_util.register_dataclass(
    GeneralizedEquilibrium, data_fields=["strategies", "residual", "iterations", "status", "multipliers"],
    meta_fields=[],
)


def solve_gne(game, *, step_size=None, tol: float | None = None, max_steps: int = 200_000,
              throw: bool = False) -> GeneralizedEquilibrium:
    """The variational equilibrium of a game with shared linear constraints, by primal-dual extragradient.

    The game provides ``pseudo_gradient``, ``project``, ``initial_point``, ``lipschitz_bound`` and
    ``shared_constraints() -> (A, upper)`` with ``A`` acting on the (flattened) strategies.

    Args:
      step_size: default ``1 / (L + ||A||_2)``.
      tol: natural-map residual of the primal-dual VI (default 1e-8 in float64, 1e-4 in float32).
      max_steps: the most iterations (static).

    Reference: Rosen (1965); Facchinei, Fischer and Piccialli (2007); Korpelevich (1976).
    """
    if not hasattr(game, "shared_constraints"):
        raise ValueError(f"{type(game).__name__} has no shared constraints; use solve_vi")
    max_steps = check_positive_int(max_steps, "max_steps")
    A, upper = game.shared_constraints()
    tol = check_tol(tol, A.dtype, float64=1e-8)
    if step_size is None:
        step_size = 1.0 / (game.lipschitz_bound() + jnp.linalg.norm(A, 2))
    result = _solve_gne(game, jnp.asarray(step_size), jnp.asarray(tol), max_steps=max_steps)
    return maybe_throw(result, throw, "solve_gne")


@functools.partial(jax.jit, static_argnames=("max_steps",))
def _solve_gne(game, step_size, tol, *, max_steps):
    A, upper = game.shared_constraints()
    x0 = game.initial_point()
    shape = x0.shape

    def operator(x, mu):
        Fx = game.pseudo_gradient(x) + (A.T @ mu).reshape(shape)
        Fmu = upper - A @ x.ravel()
        return Fx, Fmu

    def project(x, mu):
        return game.project(x), jnp.maximum(mu, 0.0)

    def residual(x, mu):
        Fx, Fmu = operator(x, mu)
        px, pmu = project(x - Fx, mu - Fmu)
        return jnp.maximum(jnp.max(jnp.abs(x - px)), jnp.max(jnp.abs(mu - pmu)))

    def body(carry):
        (x, mu), k, _ = carry
        Fx, Fmu = operator(x, mu)
        y, nu = project(x - step_size * Fx, mu - step_size * Fmu)
        Fy, Fnu = operator(y, nu)
        x, mu = project(x - step_size * Fy, mu - step_size * Fnu)
        return (x, mu), k + 1, residual(x, mu)

    def cond(carry):
        _, k, r = carry
        return (k < max_steps) & (r > tol) & jnp.isfinite(r)

    mu0 = jnp.zeros_like(upper)
    (x, mu), k, r = jax.lax.while_loop(cond, body, ((x0, mu0), jnp.asarray(0), residual(x0, mu0)))
    status = jnp.where(r <= tol, Status.CONVERGED, Status.MAX_STEPS)
    status = jnp.where(jnp.isfinite(r), status, Status.NONFINITE).astype(jnp.int32)
    return GeneralizedEquilibrium(strategies=x, multipliers=mu, residual=r, iterations=k, status=status)
