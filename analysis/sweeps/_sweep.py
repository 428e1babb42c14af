"""Resumable equilibrium sweeps: chunked, vectorized, on one machine or any executor (Dask).

``sweep(fn, params, out=...)`` evaluates ``fn(row)`` on every row of a parameter table and
returns one table: the parameter columns followed by ``fn``'s outputs.

Execution. Rows are cut into chunks of ``chunk_size`` in table order. Inside a chunk, rows whose
arguments agree in shape (and in the values of the *static* parameters: strings, bools, and those
declared ``static``) form a group; each group runs as ``jax.jit(jax.vmap(fn))`` calls of at most
``batch_size`` rows, padded to a power of two so that a few compiled programs serve every chunk
(Bradbury et al. 2018). With
several local devices the batch is split across them (``jax.sharding.NamedSharding`` over the row
axis). ``fn`` is written for one row and never sees the batch. A function that cannot be traced
(it calls numpy or scipy on its inputs) runs row by row with ``vectorize=False``.

Storage. With ``out`` the table is a Parquet dataset: one file per chunk, ``part-00000.parquet``,
written to a hidden file, flushed, and renamed into place (atomic on POSIX), so the folder never
holds a torn file and ``pandas.read_parquet(out)`` opens it in one line. Beside the chunks,
``_manifest.json`` (a leading underscore: Parquet readers skip it, as they skip Spark's
``_SUCCESS`` and Dask's ``_metadata``) records the provenance: the sweep's spec (function,
parameters, chunking), the sampler's seed, package versions, git commit, devices, start and end
times, and the status of every chunk.

Resume. The chunk files are the truth: started again with the same arguments, ``sweep`` keeps
every complete chunk file and computes the others, so a run killed at any instant (even by
``SIGKILL``) ends with exactly the rows of an uninterrupted run. A different spec in an existing
folder is a ``ValueError`` naming the difference, never a silent mix.

Executors. ``executor=`` takes any ``concurrent.futures.Executor`` (threads, processes) or a
``dask.distributed.Client``; each task computes one whole chunk and sends its rows back to this
process, which writes them (workers need no shared file system). A failed chunk is retried up to
``retries`` times; chunks that still fail are recorded in the manifest and reported by a
:class:`SweepError` after every other chunk is written, never dropped.

Reference: J. Bradbury et al. (2018), JAX: composable transformations of Python+NumPy programs
(``jit``, ``vmap``, sharding); M. Rocklin (2015), "Dask: parallel computation with blocked
algorithms and task scheduling", SciPy; Apache Parquet format specification.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime
import functools
import hashlib
import importlib.metadata
import inspect
import json
import os
import pickle
import platform
import re
import socket
import subprocess
import sys
import time
import weakref
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from solvers._core._checkpoint import atomic_write, config_difference, fingerprint

from ._grid import ParameterTable, _json_value, as_parameter_table

__all__ = ["sweep", "SweepError", "MANIFEST"]

MANIFEST = "_manifest.json"
_FORMAT = "nashgrid-sweep-1"
_PART = re.compile(r"^part-(\d+)\.parquet$")
_MANIFEST_INTERVAL_S = 1.0  # the manifest is rewritten at most this often while chunks complete
_ROW = "__row__"  # the batch's row index when every parameter is static
_PACKAGES = ("nashgrid", "jax", "jaxlib", "numpy", "scipy", "pandas", "pyarrow", "dask", "distributed")


class SweepError(RuntimeError):
    """Some chunks failed after their retries; ``failed`` maps chunk index -> last error message.

    Every other chunk is written; run ``sweep`` again with the same arguments to retry only these.
    """

    def __init__(self, message: str, failed: dict[int, str]):
        super().__init__(message)
        self.failed = failed


# ----------------------------------------------------------------------------------------------
# Describing the run (spec, provenance)


def _describe_value(value, depth: int = 0):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        return f"array{np.shape(value)}:{fingerprint(value)}"
    if isinstance(value, (list, tuple)) and depth < 2:
        return [_describe_value(v, depth + 1) for v in value]
    if isinstance(value, dict) and depth < 2:
        return {str(k): _describe_value(v, depth + 1) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if callable(value) and depth < 2:
        return _describe_function(value, depth + 1)
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def _describe_function(fn, depth: int = 0) -> dict:
    """Name, source digest and closure values of ``fn``: a changed function is a different sweep."""
    if isinstance(fn, functools.partial):
        return {"partial": _describe_function(fn.func, depth + 1), "args": _describe_value(list(fn.args), depth + 1),
                "keywords": _describe_value(dict(fn.keywords), depth + 1)}
    name = f"{getattr(fn, '__module__', None)}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"
    try:
        source = hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()[:16]
    except (OSError, TypeError):
        source = None
    description = {"name": name, "source_sha256": source}
    closure = getattr(fn, "__closure__", None)
    if closure:
        description["closure"] = [_describe_value(cell.cell_contents, depth + 1) for cell in closure]
    return description


def _flatten(spec: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in spec.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def _git_commit() -> dict | None:
    """The commit of the nashgrid source tree (and whether it has uncommitted changes), or None."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def _device_description() -> dict:
    devices = jax.local_devices()
    return {"platform": devices[0].platform, "kind": devices[0].device_kind, "count": len(devices),
            "host": socket.gethostname()}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------------------------
