"""sweep: vectorized equals a row loop, Parquet output with provenance, resume after SIGKILL,
refusal of a different spec, executors, retries, sharding over two devices."""

import concurrent.futures as cf
import json
import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from analysis import ParameterTable, SweepError, grid, sample, sweep
from analysis.sweeps import MANIFEST, _sweep

from ._functions import fail_once, fail_until, kill_parameters, polynomial, slow_polynomial

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CHILD = "import sys; from tests.analysis.sweeps._functions import run_slow_sweep; run_slow_sweep(sys.argv[1])"
PARAMS = grid(n=[2, 3], x=[-1.0, 0.25, 0.5, 2.0], label=["a", "b"])  # 16 rows, 4 shape/static groups


def child_env(**extra):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), JAX_PLATFORMS="cpu")
    env.update(extra)
    return env


def expected_row(row):
    x = row["x"]
    return x**2 + 1.5 * x, x ** np.arange(row["n"]), x > 0


def check_sweep_equals_loop(params: ParameterTable, chunk_size: int, batch_size=None):
    table = sweep(polynomial, params, chunk_size=chunk_size, batch_size=batch_size, progress=False)
    assert len(table) == len(params)
    for i, row in enumerate(params):
        value, powers, positive = expected_row(row)
        assert table["x"][i] == row["x"] and table["n"][i] == row["n"]
        np.testing.assert_allclose(table["value"][i], value, rtol=1e-15)
        np.testing.assert_allclose(table["powers"][i], powers, rtol=1e-15)
        assert table["positive"][i] == positive


rows_strategy = st.lists(st.tuples(st.sampled_from([2, 3]), st.sampled_from([-1.0, 0.5, 2.0])), min_size=1, max_size=9)


def table_of(rows):
    return ParameterTable({"n": [n for n, _ in rows], "x": [x for _, x in rows]})


@settings(max_examples=10)
@given(rows=rows_strategy, chunk_size=st.integers(1, 5), batch_size=st.sampled_from([None, 1, 2, 3]))
def test_vectorized_chunks_equal_a_row_loop_in_table_order(rows, chunk_size, batch_size):
    check_sweep_equals_loop(table_of(rows), chunk_size, batch_size)


def test_the_property_finds_a_sweep_that_writes_groups_back_one_after_another(monkeypatch):
    assemble = _sweep._assemble

    def consecutive(per_group, n):  # forgets where each group's rows came from
        start, moved = 0, []
        for index, out in per_group:
            moved.append((np.arange(start, start + len(index)), out))
            start += len(index)
        return assemble(moved, n)

    monkeypatch.setattr(_sweep, "_assemble", consecutive)
    prop = settings(max_examples=50, phases=[Phase.generate], report_multiple_bugs=False)(given(rows=rows_strategy, chunk_size=st.integers(1, 5))(
        lambda rows, chunk_size: check_sweep_equals_loop(table_of(rows), chunk_size)))
    with pytest.raises(AssertionError):
        prop()


def test_table_keeps_parameters_and_output_order_and_opens_with_read_parquet(tmp_path):
    out = tmp_path / "run"
    table = sweep(polynomial, PARAMS, out=out, chunk_size=5, progress=False)
    assert list(table.columns) == ["n", "x", "label", "value", "powers", "positive"]
    assert table[["n", "x", "label"]].equals(PARAMS.to_pandas())
    pd.testing.assert_frame_equal(pd.read_parquet(out), table)
    files = sorted(os.listdir(out))
    assert files == [MANIFEST] + [f"part-{k:05d}.parquet" for k in range(4)]  # ceil(16 / 5) chunks, no leftovers


def test_manifest_records_provenance_and_every_chunk(tmp_path):
    params = sample(jax.random.key(3), 6, x=(-1.0, 1.0), n=[2, 3])
    sweep(polynomial, params, out=tmp_path, chunk_size=4, progress=False)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["status"] == "complete" and manifest["finished"] >= manifest["started"]
    assert manifest["spec"]["function"]["name"].endswith("_functions.polynomial")
    assert manifest["spec"]["parameters"]["kind"] == "sample" and manifest["spec"]["static"] == ["n"]
    assert manifest["seed"] == np.asarray(jax.random.key_data(jax.random.key(3))).tolist()
    run = manifest["runs"][-1]
    assert run["versions"]["jax"] == jax.__version__ and "numpy" in run["versions"]
    assert run["device"]["platform"] == jax.devices()[0].platform and run["device"]["count"] >= 1
    assert run["git"] is None or len(run["git"]["commit"]) == 40
    assert [(c["index"], c["status"], c["rows"]) for c in manifest["chunks"]] == [(0, "done", [0, 4]), (1, "done", [4, 6])]
    for key in ("compute_s", "compute_cpu_s", "write_s", "manifest_s", "wall_s"):
        assert run[key] >= 0
    assert all(c["cpu_s"] >= 0 and c["worker"] for c in manifest["chunks"])


