"""Parameter tables for sweeps: a Cartesian grid or a random design, one row per scenario.

A :class:`ParameterTable` is a column store (one numpy array per parameter, all of one length)
plus a JSON-able ``spec`` that says how it was made (the grid's axes, or the sampler's key, size
and distributions). :func:`~analysis.sweep` records the spec in its manifest, so a sweep can be
told apart from another one without hashing its rows, and the manifest names the sampler's seed.

A cell is a scalar (number, string, bool) or a small array (a profile, a vector of costs): rows
whose array cells have the same shapes are vectorized together by :func:`~analysis.sweep`.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import keyword
import zlib
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

__all__ = ["ParameterTable", "grid", "sample", "as_parameter_table"]


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"parameter names must be Python identifiers; got {name!r}")


def _json_value(value):
    """A cell as plain JSON (numbers, strings, nested lists)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


def _column(name: str, values: Sequence) -> np.ndarray:
    """One parameter's values as a 1-D numpy array: numeric or string dtype, or ``object`` holding arrays."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "biufU":
        return values
    cells = list(values)
    if not cells:
        raise ValueError(f"parameter {name!r} has no values")
    shaped = [np.asarray(c) for c in cells]
    if all(c.ndim == 0 for c in shaped):
        kinds = {c.dtype.kind for c in shaped}
        if kinds <= set("biuf") or kinds <= {"U"} or kinds == {"b"}:
            return np.array([c.item() for c in shaped])
        raise ValueError(f"parameter {name!r} mixes value types {sorted(kinds)}; use one type per parameter")
    if any(c.dtype.kind not in "biuf" for c in shaped):
        raise ValueError(f"parameter {name!r}: array values must be numeric")
    column = np.empty(len(shaped), dtype=object)
    for i, c in enumerate(shaped):
        column[i] = c
    return column


class ParameterTable:
    """Rows of sweep parameters: ``columns[name][i]`` is parameter ``name`` of row ``i``.

    Build one with :func:`grid` or :func:`sample` (or pass a ``pandas.DataFrame``, a dict of
    columns or a list of row dicts to :func:`~analysis.sweep`). ``len(table)`` is the number of
    rows, ``table[i]`` row ``i`` as a dict, ``table.to_pandas()`` a DataFrame.

    Attributes:
      columns: ``{name: 1-D array}``; numeric and string parameters have numeric and string
        dtypes, array-valued parameters an ``object`` array of numpy arrays.
      spec: a JSON-able description of how the table was made (recorded in a sweep's manifest).
      seed: the sampler's key data (``sample``), or ``None``.
    """

    def __init__(self, columns: Mapping[str, Sequence], *, spec: dict | None = None, seed=None):
        if not columns:
            raise ValueError("a parameter table needs at least one parameter")
        self.columns: dict[str, np.ndarray] = {}
        length = None
        for name, values in columns.items():
            _check_name(name)
            column = _column(name, values)
            if length is None:
                length = len(column)
            elif len(column) != length:
                raise ValueError(f"parameter {name!r} has {len(column)} values; the others have {length}")
            self.columns[name] = column
        if spec is None:  # a digest of the values (a table may have millions of rows)
            digest = hashlib.sha256()
            for name, column in self.columns.items():
                digest.update(json.dumps([name, [_json_value(v) for v in column]]).encode())
            spec = {"kind": "table", "columns": list(self.columns), "rows": length, "sha256": digest.hexdigest()[:16]}
        self.spec = spec
        self.seed = seed

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as ``{name: value}`` (Python scalars, strings or numpy arrays)."""
        return {name: (column[i] if column.dtype == object else column[i].item()) for name, column in self.columns.items()}

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not isinstance(i, (int, np.integer)):
            raise TypeError("index a ParameterTable with an integer row number")
        if not -len(self) <= i < len(self):
            raise IndexError(f"row {i} out of range for {len(self)} rows")
        return self.row(int(i) % len(self))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self.row(i) for i in range(len(self)))

    def take(self, index) -> dict[str, np.ndarray]:
        """The columns restricted to rows ``index`` (an integer array or slice)."""
        return {name: column[index] for name, column in self.columns.items()}

    def to_pandas(self):
        """The table as a ``pandas.DataFrame`` (array cells stay numpy arrays)."""
        import pandas as pd

        return pd.DataFrame({name: list(column) if column.dtype == object else column
                             for name, column in self.columns.items()})

    def __repr__(self) -> str:
        return f"ParameterTable({len(self)} rows; {', '.join(self.names)}; {self.spec.get('kind')})"


def grid(**axes) -> ParameterTable:
    """The Cartesian product of parameter axes: one row per combination, the first axis slowest.

    Each axis is a sequence of values (numbers, strings, bools, or arrays for array-valued
    parameters); a single scalar or string is an axis with one value.

    Example:
      >>> table = grid(users=[10, 100], billing=["daily", "hourly"], share=np.linspace(0, 0.6, 3))
      >>> len(table), table[1]
      (12, {'users': 10, 'billing': 'daily', 'share': 0.3})

    Returns a :class:`ParameterTable` whose ``spec`` lists the axes.
    """
    if not axes:
        raise ValueError("grid needs at least one axis, e.g. grid(users=[10, 100])")
    values = {}
    for name, axis in axes.items():
        _check_name(name)
        if isinstance(axis, (str, bytes, int, float, bool, np.generic)) or (isinstance(axis, np.ndarray) and axis.ndim == 0):
            axis = [axis]
        cells = list(axis)
        if not cells:
            raise ValueError(f"axis {name!r} is empty")
        _column(name, cells)  # validates the values' types
        values[name] = cells
    rows = list(itertools.product(*values.values()))
    columns = {name: [row[k] for row in rows] for k, name in enumerate(values)}
    spec = {"kind": "grid", "axes": {name: [_json_value(v) for v in cells] for name, cells in values.items()}}
    return ParameterTable(columns, spec=spec)