# Computing one chunk


def _next_bucket(k: int, multiple: int) -> int:
    """The padded batch size of a group of ``k`` rows: a power of two, a multiple of the device count."""
    size = 1 << max(k - 1, 0).bit_length()
    return -(-size // multiple) * multiple


def _signature(columns: dict[str, np.ndarray], static: tuple[str, ...], i: int):
    """Rows with equal signatures are vectorized together: static values, then array shapes."""
    key = []
    for name, column in columns.items():
        if name in static:
            key.append(column[i].item() if column.dtype != object else fingerprint(column[i]))
        elif column.dtype == object:
            key.append((np.shape(column[i]), np.asarray(column[i]).dtype.str))
    return tuple(key)


def _check_outputs(result, where: str) -> dict:
    if not isinstance(result, dict) or not result:
        raise ValueError(f"fn must return a nonempty dict of scalars or small arrays; {where} it returned "
                         f"{type(result).__name__}")
    for name in result:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"fn's output names must be identifiers; got {name!r}")
    return result


class _Programs:
    """Compiled ``jit(vmap(fn))`` programs for one function, one per value of the static parameters.

    A program returns the outputs as a tuple (``jax`` would sort a dict's keys) and the names are
    recorded when it is traced, so that the table keeps the order in which ``fn`` returns them.
    """

    def __init__(self, fn: Callable):
        self.fn = fn
        self.programs: dict = {}

    def __call__(self, static_values: dict):
        key = tuple(sorted((k, v if not isinstance(v, np.ndarray) else fingerprint(v)) for k, v in static_values.items()))
        entry = self.programs.get(key)
        if entry is None:
            fn, names = self.fn, []

            def one_row(traced):
                traced = {k: v for k, v in traced.items() if k != _ROW}
                out = _check_outputs(fn({**static_values, **traced}), "for a row")
                names[:] = list(out)
                return tuple(out.values())

            entry = self.programs[key] = (jax.jit(jax.vmap(one_row)), names)
        program, names = entry

        def run(batch, size: int):
            if not batch:  # every parameter static: a row index gives vmap its axis
                batch = {_ROW: np.arange(size)}
            values = program(batch)
            return dict(zip(names, values))

        return run


_LOCAL_PROGRAMS: "weakref.WeakKeyDictionary[Callable, _Programs]" = weakref.WeakKeyDictionary()