def test_a_different_spec_in_the_folder_is_refused_with_the_difference_named(tmp_path):
    sweep(polynomial, grid(n=[2], x=[0.0, 1.0]), out=tmp_path, chunk_size=2, progress=False)
    with pytest.raises(ValueError, match=r"parameters\.axes\.x: \[0\.0, 1\.0\] before, \[0\.0, 2\.0\] now"):
        sweep(polynomial, grid(n=[2], x=[0.0, 2.0]), out=tmp_path, chunk_size=2, progress=False)
    with pytest.raises(ValueError, match="chunk_size: 2 before, 1 now"):
        sweep(polynomial, grid(n=[2], x=[0.0, 1.0]), out=tmp_path, chunk_size=1, progress=False)
    with pytest.raises(ValueError, match=r"function\.name: .*polynomial' before, .*slow_polynomial' now"):
        sweep(slow_polynomial, grid(n=[2], x=[0.0, 1.0]), out=tmp_path, chunk_size=2, progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a sweep folder"):
        sweep(polynomial, grid(n=[2], x=[0.0]), out=tmp_path / "other", progress=False)


def test_sigkill_mid_sweep_then_rerun_equals_an_uninterrupted_run(tmp_path):
    reference = sweep(slow_polynomial, kill_parameters(), out=tmp_path / "reference", chunk_size=2, progress=False)
    out = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(out)], cwd=ROOT,
                             env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if os.path.isdir(out) and sum(f.startswith("part-") for f in os.listdir(out)) >= 2:
            break
        time.sleep(0.01)
    assert child.poll() is None, f"the child ended before it could be killed: {child.stderr.read().decode()[-2000:]}"
    child.send_signal(signal.SIGKILL)
    child.wait()
    done = sorted(f for f in os.listdir(out) if f.startswith("part-"))
    assert 2 <= len(done) < 12  # killed mid-way
    before = {f: os.stat(out / f).st_mtime_ns for f in done}
    # What a kill inside a write leaves behind, from a chunk and from the manifest (the temporary names
    # atomic_write gives them); the kill above may have left one of either too.
    (out / ".part-00011.parquet.x1y2.tmp").write_bytes(b"torn")
    (out / f".{MANIFEST}.a1b2_c3.tmp").write_bytes(b"{torn")
    pd.read_parquet(out)  # a half-finished folder opens (hidden files are ignored)
    resumed = sweep(slow_polynomial, kill_parameters(), out=out, chunk_size=2, progress=False)
    pd.testing.assert_frame_equal(resumed, reference, check_exact=True)
    assert {f: os.stat(out / f).st_mtime_ns for f in done} == before  # finished chunks were not redone
    assert not [f for f in os.listdir(out) if f.startswith(".")]
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["status"] == "complete" and len(manifest["runs"]) == 2
    assert manifest["runs"][0]["finished"] is None  # the killed run never finished
    assert manifest["runs"][1]["chunks_computed"] == 12 - len(done)


def test_thread_pool_executor_equals_the_local_run_and_failures_are_retried(tmp_path):
    local = sweep(polynomial, PARAMS, chunk_size=3, progress=False)
    with cf.ThreadPoolExecutor(2) as pool:
        pooled = sweep(polynomial, PARAMS, out=tmp_path / "pool", chunk_size=3, executor=pool, progress=False)
        pd.testing.assert_frame_equal(pooled, local, check_exact=True)
        flaky = sweep(fail_once(str(tmp_path / "once")), grid(x=[0.0, 0.5, 1.0]), out=tmp_path / "flaky",
                      chunk_size=1, executor=pool, progress=False)
    assert flaky["double"].tolist() == [0.0, 1.0, 2.0]
    chunks = json.loads((tmp_path / "flaky" / MANIFEST).read_text())["chunks"]
    assert [c["attempts"] for c in chunks] == [1, 2, 1]


