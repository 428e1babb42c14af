"""Logit quantal response equilibria and the homotopy that traces them to a Nash equilibrium.

A logit QRE at precision ``lam >= 0`` is a profile with

    sigma_i(a) = exp(lam * u_i(a, sigma_{-i})) / sum_b exp(lam * u_i(b, sigma_{-i}))

for every player ``i``. At ``lam = 0`` the unique QRE is uniform play; as
``lam -> infinity`` the *principal branch* of QREs starting there converges to
a Nash equilibrium (McKelvey and Palfrey 1995), generically a unique one: the
logit solution of the game.

The branch is traced in the variables ``z = (beta, lam)`` with ``beta = log
sigma`` as the zero set of the ``K`` equations (``K`` = total actions)

    beta_i(a) - beta_i(0) - lam * (u_i(a, sigma_{-i}) - u_i(0, sigma_{-i})) = 0,  a = 1..m_i - 1,
    sum_a exp(beta_i(a)) - 1 = 0,

by a predictor-corrector continuation in arc length: an Euler predictor along
the tangent (the null vector of the ``K x (K+1)`` Jacobian, oriented to keep
its direction, so turning points in ``lam`` are passed), then Newton
corrections with the Moore-Penrose step, with step-size halving on failure and
growth on success (Allgower and Georg 1990; Turocy 2005).

:func:`qre_homotopy` traces the branch on payoffs scaled to unit range up to a
large ``lam``, then polishes the answer by Newton's method on the Nash
conditions restricted to the support the QRE points to (indifference among
support actions, zero probability elsewhere), and keeps whichever profile has
the smaller NashConv.

References: R. D. McKelvey and T. R. Palfrey (1995), "Quantal response
equilibria for normal form games", Games and Economic Behavior 10; T. L.
Turocy (2005), "A dynamic homotopy interpretation of the logistic quantal
response equilibrium correspondence", Games and Economic Behavior 51;
E. L. Allgower and K. Georg (1990), *Numerical Continuation Methods*.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from games import NormalFormGame, action_values, regrets
from mechanisms import pytree_dataclass

from .._core._batching import over_batch
from .._core._validation import check_game, check_positive_int, check_tol, payoff_scale
from .._core._result import Equilibrium, Solution, final_status, maybe_throw

__all__ = ["logit_qre", "qre_homotopy", "QuantalResponseEquilibrium"]


@pytree_dataclass(kw_only=True)
class QuantalResponseEquilibrium(Solution):
    """A logit QRE on the principal branch.

    Attributes:
      strategies: one mixed strategy per player.
      lam: the precision reached (the requested one when converged).
      residual: ``max |sigma - softmax(lam * u(sigma))|``, the certified QRE residual.
      nash_conv: NashConv of the profile (positive for finite ``lam``).
      iterations: accepted continuation steps.
      status: a :class:`~solvers.Status` code.
    """

    strategies: tuple[jax.Array, ...]
    lam: jax.Array
    nash_conv: jax.Array


def _split(beta, num_actions):
    out, start = [], 0
    for m in num_actions:
        out.append(beta[start : start + m])
        start += m
    return out


def _homotopy_equations(game: NormalFormGame):
    num_actions = game.num_actions

    def H(z):
        beta, lam = z[:-1], z[-1]
        logs = _split(beta, num_actions)
        sigma = tuple(jnp.exp(b) for b in logs)
        values = action_values(game, sigma)
        eqs = []
        for b, v in zip(logs, values):
            eqs.append(b[1:] - b[0] - lam * (v[1:] - v[0]))
            eqs.append(jnp.sum(jnp.exp(b))[None] - 1.0)
        return jnp.concatenate(eqs)

    return H


def _tangent(J, previous):
    """Unit null vector of the K x (K+1) Jacobian, oriented along ``previous``."""
    q, _ = jnp.linalg.qr(J.T, mode="complete")
    t = q[:, -1]
    return jnp.where(jnp.dot(t, previous) < 0, -t, t)


def _trace(game, lam_target, *, max_steps, corrector_steps=6, tol=1e-11):
    """Follow the principal branch from lam = 0 to ``lam_target``. Returns (beta, lam, steps, ok)."""
    H = _homotopy_equations(game)
    jac = jax.jacfwd(H)
    K = sum(game.num_actions)
    dtype = game.payoffs.dtype
    beta0 = jnp.concatenate([jnp.full((m,), -jnp.log(m), dtype) for m in game.num_actions])
    z0 = jnp.concatenate([beta0, jnp.zeros((1,), dtype)])
    direction0 = jnp.zeros(K + 1, dtype).at[K].set(1.0)

    def correct(z, t):
        # Newton with the augmented system [J; t^T] dz = [H; 0] (the Moore-Penrose step near the curve).
        def newton(_, z):
            A = jnp.concatenate([jac(z), t[None, :]], axis=0)
            rhs = jnp.concatenate([H(z), jnp.zeros((1,), dtype)])
            return z - jnp.linalg.solve(A, rhs)

        z = jax.lax.fori_loop(0, corrector_steps, newton, z)
        return z, jnp.max(jnp.abs(H(z)))

    def cond(state):
        z, t, h, steps, done, failed = state
        return ~done & ~failed & (steps < max_steps)

    def body(state):
        z, t, h, steps, done, failed = state
        t = _tangent(jac(z), t)
        h_to_target = jnp.where(t[K] > 0, (lam_target - z[K]) / t[K], jnp.inf)
        step = jnp.minimum(h, h_to_target)
        zc, err = correct(z + step * t, t)
        distance = jnp.linalg.norm(zc - (z + step * t))
        # Step control (Allgower and Georg 1990, ch. 6): the corrector must converge, land close to
        # the prediction, and the tangent must turn little; otherwise halve the step. This keeps the
        # tracer on its branch where branches pass close to each other.
        turn = jnp.dot(_tangent(jac(zc), t), t)
        accept = (err <= tol) & (distance <= 0.1 * step + 1e-12) & (turn >= 0.995) & jnp.all(jnp.isfinite(zc))
        reached = accept & (step >= h_to_target)
        z = jnp.where(accept, zc, z)
        h = jnp.where(accept, jnp.minimum(1.5 * step, 1e8), 0.5 * step)
        failed = h < 1e-12
        return z, t, h, steps + accept.astype(steps.dtype), done | reached, failed

    state = (z0, direction0, jnp.asarray(0.1, dtype), jnp.asarray(0), jnp.asarray(False), jnp.asarray(False))
    z, _, _, steps, done, _ = jax.lax.while_loop(cond, body, state)
    # Land exactly on lam_target: Newton in beta alone at fixed lam (a square system).

    def newton_beta(_, beta):
        zz = jnp.concatenate([beta, jnp.full((1,), lam_target, dtype)])
        J = jac(zz)[:, :K]
        return beta - jnp.linalg.solve(J, H(zz))

    beta = jnp.where(done, jax.lax.fori_loop(0, 3, newton_beta, z[:K]), z[:K])
    lam = jnp.where(done, lam_target, z[K])
    return beta, lam, steps, done


def _qre_residual(game, strategies, lam):
    values = action_values(game, strategies)
    return jnp.max(jnp.stack([jnp.max(jnp.abs(s - jax.nn.softmax(lam * v))) for s, v in zip(strategies, values)]))


def logit_qre(game: NormalFormGame, lam, *, max_steps: int = 2000, tol: float = 1e-9,
              throw: bool = False) -> QuantalResponseEquilibrium:
    """The logit QRE at precision ``lam`` on the principal branch (traced from ``lam = 0``).

    ``lam`` is in the units of the game's payoffs (it multiplies them).

    Args:
      game: an N-player :class:`~games.NormalFormGame`, possibly batched.
      lam: the precision, ``>= 0`` (may be traced).
      max_steps: the most accepted continuation steps (static).
      tol: largest QRE residual for the ``CONVERGED`` status.
      throw: raise (outside jit) if a game did not converge.

    Example:
      >>> import jax.numpy as jnp
      >>> from games import zero_sum
      >>> qre = logit_qre(zero_sum(jnp.array([[1., -1.], [-1., 1.]])), 3.0)
      >>> [s.round(6).tolist() for s in qre.strategies]
      [[0.5, 0.5], [0.5, 0.5]]

    Reference: McKelvey and Palfrey (1995); Turocy (2005).
    """
    check_game(game)
    max_steps = check_positive_int(max_steps, "max_steps")
    if not isinstance(lam, jax.core.Tracer):
        lam_arr = jnp.asarray(lam)
        if lam_arr.shape not in ((), game.batch_shape) or not bool(jnp.all(jnp.isfinite(lam_arr))) or bool(
            jnp.any(lam_arr < 0)
        ):
            raise ValueError(f"lam must be a finite number >= 0 (or one per game); got {lam!r}")
    lam = jnp.broadcast_to(jnp.asarray(lam, game.payoffs.dtype), game.batch_shape)
    tol = check_tol(tol, game.payoffs.dtype)
    result = _logit_qre(game.payoffs, lam, tol, num_players=game.num_players, max_steps=max_steps,
                        batch_ndim=len(game.batch_shape))
    return maybe_throw(result, throw, "logit_qre")


@functools.partial(jax.jit, static_argnames=("num_players", "max_steps", "batch_ndim"))
def _logit_qre(payoffs, lam, tol, *, num_players, max_steps, batch_ndim):
    def single(payoffs, lam):
        game = NormalFormGame(payoffs, num_players=num_players)
        beta, lam_reached, steps, done = _trace(game, lam, max_steps=max_steps)
        strategies = tuple(jnp.exp(b) for b in _split(beta, game.num_actions))
        strategies = tuple(s / jnp.sum(s) for s in strategies)
        residual = _qre_residual(game, strategies, lam_reached)
        status = final_status(residual, done, tol)
        nash_conv = jnp.sum(regrets(game, strategies))
        return QuantalResponseEquilibrium(strategies=strategies, lam=lam_reached, residual=residual,
                                          nash_conv=nash_conv, iterations=steps, status=status)

    return over_batch(single, batch_ndim)(payoffs, lam)


def _polish(game: NormalFormGame, strategies, *, support_tol=1e-6, steps=12):
    """Newton's method on the Nash conditions restricted to the support of ``strategies``."""
    num_actions = game.num_actions
    n = game.num_players
    supports = [s > support_tol for s in strategies]
    dtype = game.payoffs.dtype

    def F(w):
        sigma = tuple(_split(w[: sum(num_actions)], num_actions))
        values = action_values(game, sigma)
        v = w[sum(num_actions):]
        eqs = []
        for i in range(n):
            eqs.append(jnp.where(supports[i], values[i] - v[i], sigma[i]))
            eqs.append(jnp.sum(sigma[i])[None] - 1.0)
        return jnp.concatenate(eqs)

    values = action_values(game, strategies)
    w0 = jnp.concatenate(list(strategies) + [jnp.stack([jnp.dot(v, s) for v, s in zip(values, strategies)])])
    jac = jax.jacfwd(F)  # square: K + n equations in K + n unknowns; lstsq copes with singular steps

    def newton(_, w):
        step = jnp.linalg.lstsq(jac(w), F(w))[0]
        return w - step

    w = jax.lax.fori_loop(0, steps, newton, w0.astype(dtype))
    sigma = _split(w[: sum(num_actions)], num_actions)
    sigma = tuple(jnp.maximum(s, 0.0) / jnp.sum(jnp.maximum(s, 0.0)) for s in sigma)
    return sigma


