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

import math

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import as_real_array, check_finite_array, check_real_scalar, check_unit_interval, real_dtype
from ..sharing._reward_sharing import proportional_rewards

__all__ = ["staking_rewards", "slash", "honesty_margin", "honest_validation_is_best_response"]


def _stakes(stakes, *, staked: bool = False):
    """``stakes`` as a float array ``(..., validators)``: nonempty, finite, nonnegative and, with ``staked``,
    a positive total in every market (a proportional split of nothing at stake is undefined)."""
    stakes = as_real_array(stakes, "stakes")
    if isinstance(stakes, jax.core.Tracer):
        return stakes
    a = np.asarray(stakes)
    if a.ndim < 1 or a.shape[-1] < 1 or not np.isfinite(a).all() or (a < 0).any():
        raise ValueError("stakes must be a nonempty, finite, nonnegative array (..., validators)")
    if staked and not (a.sum(axis=-1) > 0).all():
        raise ValueError("stakes must not all be zero: rewards proportional to stake need something staked")
    return stakes


def _amount(value, name):
    """A real, finite amount: a number (kept a Python float, weakly typed) or an array (one per market)."""
    if np.ndim(value) == 0 and not isinstance(value, jax.core.Tracer):
        value = check_real_scalar(value, name)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite; got {value!r}")
        return value
    return check_finite_array(value, name)


def staking_rewards(stakes, reward):
    """Rewards proportional to stake: ``R_i = reward * s_i / sum_j s_j`` (``ValueError`` if nothing is staked)."""
    return proportional_rewards(_stakes(stakes, staked=True), _amount(reward, "reward"))


def slash(stakes, misbehaved, *, fraction: float):
    """Remove ``fraction`` of the stake of each validator proven to have misbehaved."""
    check_unit_interval(fraction, "fraction")
    stakes = _stakes(stakes)
    real_dtype(misbehaved, "misbehaved")
    return jnp.where(jnp.asarray(misbehaved, bool), (1.0 - fraction) * stakes, stakes)


def honesty_margin(stakes, reward, *, gain, detection_probability, slash_fraction):
    """``p (R_i + f s_i) - g`` per validator: honest validation is a best response where it is >= 0."""
    stakes = _stakes(stakes, staked=True)
    for name, value in (("detection_probability", detection_probability), ("slash_fraction", slash_fraction)):
        check_unit_interval(value, name)
    gain = _amount(gain, "gain")
    share = staking_rewards(stakes, reward)
    return detection_probability * (share + slash_fraction * stakes) - gain


def honest_validation_is_best_response(stakes, reward, *, gain, detection_probability, slash_fraction):
    """Whether each validator's expected utility is highest when it validates honestly."""
    return honesty_margin(stakes, reward, gain=gain, detection_probability=detection_probability,
                          slash_fraction=slash_fraction) >= 0
