"""The data pass on a Dask cluster (``executor: dask``): the same tables as the local
pool, a warm pass that decodes nothing, no case lost to a killed worker, a case failing on
every try reported, an interrupt that cancels everything and stores nothing, and a worker
that does not see the data folder named in one message (exit status 2).

One ``LocalCluster`` (two worker processes, one thread each) serves the module; tests
that pass ``dask_scheduler`` use it, one test starts the pass's own ``LocalCluster``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import cloudpickle
import cv2
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from eda_lib import cli, cluster, datapass, trace
from eda_lib.config import make_config
from eda_lib.datapass import MANIFEST, ensure_tables, measure_dataset, pass_summary
from eda_lib.dataset import demo
from eda_lib.dataset.index import scan
from eda_lib.errors import ClusterError
from eda_lib.measure import cache
from eda_lib.measure.case import group_cases
from eda_lib.report import pages
from eda_lib.report.records import RunResult
from eda_lib.tables import MEASURED_TABLES, tables_dir


@pytest.fixture(scope="module")
def scheduler():
    """Address of a running cluster of two single-threaded worker processes, and a client."""
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # test helpers run on workers
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as local, Client(local) as client:
        yield local.scheduler_address, client
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dask") / "data"
    demo.generate(root, forged=8, seed=3, size_scale=0.15, supplemental=1)
    return root


@pytest.fixture(scope="module")
def local_tables(data, tmp_path_factory):
    """The local executor's tables of ``data`` (one process)."""
    out = tmp_path_factory.mktemp("local")
    cfg = make_config({"data_dir": str(data), "out_dir": str(out), "workers": 1, "progress": False})
    return measure_dataset(cfg, progress=False, use_cache=False)


def _cfg(data: Path, out: Path, address: str = "", **kw):
    return make_config({"data_dir": str(data), "out_dir": str(out), "workers": 2, "progress": False,
                        "executor": "dask", "dask_scheduler": address, **kw})


def _assert_same(a: dict, b: dict) -> None:
    for name in MEASURED_TABLES:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)


