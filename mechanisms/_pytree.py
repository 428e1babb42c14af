"""Immutable pytree dataclasses: the one way nashgrid declares its data types.

``@pytree_dataclass`` makes a frozen (keyword-friendly) dataclass and registers it with
``jax.tree_util.register_dataclass``: array fields are leaves (traced, batched, differentiated);
fields declared with :func:`static_field` are static metadata (sizes, names, rule choices) that fix
the traced program. Subclasses are registered too when decorated. Games, results and rules of every
package use it, so there is no field list to keep in step with the class.

Example:
  >>> import jax.numpy as jnp
  >>> @pytree_dataclass
  ... class Line:
  ...     capacity: jnp.ndarray
  ...     name: str = static_field(default="l1")
  >>> import jax; jax.tree_util.tree_leaves(Line(jnp.ones(2)))[0].shape
  (2,)
"""

from __future__ import annotations

import dataclasses

import jax

__all__ = ["pytree_dataclass", "static_field"]


def static_field(**kwargs):
    """A dataclass field that is static pytree metadata (not a leaf): hashable, part of the jit key."""
    metadata = dict(kwargs.pop("metadata", {}) or {}, static=True)
    return dataclasses.field(metadata=metadata, **kwargs)


def pytree_dataclass(cls=None, /, *, kw_only: bool = False):
    """Decorator: ``cls`` as a frozen dataclass registered as a JAX pytree (see the module docstring)."""

    def wrap(klass):
        klass = dataclasses.dataclass(frozen=True, kw_only=kw_only)(klass)
        data = [f.name for f in dataclasses.fields(klass) if not f.metadata.get("static", False)]
        meta = [f.name for f in dataclasses.fields(klass) if f.metadata.get("static", False)]
        return jax.tree_util.register_dataclass(klass, data_fields=data, meta_fields=meta)

    return wrap if cls is None else wrap(cls)
