"""sweep on a two-worker Dask LocalCluster (worker processes): the same table as the local run,
whole chunks per task, failed chunks retried."""

import json

import pandas as pd
import pytest

from analysis import grid, sweep
from analysis.sweeps import MANIFEST

from ._functions import fail_once, polynomial

distributed = pytest.importorskip("distributed", reason="the optional extra nashgrid[distributed]")

PARAMS = grid(n=[2, 3], x=[-1.0, 0.25, 0.5, 2.0], label=["a", "b"])


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  worker_dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


def test_dask_cluster_gives_the_local_table_with_chunks_spread_over_workers(client, tmp_path):
    local = sweep(polynomial, PARAMS, chunk_size=3, progress=False)
    remote = sweep(polynomial, PARAMS, out=tmp_path, chunk_size=3, executor=client, progress=False)
    pd.testing.assert_frame_equal(remote, local, check_exact=True)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["runs"][0]["executor"] == "distributed.client.Client"
    workers = {c["worker"] for c in manifest["chunks"]}
    assert all(c["status"] == "done" and c["attempts"] == 1 for c in manifest["chunks"]) and len(manifest["chunks"]) == 6
    assert len(workers) == 2  # both worker processes computed whole chunks


def test_a_chunk_failing_on_a_worker_is_retried(client, tmp_path):
    table = sweep(fail_once(str(tmp_path / "once")), grid(x=[0.0, 0.5, 1.0]), out=tmp_path / "run", chunk_size=1,
                  executor=client, progress=False)
    assert table["double"].tolist() == [0.0, 1.0, 2.0]
    assert [c["attempts"] for c in json.loads((tmp_path / "run" / MANIFEST).read_text())["chunks"]] == [1, 2, 1]