def _local_programs(fn) -> _Programs:
    """This process's programs for ``fn``, kept while ``fn`` lives: a second sweep does not recompile."""
    try:
        programs = _LOCAL_PROGRAMS.get(fn)
        if programs is None:
            programs = _LOCAL_PROGRAMS[fn] = _Programs(fn)
        return programs
    except TypeError:  # not weakly referenceable
        return _Programs(fn)


def _device_sharding():
    devices = jax.local_devices()
    if len(devices) <= 1:
        return None, 1
    mesh = jax.sharding.Mesh(np.array(devices), ("rows",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("rows")), len(devices)


def _assemble(per_group: list[tuple[np.ndarray, dict]], n: int) -> dict[str, np.ndarray]:
    """Scatter each group's outputs back to the rows' positions (object columns where shapes differ)."""
    names = list(per_group[0][1])
    columns = {}
    for name in names:
        parts = [(index, np.asarray(out[name])) for index, out in per_group]
        shapes = {p.shape[1:] for _, p in parts}
        dtype = np.result_type(*[p.dtype for _, p in parts])
        if len(shapes) == 1:
            column = np.empty((n,) + shapes.pop(), dtype)
            for index, values in parts:
                column[index] = values
        else:
            column = np.empty(n, dtype=object)
            for index, values in parts:
                for row, value in zip(index, values.astype(dtype)):
                    column[row] = value
        columns[name] = column
    return columns


def _compute_chunk(programs: _Programs, columns: dict[str, np.ndarray], static: tuple[str, ...],
                   vectorize: bool, batch_size: int | None = None) -> dict[str, np.ndarray]:
    """``fn`` on every row of one chunk; returns the output columns in row order."""
    n = len(next(iter(columns.values())))
    if not vectorize:
        per_row = []
        for i in range(n):
            row = {name: (c[i] if c.dtype == object else c[i].item()) for name, c in columns.items()}
            out = _check_outputs(programs.fn(row), f"for row {row}")
            per_row.append((np.array([i]), {k: np.asarray(v)[None] for k, v in out.items()}))
        names = list(per_row[0][1])
        for index, out in per_row:
            if list(out) != names:
                raise ValueError(f"fn returned outputs {sorted(out)} for one row and {sorted(names)} for another")
        return _assemble(per_row, n)
    groups: dict[tuple, list[int]] = {}
    for i in range(n):
        groups.setdefault(_signature(columns, static, i), []).append(i)
    sharding, num_devices = _device_sharding()
    pending = []  # every batch is dispatched before any result is awaited (JAX runs them asynchronously)
    for rows in groups.values():
        rows = np.asarray(rows)
        first = rows[0]
        static_values = {name: (columns[name][first] if columns[name].dtype == object else columns[name][first].item())
                         for name in static}
        step = batch_size or len(rows)
        for start in range(0, len(rows), step):
            index = rows[start:start + step]
            size = _next_bucket(len(index), num_devices)
            padded = np.concatenate([index, np.full(size - len(index), first)])
            batch = {name: (np.stack(list(c[padded])) if c.dtype == object else c[padded])
                     for name, c in columns.items() if name not in static}
            if sharding is not None:
                batch = jax.device_put(batch, sharding)
            pending.append((index, programs(static_values)(batch, size)))
    # jax.device_get of the whole dict would sort the names: keep fn's order
    per_group = [(index, {k: np.asarray(jax.device_get(v))[: len(index)] for k, v in out.items()})
                 for index, out in pending]
    return _assemble(per_group, n)


_WORKER_FUNCTIONS: dict[str, _Programs] = {}


def _run_remote(payload: bytes, digest: str, columns: dict, static: tuple, vectorize: bool, x64: bool,
                batch_size: int | None) -> dict:
    """The task an executor runs: one whole chunk. Compiled programs are kept per function per worker."""
    start, cpu = time.perf_counter(), time.process_time()
    if bool(jax.config.jax_enable_x64) != x64:
        jax.config.update("jax_enable_x64", x64)  # the sweep's precision, set at run time in the worker
    programs = _WORKER_FUNCTIONS.get(digest)
    if programs is None:
        programs = _WORKER_FUNCTIONS[digest] = _Programs(pickle.loads(payload))
    outputs = _compute_chunk(programs, columns, static, vectorize, batch_size)
    return {"outputs": outputs, "seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
            "worker": f"{socket.gethostname()}:{os.getpid()}"}


# ----------------------------------------------------------------------------------------------
# Parquet


def _to_arrow(values):
    """A column (1-D numeric/string array, ``(n, ...)`` array, or object array of arrays) as an Arrow array."""
    import pyarrow as pa

    values = values if isinstance(values, np.ndarray) else np.asarray(values)
    if values.dtype != object and values.ndim == 1:
        return pa.array(values)
    if values.dtype != object:  # (n, k, ...): variable-size lists so that every chunk has the same schema
        n, k = values.shape[0], values.shape[1]
        inner = _to_arrow(values.reshape((n * k,) + values.shape[2:]))
        return pa.ListArray.from_arrays(pa.array(np.arange(0, n * k + 1, k, dtype=np.int32)), inner)
    cells = [np.asarray(v) for v in values]
    lengths = np.array([c.shape[0] if c.ndim else 1 for c in cells])
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    flat = [c.reshape((-1,) + c.shape[1:]) if c.ndim else c.reshape(1) for c in cells]
    inner_shapes = {c.shape[1:] for c in flat}
    if len(inner_shapes) == 1:
        inner = _to_arrow(np.concatenate(flat))
    else:
        inner_column = np.empty(int(offsets[-1]), dtype=object)
        position = 0
        for c in flat:
            for sub in c:
                inner_column[position] = sub
                position += 1
        inner = _to_arrow(inner_column)
    return pa.ListArray.from_arrays(pa.array(offsets), inner)


def _chunk_table(parameters: dict[str, np.ndarray], outputs: dict[str, np.ndarray], metadata: dict):
    import pyarrow as pa

    arrays = {name: _to_arrow(column) for name, column in {**parameters, **outputs}.items()}
    table = pa.table(arrays)
    return table.replace_schema_metadata({"nashgrid.sweep": json.dumps(metadata)})


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_part(out: str, name: str, table) -> None:
    """Write a chunk under a hidden name (atomically), then rename it to its visible name."""
    import pyarrow.parquet as pq

    hidden = os.path.join(out, "." + name)
    atomic_write(hidden, lambda f: pq.write_table(table, f))
    os.chmod(hidden, _file_mode())  # the temporary file was private (mkstemp); the result follows the umask
    os.replace(hidden, os.path.join(out, name))
    _fsync_folder(out)


def _part_is_complete(path: str, rows: int, spec_id: str) -> bool:
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_metadata(path)
        saved = json.loads((metadata.metadata or {}).get(b"nashgrid.sweep", b"{}"))
    except Exception:  # unreadable: recompute it
        return False
    if saved.get("spec") != spec_id:
        raise ValueError(f"{path} belongs to a different sweep (spec {saved.get('spec')!r}, this one {spec_id!r}); "
                         "use another out folder, or delete it to start over")
    return metadata.num_rows == rows


# ----------------------------------------------------------------------------------------------
# The driver


def _validate(fn, table: ParameterTable, chunk_size, batch_size, retries, static, vectorize):
    if not callable(fn):
        raise ValueError(f"fn must be callable (a function of one row); got {type(fn).__name__}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer; got {chunk_size!r}")
    if batch_size is None:
        batch_size = getattr(fn, "batch_size", None)
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or None; got {batch_size!r}")
    if isinstance(retries, bool) or not isinstance(retries, (int, np.integer)) or retries < 0:
        raise ValueError(f"retries must be a nonnegative integer; got {retries!r}")
    declared = tuple(static) if static is not None else ()
    if isinstance(static, str):
        declared = (static,)
    declared += tuple(getattr(fn, "static_axes", ()))
    unknown = [name for name in declared if name not in table.columns and name not in getattr(fn, "static_axes", ())]
    if unknown:
        raise ValueError(f"static names {unknown} are not parameters of the table ({table.names})")
    implicit = [name for name, column in table.columns.items() if column.dtype.kind in "bUSO" and column.dtype != object]
    static_names = tuple(name for name in table.names if name in declared or name in implicit)
    if vectorize is None:
        vectorize = getattr(fn, "vectorize", True)
    if not isinstance(vectorize, bool):
        raise ValueError(f"vectorize must be True or False; got {vectorize!r}")
    check = getattr(fn, "validate_parameters", None)
    if check is not None:
        check(table)
    return static_names, vectorize, None if batch_size is None else int(batch_size)


def _trace_check(fn, table: ParameterTable, static: tuple[str, ...]) -> None:
    """Trace ``fn`` once per group signature (no compilation): bad outputs and untraceable uses of a
    parameter surface here as one clear error, before any chunk runs."""
    seen = set()
    programs = _local_programs(fn)
    names_seen = None
    for i in range(len(table)):
        signature = _signature(table.columns, static, i)
        if signature in seen:
            continue
        seen.add(signature)
        row = table.row(i)
        static_values = {name: row[name] for name in static}
        batch = {name: np.asarray(row[name])[None] for name in table.names if name not in static}
        try:
            shapes = jax.eval_shape(functools.partial(programs(static_values), size=1), batch)
        except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError,
                jax.errors.TracerIntegerConversionError, jax.errors.TracerBoolConversionError, TypeError) as error:
            if not isinstance(error, jax.errors.JAXTypeError) and "Tracer" not in str(error):
                raise
            traced = [name for name in table.names if name not in static]
            first_line = str(error).strip().splitlines()[0]
            raise ValueError(
                f"fn cannot be traced with the parameters {traced} as arrays ({type(error).__name__}: {first_line}): "
                "declare the parameters that fix shapes or control Python branches static (sweep(..., "
                "static=[...])), or pass vectorize=False to call fn row by row") from None
        clash = sorted(set(shapes) & set(table.names))
        if clash:
            raise ValueError(f"fn's outputs {clash} have the names of parameters; rename them")
        if names_seen is not None and set(shapes) != names_seen:
            raise ValueError(f"fn returns outputs {sorted(shapes)} for row {i} but {sorted(names_seen)} for "
                             "earlier rows; every row must return the same names")
        names_seen = set(shapes)


