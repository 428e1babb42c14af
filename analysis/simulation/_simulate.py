"""A market that lives for a year: ``simulate(scenario, days=..., seeds=..., key=...)``.

The day of :func:`games.market.step` is scanned over days (``jax.lax.scan``) and vectorized over Monte
Carlo seeds (``jax.vmap``), jitted: one compiled program per scenario shape. Long runs go in chunks of
days with a tqdm bar between chunks; with ``checkpoint=PATH`` each finished chunk is written atomically
(the outputs to ``PATH.chunks/``, then the state through :class:`solvers._core._checkpoint.Checkpointer`),
so a run killed at any moment and started again with the same arguments continues from the last chunk
and ends with exactly the arrays of an uninterrupted run. With ``ledger=PATH`` every day's settlements
(all seeds) are appended to a :class:`mechanisms.SettlementLedger` after the jitted run of their chunk,
one transaction per day, and the chain is verified at the end.

With several local devices (GPUs, or host devices made with
``XLA_FLAGS=--xla_force_host_platform_device_count=2`` on a two-core CPU) the seeds are split across
them (``jax.sharding.NamedSharding`` over the seed axis) when their number divides the seeds. On a
CPU (each host device) the seeds run in blocks of :data:`CPU_SEED_BLOCK` (``jax.lax.map`` with
``batch_size``: a block is vectorized, blocks follow one another), which keeps a block's arrays in the
caches. On a two-core CPU, two host devices of one thread each
(``XLA_FLAGS="--xla_force_host_platform_device_count=2 --xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1"``, set before JAX starts) each run half of the seeds (on a loaded
machine: 10 days of 1,000 agents x 64 seeds in 1.8 s against 2.2 s on one device over both cores; a
whole year 68.7 s against 64.5 s, so no gain to count on).

Randomness: seed ``s`` has key ``keys[s]`` (``jax.random.split(key, seeds)``, or ``key`` itself when it
holds one key per seed), and day ``d`` of seed ``s`` uses ``jax.random.fold_in(keys[s], d)``: results
do not depend on the chunking, and seed ``s`` of a batch equals a run of that seed alone.

Reference: J. Bradbury et al. (2018), JAX (``scan``, ``vmap``, ``jit``); the day's model and its
references are in :mod:`games.market._pieces`.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from games.market import (DayRecord, MarketInputs, MarketScenario, check_market_scenario, initial_market_state,
                          market_network, step)
from mechanisms import SettlementLedger
from solvers import solve_vi
from solvers._core._checkpoint import Checkpointer, atomic_write, fingerprint

__all__ = ["simulate", "SimulationResult", "simulate_days", "best_response_equilibrium", "with_equilibrium_solver",
           "RESULT_FIELDS", "SETTLEMENT_FIELDS"]

#: The main arrays of a :class:`SimulationResult`, each with leading axes ``(seeds, days)``.
RESULT_FIELDS = ("prices", "auction_prices", "schedules", "trades", "reputation", "stakes", "credits", "welfare",
                 "renewable_share", "emissions", "unserved_energy")
#: Per-agent money of each day, kept only when a ledger is written (they are ``(seeds, days, N)``).
SETTLEMENT_FIELDS = ("payments", "receipts", "penalties")


@dataclasses.dataclass(frozen=True)
class SimulationResult:
    """A simulated market: numpy arrays with leading axes ``(seeds, days)``.

    Attributes:
      prices: ``(S, D, T)`` the price signal of each slot (the real-time merit-order price under the
        auction; the billing rule's marginal cost of supply under pricing).
      auction_prices: ``(S, D, 2)`` the auction's buyer and seller prices (0 under pricing).
      schedules: ``(S, D, C, T)`` each data center's training energy per slot.
      trades: ``(S, D, N)`` energy each agent sold minus bought in the day's auction.
      reputation, stakes: ``(S, D, N)`` after each day.
      credits: ``(S, D, C)`` each data center's energy credits after each day.
      welfare: ``(S, D)`` minus the plants' cost and the value of lost load (``scarcity_price`` per unit).
      renewable_share: ``(S, D)`` share of the served load not met by dispatchable plants.
      emissions: ``(S, D)`` of the plants.
      unserved_energy: ``(S, D)`` load shed (scarcity and congestion).
      diagnostics: ``(S, D, ...)`` arrays: the invariants (``energy_residual``, ``money_residual``,
        ``min_battery``, ``min_credits``, ``min_stakes``, ``max_line_loading``), ``operator_surplus``,
        totals, detections, slot profiles (``load_by_slot``, ``renewable_by_slot``, ``dispatch_by_slot``,
        ``congestion_by_slot``), and the per-agent money when a ledger was written.
      ledger: the :class:`mechanisms.LedgerReport` of the final verification (``None`` without a ledger).
      seconds: wall time of the run (this call; a resumed run counts only its own chunks).
    """

    prices: np.ndarray
    auction_prices: np.ndarray
    schedules: np.ndarray
    trades: np.ndarray
    reputation: np.ndarray
    stakes: np.ndarray
    credits: np.ndarray
    welfare: np.ndarray
    renewable_share: np.ndarray
    emissions: np.ndarray
    unserved_energy: np.ndarray
    diagnostics: dict
    ledger: object = None
    seconds: float = 0.0

    @property
    def num_seeds(self) -> int:
        return int(self.welfare.shape[0])

    @property
    def num_days(self) -> int:
        return int(self.welfare.shape[1])

    def invariants(self) -> dict:
        """The worst value of every invariant over all seeds and days: ``energy_residual`` and
        ``money_residual`` (relative; 0 when exact), ``min_battery`` (the least room to the battery's
        limits), ``min_credits``, ``min_stakes`` (>= 0 when respected), ``max_line_loading`` (<= 1)."""
        d = self.diagnostics
        return {"energy_residual": float(np.max(d["energy_residual"])),
                "money_residual": float(np.max(d["money_residual"])),
                "min_battery": float(np.min(d["min_battery"])), "min_credits": float(np.min(d["min_credits"])),
                "min_stakes": float(np.min(d["min_stakes"])), "max_line_loading": float(np.max(d["max_line_loading"]))}


# ----------------------------------------------------------------------------------------------
# The equilibrium of the pricing mechanism


def best_response_equilibrium(game):
    """The demand-response equilibrium of a day by Gauss-Seidel best-response sweeps (water filling):
    ``(schedules, natural-map residual)``. Daily proportional billing makes it the minimum of the day's
    supply cost (Mohsenian-Rad et al. 2010, Theorem 1)."""
    eq = solve_vi(game, method="best_response", adjoint=None, max_steps=2_000)
    return eq.strategies, eq.residual


def with_equilibrium_solver(scenario: MarketScenario) -> MarketScenario:
    """The scenario with best-response sweeps as its equilibrium solver, if it has none."""
    if scenario.rules.solve_equilibrium is None:
        return scenario.with_rules(solve_equilibrium=best_response_equilibrium)
    return scenario


# ----------------------------------------------------------------------------------------------
# The jitted core


def _record_arrays(record: DayRecord) -> dict:
    out = {name: getattr(record, name) for name in RESULT_FIELDS}
    out.update({f"diagnostics.{k}": v for k, v in record.diagnostics.items()})
    return out


def _scan_days(scenario, network, state, key, days, active_days):
    def body(state, offset):
        day = state.day
        new, record = step(state, MarketInputs(scenario, day, network), jax.random.fold_in(key, day))
        active = offset < active_days
        new = jax.tree_util.tree_map(lambda a, b: jnp.where(active, a, b), new, state)
        return new, _record_arrays(record)

    return jax.lax.scan(body, state, jnp.arange(days, dtype=jnp.int32))


#: Seeds vectorized together on a CPU; blocks run one after another (``jax.lax.map``), so that a block's
#: ``(seeds, agents, slots)`` arrays stay in the caches: 10 days of 1,000 agents x 64 seeds took 2.6 s in blocks
#: of 8 against 4.2 s as one ``vmap`` of 64 on the (loaded) 2 cores. Other devices vectorize all their seeds.
CPU_SEED_BLOCK = 8


@functools.partial(jax.jit, static_argnames=("length", "block", "mesh"))
def _run_chunk(scenario, states, keys, active_days, *, length, block=None, mesh=None):
    network = market_network(scenario)  # once for every seed and day

    def seeds_here(states, keys):
        one = lambda s, k: _scan_days(scenario, network, s, k, length, active_days)
        if block is None or block >= keys.shape[0]:
            return jax.vmap(one)(states, keys)
        return jax.lax.map(lambda sk: one(*sk), (states, keys), batch_size=block)

    if mesh is None:
        return seeds_here(states, keys)
    # each device runs its own share of the seeds (in blocks on CPUs)
    spec = jax.sharding.PartitionSpec("seeds")
    return jax.shard_map(seeds_here, mesh=mesh, in_specs=(spec, spec), out_specs=spec, check_vma=False)(states, keys)


def simulate_days(scenario: MarketScenario, key, *, days: int):
    """One seed, ``days`` days, as a pure jittable function (for sweeps and custom loops):
    ``(final state, {name: (days, ...) array})`` with the names of :data:`RESULT_FIELDS` and
    ``diagnostics.<name>``. No validation, chunking or I/O: see :func:`simulate` for those."""
    scenario = with_equilibrium_solver(scenario)
    network = market_network(scenario)
    return _scan_days(scenario, network, initial_market_state(scenario), key, days, days)


# ----------------------------------------------------------------------------------------------
# Arguments


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def _seed_keys(key, seeds: int):
    """``(seeds,)`` typed keys from one key (split) or from a batch of one key per seed."""
    if key is None:
        raise ValueError("key is required (a jax.random key; e.g. jax.random.key(0))")
    try:
        key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    except TypeError:
        raise ValueError(f"key must be a jax.random key; got {type(key).__name__}") from None
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        typed = key
    elif key.dtype == jnp.uint32 and key.shape[-1:] == (2,):
        typed = jax.random.wrap_key_data(key)
    else:
        raise ValueError(f"key must be a jax.random key (jax.random.key or PRNGKey); got dtype {key.dtype}, shape "
                         f"{key.shape}")
    if typed.shape == ():
        return jax.random.split(typed, seeds)
    if typed.shape == (seeds,):
        return typed
    raise ValueError(f"key must be one key or one key per seed ({seeds},); got shape {typed.shape}")


def _chunking(days: int, chunk_days: int | None) -> tuple[int, int]:
    """``(chunks, days per chunk)`` with the chunks as equal as possible (one compiled program)."""
    target = min(days, 30) if chunk_days is None else _positive_int(chunk_days, "chunk_days")
    chunks = -(-days // min(target, days))
    return chunks, -(-days // chunks)


def _describe_rules(scenario: MarketScenario) -> dict:
    return {field.name: (None if getattr(scenario.rules, field.name) is None else
                         f"{getattr(getattr(scenario.rules, field.name), '__module__', '?')}."
                         f"{getattr(getattr(scenario.rules, field.name), '__qualname__', '?')}")
            for field in dataclasses.fields(scenario.rules)}


def _over_devices(tree, seeds: int):
    """Place the seed axis of ``tree`` across the local devices (when there are several and they divide it):
    ``(tree, seeds per block, mesh)``; blocks (:data:`CPU_SEED_BLOCK`) on CPUs, one ``vmap`` elsewhere; the
    mesh ``None`` on one device."""
    devices = jax.local_devices()
    block = CPU_SEED_BLOCK if devices[0].platform == "cpu" else None
    if len(devices) < 2 or seeds % len(devices):
        return tree, block, None
    mesh = jax.sharding.Mesh(np.array(devices), ("seeds",))
    return jax.device_put(tree, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("seeds"))), block, mesh


# ----------------------------------------------------------------------------------------------
# Ledger


def _ledger_record(day: int, outputs: dict, index: int) -> dict:
    """One day's block: every seed's money per agent (payments include penalties), the operator's surplus."""
    paid = outputs["diagnostics.payments"][:, index] + outputs["diagnostics.penalties"][:, index]
    surplus = outputs["diagnostics.operator_surplus"][:, index]
    return {"kind": "clearing", "market": f"day {day}", "day": day, "seeds": int(paid.shape[0]),
            "payments": paid.ravel(), "receipts": outputs["diagnostics.receipts"][:, index].ravel(), "rewards": [],
            "surplus": float(np.sum(surplus)), "operator_surplus": surplus,
            "penalties": outputs["diagnostics.penalties"][:, index].ravel(),
            "prices": outputs["prices"][:, index], "auction_prices": outputs["auction_prices"][:, index],
            "trades": outputs["trades"][:, index].ravel(), "reputation": outputs["reputation"][:, index].ravel()}


def _append_days(ledger: SettlementLedger, outputs: dict, first_day: int, start: int, stop: int) -> None:
    """Append the blocks of days ``start..stop-1`` (``outputs`` hold days from ``first_day``)."""
    for day in range(start, stop):
        ledger.append(_ledger_record(day, outputs, day - first_day))


def _check_ledger_days(ledger: SettlementLedger, days_done: int) -> int:
    """The ledger's height, checked to be a prefix of this run (block ``h`` is day ``h``)."""
    height = len(ledger)
    if height > days_done:
        raise ValueError(f"ledger {ledger.path!r} holds {height} days but this run has finished only {days_done}: it "
                         "belongs to another run; use a new ledger file")
    for h, payload in ledger.blocks():
        if payload.get("day") != h:
            raise ValueError(f"ledger {ledger.path!r} block {h} is not day {h} of a simulation; use a new ledger file")
    return height


# ----------------------------------------------------------------------------------------------
# Chunk files of a checkpointed run


def _chunk_path(checkpoint: str, k: int) -> str:
    return os.path.join(checkpoint + ".chunks", f"chunk-{k:05d}.npz")


def _save_chunk(checkpoint: str, k: int, outputs: dict) -> None:
    def write(f):
        buffer = io.BytesIO()
        np.savez(buffer, **outputs)
        f.write(buffer.getvalue())

    atomic_write(_chunk_path(checkpoint, k), write)


def _load_chunk(checkpoint: str, k: int) -> dict:
    path = _chunk_path(checkpoint, k)
    try:
        with np.load(path) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError) as error:
        raise ValueError(f"checkpoint chunk {path!r} cannot be read ({error}); delete the checkpoint to start over") \
            from None


