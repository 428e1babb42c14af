"""Learning dynamics for N-player finite games.

Each dynamic is a pure ``step`` on an explicit state plus an ``output`` profile
(the time average or the last iterate). :func:`_run` iterates it in a
``jax.lax.while_loop`` until the output's NashConv is at most ``tol`` times the
payoff range, or ``max_steps`` run out; the status then says which. These
dynamics are guaranteed to reach Nash equilibria only in some classes of games
(two-player zero-sum for regret matching, Hedge and fictitious play; 2x2 and
potential games for fictitious play); elsewhere the status reports
``MAX_STEPS`` with the NashConv reached, never a plausible-looking profile.

Payoffs are rescaled by their range inside every dynamic, so step sizes are
unit-free and results are invariant to positive affine payoff transforms.

All work for a single game; batches go through ``jax.vmap``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from games import NormalFormGame, action_values, regrets, validate_profile

from .._core._batching import over_batch
from .._core._validation import check_game, check_positive_int, check_tol, payoff_scale
from .._core._loop import iterate
from .._core._result import Equilibrium, final_status, maybe_throw

__all__ = ["regret_matching", "fictitious_play", "replicator_dynamics", "hedge"]


def _normalized_game(payoffs, num_players):
    scale = payoff_scale(payoffs, num_players)
    return NormalFormGame(payoffs / scale, num_players=num_players), scale


def _uniform(num_actions, dtype):
    return tuple(jnp.full((m,), 1.0 / m, dtype) for m in num_actions)


def _run(payoffs, tol, *, num_players, max_steps, init, step, output):
    """Iterate ``state = step(game, state, t)`` until ``output(state)`` has NashConv <= tol."""
    game, scale = _normalized_game(payoffs, num_players)
    original = NormalFormGame(payoffs, num_players=num_players)
    state0 = init(game)

    def gap(state):
        return jnp.sum(regrets(game, output(state)))

    def advance(carry):
        state, t = carry
        state = step(game, state, t)
        return (state, t + 1), gap(state)

    (state, _), steps, g = iterate(advance, (state0, jnp.asarray(0)), gap(state0), max_steps=max_steps, tol=tol)
    strategies = output(state)
    nash_conv = jnp.sum(regrets(original, strategies))
    status = final_status(nash_conv, g <= tol, tol * scale * (1 + 1e-6))
    return Equilibrium(strategies=strategies, residual=nash_conv, iterations=steps, status=status)


def _prepare(game, init, max_steps, tol):
    check_game(game)
    max_steps = check_positive_int(max_steps, "max_steps")
    tol = check_tol(tol, game.payoffs.dtype)
    if init is None:
        uniform = _uniform(game.num_actions, game.payoffs.dtype)
        return tuple(jnp.broadcast_to(u, game.batch_shape + u.shape) for u in uniform), max_steps, tol
    init = validate_profile(game, init, name="init")
    return init, max_steps, tol


def _solve(name, game, init, max_steps, tol, throw, **options):
    init, max_steps, tol = _prepare(game, init, max_steps, tol)
    result = _dynamics(name, game.payoffs, init, tol, num_players=game.num_players, max_steps=max_steps,
                       batch_ndim=len(game.batch_shape), **options)
    return maybe_throw(result, throw, name)


@functools.partial(jax.jit, static_argnames=("name", "num_players", "max_steps", "batch_ndim", "plus"))
def _dynamics(name, payoffs, init, tol, *, num_players, max_steps, batch_ndim, plus=False, step_size=None):
    def single(payoffs, init):
        step, output, make_state = _DYNAMICS[name](plus=plus, step_size=step_size)
        return _run(payoffs, tol, num_players=num_players, max_steps=max_steps,
                    init=lambda g: make_state(g, init), step=step, output=output)

    return over_batch(single, batch_ndim)(payoffs, init)


def _average(sums):
    return tuple(s / jnp.sum(s) for s in sums)


# --- regret matching -------------------------------------------------------------------------------------


def _regret_matching(*, plus, step_size):
    def policy(cumulative_regret, uniform):
        positive = jnp.maximum(cumulative_regret, 0.0)
        total = jnp.sum(positive)
        return jnp.where(total > 0, positive / jnp.where(total > 0, total, 1.0), uniform)

    def make_state(game, init):
        zeros = tuple(jnp.zeros_like(s) for s in init)
        return dict(strategy=init, regret=zeros, sum=init)

    def update(R, v, s):
        R = R + v - jnp.dot(v, s)
        return jnp.maximum(R, 0.0) if plus else R

    def step(game, state, t):
        strategy, regret = list(state["strategy"]), list(state["regret"])
        if plus:  # alternating updates: player i sees the players before it already updated
            for i in range(len(strategy)):
                v = action_values(game, tuple(strategy))[i]
                regret[i] = update(regret[i], v, strategy[i])
                strategy[i] = policy(regret[i], jnp.full_like(v, 1.0 / v.shape[0]))
        else:  # simultaneous updates
            values = action_values(game, tuple(strategy))
            regret = [update(R, v, s) for R, v, s in zip(regret, values, strategy)]
            strategy = [policy(R, jnp.full_like(R, 1.0 / R.shape[0])) for R in regret]
        weight = (t + 1.0) if plus else 1.0  # linear averaging for RM+ (Tammelin et al. 2015)
        sums = tuple(S + weight * s for S, s in zip(state["sum"], strategy))
        return dict(strategy=tuple(strategy), regret=tuple(regret), sum=sums)

    return step, lambda state: _average(state["sum"]), make_state


def regret_matching(game: NormalFormGame, *, plus: bool = False, init=None, max_steps: int = 10_000,
                    tol: float | None = None, throw: bool = False) -> Equilibrium:
    """Regret matching (or regret matching+), returning the time-averaged profile.

    Every player plays ``sigma_i ∝ max(R_i, 0)``, where ``R_i[a]`` is the
    cumulative regret for not having played ``a`` (uniform when no regret is
    positive); plain regret matching updates all players simultaneously on
    expected payoffs. With
    ``plus=True`` cumulative regrets are clipped at zero every step and the
    average is weighted linearly in time.

    Average strategies converge to the set of coarse correlated equilibria; in
    two-player zero-sum games they converge to a Nash equilibrium. Elsewhere
    the status may honestly read ``MAX_STEPS``.

    Args:
      game: an N-player :class:`~games.NormalFormGame`, possibly batched.
      plus: use regret matching+.
      init: initial mixed profile (default uniform).
      max_steps: the most iterations (static).
      tol: NashConv tolerance relative to the payoff range.
      throw: raise (outside jit) if a game did not converge.

    Example:
      >>> import jax.numpy as jnp
      >>> from games import zero_sum
      >>> eq = regret_matching(zero_sum(jnp.array([[1., -1.], [-1., 1.]])), tol=1e-3)
      >>> bool(eq.converged)
      True

    Reference: S. Hart and A. Mas-Colell (2000), "A simple adaptive procedure
    leading to correlated equilibrium", Econometrica 68(5); O. Tammelin (2014),
    "Solving large imperfect information games using CFR+", arXiv:1407.5042;
    O. Tammelin, N. Burch, M. Johanson and M. Bowling (2015), "Solving heads-up
    limit Texas hold'em", IJCAI.
    """
    return _solve("regret_matching", game, init, max_steps, tol, throw, plus=bool(plus))


# --- Hedge -----------------------------------------------------------------------------------------------


def _hedge(*, plus, step_size):
    eta = 0.1 if step_size is None else step_size

    def make_state(game, init):
        return dict(logits=tuple(jnp.log(jnp.maximum(s, 1e-300)) for s in init), sum=init)

    def step(game, state, t):
        strategy = tuple(jax.nn.softmax(z) for z in state["logits"])
        values = action_values(game, strategy)
        logits = tuple(z + eta * v for z, v in zip(state["logits"], values))
        new = tuple(jax.nn.softmax(z) for z in logits)
        return dict(logits=logits, sum=tuple(S + s for S, s in zip(state["sum"], new)))

    return step, lambda state: _average(state["sum"]), make_state


def hedge(game: NormalFormGame, *, step_size: float = 0.1, init=None, max_steps: int = 10_000,
          tol: float | None = None, throw: bool = False) -> Equilibrium:
    """Hedge (multiplicative weights, entropic mirror ascent), returning the time-averaged profile.

    ``sigma_i^{t+1} ∝ sigma_i^t exp(eta u_i(., sigma_{-i}^t))`` with ``eta =
    step_size`` on payoffs scaled to unit range. Averages converge to a Nash
    equilibrium in two-player zero-sum games (to within ``O(eta)``).

    Reference: Y. Freund and R. E. Schapire (1997), "A decision-theoretic
    generalization of on-line learning and an application to boosting", JCSS
    55(1); Y. Freund and R. E. Schapire (1999), "Adaptive game playing using
    multiplicative weights", Games and Economic Behavior 29.
    """
    if not isinstance(step_size, jax.core.Tracer) and not float(step_size) > 0:
        raise ValueError(f"step_size must be positive; got {step_size!r}")
    return _solve("hedge", game, init, max_steps, tol, throw, step_size=step_size)


# --- fictitious play -------------------------------------------------------------------------------------


def _fictitious_play(*, plus, step_size):
    def make_state(game, init):
        return dict(belief=init)

    def step(game, state, t):
        belief = state["belief"]
        values = action_values(game, belief)
        responses = tuple(jax.nn.one_hot(jnp.argmax(v), v.shape[0], dtype=v.dtype) for v in values)
        rate = 1.0 / (t + 2.0)
        return dict(belief=tuple(b + rate * (r - b) for b, r in zip(belief, responses)))

    return step, lambda state: state["belief"], make_state


def fictitious_play(game: NormalFormGame, *, init=None, max_steps: int = 10_000, tol: float | None = None,
                    throw: bool = False) -> Equilibrium:
    """Simultaneous fictitious play, returning the empirical frequencies of play.

    Each player best-responds (lowest index among ties) to the others'
    empirical mixed strategies, which are then updated as running averages
    (the initial profile counts as the first observation). Empirical
    frequencies converge to equilibrium in two-player zero-sum games
    (Robinson 1951), 2x2 games and potential games (Monderer and Shapley 1996),
    at rate ``O(t^{-1/(m+n-2)})`` at worst: slow, so the status often reads
    ``MAX_STEPS`` for tight tolerances.

    Reference: G. W. Brown (1951), "Iterative solution of games by fictitious
    play", in *Activity Analysis of Production and Allocation*; J. Robinson
    (1951), "An iterative method of solving a game", Annals of Mathematics 54(2).
    """
    return _solve("fictitious_play", game, init, max_steps, tol, throw)


# --- replicator dynamics ---------------------------------------------------------------------------------


def _replicator(*, plus, step_size):
    dt = 0.1 if step_size is None else step_size

    def make_state(game, init):
        return dict(strategy=init)

    def step(game, state, t):
        strategy = state["strategy"]
        values = action_values(game, strategy)
        # Euler step of x' = x (u - ū); with unit-range payoffs and dt < 1 it stays in the simplex.
        new = tuple(s + dt * s * (v - jnp.dot(v, s)) for s, v in zip(strategy, values))
        new = tuple(jnp.maximum(s, 0.0) / jnp.sum(jnp.maximum(s, 0.0)) for s in new)
        return dict(strategy=new)

    return step, lambda state: state["strategy"], make_state


def replicator_dynamics(game: NormalFormGame, *, step_size: float = 0.1, init=None, max_steps: int = 10_000,
                        tol: float | None = None, throw: bool = False) -> Equilibrium:
    """Multi-population replicator dynamics, returning the last iterate.

    ``dx_ia/dt = x_ia (u_i(a, x_{-i}) - u_i(x))``, integrated by Euler steps of
    ``step_size`` (in ``(0, 1)``) on payoffs scaled to unit range. Interior
    rest points are Nash equilibria and asymptotically stable points are
    strict equilibria; pure profiles are rest points too, so start from the
    interior (the default is uniform). Trajectories may cycle (e.g. in
    zero-sum games), which the status then reports as ``MAX_STEPS``.

    Reference: P. D. Taylor and L. B. Jonker (1978), "Evolutionarily stable
    strategies and game dynamics", Mathematical Biosciences 40; J. Hofbauer and
    K. Sigmund (1998), *Evolutionary Games and Population Dynamics*.
    """
    if not isinstance(step_size, jax.core.Tracer) and not 0 < float(step_size) < 1:
        raise ValueError(f"step_size must lie in (0, 1); got {step_size!r}")
    return _solve("replicator_dynamics", game, init, max_steps, tol, throw, step_size=step_size)


_DYNAMICS = {
    "regret_matching": _regret_matching,
    "hedge": _hedge,
    "fictitious_play": _fictitious_play,
    "replicator_dynamics": _replicator,
}