def _executor_of(executor):
    """A ``concurrent.futures.Executor``; a ``dask.distributed.Client`` gives its own (impure tasks, so a
    retried chunk really runs again)."""
    if executor is None or isinstance(executor, cf.Executor):
        return executor, type(executor).__name__ if executor is not None else None
    if hasattr(executor, "get_executor") and hasattr(executor, "submit"):
        return executor.get_executor(pure=False), f"{type(executor).__module__}.{type(executor).__name__}"
    raise ValueError(f"executor must be a concurrent.futures.Executor or a dask.distributed.Client; got "
                     f"{type(executor).__name__}")


def _dumps(fn) -> bytes:
    try:
        import cloudpickle

        return cloudpickle.dumps(fn)
    except ImportError:
        pass
    try:
        return pickle.dumps(fn)
    except Exception as error:
        raise ValueError(f"fn must be picklable to run on an executor (define it at module level, or install "
                         f"cloudpickle): {error}") from None


def sweep(fn: Callable[[dict], dict], params, *, out: str | os.PathLike | None = None, chunk_size: int = 256,
          executor=None, progress: bool = True, static=None, vectorize: bool | None = None, batch_size: int | None = None,
          retries: int = 2):
    """Evaluate ``fn(row)`` on every row of ``params``: chunked, vectorized, resumable, optionally distributed.

    Args:
      fn: a function of one row, ``fn({name: value}) -> {output: scalar or small array}``, written with
        ``jax.numpy`` so that it can be traced. Rows are vectorized with ``jax.vmap`` in groups of equal
        shapes and static values; ``fn`` may carry ``static_axes`` (names to treat as static),
        ``vectorize = False`` and ``validate_parameters(table)`` (an eager check of the rows), as the
        built-in studies do.
      params: a :class:`ParameterTable` (:func:`grid`, :func:`sample`), a ``pandas.DataFrame``, a dict of
        columns, or a list of row dicts.
      out: a folder for the Parquet dataset and its ``_manifest.json`` (``None``: keep everything in
        memory, no resume).
      chunk_size: rows per chunk (per file, per task).
      executor: ``None`` (this process), any ``concurrent.futures.Executor``, or a
        ``dask.distributed.Client``; each task computes whole chunks.
      progress: show a tqdm bar (chunks, rows per second, time left).
      static: parameters passed to ``fn`` as Python values and used to group rows (those that fix
        array shapes, such as a number of users). String and bool parameters are always static.
      vectorize: ``False`` calls ``fn`` row by row with concrete values (functions that need numpy or
        scipy on their inputs); default ``getattr(fn, "vectorize", True)``.
      batch_size: the most rows in one vectorized call (default ``getattr(fn, "batch_size", None)``:
        a whole group of a chunk). A batched ``while_loop`` runs until its slowest row converges, so
        solvers with data-dependent iteration counts are faster in small batches (the built-in
        studies use 64); a chunk is the unit of files, tasks and resume, a batch the unit of ``vmap``.
      retries: how many times a failed chunk is run again before it is reported.

    Returns:
      A ``pandas.DataFrame``: the parameter columns, then ``fn``'s outputs, one row per parameter row
      in table order (array outputs are cells holding numpy arrays). With ``out``, the same table as
      ``pandas.read_parquet(out)``.

    Raises:
      ValueError: bad arguments, a function that cannot be traced as asked, or an ``out`` folder
        that holds a different sweep (the message names the difference).
      SweepError: chunks that failed after their retries (all others are written; run again to retry).

    Example:
      >>> from analysis import grid
      >>> table = sweep(lambda row: {"square": row["x"] ** 2}, grid(x=[1.0, 2.0, 3.0]), progress=False)
      >>> table["square"].tolist()
      [1.0, 4.0, 9.0]

    Reference: Bradbury et al. (2018) for ``jit``/``vmap``/sharding; Rocklin (2015) for Dask.
    """
    from tqdm.auto import tqdm

    table = as_parameter_table(params)
    static_names, vectorize, batch_size = _validate(fn, table, chunk_size, batch_size, retries, static, vectorize)
    chunk_size, n = int(chunk_size), len(table)
    num_chunks = -(-n // chunk_size)
    width = max(5, len(str(num_chunks - 1)))
    spec = {"function": _describe_function(fn), "parameters": table.spec, "rows": n, "chunk_size": chunk_size,
            "batch_size": batch_size, "static": list(static_names), "vectorize": vectorize,
            "x64": bool(jax.config.jax_enable_x64)}
    spec_id = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]
    pool, executor_name = _executor_of(executor)
    if vectorize:
        _trace_check(fn, table, static_names)

    run_started, clock = _now(), time.perf_counter()
    timing = {"compute_s": 0.0, "compute_cpu_s": 0.0, "write_s": 0.0, "manifest_s": 0.0}
    chunks = [{"index": k, "file": f"part-{k:0{width}d}.parquet", "rows": [k * chunk_size, min(n, (k + 1) * chunk_size)],
               "status": "pending", "attempts": 0, "error": None, "seconds": None, "cpu_s": None, "worker": None}
              for k in range(num_chunks)]
    manifest = None
    if out is not None:
        out = os.fspath(out)
        t0 = time.perf_counter()
        manifest = _open_folder(out, spec, spec_id, chunks, table)
        run = {"started": run_started, "finished": None, "pid": os.getpid(), "executor": executor_name,
               "versions": _versions(), "git": _git_commit(), "device": _device_description()}
        manifest["runs"].append(run)
        manifest["status"] = "running"
        _save_manifest(out, manifest)
        timing["manifest_s"] += time.perf_counter() - t0
    in_memory: dict[int, Any] = {}
    pending = [c["index"] for c in chunks if c["status"] != "done"]
    failed: dict[int, str] = {}
    tries = {k: 0 for k in pending}  # failed attempts in this run (retries are counted per run)
    last_manifest = time.perf_counter()
    bar = tqdm(total=num_chunks, initial=num_chunks - len(pending), unit="chunk", disable=not progress,
               desc="sweep", dynamic_ncols=True)
    rows_done = 0

    def finish_chunk(k: int, result: dict) -> None:
        nonlocal last_manifest, rows_done
        start, stop = chunks[k]["rows"]
        t0 = time.perf_counter()
        part = _chunk_table(table.take(slice(start, stop)), result["outputs"],
                            {"spec": spec_id, "chunk": k, "rows": [start, stop]})
        if out is not None:
            _write_part(out, chunks[k]["file"], part)
        else:
            in_memory[k] = part
        timing["write_s"] += time.perf_counter() - t0
        timing["compute_s"] += result["seconds"]
        timing["compute_cpu_s"] += result["cpu_s"]
        chunks[k].update(status="done", error=None, seconds=round(result["seconds"], 4), cpu_s=round(result["cpu_s"], 4),
                         worker=result["worker"])
        rows_done += stop - start
        bar.update(1)
        elapsed = time.perf_counter() - clock
        bar.set_postfix_str(f"{rows_done / max(elapsed, 1e-9):,.0f} rows/s")
        if out is not None and time.perf_counter() - last_manifest > _MANIFEST_INTERVAL_S:
            t0 = time.perf_counter()
            _save_manifest(out, manifest)
            timing["manifest_s"] += time.perf_counter() - t0
            last_manifest = time.perf_counter()

    def fail_attempt(k: int, error: BaseException) -> bool:
        """Record a failed attempt; True when the chunk should run again."""
        chunks[k]["attempts"] += 1
        chunks[k]["error"] = f"{type(error).__name__}: {error}"
        tries[k] += 1
        if tries[k] <= retries:
            return True
        chunks[k]["status"] = "failed"
        failed[k] = chunks[k]["error"]
        return False

    try:
        if pool is None:
            programs = _local_programs(fn)
            for k in pending:
                start, stop = chunks[k]["rows"]
                while True:
                    t0, cpu0 = time.perf_counter(), time.process_time()
                    try:
                        outputs = _compute_chunk(programs, table.take(slice(start, stop)), static_names, vectorize,
                                                 batch_size)
                    except Exception as error:  # noqa: BLE001 - a chunk's failure is recorded, not fatal
                        if fail_attempt(k, error):
                            continue
                        break
                    chunks[k]["attempts"] += 1
                    finish_chunk(k, {"outputs": outputs, "seconds": time.perf_counter() - t0,
                                     "cpu_s": time.process_time() - cpu0,
                                     "worker": f"{socket.gethostname()}:{os.getpid()}"})
                    break
        else:
            payload = _dumps(fn)
            digest = hashlib.sha256(payload).hexdigest()
            x64 = bool(jax.config.jax_enable_x64)

            def submit(k):
                start, stop = chunks[k]["rows"]
                return pool.submit(_run_remote, payload, digest, table.take(slice(start, stop)), static_names,
                                   vectorize, x64, batch_size)

            futures = {submit(k): k for k in pending}
            try:
                while futures:
                    done, _ = cf.wait(list(futures), return_when=cf.FIRST_COMPLETED)
                    for future in done:
                        k = futures.pop(future)
                        try:
                            result = future.result()
                        except Exception as error:  # noqa: BLE001 - retried, then reported
                            if fail_attempt(k, error):
                                futures[submit(k)] = k
                            continue
                        chunks[k]["attempts"] += 1
                        finish_chunk(k, result)
            finally:
                for future in futures:
                    future.cancel()
    finally:
        bar.close()
        if out is not None:
            t0 = time.perf_counter()
            complete = all(c["status"] == "done" for c in chunks)
            manifest["status"] = "complete" if complete else ("failed" if failed else "interrupted")
            if complete and manifest.get("finished") is None:
                manifest["finished"] = _now()
            timing["manifest_s"] += time.perf_counter() - t0
            computed = sum(1 for k in pending if chunks[k]["status"] == "done")
            manifest["runs"][-1].update(finished=_now(), wall_s=round(time.perf_counter() - clock, 4),
                                        chunks_computed=computed, **{k: round(v, 4) for k, v in timing.items()})
            _save_manifest(out, manifest)
    if failed:
        first = min(failed)
        raise SweepError(f"{len(failed)} of {num_chunks} chunk(s) failed after {retries} retries (chunks "
                         f"{sorted(failed)[:10]}{'...' if len(failed) > 10 else ''}); first: chunk {first}: "
                         f"{failed[first]}" + (f". Finished chunks are in {out!r}; run again to retry the failed "
                                               "ones." if out is not None else ""), failed)
    if out is not None:
        import pandas as pd

        return pd.read_parquet(out)
    import pyarrow as pa

    return pa.concat_tables([in_memory[k] for k in range(num_chunks)]).to_pandas()


