"""Reputation: beta reputation with forgetting, EWMA reliability, EigenTrust, penalties and price tiers."""

from . import _reputation
from ._reputation import *  # noqa: F403

__all__ = [*_reputation.__all__]