def qre_homotopy(game: NormalFormGame, *, lam_max: float = 1e5, max_steps: int = 2000, polish: bool = True,
                 tol: float | None = None, throw: bool = False) -> Equilibrium:
    """A Nash equilibrium as the limit of the principal logit-QRE branch, Newton-polished.

    Payoffs are scaled to unit range, the branch is traced to ``lam_max``, and
    (with ``polish=True``) the profile is refined by Newton's method on the
    Nash indifference conditions over the support the QRE selects. Works for
    any number of players; the answer is the logit solution (McKelvey and
    Palfrey 1995) for generic games.

    Args:
      game: an N-player :class:`~games.NormalFormGame`, possibly batched.
      lam_max: precision at which tracing stops (unit-range payoffs).
      max_steps: the most continuation steps (static).
      polish: run the Newton polish.
      tol: NashConv tolerance relative to the payoff range for ``CONVERGED``.
      throw: raise (outside jit) if a game did not converge.

    Reference: McKelvey and Palfrey (1995); Turocy (2005); Allgower and Georg (1990).
    """
    check_game(game)
    max_steps = check_positive_int(max_steps, "max_steps")
    if not float(lam_max) > 0:
        raise ValueError(f"lam_max must be positive; got {lam_max!r}")
    tol = check_tol(tol, game.payoffs.dtype)
    result = _qre_homotopy(game.payoffs, jnp.asarray(lam_max, game.payoffs.dtype), tol,
                           num_players=game.num_players, max_steps=max_steps, polish=bool(polish),
                           batch_ndim=len(game.batch_shape))
    return maybe_throw(result, throw, "qre_homotopy")