@functools.lru_cache(maxsize=1)
def _file_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _save_manifest(out: str, manifest: dict) -> None:
    def write(f):
        f.write(json.dumps(manifest, indent=1, default=str))
        os.fchmod(f.fileno(), _file_mode())

    atomic_write(os.path.join(out, MANIFEST), write, binary=False)


def _open_folder(out: str, spec: dict, spec_id: str, chunks: list[dict], table: ParameterTable) -> dict:
    """Create ``out`` or check that it holds this sweep; mark the chunks whose files are complete."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, MANIFEST)
    entries = os.listdir(out)
    if not os.path.exists(path):
        if any(not name.startswith(".") for name in entries):
            raise ValueError(f"out folder {out!r} holds files but no {MANIFEST}: not a sweep folder; choose an "
                             "empty or new folder")
        return {"format": _FORMAT, "spec_id": spec_id, "spec": spec, "seed": table.seed, "started": _now(),
                "finished": None, "status": "running", "runs": [], "chunks": chunks}
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} cannot be read ({error}); delete the folder to start over") from None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a nashgrid sweep manifest; choose another out folder")
    difference = config_difference(_flatten(manifest.get("spec", {})), _flatten(spec))
    if difference:
        raise ValueError(f"out folder {out!r} holds a different sweep: " + "; ".join(difference)
                         + ". Use another out folder, or delete it to start over.")
    previous = {c["index"]: c for c in manifest.get("chunks", [])}
    for name in entries:  # leftovers of a kill: staged chunks and temporary files (all hidden)
        if name.startswith(".part-") or (name.startswith(f".{MANIFEST}.") and name.endswith(".tmp")):
            try:
                os.unlink(os.path.join(out, name))
            except FileNotFoundError:
                pass
    for chunk in chunks:
        old = previous.get(chunk["index"], {})
        chunk["attempts"] = old.get("attempts", 0)
        file = os.path.join(out, chunk["file"])
        start, stop = chunk["rows"]
        if os.path.exists(file) and _part_is_complete(file, stop - start, spec_id):
            chunk.update(status="done", seconds=old.get("seconds"), cpu_s=old.get("cpu_s"), worker=old.get("worker"))
        elif os.path.exists(file):
            os.unlink(file)  # incomplete or unreadable: computed again
    manifest["chunks"] = chunks
    manifest["spec_id"] = spec_id
    return manifest
