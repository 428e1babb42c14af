"""Complementarity functions: equations whose zeros are exactly the complementarity conditions.

``a >= 0, b >= 0, a b = 0`` holds exactly where the Fischer-Burmeister function vanishes; Billups'
composition extends it to box constraints. Semismooth Newton methods solve the resulting (nonsmooth)
equations.

References: A. Fischer (1992), "A special Newton-type optimization method", Optimization 24;
S. C. Billups (1995), *Algorithms for complementarity problems and generalized equations*, PhD thesis,
University of Wisconsin; F. Facchinei and J.-S. Pang (2003), ch. 9.
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["fischer_burmeister", "box_fischer_burmeister", "box_natural_residual"]


def fischer_burmeister(a, b):
    """``phi(a, b) = sqrt(a^2 + b^2) - a - b``, zero iff ``a >= 0, b >= 0, a b = 0``; at the kink
    ``a = b = 0`` its derivative is taken as the limit along ``a = b`` (an element of the generalized
    Jacobian) instead of NaN."""
    norm_sq = a * a + b * b
    kink = norm_sq == 0
    safe_a = jnp.where(kink, 1.0, a)
    safe_b = jnp.where(kink, 1.0, b)
    norm = jnp.sqrt(safe_a * safe_a + safe_b * safe_b)
    return jnp.where(kink, -(1.0 - jnp.sqrt(0.5)) * (a + b), norm - a - b)


def box_fischer_burmeister(w, Gw, lower, upper):
    """Billups' (1995) function for the box complementarity condition ``w in [lower, upper]`` and
    ``G >= 0`` at ``lower``, ``G <= 0`` at ``upper``, ``G = 0`` strictly inside:
    ``psi(w - l, psi(u - w, -G))`` with ``psi(a, b) = sqrt(a^2 + b^2) - a - b`` (Fischer-Burmeister),
    zero exactly where the condition holds. An infinite bound drops its term (``u = inf``: the plain NCP
    ``psi(w - l, G)``; both infinite: ``-G``); the unused branch is fed finite dummies so that no NaN
    reaches a derivative. ``upper=None`` is the plain complementarity problem ``w >= lower`` (finite),
    ``G >= 0``: one Fischer-Burmeister evaluation per entry instead of two."""
    if upper is None:
        return fischer_burmeister(w - lower, Gw)
    has_upper, has_lower = jnp.isfinite(upper), jnp.isfinite(lower)
    # psi(u - w, -G) (psi = sqrt(a^2 + b^2) - a - b) tends to G as u -> inf, so the infinite case is G.
    inner = jnp.where(has_upper, fischer_burmeister(jnp.where(has_upper, upper - w, 1.0), -Gw), Gw)
    return jnp.where(has_lower, fischer_burmeister(jnp.where(has_lower, w - lower, 1.0), inner), -inner)


def box_natural_residual(w, Gw, lower, upper):
    """``||w - clip(w - G(w), lower, upper)||_inf``: zero exactly at a solution of the box problem
    (``upper=None``: no upper bounds)."""
    return jnp.max(jnp.abs(w - jnp.clip(w - Gw, lower, upper)))
