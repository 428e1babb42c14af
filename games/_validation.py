"""Eager input checks for game constructors: the one validation module of ``games``.

Each raises ``ValueError`` naming the argument and the problem, before anything is traced.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["as_float_array", "finite_array", "check_number"]


def as_float_array(x, name: str) -> jax.Array:
    """Convert to a floating JAX array (integers become the default float dtype); tracers pass."""
    if isinstance(x, jax.core.Tracer):
        return x
    try:
        arr = np.asarray(x)
    except Exception as err:  # ragged lists and the like
        raise ValueError(f"{name} must be a rectangular numeric array: {err}") from err
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be numeric; got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real; got complex dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        return jnp.asarray(arr, dtype=jnp.result_type(float))
    return jnp.asarray(x)


def finite_array(x, name: str, shape=None, *, nonnegative: bool = False, positive: bool = False) -> np.ndarray:
    """``x`` as a finite float numpy array (broadcast to ``shape`` when given)."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real numeric array; got {x!r}") from None
    if shape is not None:
        try:
            arr = np.broadcast_to(arr, shape)
        except ValueError:
            raise ValueError(f"{name} must broadcast to shape {shape}; got shape {np.shape(x)}") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite (no NaN or infinity)")
    if positive and (arr <= 0).any():
        raise ValueError(f"{name} must be positive; got a minimum of {arr.min()}")
    if nonnegative and (arr < 0).any():
        raise ValueError(f"{name} must be nonnegative; got a minimum of {arr.min()}")
    return arr


def check_number(value, what: str) -> float:
    """``float(value)``, or ``ValueError`` naming ``what`` when it is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number; got {value!r}") from None
