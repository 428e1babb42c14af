"""Small building blocks shared by the learned rules: multilayer perceptrons and bid validation.

A perceptron's parameters are a list of ``{"weight": (inputs, outputs), "bias": (outputs,)}`` layers,
initialized as Glorot and Bengio (2010) ("Understanding the difficulty of training deep feedforward
neural networks"): weights uniform on ``[-a, a]`` with ``a = sqrt(6 / (inputs + outputs))``, biases
zero; hidden layers use ``tanh`` (as Duetting et al. 2019 do for RegretNet).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["perceptron_init", "perceptron_apply", "check_bids", "check_sizes", "cast_params"]


def perceptron_init(key, sizes, dtype=None):
    """Glorot-uniform weights and zero biases for layers ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``."""
    dtype = jnp.result_type(float) if dtype is None else dtype
    layers = []
    for key, (fan_in, fan_out) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        layers.append({"weight": jax.random.uniform(key, (fan_in, fan_out), dtype, -limit, limit),
                       "bias": jnp.zeros((fan_out,), dtype)})
    return layers


def perceptron_apply(layers, x):
    """``tanh`` hidden layers, linear output layer; ``x`` is ``(..., inputs)``."""
    for layer in layers[:-1]:
        x = jnp.tanh(x @ layer["weight"] + layer["bias"])
    return x @ layers[-1]["weight"] + layers[-1]["bias"]


def cast_params(params, dtype):
    """``params`` in the bids' ``dtype`` (a rule trained in float32 evaluates float64 values in float64)."""
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x).astype(dtype), params)


def check_sizes(name, **sizes):
    """Every size a positive integer (a ``ValueError`` naming the argument otherwise)."""
    for label, value in sizes.items():
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: {label} must be a positive integer; got {value!r}")


def check_bids(name, bids, num_bidders, num_items):
    """Bids as a float array of shape ``(..., num_bidders, num_items)``; finite when concrete."""
    bids = jnp.asarray(bids)
    if not jnp.issubdtype(bids.dtype, jnp.floating):
        bids = bids.astype(jnp.result_type(float))
    if bids.ndim < 2 or bids.shape[-2:] != (num_bidders, num_items):
        raise ValueError(f"{name}: bids must have shape (batch, {num_bidders}, {num_items}) (bidders, items); "
                         f"got {bids.shape}")
    if not isinstance(bids, jax.core.Tracer) and not np.isfinite(np.asarray(bids)).all():
        raise ValueError(f"{name}: bids must be finite (NaN or infinity found)")
    return bids