@functools.partial(jax.jit, static_argnames=("num_players", "max_steps", "polish", "batch_ndim"))
def _qre_homotopy(payoffs, lam_max, tol, *, num_players, max_steps, polish, batch_ndim):
    def single(payoffs):
        game = NormalFormGame(payoffs, num_players=num_players)
        scale = payoff_scale(payoffs, num_players)
        unit = NormalFormGame(payoffs / scale, num_players=num_players)
        beta, _, steps, done = _trace(unit, lam_max, max_steps=max_steps)
        strategies = tuple(jnp.exp(b) for b in _split(beta, game.num_actions))
        strategies = tuple(s / jnp.sum(s) for s in strategies)
        gap = jnp.sum(regrets(game, strategies))
        traced = strategies
        if polish:  # candidate supports from several probability thresholds; keep the best
            for support_tol in (1e-3, 1e-6, 1e-9):
                polished = _polish(unit, traced, support_tol=support_tol)
                polished_gap = jnp.sum(regrets(game, polished))
                # Stay on the traced branch: the limit is within O(1/lam) of the QRE.
                near = jnp.max(jnp.stack([jnp.max(jnp.abs(p - s)) for p, s in zip(polished, traced)])) <= 1e-3
                better = jnp.isfinite(polished_gap) & (polished_gap < gap) & near
                strategies = tuple(jnp.where(better, p, s) for p, s in zip(polished, strategies))
                gap = jnp.where(better, polished_gap, gap)
        # NashConv is the certificate: a small one is a Nash equilibrium however it was reached.
        status = final_status(gap, jnp.asarray(True), tol * scale)
        return Equilibrium(strategies=strategies, residual=gap, iterations=steps, status=status)

    return over_batch(single, batch_ndim)(payoffs)
