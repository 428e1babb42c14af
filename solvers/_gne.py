"""Variational equilibria of games with shared linear constraints (generalized Nash equilibria).

Players minimize their costs subject to their own sets ``X`` and shared constraints ``A x <= u``. The
variational equilibrium (Rosen 1965; Facchinei, Fischer and Piccialli 2007) is the solution of the VI
on ``X intersect {A x <= u}``; with multipliers ``mu >= 0`` common to all players it is the solution of
the monotone VI in ``(x, mu)``

    F(x) + A^T mu  and  u - A x   on  X x R_+^m,

solved here, for polyhedral strategy sets ``{lower <= x <= upper, E x = e}`` (all the energy games), by
default by a primal-dual interior-point method (:mod:`solvers.continuous._interior_point`: Mehrotra's
predictor-corrector with structure-exploiting linear algebra), or by the extragradient method (a
primal-dual method: the multipliers are updated by the constraint violation) or semismooth Newton steps
on its Fischer-Burmeister (mixed) complementarity form inside proximal-point iterations. In the
networked Cournot
game the multipliers of the line limits are the congestion prices that make up the locational
marginal prices.

References: J. B. Rosen (1965), Econometrica 33(3); F. Facchinei, A. Fischer and V. Piccialli (2007),
"On generalized Nash games and variational inequalities", Operations Research Letters 35;
G. M. Korpelevich (1976); T. De Luca, F. Facchinei and C. Kanzow (1996); R. T. Rockafellar (1976).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from ._common import check_positive_int, check_tol, constraint_norm
from ._implicit import implicit_fixed_point
from ._newton import proximal_complementarity_newton
from ._result import final_status, maybe_throw, still_iterating
from .continuous._interior_point import interior_point
from ._variational import VariationalEquilibrium, _operator, interior_point_status

__all__ = ["solve_gne", "GeneralizedEquilibrium", "GNE_METHODS"]


@dataclasses.dataclass(frozen=True)
class GeneralizedEquilibrium(VariationalEquilibrium):
    """A variational equilibrium with the multipliers of the shared constraints (``residual`` is the
    natural-map residual of the primal-dual VI)."""

    multipliers: jax.Array


jax.tree_util.register_dataclass(
    GeneralizedEquilibrium, data_fields=["strategies", "residual", "iterations", "status", "multipliers", "stats"],
    meta_fields=[],
)


GNE_METHODS = ("interior_point", "extragradient", "semismooth_newton")
INTERIOR_POINT_MAX_STEPS = 100


def solve_gne(game, *, method: str | None = None, step_size=None, tol: float | None = None,
              max_steps: int | None = None, implicit: bool = True, throw: bool = False) -> GeneralizedEquilibrium:
    """The variational equilibrium of a game with shared linear constraints ``A x <= upper``.

    The game provides ``pseudo_gradient`` (or ``vi_operator``, the block-scaled pseudo-gradient that
    :func:`~solvers.solve_vi` uses too), ``project``, ``initial_point``, ``lipschitz_bound`` and
    ``shared_constraints() -> (A, upper)`` with ``A`` acting on the (flattened) strategies; rows with
    an infinite ``upper`` are inactive (their multipliers stay 0). Games with many constraints may
    instead provide them matrix-free: ``constraint_values(x) = A x``, ``constraint_adjoint(mu) = A^T mu``
    (a strategy array), ``constraint_upper()`` and ``constraint_norm_bound() >= ||A||_2``. A constraint
    that involves one player's strategy only (a storage unit's state of charge) is that player's own
    constraint: the variational equilibrium is then a plain Nash equilibrium with private constraints.

    Args:
      method: ``"interior_point"`` (the default for games with polyhedral strategy sets, i.e. with
        ``lower_bounds()``; see below), ``"extragradient"`` (primal-dual extragradient, Korpelevich 1976;
        the default otherwise) or ``"semismooth_newton"``.

        ``"interior_point"``: a primal-dual path-following method with Mehrotra's predictor-corrector on
        the KKT system of the VI over ``{lower <= x <= upper, E x = e, A x <= upper}`` (Mehrotra 1992;
        Ralph and Wright 1997; Facchinei and Pang 2003, ch. 11), jitted and vmappable with a
        near-constant iteration count (10-30): the reduced Newton system is factorized densely for
        small games (networked Cournot: the players' block plus the line limits' Schur complement) or
        by per-player blocks and a Sherman-Morrison-Woodbury correction for aggregative games
        (demand response), an active-set polish finishes degenerate solutions, and the answer is
        certified by the same natural-map residual as the other methods. Infeasible constraints are
        detected from the diverging duals (a Farkas certificate): status ``INFEASIBLE``, NaN strategies
        and multipliers, the evidence in ``stats`` (``farkas_residual``, ``farkas_gap``, ``dual_norm``).
        See :mod:`solvers.continuous._interior_point`.

        ``"semismooth_newton"`` is for polyhedral strategy sets described by the game:
        ``lower_bounds()``, optionally ``upper_bounds()`` and the equalities ``E x = e`` as
        ``equality_values(x)``, ``equality_adjoint(lam)``, ``equality_target()`` (the same sets that
        ``project`` projects onto). The primal-dual VI becomes a mixed complementarity problem in
        ``(x, lam, mu)``, solved by Fischer-Burmeister semismooth Newton (Billups' box form) with
        Levenberg-Marquardt regularization and an Armijo search, matrix-free, inside proximal-point
        steps; see :func:`solvers._newton.complementarity_newton`. Newton is the method of choice
        once many line limits bind (networked Cournot), where the first-order method needs hundreds
        of thousands of steps; on games whose equilibria form a continuum (daily billing with many
        users) it can be slower than extragradient (``benchmarks/RESULTS.md``).
      step_size: the primal and dual steps ``(g_x, g_mu)`` (a scalar uses one step for both). Default:
        ``g_x = 0.45 / L`` and ``g_mu = 0.45 L / ||A||_2^2``, the extragradient step ``0.45 / L`` after
        rescaling the multipliers by ``L / ||A||`` so that both blocks of the operator have Lipschitz
        constant ``L`` (a state-of-charge operator with ``||A|| ~ T`` would otherwise force a tiny
        primal step); ``0.9 / L`` for both without constraint rows.
      tol: natural-map residual of the primal-dual VI (default 1e-8 in float64, 1e-4 in float32).
      max_steps: the most iterations (static; default 100 interior-point iterations, 200,000 extragradient
        or 5,000 Newton steps, enough for a 50x50 lattice with 4,900 tightly rated lines, which needs
        about 2,600).
      implicit: attach implicit derivatives (static): ``jax.grad`` through the strategies and the
        multipliers with respect to the game's arrays (costs, demand, reactances, capacities) by the
        implicit function theorem on the primal-dual fixed point (a custom VJP, Blondel et al. 2022).
        They exist where the equilibrium is strongly regular (unique multipliers, strict complementarity).

    Example:
      >>> from games import ieee14, network_cournot_game
      >>> game = network_cournot_game(ieee14(), [0, 1, 2], cost_linear=10.0, demand_intercept=100.0,
      ...                             demand_slope=1.0)
      >>> eq = solve_gne(game)  # interior point
      >>> bool(eq.converged), round(float(eq.strategies[0]), 6)  # (a - c) / (b (G + 1)) = 22.5
      (True, 22.5)

    Reference: Rosen (1965); Facchinei, Fischer and Piccialli (2007); Korpelevich (1976); Qi and Sun (1993);
    Mehrotra (1992); Ralph and Wright (1997).
    """
    if not hasattr(game, "shared_constraints"):
        raise ValueError(f"{type(game).__name__} has no shared constraints; use solve_vi")
    if method is None:
        method = "interior_point" if hasattr(game, "lower_bounds") else "extragradient"
    if method not in GNE_METHODS:
        raise ValueError(f"method must be one of {GNE_METHODS}; got {method!r}")
    if method == "interior_point":
        return _interior_point_entry(game, step_size, tol, max_steps, implicit, throw)
    if method == "semismooth_newton":
        _check_polyhedral(game, "semismooth_newton in solve_gne")
        lower = game.lower_bounds()
        if not isinstance(lower, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(lower))):
            raise ValueError("semismooth_newton needs finite lower_bounds() (strategy sets bounded below)")
    default_steps = 5_000 if method == "semismooth_newton" else 200_000
    max_steps = check_positive_int(default_steps if max_steps is None else max_steps, "max_steps")
    tol = check_tol(tol, game.initial_point().dtype, float64=1e-8)
    if step_size is None:
        step_size = default_step_size(game)
    step_size = jnp.broadcast_to(jnp.asarray(step_size, game.initial_point().dtype), (2,))
    if not isinstance(step_size, jax.core.Tracer) and not bool(jnp.all(step_size > 0)):
        raise ValueError(f"step_size must be positive; got {step_size}")
    result = _solve_gne(game, step_size, jnp.asarray(tol), method=method, max_steps=max_steps)
    if implicit:
        x, mu = implicit_fixed_point(_fixed_point_map, (game, step_size),
                                     jax.lax.stop_gradient((result.strategies, result.multipliers)),
                                     getattr(game, "unique_equilibrium", True))
        result = dataclasses.replace(result, strategies=x, multipliers=mu)
    return maybe_throw(result, throw, f"solve_gne[{method}]")


def _check_polyhedral(game, method):
    if not hasattr(game, "lower_bounds"):
        raise ValueError(f"{method} needs polyhedral strategy sets (a game.lower_bounds() method, optionally "
                         f"upper_bounds() and equality_values/equality_adjoint/equality_target); "
                         f"{type(game).__name__} has none: use method='extragradient'")


def _interior_point_entry(game, step_size, tol, max_steps, implicit, throw):
    """``solve_gne(method="interior_point")``: eager validation, then one jitted program."""
    _check_polyhedral(game, "interior_point")
    max_steps = check_positive_int(INTERIOR_POINT_MAX_STEPS if max_steps is None else max_steps, "max_steps")
    dtype = _float_dtype(game)
    tol = check_tol(tol, dtype, float64=1e-8)
    if step_size is not None:
        step_size = jnp.broadcast_to(jnp.asarray(step_size, dtype), (2,))
        if not isinstance(step_size, jax.core.Tracer) and not bool(jnp.all(step_size > 0)):
            raise ValueError(f"step_size must be positive; got {step_size}")
    unique = bool(getattr(game, "unique_equilibrium", True)) if implicit else True
    result = _solve_gne_interior_point(game, step_size, tol, max_steps=max_steps, implicit=implicit, unique=unique)
    return maybe_throw(result, throw, "solve_gne[interior_point]")


def _float_dtype(game):
    """The game's floating-point dtype, read off its array leaves (computing ``initial_point()`` eagerly can
    cost more than a whole solve of a small game)."""
    dtypes = [leaf.dtype for leaf in jax.tree_util.tree_leaves(game) if jnp.issubdtype(leaf.dtype, jnp.floating)]
    return jnp.result_type(*dtypes) if dtypes else jnp.result_type(float)


def default_step_size(game):
    """The primal and dual steps ``(g_x, g_mu)`` of the extragradient method (and of the fixed-point map
    whose implicit derivatives every method reports)."""
    L, norm = game.lipschitz_bound(), constraint_norm(game)
    return jnp.where(norm > 0, jnp.stack([0.45 / L, 0.45 * L / jnp.where(norm > 0, norm, 1.0) ** 2]),
                     jnp.stack([0.9 / L, 0.9 / L]))


@functools.partial(jax.jit, static_argnames=("max_steps", "implicit", "unique"))
def _solve_gne_interior_point(game, step_size, tol, *, max_steps, implicit, unique):
    out = interior_point(jax.lax.stop_gradient(game), tol=tol, max_steps=max_steps)
    x = jnp.where(out.infeasible, jnp.nan, out.x)  # never a plausible profile for infeasible constraints
    mu = jnp.where(out.infeasible, jnp.nan, out.multipliers)
    if implicit:
        if step_size is None:
            # The extragradient steps, with ||A||_F >= ||A||_2 for a dense A (no SVD, i.e. no batched LAPACK
            # call, in the compiled program: see solvers.continuous._interior_point._lu_factor).
            L = game.lipschitz_bound()
            if hasattr(game, "constraint_norm_bound"):
                norm = game.constraint_norm_bound()
            else:
                norm = jnp.linalg.norm(game.shared_constraints()[0])
            step_size = jnp.where(norm > 0, jnp.stack([0.45 / L, 0.45 * L / jnp.where(norm > 0, norm, 1.0) ** 2]),
                                  jnp.stack([0.9 / L, 0.9 / L]))
        # The derivative of the equilibrium does not depend on the fixed-point map's (positive) steps.
        x, mu = implicit_fixed_point(_fixed_point_map, (game, step_size), (x, mu), unique)
    return GeneralizedEquilibrium(strategies=x, multipliers=mu, residual=out.residual, iterations=out.iterations,
                                  status=interior_point_status(out), stats=out.stats)


class _PrimalDual:
    """The primal-dual VI ``(F(x) + A^T mu, upper - A x)`` on ``X x R_+^m`` of a game (rows with an
    infinite ``upper`` are switched off: their operator and multipliers are 0). ``A`` is applied
    matrix-free where the game provides ``constraint_values``/``constraint_adjoint``/``constraint_upper``
    (e.g. the storage units of the demand-response game), as a dense matrix otherwise."""

    def __init__(self, game):
        self.game = game
        self.F = _operator(game)
        self.shape = game.initial_point().shape
        if hasattr(game, "constraint_values"):
            upper = game.constraint_upper()
            self.values = game.constraint_values
            self.adjoint = game.constraint_adjoint
        else:
            A, upper = game.shared_constraints()
            self.values = lambda x: A @ x.ravel()
            self.adjoint = lambda mu: (A.T @ mu).reshape(self.shape)
        self.active = jnp.isfinite(upper)
        self.upper = jnp.where(self.active, upper, 0.0)

    def operator(self, x, mu):
        Fx = self.F(x) + self.adjoint(mu)
        Fmu = jnp.where(self.active, self.upper - self.values(x), 0.0)
        return Fx, Fmu

    def project(self, x, mu):
        return self.game.project(x), jnp.where(self.active, jnp.maximum(mu, 0.0), 0.0)

    def residual(self, x, mu):
        Fx, Fmu = self.operator(x, mu)
        px, pmu = self.project(x - Fx, mu - Fmu)
        return jnp.maximum(jnp.max(jnp.abs(x - px)), jnp.max(jnp.abs(mu - pmu), initial=0.0))


class _Equalities:
    """The linear equalities ``E x = e`` of the strategy sets, for the complementarity form (Newton):
    ``game.equality_values(x) = E x``, ``game.equality_adjoint(lam) = E^T lam`` (a strategy array) and
    ``game.equality_target() = e``; none where the game has no ``equality_values``."""

    def __init__(self, game, shape):
        if hasattr(game, "equality_values"):
            self.values, self.adjoint = game.equality_values, game.equality_adjoint
            self.target = jnp.asarray(game.equality_target()).ravel()
        else:
            self.values = lambda x: jnp.zeros(0, x.dtype)
            self.adjoint = lambda lam: jnp.zeros(shape, lam.dtype)
            self.target = jnp.zeros(0)
        self.size = self.target.size


def _fixed_point_map(params, w):
    game, step_size = params
    vi = _PrimalDual(game)
    x, mu = w
    Fx, Fmu = vi.operator(x, mu)
    return vi.project(x - step_size[0] * Fx, mu - step_size[1] * Fmu)


@functools.partial(jax.jit, static_argnames=("method", "max_steps"))
def _solve_gne(game, step_size, tol, *, method, max_steps):
    vi = _PrimalDual(game)
    x0 = game.initial_point()
    mu0 = jnp.zeros_like(vi.upper)
    n = x0.size

    if method == "semismooth_newton":
        # The mixed complementarity form of the primal-dual VI: w = (x, lam, mu) with x in its box, the
        # multipliers lam of the strategy sets' equalities E x = e free, mu >= 0; switched-off rows get
        # G = 1, whose complementary multiplier is 0.
        eq = _Equalities(game, vi.shape)
        p = eq.size
        split = lambda w: (w[:n].reshape(vi.shape), w[n:n + p], w[n + p:])

        def G(w):
            x, lam, mu = split(w)
            Fx, Fmu = vi.operator(x, mu)
            return jnp.concatenate([(Fx + eq.adjoint(lam)).ravel(), eq.target - eq.values(x),
                                    jnp.where(vi.active, Fmu, 1.0)])

        box = lambda x_bound, lam_bound, mu_bound: jnp.concatenate([
            jnp.broadcast_to(x_bound, vi.shape).ravel().astype(x0.dtype), jnp.full(p, lam_bound, x0.dtype),
            jnp.full(mu0.shape, mu_bound, x0.dtype)])
        lower = box(game.lower_bounds(), -jnp.inf, 0.0)
        # Without upper bounds or equalities (Cournot) it is a plain complementarity problem: upper=None.
        plain = p == 0 and not hasattr(game, "upper_bounds")
        upper = None if plain else box(getattr(game, "upper_bounds", lambda: jnp.inf)(), jnp.inf, jnp.inf)
        w0 = jnp.concatenate([x0.ravel(), jnp.zeros(p, x0.dtype), mu0])
        w, k, r = proximal_complementarity_newton(G, lower, upper, w0, tol, lambda w: vi.residual(*split(w)[::2]),
                                                  max_steps=max_steps, scale=1.0 / step_size[0])
        x, _, mu = split(w)
        x, mu = vi.project(x, mu)  # exact feasibility (Newton iterates may sit a rounding error outside)
    else:
        def body(carry):
            (x, mu), k, _ = carry
            Fx, Fmu = vi.operator(x, mu)
            y, nu = vi.project(x - step_size[0] * Fx, mu - step_size[1] * Fmu)
            Fy, Fnu = vi.operator(y, nu)
            x, mu = vi.project(x - step_size[0] * Fy, mu - step_size[1] * Fnu)
            return (x, mu), k + 1, vi.residual(x, mu)

        def cond(carry):
            _, k, r = carry
            return still_iterating(k, r, max_steps, tol)

        (x, mu), k, r = jax.lax.while_loop(cond, body, ((x0, mu0), jnp.asarray(0), vi.residual(x0, mu0)))
    return GeneralizedEquilibrium(strategies=x, multipliers=mu, residual=r, iterations=k,
                                  status=final_status(r, True, tol))