def _decodes(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_tables_equal_the_local_ones_and_a_warm_pass_decodes_nothing(
        scheduler, data, local_tables, tmp_path, monkeypatch):
    address, client = scheduler
    log = tmp_path / "trace.log"
    monkeypatch.setenv(trace.ENV, str(log))
    cfg = _cfg(data, tmp_path / "out", address)
    report: dict = {}
    cold = measure_dataset(cfg, progress=False, report=report)
    _assert_same(cold, local_tables)
    assert report["executor"] == f"dask, 2 workers (2 threads) at {address}"
    n_images = len(local_tables["images"])
    decoded = _decodes(log)
    # the workers trace (the setting reached them) and decode every image once
    assert sum(line.startswith("image") for line in decoded) == n_images, decoded[:3]
    assert list((cfg.cache_path / "views").glob("*.npz"))  # views written by the workers
    assert set(client.run(cv2.getNumThreads).values()) == {1}  # set up as the local pool's
    warm = measure_dataset(cfg, progress=False, report=report)
    _assert_same(warm, local_tables)
    assert _decodes(log) == decoded  # nothing decoded again
    assert report["executor"].startswith("nothing measured")


def test_the_pass_starts_its_own_local_cluster_and_the_index_says_so(
        tiny_dataset, tmp_path):
    before = dict(os.environ)
    cfg = _cfg(tiny_dataset, tmp_path / "out")
    assert ensure_tables(cfg) is True
    assert pass_summary(cfg, True) == "data pass: dask, 1 worker (LocalCluster)"
    assert dict(os.environ) == before  # the nannies' variables did not stay here
    assert ensure_tables(cfg.replace(executor="local")) is False  # not part of the key
    assert pass_summary(cfg, False) == \
        "data pass: reused the stored tables (made by dask, 1 worker (LocalCluster))"


def test_the_index_says_what_ran_the_pass(tiny_dataset, tmp_path):
    cfg = _cfg(tiny_dataset, tmp_path / "out")
    line = "data pass: dask, 2 workers (LocalCluster)"
    pages.write_index(tmp_path, RunResult(tmp_path, (), line), cfg, {"files": 1}, {})
    assert f"<p class=\"summary\">{line}</p>" in (tmp_path / "index.html").read_text()


def test_a_worker_killed_mid_pass_loses_no_case(scheduler, data, local_tables, tmp_path,
                                                monkeypatch):
    address, client = scheduler
    victim = sorted(client.run(os.getpid).values())[0]
    calls = []

    class KillingBar(datapass.tqdm):
        def update(self, n=1):
            if not calls:
                os.kill(victim, signal.SIGKILL)
            calls.append(n)
            return super().update(n)

    monkeypatch.setattr(datapass, "tqdm", KillingBar)
    tables = measure_dataset(_cfg(data, tmp_path / "out", address), progress=False, use_cache=False)
    _assert_same(tables, local_tables)
    assert calls  # the bar moved, so the worker was killed with tasks in flight
    client.wait_for_workers(2, timeout=60)  # the nanny starts it again, for the next tests
    assert victim not in client.run(os.getpid).values()


def _break_case(case_id: str) -> None:
    """On a worker: measuring ``case_id`` raises, always."""
    measure = getattr(datapass.measure_case, "original", datapass.measure_case)

    def broken(root, case, cfg, views=True):
        if case.case_id == case_id:
            raise RuntimeError(f"case {case_id} cannot be measured")
        return measure(root, case, cfg, views)

    broken.original = measure
    datapass.measure_case = broken


def _mend() -> None:
    datapass.measure_case = getattr(datapass.measure_case, "original", datapass.measure_case)


def test_a_case_failing_on_every_try_becomes_a_problem(scheduler, data, local_tables, tmp_path):
    address, client = scheduler
    index = scan(data)
    cases = group_cases(index)
    for case in cases:
        case.nbytes = sum(st.st_size for _, st in cache.stat_files(index.root, case.paths) if st)
    shared = [task for task in datapass._schedule(cases, 2) if len(task) > 1][-1]
    problems = set(local_tables["problems"]["case_id"])
    # a case without problems that shares its task with others (which must not suffer)
    split, bad = next((c.split, c.case_id) for c in shared if c.case_id not in problems)
    client.run(_break_case, bad)
    try:
        tables = measure_dataset(_cfg(data, tmp_path / "out", address), progress=False,
                                 use_cache=False)
    finally:
        client.run(_mend)
    failed = tables["problems"][tables["problems"]["kind"] == "measure_failed"]
    assert failed["case_id"].tolist() == [bad]
    assert "cannot be measured" in failed["detail"].iloc[0]
    for name in MEASURED_TABLES:  # every other case measured as locally
        def keep(df, name=name):
            if name == "problems":
                return df[df["kind"] != "measure_failed"].reset_index(drop=True)
            if "split" in df:
                df = df[~((df["split"] == split) & (df["case_id"] == bad))]
            return df.reset_index(drop=True)
        pd.testing.assert_frame_equal(keep(tables[name]), keep(local_tables[name]), obj=name)


def test_an_interrupt_cancels_the_tasks_and_stores_no_table(scheduler, data, tmp_path,
                                                            monkeypatch):
    address, client = scheduler

    class InterruptedBar(datapass.tqdm):
        def update(self, n=1):
            raise KeyboardInterrupt

    monkeypatch.setattr(datapass, "tqdm", InterruptedBar)
    cfg = _cfg(data, tmp_path / "out", address)
    with pytest.raises(KeyboardInterrupt):
        ensure_tables(cfg, use_cache=False)
    folder = tables_dir(cfg)
    assert not (folder / MANIFEST).exists() and not list(folder.glob("*.parquet"))
    deadline = time.monotonic() + 10
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)):
        assert time.monotonic() < deadline, "tasks left on the scheduler"
        time.sleep(0.1)


def _hide_data() -> None:
    """On a worker: it does not see the data folder."""
    cluster._probe = lambda *args: "data:cannot list it (No such file or directory)"


