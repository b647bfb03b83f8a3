"""The data pass on Dask (``executor: dask``) against the local pool, and a cost model.

Three measurements on a dataset written by the demo generator on the real size mix
(:func:`eda_lib.dataset.demo.generate` with ``size_scale`` 1.0, as ``bench_suite.py``
makes its datasets):

``cold pass``
    :func:`eda_lib.datapass.measure_dataset` with ``use_cache=False`` and a fresh cache
    folder, on ``--workers`` local processes (``executor: local``) and on a ``LocalCluster``
    of as many single-threaded workers started by the pass (``executor: dask``), in
    alternating order for ``--rounds`` rounds, each pass in a fresh process. Each time
    includes what a user's run pays to start its workers: the local pool's forkserver
    (which imports the package once), or the Dask cluster, started and closed. Target:
    the fastest Dask pass within :data:`TARGET` times the fastest local one. The tables
    of every pass must be equal, value for value, to the first local pass's. CPU seconds
    (user + system) of the pass's process and every process it started are shown too
    (the local pool's workers are children of its forkserver, which is alive and counts
    the workers it waited for; the Dask workers are the process's children, waited for
    when the cluster closes): on a shared machine other load stretches wall time far
    more than CPU time.
``scheduler overhead``
    ``--tasks`` trivial tasks through :meth:`eda_lib.cluster.Pool.map` (futures, at most
    two per worker thread in flight, as the pass submits them) on a ``LocalCluster`` of
    ``--workers`` workers: wall seconds per task, the cost the scheduler adds to each task.
``stages``
    Seconds per megapixel of each stage on one process (the pass run in this process,
    ``workers: 1``): decoding (every image decoded and mask loaded, nothing else), the rest
    of the pass without copy-move and screening (health, instances, views), the copy-move
    analysis (the pass with it, minus without) and the blind screen (likewise). Best of
    ``--rounds``.

Usage::

    .venv/bin/python benchmarks/bench_dask.py [--forged 100] [--workers 2] [--rounds 2]
        [--tasks 2000] [--keep DIR] [--no-stages]

Exits 1 when the Dask pass misses its target or its tables differ.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import psutil
from distributed import Client, LocalCluster

from eda_lib import cluster
from eda_lib.config import make_config
from eda_lib.datapass import measure_dataset
from eda_lib.dataset import demo, images, masks
from eda_lib.dataset.index import scan
from eda_lib.tables import MEASURED_TABLES

#: Largest accepted ratio of the fastest Dask pass to the fastest local pass.
TARGET = 1.15


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    print(f"command: {' '.join(sys.argv)}")
    print(f"load average at start: {_load()}  (cores: {os.cpu_count()})")
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_dask_"))
    try:
        data = _dataset(base, args)
        index = scan(data)
        mp = sum(w * h for w, h in (images.png_size(data / e.path) for e in index.images)) / 1e6
        print(f"dataset: forged {args.forged}, size_scale {args.size_scale:g}, seed {args.seed}: "
              f"{len(index.images)} images, {len(index.masks)} masks, {mp:,.1f} MP "
              f"({mp / len(index.images):.2f} MP per image)")
        met = _cold_passes(data, base, args)
        _overhead(args)
        if args.stages:
            _stages(data, base, args, index, mp)
        print(f"load average at end: {_load()}")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0 if met else 1


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forged", type=int, default=100, help="forged images of the dataset")
    parser.add_argument("--size-scale", type=float, default=1.0, help="1.0: the real size mix")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="local processes and Dask workers")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each measurement")
    parser.add_argument("--tasks", type=int, default=2000, help="trivial tasks for the overhead")
    parser.add_argument("--keep", metavar="DIR", help="keep (and reuse) the dataset under DIR")
    parser.add_argument("--no-stages", dest="stages", action="store_false",
                        help="skip the seconds per megapixel of each stage")
    return parser.parse_args(argv)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _dataset(base: Path, args: argparse.Namespace) -> Path:
    root = base / f"data-f{args.forged}-x{args.size_scale:g}-seed{args.seed}"
    done = root.with_name(root.name + ".done")  # outside the data folder
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        t0 = time.perf_counter()
        demo.generate(root, forged=args.forged, seed=args.seed, size_scale=args.size_scale)
        print(f"generated {root.name} in {time.perf_counter() - t0:.0f} s")
        done.write_text("complete\n", encoding="utf-8")
    return root


def _cpu_seconds() -> float:
    """CPU seconds of this process, of the children it waited for, and of its live
    children with the children they waited for."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    for child in psutil.Process().children():
        try:
            t = child.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def _pass(data: Path, work: Path, **values) -> tuple[float, float, dict, str]:
    """One cold pass: wall seconds, CPU seconds, tables and what ran it."""
    shutil.rmtree(work, ignore_errors=True)
    cfg = make_config({"data_dir": str(data), "out_dir": str(work), "progress": False, **values})
    report: dict = {}
    cpu, t0 = _cpu_seconds(), time.perf_counter()
    tables = measure_dataset(cfg, progress=False, use_cache=False, report=report)
    wall = time.perf_counter() - t0
    time.sleep(0.2)  # the forkserver reaps its workers
    return wall, _cpu_seconds() - cpu, tables, report.get("executor", "")


