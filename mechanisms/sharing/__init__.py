"""Reward sharing: proportional, exact and Monte Carlo Shapley values, Clarke pivot rewards."""

from . import _reward_sharing
from ._reward_sharing import *  # noqa: F403

__all__ = [*_reward_sharing.__all__]
