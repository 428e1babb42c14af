"""Verify a continuous game's answer by unilateral deviations, beside the natural-map residual.

The natural-map residual certifies a solution of the variational inequality of the pseudo-gradient. That
is a Nash equilibrium when each player's cost is convex and differentiable in its own strategy; where a
cost has a kink (a proportional share at zero total effort: ``0/0``) or is not convex, the residual can
vanish at a point where a player still gains by deviating. For a game that reports its players' costs
(:class:`games.PlayerCosts`), :func:`certify_deviations` tries, for every player at once, unilateral
deviations toward the game's initial point and toward the bounds of its strategy set (a short step that
sees a kink, and the whole way), keeps those feasible for the shared constraints, and compares each
player's gain with what the residual allows: for a convex cost ``c_i``, ``c_i(x) - c_i(y) <= -F_i(x)
(y_i - x_i)``, and at a point with residual ``r`` the right side is at most ``r s (L ||y_i - x_i||_1 +
||F_i||_1)`` (``s = max(1, ||x||_inf)``; Facchinei and Pang 2003, Prop. 1.5.8). A larger gain is
reported as :attr:`~solvers.Status.PROFITABLE_DEVIATION`, with the largest gain in ``stats``.

This is a check, not a proof: it tries finitely many deviations (a best-response oracle in the sense of
the issue: cheap, ``O(6 N)`` cost evaluations).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from games import PlayerCosts

from .._core._result import Status
from ._problem import Problem, is_polyhedral

__all__ = ["certify_deviations", "can_certify"]

STEPS = (1e-3, 1.0)  # fractions of the way to each target: a kink is seen by the short step
SLACK = 100.0  # the bound's safety factor (rounding in costs evaluated at nearby points)


def can_certify(game) -> bool:
    return isinstance(game, PlayerCosts)


@jax.jit
def _deviation_gains(game, x, residual):
    """``(gain, bound)``, each ``(N,)``: every player's largest gain over the tried deviations, and what a
    residual of ``residual`` allows it."""
    problem = Problem(game)
    x = jax.lax.stop_gradient(x)
    n = x.shape[0]
    eps = jnp.finfo(x.dtype).eps
    span = jnp.maximum(jnp.max(jnp.abs(x)), 1.0)
    L = problem.lipschitz()
    F = problem.operator(x)
    base = game.costs(x)
    targets = [jnp.broadcast_to(game.initial_point(), x.shape).astype(x.dtype)]
    if is_polyhedral(game):
        lower, upper = problem.box()
        lower = jnp.broadcast_to(lower, x.shape).astype(x.dtype)
        targets.append(jnp.where(jnp.isfinite(lower), lower, x - span))
        upper = x + span if upper is None else jnp.broadcast_to(upper, x.shape).astype(x.dtype)
        targets.append(jnp.where(jnp.isfinite(upper), upper, x + span))
    else:
        targets += [x - span, x + span]
    violation = lambda z: jnp.max(jnp.where(problem.active, problem.values(z) - problem.upper, 0.0), initial=0.0)
    allowed = violation(x) + 1e3 * eps * span * jnp.maximum(problem.norm_bound(), 1.0)
    per_player = lambda a: jnp.sum(jnp.abs(a).reshape(n, -1), axis=1)

    def gains(target, step):
        y = problem.project(x + step * (target - x))

        def one(i):
            z = x.at[i].set(y[i])
            feasible = violation(z) <= allowed
            cost = game.costs(z)[i]
            return jnp.where(feasible, base[i] - cost, -jnp.inf), jnp.abs(cost)

        gain, cost = jax.vmap(one)(jnp.arange(n))
        d = per_player(y - x)
        bound = SLACK * (residual * span * (L * d + jnp.where(d > 0, per_player(F), 0.0)) + eps * (jnp.abs(base) + cost + L * span**2))
        return gain, bound

    pairs = [gains(t, s) for t in targets for s in STEPS]
    gain = jnp.stack([g for g, _ in pairs])
    bound = jnp.stack([b for _, b in pairs])
    excess = jnp.max(gain - bound, axis=0)
    worst = jnp.argmax(gain - bound, axis=0)
    return jnp.max(gain, axis=0), excess, jnp.take_along_axis(bound, worst[None], 0)[0]


def certify_deviations(game, result, tol):
    """``result`` with status :attr:`Status.PROFITABLE_DEVIATION` where it was ``CONVERGED`` but a tried
    unilateral deviation gains more than the residual allows; ``stats['deviation_gain']`` is the
    largest gain found (in the game's money), ``stats['deviation_excess']`` that gain over its bound
    (positive: a profitable deviation)."""
    if not can_certify(game):
        return result
    residual = jnp.maximum(jnp.asarray(tol, result.residual.dtype), result.residual)
    gain, excess, _ = _deviation_gains(game, result.strategies, residual)
    profitable = jnp.any(excess > 0)
    status = jnp.where((result.status == Status.CONVERGED) & profitable, Status.PROFITABLE_DEVIATION,
                       result.status).astype(result.status.dtype)
    stats = dict(result.stats, deviation_gain=jnp.max(gain), deviation_excess=jnp.max(excess))
    return dataclasses.replace(result, status=status, stats=stats)
