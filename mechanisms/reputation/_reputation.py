"""Reputation rules for repeated energy markets: who delivered, who defaulted, whom to trust.

- Beta reputation with forgetting (Josang and Ismail 2002): evidence counts
  ``r <- lam r + positive``, ``s <- lam s + negative`` (``lam`` in (0, 1] the
  forgetting factor), score ``(r + 1) / (r + s + 2)``, the mean of the
  Beta(r + 1, s + 1) posterior. A newcomer scores 1/2.
- Exponentially weighted reliability: ``score <- (1 - alpha) score + alpha *
  outcome`` with outcomes in [0, 1], starting from ``initial``.
- EigenTrust (Kamvar, Schlosser and Garcia-Molina 2003): normalized local trust
  ``C`` (rows sum to 1; a peer that trusts nobody trusts the pre-trusted
  distribution ``p``), global trust the fixed point of ``t = (1 - a) C^T t + a p``,
  found by power iteration that contracts at rate ``1 - a`` in the L1 norm.
- A penalty for detected misbehavior and a map from reputation to price tiers.

All rules are pure, jittable functions over any leading batch axes.

References: A. Josang and R. Ismail (2002), "The beta reputation system",
Bled eConference; S. D. Kamvar, M. T. Schlosser and H. Garcia-Molina (2003),
"The EigenTrust algorithm for reputation management in P2P networks", WWW.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .._batching import over_markets
from .._pytree import pytree_dataclass
from .._validation import check_finite_array, check_real_scalar, check_unit_interval, real_dtype

__all__ = [
    "BetaEvidence",
    "beta_update",
    "beta_score",
    "ewma_reliability",
    "eigentrust",
    "EigenTrustResult",
    "penalize",
    "price_tier",
]


@pytree_dataclass
class BetaEvidence:
    """Discounted evidence counts of the beta reputation system, one entry per agent."""

    positive: jax.Array
    negative: jax.Array

    @classmethod
    def fresh(cls, shape, dtype=None) -> "BetaEvidence":
        """No evidence: a newcomer (score 1/2)."""
        dtype = jnp.result_type(float) if dtype is None else dtype
        return cls(jnp.zeros(shape, dtype), jnp.zeros(shape, dtype))


def beta_update(evidence: BetaEvidence, positive, negative, *, forgetting: float = 1.0) -> BetaEvidence:
    """One round: ``r <- forgetting * r + positive``, ``s <- forgetting * s + negative``.

    ``positive`` and ``negative`` are this round's (possibly fractional) feedback, nonnegative.

    Reference: Josang and Ismail (2002).
    """
    if not isinstance(evidence, BetaEvidence):
        raise ValueError("evidence must be a BetaEvidence (e.g. BetaEvidence.fresh(shape)); got "
                         f"{type(evidence).__name__}")
    real_dtype(evidence.positive, "evidence.positive")
    real_dtype(evidence.negative, "evidence.negative")
    shape = jnp.shape(evidence.positive)
    if jnp.shape(evidence.negative) != shape:
        raise ValueError(f"evidence.positive and evidence.negative must share a shape; got {shape} and "
                         f"{jnp.shape(evidence.negative)}")
    positive = check_finite_array(positive, "positive", nonnegative=True)
    negative = check_finite_array(negative, "negative", nonnegative=True)
    for name, feedback in (("positive", positive), ("negative", negative)):
        try:
            grown = jnp.broadcast_shapes(feedback.shape, shape) != shape
        except ValueError:
            grown = True
        if grown:
            raise ValueError(f"{name} must have the evidence's shape {shape} (or broadcast to it); got "
                             f"{feedback.shape}")
    check_unit_interval(forgetting, "forgetting", open_left=True)
    return _beta_step(evidence, positive, negative, forgetting)


@jax.jit
def _beta_step(evidence, positive, negative, forgetting):
    dtype = jnp.result_type(evidence.positive, evidence.negative)
    positive, negative = positive.astype(dtype), negative.astype(dtype)
    return BetaEvidence(forgetting * evidence.positive + positive, forgetting * evidence.negative + negative)


def beta_score(evidence: BetaEvidence) -> jax.Array:
    """Reputation ``(r + 1) / (r + s + 2)`` in (0, 1): the posterior mean of a Beta(r + 1, s + 1)."""
    return (evidence.positive + 1.0) / (evidence.positive + evidence.negative + 2.0)


def ewma_reliability(outcomes, *, alpha: float = 0.1, initial: float = 0.5) -> jax.Array:
    """Exponentially weighted reliability after each round; ``outcomes`` has time on axis 0, values in [0, 1].

    Returns the score after every round (same shape as ``outcomes``).
    """
    outcomes = check_finite_array(outcomes, "outcomes")
    if outcomes.ndim < 1:
        raise ValueError("outcomes must have a time axis (axis 0), e.g. shape (rounds,) or (rounds, agents); "
                         "got a scalar")
    if not isinstance(outcomes, jax.core.Tracer) and (
        (np.asarray(outcomes) < 0).any() or (np.asarray(outcomes) > 1).any()
    ):
        raise ValueError("outcomes must lie in [0, 1]")
    check_unit_interval(alpha, "alpha", open_left=True)
    check_unit_interval(initial, "initial")
    return _ewma(outcomes, jnp.asarray(alpha, outcomes.dtype), jnp.asarray(initial, outcomes.dtype))


@jax.jit
def _ewma(outcomes, alpha, initial):
    def step(score, outcome):
        score = (1 - alpha) * score + alpha * outcome
        return score, score

    _, history = jax.lax.scan(step, jnp.broadcast_to(initial, outcomes.shape[1:]), outcomes)
    return history


@pytree_dataclass
class EigenTrustResult:
    """Global trust (a probability vector) with the evidence for it, laid out like every solver result.

    Attributes:
      trust: the global trust vector.
      residual: the L1 change of the last iteration.
      iterations: power iterations used.
      status: ``0`` converged (``residual <= tol``), ``1`` the step budget ran out, ``2`` a NaN or
        infinity appeared: the codes of ``solvers.Status`` (mechanisms sit below solvers, so the
        codes are shared, not the enum).
    """

    trust: jax.Array
    residual: jax.Array
    iterations: jax.Array
    status: jax.Array

    @property
    def converged(self) -> jax.Array:
        """Boolean array: which trust vectors converged."""
        return self.status == 0


def eigentrust(local_trust, pretrusted=None, *, damping: float = 0.15, tol: float = 1e-12,
               max_steps: int = 10_000) -> EigenTrustResult:
    """Global trust by EigenTrust's damped power iteration.

    Args:
      local_trust: ``(..., n, n)``, ``local_trust[i, j] >= 0`` how much peer ``i`` trusts
        peer ``j`` (e.g. satisfactory minus unsatisfactory trades, clipped at 0).
      pretrusted: ``(..., n)`` distribution over pre-trusted peers (default uniform).
      damping: ``a`` in (0, 1], the weight on the pre-trusted distribution.
      tol: stop when the L1 change of one iteration is at most ``tol``.
      max_steps: the most iterations (static).

    Reference: Kamvar, Schlosser and Garcia-Molina (2003), Algorithm 3.
    """
    local_trust = check_finite_array(local_trust, "local_trust", nonnegative=True)
    if local_trust.ndim < 2 or local_trust.shape[-1] != local_trust.shape[-2] or local_trust.shape[-1] < 1:
        raise ValueError(f"local_trust must be square (..., n, n) with n >= 1; got shape {local_trust.shape}")
    n = local_trust.shape[-1]
    if pretrusted is None:
        pretrusted = jnp.full(local_trust.shape[:-1], 1.0 / n, local_trust.dtype)
    pretrusted = check_finite_array(pretrusted, "pretrusted", nonnegative=True)
    if pretrusted.shape != local_trust.shape[:-1]:
        raise ValueError(f"pretrusted must have shape {local_trust.shape[:-1]}; got {pretrusted.shape}")
    if not isinstance(pretrusted, jax.core.Tracer) and not np.allclose(np.asarray(pretrusted).sum(-1), 1.0):
        raise ValueError("pretrusted must sum to 1 (a probability distribution)")
    check_unit_interval(damping, "damping", open_left=True)
    if not isinstance(check_real_scalar(tol, "tol"), jax.core.Tracer) and not float(tol) >= 0.0:
        raise ValueError(f"tol must be a nonnegative number; got {tol!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer; got {max_steps!r}")
    return _eigentrust(local_trust, pretrusted, jnp.asarray(damping, local_trust.dtype), tol, max_steps=max_steps)


def _normalized(local_trust, pretrusted):
    totals = jnp.sum(local_trust, axis=-1, keepdims=True)
    return jnp.where(totals > 0, local_trust / jnp.where(totals > 0, totals, 1.0), pretrusted[..., None, :])


@functools.partial(jax.jit, static_argnames=("max_steps",))
def _eigentrust(local_trust, pretrusted, damping, tol, *, max_steps):
    def single(C, p):
        C = _normalized(C, p)

        def cond(state):
            _, k, change = state
            return (k < max_steps) & (change > tol) & jnp.isfinite(change)

        def body(state):
            t, k, _ = state
            new = (1 - damping) * (C.T @ t) + damping * p
            return new, k + 1, jnp.sum(jnp.abs(new - t))

        t, k, change = jax.lax.while_loop(cond, body, (p, jnp.asarray(0), jnp.asarray(jnp.finfo(C.dtype).max, C.dtype)))
        status = jnp.where(change <= tol, 0, jnp.where(jnp.isfinite(change), 1, 2)).astype(jnp.int32)
        return EigenTrustResult(trust=t, residual=change, iterations=k, status=status)

    return over_markets(single)(local_trust, pretrusted) if local_trust.ndim > 2 else single(local_trust, pretrusted)


def penalize(reputation, detected, *, penalty: float = 0.5):
    """Multiply the reputation of agents caught misbehaving by ``1 - penalty``."""
    check_unit_interval(penalty, "penalty")
    reputation = check_finite_array(reputation, "reputation")
    real_dtype(detected, "detected")
    return jnp.where(jnp.asarray(detected, bool), (1.0 - penalty) * reputation, reputation)


def price_tier(reputation, thresholds, multipliers):
    """Price multiplier by reputation tier.

    ``thresholds`` ascending ``(K,)``; ``multipliers`` ``(K + 1,)``: an agent with
    reputation in ``[thresholds[k-1], thresholds[k])`` gets ``multipliers[k]``.
    """
    reputation = check_finite_array(reputation, "reputation")
    thresholds = check_finite_array(thresholds, "thresholds")
    multipliers = check_finite_array(multipliers, "multipliers")
    if thresholds.ndim != 1 or multipliers.shape != (thresholds.shape[0] + 1,):
        raise ValueError("thresholds must be (K,) and multipliers (K + 1,)")
    if not isinstance(thresholds, jax.core.Tracer) and (np.diff(np.asarray(thresholds)) <= 0).any():
        raise ValueError("thresholds must be strictly increasing")
    return multipliers[jnp.searchsorted(thresholds, reputation.astype(thresholds.dtype), side="right")]