def _describe(distribution) -> Any:
    """A JSON-able description of a distribution (for the manifest and spec comparisons)."""
    if isinstance(distribution, functools.partial):
        return {"function": _describe(distribution.func), "args": [_json_value(a) for a in distribution.args],
                "keywords": {k: _json_value(v) for k, v in sorted(distribution.keywords.items())}}
    if callable(distribution):
        return f"{getattr(distribution, '__module__', '?')}.{getattr(distribution, '__qualname__', repr(distribution))}"
    return _json_value(distribution)


def _stream(key, name: str):
    """An independent key per parameter name (adding a parameter leaves the others' draws unchanged)."""
    import jax

    return jax.random.fold_in(key, zlib.crc32(name.encode()) & 0x7FFFFFFF)


def sample(key, n: int, /, **distributions) -> ParameterTable:
    """A random design of ``n`` rows: each parameter drawn independently from its distribution.

    Distributions:
      - ``(low, high)``, a tuple of two numbers: uniform on ``[low, high)``;
      - a list of values: uniform choice among them (numbers or strings);
      - a callable ``f(key, shape) -> array``, e.g. ``functools.partial(jax.random.normal, ...)``;
      - a scalar or string: a constant.

    Each parameter uses its own key, ``fold_in(key, crc32(name))``, so adding or reordering
    parameters leaves the other columns' draws unchanged. The same key gives the same table.

    Args:
      key: a ``jax.random`` key (or an integer seed).
      n: number of rows.

    Example:
      >>> import jax
      >>> table = sample(jax.random.key(0), 4, share=(0.0, 0.6), billing=["daily", "hourly"], users=10)
      >>> len(table), sorted(table.names)
      (4, ['billing', 'share', 'users'])
    """
    import jax

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    if not distributions:
        raise ValueError("sample needs at least one parameter distribution")
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        key = jax.random.key(int(key))
    try:
        typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    except AttributeError:
        raise ValueError(f"key must be a jax.random key or an integer seed; got {type(key).__name__}") from None
    key_data = np.asarray(jax.random.key_data(key) if typed else key)
    if not typed:
        key = jax.random.wrap_key_data(np.asarray(key, np.uint32))
    n = int(n)
    columns, described = {}, {}
    for name, distribution in distributions.items():
        _check_name(name)
        k = _stream(key, name)
        if isinstance(distribution, tuple):
            if len(distribution) != 2 or not all(isinstance(v, (int, float, np.number)) for v in distribution):
                raise ValueError(f"distribution of {name!r}: a tuple must be (low, high) numbers; got {distribution!r}")
            low, high = map(float, distribution)
            if not (np.isfinite(low) and np.isfinite(high) and low < high):
                raise ValueError(f"distribution of {name!r}: need finite low < high; got {distribution!r}")
            columns[name] = np.asarray(jax.random.uniform(k, (n,), minval=low, maxval=high))
        elif isinstance(distribution, list):
            if not distribution:
                raise ValueError(f"distribution of {name!r}: the list of choices is empty")
            choices = _column(name, distribution)
            index = np.asarray(jax.random.randint(k, (n,), 0, len(choices)))
            columns[name] = choices[index]
        elif callable(distribution):
            draws = np.asarray(distribution(k, (n,)))
            if draws.shape[:1] != (n,):
                raise ValueError(f"distribution of {name!r} returned shape {draws.shape}; expected ({n}, ...)")
            columns[name] = draws if draws.ndim == 1 else list(draws)
        elif isinstance(distribution, (int, float, str, bool, np.generic)):
            columns[name] = [distribution] * n
        else:
            raise ValueError(f"distribution of {name!r}: expected (low, high), a list of choices, a callable "
                             f"(key, shape) -> array, or a constant; got {type(distribution).__name__}")
        described[name] = _describe(distribution)
    seed = key_data.tolist()
    spec = {"kind": "sample", "seed": seed, "n": n, "distributions": described}
    return ParameterTable(columns, spec=spec, seed=seed)


def as_parameter_table(params) -> ParameterTable:
    """A :class:`ParameterTable` from a table, a ``pandas.DataFrame``, a dict of columns or a list of row dicts."""
    if isinstance(params, ParameterTable):
        return params
    if hasattr(params, "to_dict") and hasattr(params, "columns"):  # a DataFrame
        return ParameterTable({str(name): list(params[name]) for name in params.columns})
    if isinstance(params, Mapping):
        return ParameterTable(dict(params))
    if isinstance(params, Sequence) and params and all(isinstance(r, Mapping) for r in params):
        names = list(params[0])
        for i, row in enumerate(params):
            if list(row) != names:
                raise ValueError(f"params row {i} has parameters {sorted(row)}; row 0 has {sorted(names)}")
        return ParameterTable({name: [row[name] for row in params] for name in names})
    raise ValueError("params must be a ParameterTable (grid, sample), a pandas DataFrame, a dict of columns "
                     f"or a list of row dicts; got {type(params).__name__}")
