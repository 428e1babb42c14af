"""Mechanisms: double-auction clearing throughput and exact Shapley values."""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._timing import median_time
from mechanisms import (
    huang_double_auction,
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
        "Peer: pymarket's `huang` and `muda` are multi-unit mechanisms; `huang` is compared in the next section. "
        "pymarket has no single-unit rule to compare these with.",
    ]


def pymarket_huang(values, costs, buy_quantities, sell_quantities):
    """One market through pymarket's `huang_auction` (called directly: `Market.run` fails under pandas 3)."""
    import pymarket
    from pymarket.mechanisms.huang_auction import huang_auction

    book = pymarket.BidManager()
    for i, (q, v) in enumerate(zip(buy_quantities, values)):
        book.add_bid(float(q), float(v), i, True)
    for j, (q, c) in enumerate(zip(sell_quantities, costs)):
        book.add_bid(float(q), float(c), len(values) + j, False)
    transactions, _ = huang_auction(book.get_df())
    traded = np.zeros(len(values) + len(costs))
    for bid, quantity in transactions.get_df()[["bid", "quantity"]].itertuples(index=False):
        traded[int(bid)] += quantity
    return traded


def multi_unit_section(quick):
    markets, side = (1000, 500) if quick else (10_000, 500)
    peer_markets = 5 if quick else 20
    rng = np.random.default_rng(1)
    values, costs = rng.random((markets, side)), rng.random((markets, side))
    qb, qs = rng.uniform(0.1, 5.0, (markets, side)), rng.uniform(0.1, 5.0, (markets, side))
    args = tuple(jnp.asarray(a) for a in (values, costs, qb, qs))
    jax.block_until_ready(huang_double_auction(*args))
    ours = median_time(lambda: jax.block_until_ready(huang_double_auction(*args))) / markets
    clearing = huang_double_auction(*args)
    traded = np.concatenate([np.asarray(clearing.buyer_quantities), np.asarray(clearing.seller_quantities)], axis=1)
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            peer = [pymarket_huang(values[m], costs[m], qb[m], qs[m]) for m in range(peer_markets)]
            theirs = (time.perf_counter() - start) / peer_markets
        difference = max(np.max(np.abs(peer[m] - traded[m])) for m in range(peer_markets))
        peer_cells = f"{theirs * 1e3:,.1f} ms | {theirs / ours:,.0f}x | {difference:.1e}"
    except ImportError:
        peer_cells = "not installed | | "
    return [
        "## Multi-unit double auction (Huang, Scheller-Wolf and Sycara 2002) against pymarket's `huang`",
        "",
        f"{markets:,} markets of {2 * side:,} traders, unit values and costs uniform on [0, 1), quantities uniform "
        f"on [0.1, 5); nashgrid clears the whole batch in one jitted call, pymarket (0.7.6, pandas) one market at "
        f"a time (the first {peer_markets} markets). The difference column is the largest gap between the two "
        "libraries' traded quantities on those markets.",
        "",
        "| nashgrid per market | pymarket per market | speed-up | max quantity difference |",
        "|---|---|---|---|",
        f"| {ours * 1e6:,.1f} us | {peer_cells} |",
        "",
        "pymarket's `muda` (Segal-Halevi et al. 2018) is a randomized rule nashgrid does not implement; it is "
        "not timed.",
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
    return [double_auction_section(quick), multi_unit_section(quick), shapley_section(quick)]
