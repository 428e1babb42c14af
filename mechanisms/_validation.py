"""Eager input checks shared by the rules (skipped for tracers, so rules stay jittable)."""

from __future__ import annotations

import jax
import numpy as np


def check_finite_nonnegative(x, label: str, reason: str = "") -> None:
    """Raise ``ValueError`` naming ``label`` if concrete ``x`` holds NaN, infinity or a negative entry."""
    if isinstance(x, jax.core.Tracer):
        return
    values = np.asarray(x)
    if not np.isfinite(values).all():
        raise ValueError(f"{label} must be finite (NaN or infinity found)")
    if (values < 0).any():
        raise ValueError(f"{label} must be nonnegative{reason}; got a minimum of {values.min()}")
