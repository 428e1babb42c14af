"""Staking and slashing for a proof-of-stake settlement layer.

Validators lock stakes ``s_i``; each round a reward pool ``R`` is split in
proportion to stake, ``R_i = R s_i / sum_j s_j``. A validator who misbehaves
(e.g. signs a conflicting settlement) gains ``g``, is detected with
probability ``p``, and is then slashed a fraction ``f`` of its stake and
forfeits its reward. Expected utilities per round:

    honest:      R_i
    misbehaving: g + (1 - p) R_i - p f s_i

so honest validation is a best response exactly when ``p (R_i + f s_i) >= g``
(the deterrence condition of slashing; cf. Buterin and Griffith 2017, Casper
FFG's accountable safety, and the "nothing at stake" discussion there).

Reference: V. Buterin and V. Griffith (2017), "Casper the friendly finality
gadget", arXiv:1710.09437.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..sharing._reward_sharing import proportional_rewards

__all__ = ["staking_rewards", "slash", "honesty_margin", "honest_validation_is_best_response"]


def _stakes(stakes):
    stakes = jnp.asarray(stakes, dtype=jnp.result_type(jnp.asarray(stakes).dtype, float))
    if stakes.ndim < 1 or stakes.shape[-1] < 1:
        raise ValueError("stakes must be a nonempty, finite, nonnegative array (..., validators)")
    if isinstance(stakes, jax.core.Tracer):  # checked eagerly only (the rules stay jittable)
        return stakes
    a = np.asarray(stakes)
    if not np.isfinite(a).all() or (a < 0).any():
        raise ValueError("stakes must be a nonempty, finite, nonnegative array (..., validators)")
    return stakes


def staking_rewards(stakes, reward):
    """Rewards proportional to stake: ``R_i = reward * s_i / sum_j s_j``."""
    return proportional_rewards(_stakes(stakes), reward)


def slash(stakes, misbehaved, *, fraction: float):
    """Remove ``fraction`` of the stake of each validator proven to have misbehaved (jittable; ``fraction``
    may be traced)."""
    if not isinstance(fraction, jax.core.Tracer) and not 0.0 <= float(fraction) <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1]; got {fraction!r}")
    stakes = _stakes(stakes)
    return jnp.where(jnp.asarray(misbehaved, bool), (1.0 - fraction) * stakes, stakes)


def honesty_margin(stakes, reward, *, gain, detection_probability, slash_fraction):
    """``p (R_i + f s_i) - g`` per validator: honest validation is a best response where it is >= 0."""
    stakes = _stakes(stakes)
    for name, value in (("detection_probability", detection_probability), ("slash_fraction", slash_fraction)):
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1]; got {value!r}")
    share = staking_rewards(stakes, reward)
    return detection_probability * (share + slash_fraction * stakes) - gain


def honest_validation_is_best_response(stakes, reward, *, gain, detection_probability, slash_fraction):
    """Whether each validator's expected utility is highest when it validates honestly."""
    return honesty_margin(stakes, reward, gain=gain, detection_probability=detection_probability,
                          slash_fraction=slash_fraction) >= 0