def test_a_worker_without_the_data_folder_stops_the_run_with_exit_status_2(
        scheduler, tiny_dataset, tmp_path, capsys):
    address, client = scheduler
    worker = sorted(client.nthreads())[1]
    client.run(_hide_data, workers=[worker])
    try:
        with pytest.raises(ClusterError) as info:
            ensure_tables(_cfg(tiny_dataset, tmp_path / "out", address))
        assert info.value.worker == worker and info.value.path == tiny_dataset.resolve()
        params = tmp_path / "p.yaml"
        params.write_text(f"data_dir: {tiny_dataset}\nout_dir: {tmp_path / 'run'}\n"
                          f"executor: dask\ndask_scheduler: {address}\nprogress: false\n")
        notebooks = Path(__file__).parent / "notebooks"
        code = cli.main(["run", "-f", str(params), "--notebooks", str(notebooks), "--only", "ok"])
    finally:
        client.restart()  # fresh workers, the probe as it is
    assert code == 2
    err = capsys.readouterr().err
    assert worker in err and str(tiny_dataset.resolve()) in err and "same path" in err


def test_an_unreachable_scheduler_is_a_cluster_error(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1)
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler"):
        ensure_tables(_cfg(tiny_dataset, tmp_path / "out", "tcp://127.0.0.1:9"))


def test_no_more_tasks_in_flight_than_twice_the_threads(scheduler, monkeypatch):
    _, client = scheduler
    pool = cluster.Pool(client, threads=2, description="")
    count = {"submitted": 0, "done": 0, "most": 0}
    submit = client.submit

    def counting_submit(*args, **kw):
        count["submitted"] += 1
        count["most"] = max(count["most"], count["submitted"] - count["done"])
        return submit(*args, **kw)

    def done(i):
        count["done"] += 1

    monkeypatch.setattr(client, "submit", counting_submit)
    jobs = list(range(-12, 0))
    assert pool.map(abs, jobs, done=done) == [abs(i) for i in jobs]  # in the jobs' order
    assert count == {"submitted": 12, "done": 12, "most": 4}


@pytest.mark.parametrize("differs, said", [
    ("code_digest", "runs other eda_lib code than the client"),
    ("fingerprint", "its files differ from the client's"),
])
def test_a_worker_with_other_code_or_another_copy_of_the_data_stops_the_run(
        scheduler, tiny_dataset, tmp_path, monkeypatch, differs, said):
    """What the client sends the workers to compare with theirs is made to differ: a
    worker running another eda_lib, or holding another copy of the data (the same
    top-level names), would measure other tables."""
    address, _ = scheduler
    if differs == "code_digest":
        monkeypatch.setattr(cluster, "code_digest", lambda: "0" * 64)
    else:
        monkeypatch.setattr(cluster, "fingerprint", lambda folder: {"sha256": "0" * 64})
    with pytest.raises(ClusterError, match=said):
        ensure_tables(_cfg(tiny_dataset, tmp_path / "out", address))
    assert not (tmp_path / "out" / "tables" / MANIFEST).exists()


def test_an_address_that_never_answers_as_a_scheduler_is_a_cluster_error(tiny_dataset, tmp_path,
                                                                       monkeypatch):
    """A dashboard or web server port accepts the connection and never completes Dask's
    handshake: the run stops rather than waiting for ever."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1)
    start = time.monotonic()
    try:
        with pytest.raises(ClusterError, match="cannot reach the Dask scheduler"):
            ensure_tables(_cfg(tiny_dataset, tmp_path / "out",
                               f"tcp://127.0.0.1:{server.getsockname()[1]}"))
    finally:
        server.close()
    assert time.monotonic() - start < 30


def _slow(x: int) -> int:
    time.sleep(60)
    return x


def test_a_scheduler_lost_mid_pass_stops_the_map_with_a_cluster_error(monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 2)
    own = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = cluster._client(own.scheduler_address)
    pool = cluster.Pool(client, threads=1, description="")
    threading_stop = []
    import threading

    def stop_soon() -> None:
        time.sleep(2)
        own.close()
        threading_stop.append(True)

    threading.Thread(target=stop_soon, daemon=True).start()
    start = time.monotonic()
    try:
        with pytest.raises(ClusterError, match="lost the Dask scheduler|dropped a task"):
            pool.map(_slow, [1, 2])
    finally:
        client.close()
    assert threading_stop and time.monotonic() - start < 45