def test_chunks_that_keep_failing_are_reported_then_rerun_alone(tmp_path):
    marker, out = str(tmp_path / "fixed"), tmp_path / "run"
    fragile = fail_until(marker)
    with pytest.raises(SweepError, match=r"1 of 3 chunk\(s\) failed after 1 retries.*chunk 1: RuntimeError: transient") as error:
        sweep(fragile, grid(x=[0.0, 0.5, 1.0]), out=out, chunk_size=1, retries=1, progress=False)
    assert error.value.failed.keys() == {1}
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["status"] == "failed" and [c["status"] for c in manifest["chunks"]] == ["done", "failed", "done"]
    assert manifest["chunks"][1]["attempts"] == 2
    assert len(pd.read_parquet(out)) == 2  # the finished rows are kept
    open(marker, "w").close()
    table = sweep(fragile, grid(x=[0.0, 0.5, 1.0]), out=out, chunk_size=1, retries=1, progress=False)
    assert table["double"].tolist() == [0.0, 1.0, 2.0]
    assert json.loads((out / MANIFEST).read_text())["runs"][-1]["chunks_computed"] == 1


def test_bad_arguments_and_untraceable_functions_are_clear_errors():
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        sweep(polynomial, PARAMS, chunk_size=0)
    with pytest.raises(ValueError, match="static names"):
        sweep(polynomial, PARAMS, static=["users"])
    with pytest.raises(ValueError, match="declare the parameters that fix shapes"):
        sweep(lambda row: {"v": jnp.zeros(row["n"])}, grid(n=[2, 3]), progress=False)
    with pytest.raises(ValueError, match="nonempty dict"):
        sweep(lambda row: row["x"] * 2, grid(x=[1.0]), progress=False)
    with pytest.raises(ValueError, match="names of parameters"):
        sweep(lambda row: {"x": row["x"]}, grid(x=[1.0]), progress=False)
    with pytest.raises(ValueError, match="executor must be"):
        sweep(polynomial, PARAMS, executor=object())
    # a declared static axis and row-by-row execution both make the shape-dependent function work
    table = sweep(lambda row: {"v": jnp.sum(jnp.ones(row["n"]))}, grid(n=[2, 3]), static=["n"], progress=False)
    assert table["v"].tolist() == [2.0, 3.0]
    eager = sweep(lambda row: {"v": float(np.sum(np.ones(row["n"])))}, grid(n=[2, 3]), vectorize=False, progress=False)
    assert eager["v"].tolist() == [2.0, 3.0]


def test_array_valued_parameters_are_grouped_by_shape():
    params = grid(costs=[np.array([1.0, 2.0]), np.array([3.0]), np.array([4.0, 5.0])], scale=[1.0, 2.0])
    table = sweep(lambda row: {"total": row["scale"] * jnp.sum(row["costs"])}, params, chunk_size=4, progress=False)
    assert table["total"].tolist() == [3.0, 6.0, 3.0, 6.0, 9.0, 18.0]
    np.testing.assert_array_equal(table["costs"][5], [4.0, 5.0])


def test_two_local_devices_shard_the_rows_and_give_the_same_table(tmp_path):
    script = (
        "import jax, json, sys; jax.config.update('jax_enable_x64', True)\n"
        "from analysis.sweeps import _sweep, sweep, grid\n"
        "from tests.analysis.sweeps._functions import polynomial\n"
        "assert len(jax.local_devices()) == 2 and _sweep._device_sharding()[1] == 2\n"
        "t = sweep(polynomial, grid(n=[2, 3], x=[-1.0, 0.25, 0.5, 2.0], label=['a', 'b']), out=sys.argv[1],"
        " chunk_size=5, progress=False)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            env=child_env(XLA_FLAGS="--xla_force_host_platform_device_count=2"), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / MANIFEST).read_text())["runs"][0]["device"]["count"] == 2
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path), sweep(polynomial, PARAMS, chunk_size=5, progress=False),
                                  check_exact=True)


def test_progress_bar_shows_chunks_rate_and_time_left(capsys):
    sweep(polynomial, PARAMS, chunk_size=4, progress=True)
    bar = capsys.readouterr().err
    assert "4/4" in bar and "rows/s" in bar and "chunk" in bar and "<" in bar  # done/total, rate, elapsed<left
    sweep(polynomial, PARAMS, chunk_size=4, progress=False)
    assert capsys.readouterr().err == ""


def test_rows_of_one_shape_share_one_trace_and_a_second_sweep_does_not_retrace():
    traces = []

    def counted(row):
        traces.append(row["n"])  # runs when jax traces fn, not per row
        return {"total": jnp.sum(jnp.arange(row["n"], dtype=row["x"].dtype) * row["x"])}

    params = grid(n=[2, 3], x=np.linspace(0.0, 1.0, 8))  # two groups of 8 rows, one chunk, batches of 8
    first = sweep(counted, params, static=["n"], chunk_size=16, progress=False)
    assert sorted(traces) == [2, 2, 3, 3]  # per group: the shape check (one row) and the batch of 8
    second = sweep(counted, params, static=["n"], chunk_size=16, progress=False)
    assert len(traces) == 4 and second.equals(first)