def _pass_child(queue, data: Path, work: Path, values: dict) -> None:
    queue.put(_pass(data, work, **values))


def _fresh_pass(data: Path, work: Path, **values) -> tuple[float, float, dict, str]:
    """:func:`_pass` in a fresh process, as a user's run starts: the local pool's
    forkserver and the Dask cluster both start (and import the package) inside the time."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_pass_child, args=(queue, data, work, values))
    child.start()
    try:
        result = queue.get()
    finally:
        child.join()
    return result


def _same(a: dict, b: dict) -> bool:
    try:
        for name in MEASURED_TABLES:
            pd.testing.assert_frame_equal(a[name], b[name], obj=name)
    except AssertionError as exc:
        print(f"TABLES DIFFER: {str(exc).splitlines()[0]}")
        return False
    return True


def _cold_passes(data: Path, base: Path, args: argparse.Namespace) -> bool:
    print(f"\ncold pass, {args.workers} workers, {args.rounds} rounds, order alternating:")
    times: dict[str, list[float]] = {"local": [], "dask": []}
    cpus: dict[str, list[float]] = {"local": [], "dask": []}
    reference = None
    same = True
    for r in range(args.rounds):
        order = ("local", "dask") if r % 2 == 0 else ("dask", "local")
        for executor in order:
            seconds, cpu, tables, what = _fresh_pass(data, base / f"work-{executor}",
                                               workers=args.workers, executor=executor)
            times[executor].append(seconds)
            cpus[executor].append(cpu)
            if reference is None:
                reference = tables
            else:
                same = _same(reference, tables) and same
            print(f"  round {r + 1} {executor:<5} {seconds:7.2f} s  cpu {cpu:7.2f} s  "
                  f"({what}; load {_load()})")
        print(f"  round {r + 1} ratio dask/local {times['dask'][-1] / times['local'][-1]:.3f} "
              f"(cpu {cpus['dask'][-1] / cpus['local'][-1]:.3f})")
    ratio = min(times["dask"]) / min(times["local"])
    met = ratio <= TARGET
    print(f"fastest: local {min(times['local']):.2f} s, dask {min(times['dask']):.2f} s; "
          f"dask/local {ratio:.3f} (target <= {TARGET}): {'met' if met else 'MISSED'}; "
          f"least cpu: dask/local {min(cpus['dask']) / min(cpus['local']):.3f}")
    print(f"tables identical in every pass: {'yes' if same else 'NO'}")
    return met and same


def _overhead(args: argparse.Namespace) -> None:
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as local, Client(local) as client:
        pool = cluster.Pool(client, sum(client.nthreads().values()), "")
        pool.map(abs, list(range(50)))  # warm up
        best = float("inf")
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            pool.map(abs, list(range(args.tasks)))
            best = min(best, time.perf_counter() - t0)
    print(f"\nscheduler overhead: {args.tasks} trivial tasks on {args.workers} workers in "
          f"{best:.2f} s: {best / args.tasks * 1e3:.2f} ms per task (best of {args.rounds}; "
          f"load {_load()})")


def _decode_all(data: Path, index) -> float:
    t0 = time.perf_counter()
    for e in index.images:
        images.decode(data / e.path)
    for m in index.masks:
        masks.load(data / m.path)
    return time.perf_counter() - t0


def _stages(data: Path, base: Path, args: argparse.Namespace, index, mp: float) -> None:
    settings = {"base": dict(copy_move=False, screening=False),
                "copy-move": dict(copy_move=True, screening=False),
                "screening": dict(copy_move=True, screening=True)}
    best = {"decode": float("inf"), **{k: float("inf") for k in settings}}
    for _ in range(args.rounds):
        best["decode"] = min(best["decode"], _decode_all(data, index))
        for name, values in settings.items():
            seconds, _, _, _ = _pass(data, base / "work-stage", workers=1, **values)
            best[name] = min(best[name], seconds)
    stages = {
        "decode (images and masks)": best["decode"],
        "health, instances, views (pass without copy-move and screen, minus decode)":
            best["base"] - best["decode"],
        "copy-move analysis": best["copy-move"] - best["base"],
        "blind screen": best["screening"] - best["copy-move"],
        "whole pass": best["screening"],
    }
    print(f"\nstages on one process, best of {args.rounds} (load {_load()}):")
    for name, seconds in stages.items():
        print(f"  {name:<76} {seconds:7.2f} s  {seconds / mp:.3f} s/MP")


if __name__ == "__main__":
    sys.exit(main())
