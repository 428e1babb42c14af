"""Mechanisms: double-auction clearing throughput and exact Shapley values."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._timing import median_time
from mechanisms import (
    k_double_auction,
    mcafee_double_auction,
    sbba_double_auction,
    shapley_values,
    vcg_double_auction,
)


def double_auction_section(quick):
    markets, side = (1000, 500) if quick else (10_000, 500)
    rng = np.random.default_rng(0)
    bids = jnp.asarray(rng.random((markets, side)))
    asks = jnp.asarray(rng.random((markets, side)))
    rules = {
        "k-double auction (k = 1/2)": functools.partial(k_double_auction, k=0.5),
        "McAfee trade reduction": mcafee_double_auction,
        "SBBA": functools.partial(sbba_double_auction, key=jax.random.key(0)),
        "VCG": vcg_double_auction,
    }
    rows = []
    for name, rule in rules.items():
        jax.block_until_ready(rule(bids, asks))
        seconds = median_time(lambda: jax.block_until_ready(rule(bids, asks)))
        rows.append(f"| {name} | {seconds:.3f} s | {seconds / markets * 1e6:,.1f} us | "
                    f"{markets * 2 * side / seconds / 1e6:,.1f} M traders/s |")
    return [
        f"## Double auctions: {markets:,} markets of {2 * side:,} traders ({side} buyers, {side} sellers), batched",
        "",
        "| rule | batch | per market | throughput |",
        "|---|---|---|---|",
        *rows,
        "",
        "Peer: pymarket's `huang` and `muda` are multi-unit mechanisms that nashgrid does not implement yet, so "
        "there is no like-for-like instance to time; pymarket 0.7.6 (2019) also needs pandas, pulp and "
        "pytest-runner at install time. The comparison is left for when a multi-unit rule lands.",
    ]


def shapley_section(quick):
    rows = []
    for n in (8, 12) if quick else (8, 12, 16):
        weights = jnp.asarray(np.random.default_rng(n).random(n))
        value = lambda S, w=weights: jnp.sqrt(jnp.sum(jnp.where(S, w, 0.0), axis=-1))  # concave model value
        jax.block_until_ready(shapley_values(value, n))
        seconds = median_time(lambda: jax.block_until_ready(shapley_values(value, n)))
        rows.append(f"| {n} | {2**n:,} | {seconds * 1e3:,.2f} ms |")
    return [
        "## Exact Shapley values (all 2^n coalitions, one vectorized evaluation)",
        "",
        "Value function: square root of the pooled data weight (a concave model value). No peer library computes "
        "exact Shapley values of an arbitrary vectorized value function, so only nashgrid's time is shown.",
        "",
        "| players | coalitions | time |",
        "|---|---|---|",
        *rows,
    ]


def run(quick=False):
    return [double_auction_section(quick), shapley_section(quick)]