# ----------------------------------------------------------------------------------------------


def simulate(scenario: MarketScenario, *, days: int, seeds: int = 1, key, ledger=None, progress: bool = True,
             checkpoint=None, chunk_days: int | None = None) -> SimulationResult:
    """Simulate the repeated market for ``days`` days and ``seeds`` Monte Carlo seeds.

    Args:
      scenario: a :class:`games.MarketScenario` (e.g. :func:`games.default_market`), validated first.
      days: days to simulate (day ``d`` uses profile day ``d mod D``).
      seeds: Monte Carlo seeds (forecast errors and audits differ; vectorized with ``jax.vmap``).
      key: a ``jax.random`` key, split into one key per seed, or ``(seeds,)`` keys (one per seed).
      ledger: a path: every day's settlements go to this SQLite :class:`mechanisms.SettlementLedger`
        (one transaction per day, all seeds), verified at the end (``result.ledger``).
      progress: a tqdm bar over days (updated between chunks).
      checkpoint: a path: save the run after every chunk (atomically) and resume from it when called
        again with the same arguments; a different run there is a ``ValueError`` naming the difference.
      chunk_days: days per chunk (default 30, balanced so that every chunk has the same length).

    Returns:
      A :class:`SimulationResult`.

    Raises:
      ValueError: a bad scenario (named field), bad arguments, a checkpoint of another run, a ledger of
        another run.

    Example:
      >>> import jax
      >>> from games import default_market
      >>> result = simulate(default_market(num_agents=40), days=7, seeds=2, key=jax.random.key(0),
      ...                   progress=False)  # doctest: +SKIP
      >>> result.prices.shape, result.invariants()["energy_residual"] < 1e-9  # doctest: +SKIP
      ((2, 7, 24), True)

    Reference: the model of :mod:`games.market._pieces`; Bradbury et al. (2018) for ``scan``/``vmap``/``jit``.
    """
    from tqdm.auto import tqdm

    check_market_scenario(scenario)
    days = _positive_int(days, "days")
    seeds = _positive_int(seeds, "seeds")
    keys = _seed_keys(key, seeds)
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be True or False; got {progress!r}")
    scenario = with_equilibrium_solver(scenario)
    chunks, length = _chunking(days, chunk_days)
    settlements = ledger is not None
    config = {"format": "nashgrid-simulation-1", "scenario": fingerprint(jax.tree_util.tree_leaves(scenario)),
              "mechanism": scenario.mechanism, "rules": _describe_rules(scenario), "days": days, "seeds": seeds,
              "keys": fingerprint(jax.random.key_data(keys)), "chunk_days": length, "ledger": settlements,
              "x64": bool(jax.config.jax_enable_x64)}
    checkpoint = None if checkpoint is None else os.fspath(checkpoint)
    saver = Checkpointer(checkpoint, config=config, every=1)
    restored = saver.restore()
    state0 = initial_market_state(scenario)
    states = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (seeds,) + jnp.shape(x)), state0)
    done_chunks, parts = 0, []
    if restored is not None:
        done_chunks, states = restored
        parts = [_load_chunk(checkpoint, k) for k in range(done_chunks)]
    book = None
    if ledger is not None:
        folder = os.path.dirname(os.path.abspath(os.fspath(ledger)))
        os.makedirs(folder, exist_ok=True)
        book = SettlementLedger(ledger)
        height = _check_ledger_days(book, min(done_chunks * length, days))
        if height < min(done_chunks * length, days):  # killed between a checkpoint and its ledger blocks
            merged = {name: np.concatenate([p[name] for p in parts], axis=1) for name in parts[0]}
            _append_days(book, merged, 0, height, min(done_chunks * length, days))
    (states, keys), block, mesh = _over_devices((states, keys), seeds)
    start = time.perf_counter()
    bar = tqdm(total=days, initial=min(done_chunks * length, days), unit="day", desc="simulate",
               disable=not progress, dynamic_ncols=True)
    def finish(k, chunk_states, outputs):
        """Chunk ``k``'s host work: its outputs to numpy, the checkpoint, the ledger, the progress bar."""
        first = k * length
        active = min(length, days - first)
        outputs = {name: np.asarray(value)[:, :active] for name, value in jax.device_get(outputs).items()
                   if settlements or name.split(".", 1)[-1] not in SETTLEMENT_FIELDS}
        parts.append(outputs)
        if checkpoint is not None:
            _save_chunk(checkpoint, k, outputs)
            saver.save(k + 1, chunk_states, force=True)
        if book is not None:
            _append_days(book, outputs, first, first, first + active)
        bar.update(active)
        bar.set_postfix_str(f"{seeds * (first + active - min(done_chunks * length, days)) / max(time.perf_counter() - start, 1e-9):,.1f} seed-days/s")

    try:
        # Pipelined: chunk k+1 is dispatched (JAX runs it asynchronously) before chunk k's outputs are
        # fetched, converted, checkpointed and written to the ledger, so the device never waits on the host.
        pending = None
        for k in range(done_chunks, chunks):
            active = min(length, days - k * length)
            states, outputs = _run_chunk(scenario, states, keys, jnp.int32(active), length=length, block=block,
                                         mesh=mesh)
            if pending is not None:
                finish(*pending)
            pending = (k, states, outputs)
        if pending is not None:
            finish(*pending)
        report = book.verify() if book is not None else None
    finally:
        bar.close()
        if book is not None:
            book.close()
    merged = {name: np.concatenate([p[name] for p in parts], axis=1) for name in parts[0]}
    fields = {name: merged[name] for name in RESULT_FIELDS}
    diagnostics = {name.split(".", 1)[1]: value for name, value in merged.items() if name.startswith("diagnostics.")}
    return SimulationResult(**fields, diagnostics=diagnostics, ledger=report, seconds=time.perf_counter() - start)
