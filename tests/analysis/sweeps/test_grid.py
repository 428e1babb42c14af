"""grid and sample: Cartesian order, reproducible and independent random columns, clear errors."""

import functools
import itertools

import jax
import numpy as np
import pandas as pd
import pytest

from analysis import ParameterTable, grid, sample
from analysis.sweeps._grid import as_parameter_table


def test_grid_is_the_cartesian_product_with_the_first_axis_slowest():
    axes = dict(users=[10, 100, 1000], share=np.linspace(0, 0.6, 13), billing=["daily", "hourly"])
    table = grid(**axes)
    assert len(table) == 3 * 13 * 2 and table.names == ["users", "share", "billing"]
    expected = list(itertools.product(*axes.values()))
    assert [(r["users"], r["share"], r["billing"]) for r in table] == [(u, float(s), b) for u, s, b in expected]
    assert table.columns["users"].dtype.kind == "i" and table.columns["billing"].dtype.kind == "U"
    assert table.spec == {"kind": "grid", "axes": {k: [v.item() if hasattr(v, "item") else v for v in vs]
                                                   for k, vs in axes.items()}}
    assert len(grid(x=1.5, y=["a", "b"])) == 2  # a scalar is a one-value axis


def test_sample_is_reproducible_and_each_parameter_has_its_own_stream():
    key = jax.random.key(7)
    one = sample(key, 500, share=(0.0, 0.6), billing=["daily", "hourly"], users=10)
    two = sample(key, 500, users=10, billing=["daily", "hourly"], share=(0.0, 0.6), seed=[0, 1, 2])
    np.testing.assert_array_equal(one.columns["share"], two.columns["share"])  # order and extra columns do not matter
    np.testing.assert_array_equal(one.columns["billing"], two.columns["billing"])
    share = one.columns["share"]
    assert share.min() >= 0 and share.max() < 0.6 and abs(share.mean() - 0.3) < 0.03
    assert set(one.columns["billing"]) == {"daily", "hourly"} and (one.columns["users"] == 10).all()
    other = sample(jax.random.key(8), 500, share=(0.0, 0.6))
    assert not np.array_equal(other.columns["share"], share)
    assert one.spec["seed"] == np.asarray(jax.random.key_data(key)).tolist() == one.seed
    normal = sample(3, 4, cost=functools.partial(jax.random.normal, dtype=float))
    assert normal.columns["cost"].shape == (4,)
    assert normal.spec["distributions"]["cost"]["function"].endswith("normal")


def test_tables_from_pandas_dicts_and_rows_agree():
    frame = pd.DataFrame({"x": [1.0, 2.0], "mode": ["a", "b"]})
    tables = [as_parameter_table(frame), as_parameter_table({"x": [1.0, 2.0], "mode": ["a", "b"]}),
              as_parameter_table([{"x": 1.0, "mode": "a"}, {"x": 2.0, "mode": "b"}])]
    assert all(t.spec == tables[0].spec and t.spec["kind"] == "table" for t in tables)
    assert as_parameter_table({"x": [1.0, 3.0]}).spec != tables[0].spec
    pd.testing.assert_frame_equal(tables[0].to_pandas(), frame)


def test_bad_axes_and_distributions_are_clear_errors():
    with pytest.raises(ValueError, match="axis 'users' is empty"):
        grid(users=[])
    with pytest.raises(ValueError, match="mixes value types"):
        grid(x=[1, "a"])
    with pytest.raises(ValueError, match="at least one axis"):
        grid()
    with pytest.raises(ValueError, match="n must be a positive integer"):
        sample(0, 0, x=(0, 1))
    with pytest.raises(ValueError, match=r"need finite low < high"):
        sample(0, 3, x=(1.0, 0.0))
    with pytest.raises(ValueError, match="list of choices is empty"):
        sample(0, 3, x=[])
    with pytest.raises(ValueError, match="key must be a jax.random key"):
        sample("seed", 3, x=(0, 1))
    with pytest.raises(ValueError, match="has 1 values; the others have 2"):
        ParameterTable({"x": [1, 2], "y": [3]})
    with pytest.raises(ValueError, match="Python identifiers"):
        ParameterTable({"not a name": [1]})
