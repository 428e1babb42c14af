"""Eager input checks shared by the rules (skipped for tracers, so rules stay jittable): the one
validation module of ``mechanisms``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def real_dtype(x, name: str):
    """The dtype of ``x`` if it holds real numbers (bool, integer or floating), else ``ValueError`` naming ``name``.

    Complex values are refused rather than cast (a cast drops the imaginary part: a silent wrong
    answer); so are strings, objects and ragged nests of lists. Tracers are checked by dtype only.
    """
    if isinstance(x, (jax.Array, np.ndarray, np.generic)):
        dtype = x.dtype
    elif isinstance(x, complex):
        dtype = np.dtype(complex)
    else:
        try:
            dtype = np.asarray(x).dtype
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be an array of real numbers: {err}") from None
    if np.issubdtype(dtype, np.complexfloating):
        raise ValueError(f"{name} must be real; got complex values (dtype {dtype})")
    if not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)):
        raise ValueError(f"{name} must hold real numbers; got dtype {dtype}")
    return dtype


def as_real_array(x, name: str):
    """``x`` as a floating JAX array (integers and bools cast), ``ValueError`` naming ``name`` if it is
    complex or not numeric."""
    real_dtype(x, name)
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


def check_real_scalar(value, name: str):
    """``value`` as a Python float (tracers pass through), ``ValueError`` naming ``name`` unless it is one
    real number."""
    real_dtype(value, name)
    if isinstance(value, jax.core.Tracer):
        if value.shape != ():
            raise ValueError(f"{name} must be a scalar; got shape {value.shape}")
        return value
    if np.shape(value) != ():
        raise ValueError(f"{name} must be a scalar; got shape {np.shape(value)}")
    return float(value)


def check_finite_nonnegative(x, label: str, reason: str = "") -> None:
    """Raise ``ValueError`` naming ``label`` if ``x`` is complex or (concrete) holds NaN, infinity or a
    negative entry."""
    real_dtype(x, label)
    if isinstance(x, jax.core.Tracer):
        return
    values = np.asarray(x)
    if not np.isfinite(values).all():
        raise ValueError(f"{label} must be finite (NaN or infinity found)")
    if (values < 0).any():
        raise ValueError(f"{label} must be nonnegative{reason}; got a minimum of {values.min()}")


def check_loads(loads, name="loads"):
    """``loads`` as a float array ``(..., users, slots)``, finite and nonnegative, else ``ValueError``."""
    loads = as_real_array(loads, name)
    if loads.ndim < 2 or loads.shape[-1] < 1 or loads.shape[-2] < 1:
        raise ValueError(f"{name} must have shape (..., users, slots) with both >= 1; got {loads.shape}")
    check_finite_nonnegative(loads, name, " (consumption)")
    return loads


def check_per_slot(x, loads, name):
    """``x`` as a scalar or one finite value per slot of ``loads``, else ``ValueError``."""
    x = as_real_array(x, name).astype(loads.dtype)
    if x.shape not in ((), (loads.shape[-1],)):
        raise ValueError(f"{name} must be a scalar or one value per slot ({loads.shape[-1]},); got {x.shape}")
    if not isinstance(x, jax.core.Tracer) and not np.isfinite(np.asarray(x)).all():
        raise ValueError(f"{name} must be finite")
    return x


def check_order_book(bids, asks, buyer_mask, seller_mask, name):
    """Eager checks (skipped for tracers): shapes, masks, finiteness. Returns arrays."""
    bids = as_real_array(bids, f"{name}: bids")
    asks = as_real_array(asks, f"{name}: asks")
    if bids.ndim < 1 or asks.ndim < 1:
        raise ValueError(f"{name}: bids and asks need a trader axis; got shapes {bids.shape} and {asks.shape}")
    if bids.shape[:-1] != asks.shape[:-1]:
        raise ValueError(
            f"{name}: bids and asks must share their batch axes; got shapes {bids.shape} and {asks.shape}"
        )
    for label, mask in (("buyer_mask", buyer_mask), ("seller_mask", seller_mask)):
        if mask is not None:
            real_dtype(mask, f"{name}: {label}")
    buyer_mask = jnp.ones(bids.shape, bool) if buyer_mask is None else jnp.asarray(buyer_mask, bool)
    seller_mask = jnp.ones(asks.shape, bool) if seller_mask is None else jnp.asarray(seller_mask, bool)
    if buyer_mask.shape != bids.shape:
        raise ValueError(f"{name}: buyer_mask must have the shape of bids {bids.shape}; got {buyer_mask.shape}")
    if seller_mask.shape != asks.shape:
        raise ValueError(f"{name}: seller_mask must have the shape of asks {asks.shape}; got {seller_mask.shape}")
    for label, x, mask in (("bids", bids, buyer_mask), ("asks", asks, seller_mask)):
        if not isinstance(x, jax.core.Tracer) and not isinstance(mask, jax.core.Tracer):
            values = np.asarray(x)[np.asarray(mask)]
            if not np.isfinite(values).all():
                raise ValueError(f"{name}: {label} must be finite (NaN or infinity among real traders)")
    dtype = jnp.result_type(bids, asks)
    return bids.astype(dtype), asks.astype(dtype), buyer_mask, seller_mask


def check_finite_array(x, name, *, nonnegative=False):
    """``x`` as a float array; ``ValueError`` naming ``name`` if it is complex or holds NaN/infinity (or a
    negative entry)."""
    x = as_real_array(x, name)
    if not isinstance(x, jax.core.Tracer):
        a = np.asarray(x)
        if not np.isfinite(a).all():
            raise ValueError(f"{name} must be finite")
        if nonnegative and (a < 0).any():
            raise ValueError(f"{name} must be nonnegative")
    return x


def check_unit_interval(value, name, *, open_left=False):
    """``value`` if it lies in [0, 1] (or (0, 1] with ``open_left``), else ``ValueError`` naming ``name``."""
    v = check_real_scalar(value, name)
    if isinstance(v, jax.core.Tracer):
        return value
    if not ((0.0 < v) if open_left else (0.0 <= v)) or not v <= 1.0:
        raise ValueError(f"{name} must lie in {'(0, 1]' if open_left else '[0, 1]'}; got {value!r}")
    return value


def check_num_players(num_players, limit=None):
    """A positive integer number of players (at most ``limit``), else ``ValueError``."""
    if isinstance(num_players, bool) or not isinstance(num_players, int) or num_players < 1:
        raise ValueError(f"num_players must be a positive integer; got {num_players!r}")
    if limit is not None and num_players > limit:
        raise ValueError(
            f"exact Shapley values enumerate 2^n coalitions; n = {num_players} exceeds {limit}: "
            "use monte_carlo_shapley"
        )
