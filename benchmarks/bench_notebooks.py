"""The notebook phase of the ``make report`` demo: every section executed and rendered.

What ``make report`` runs after its data pass, timed on its own: the eleven notebooks of
``notebooks/`` executed by :func:`eda_lib.report.runner.run_notebooks` (kernels forked
from a kernel server started for the call, ``KERNELS_PER_WORKER`` notebooks per worker
at a time, each page rendered to HTML as its notebook ends) on the demo's tables, built
beforehand and untimed. The demo data is the one ``make demo-data`` writes (the default
arguments of ``python -m eda_lib demo-data``), generated into the benchmark's folder.

Each round runs in a fresh process, as a user's run does, and measures:

``in a run``
    what ``make report`` pays for its notebooks: the kernel server is started
    :data:`SERVER_HEAD_START` seconds before the notebooks (a run starts it before its
    data pass, which takes longer than that on the demo, so the server has done its
    imports), and the output folder holds no executed notebook of an earlier run;
``first run``
    the same, with the kernel server started by the call (what running the notebooks
    alone costs): the first notebooks wait for its imports;
``rerun``
    as ``first run``, the executed notebooks of the round before kept, so the notebooks
    start longest first by their recorded times (nothing is reused: every one runs again).

Without a recorded time, notebooks start in the order their figures suggest
(:func:`eda_lib.report.runner.expected_seconds`). Wall seconds, and CPU seconds of the
round's process and of every process it waited for (the kernel server, its imports
included, and the kernels it forked), with the load average. Each kind keeps its fastest
round. A round in which a notebook failed prints the notebook and its error and is left
out of the times (it stopped early). Target: the fastest ``in a run`` within
:data:`TARGET_S` seconds (the notebook phase of the ``make report`` demo, issue 17); exit
status 1 when missed, or when a notebook failed.

Last measured (``--keep /tmp/bnb``, two rounds, load average 1.5 to 3.5 on a shared
2-core machine), side by side with the code before images were drawn by one OpenCV
resize (``eda_lib.report.plots._ShownImage``): in a run 5.79 / 6.27 s against 6.50 /
6.60 s (target 8 s: met; CPU 12.8-13.7 s against 14.0-14.3: runner 1.8-1.9, kernel
server and kernels 11.0-11.8), first run 6.96-7.36 s against 7.44-7.49, rerun 6.97-7.24 s
against 7.54 (in the before's other rerun 04_instances failed, its error not printed
then; the failure found since, a kernel's TCP port taken between its choice and its
binding, is fixed: see ``eda_lib.report.kernels``). Drawing and encoding the figures is
about half of the kernels' CPU time; each kernel adds about 0.2 s of IPython's own to its
notebook.

The same code on a slower machine of the same size (2 cores, an AMD EPYC; there the
notebooks' code run one after another in one warm process took 11.4 CPU-s, about 1.4x
the first machine's, and the decode floor of ``bench_suite.py`` 1.16x), measured twice,
load average 0.6 to 4.6: in a run 8.46 / 8.59 s and 8.45 s (target 8 s: MISSED by 6 %;
CPU 18.2-18.8 s: runner 2.65-2.72, kernel server and kernels 15.5-16.1), first run
9.92-10.20 s, rerun 9.68-10.30 s. The target holds on the first machine, not on this one.

Usage::

    .venv/bin/python benchmarks/bench_notebooks.py [--rounds 2] [--workers 0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Longest accepted notebook phase of the demo in a run, in wall seconds.
TARGET_S = 8.0
#: Seconds the kernel server is started ahead of the notebooks in the ``in a run`` rounds.
SERVER_HEAD_START = 4.0
CHILD_FLAG = "--child"


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.child:
        return _child(Path(args.child), args.workers, fresh=args.fresh, ahead=args.ahead)
    print(f"command: {' '.join(sys.argv)}")
    print(f"load average at start: {_load()}  (cores: {os.cpu_count()})")
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_notebooks_"))
    try:
        _prepare(base, args.workers)
        best: dict[str, dict] = {}
        failures = 0
        for r in range(args.rounds):
            for kind, fresh, ahead in (("in a run", True, True), ("first run", True, False),
                                       ("rerun", False, False)):
                result = _round(base, args.workers, fresh, ahead)
                failures += not result["ok"]
                # a round whose notebook failed stopped early: its time measures nothing
                if result["ok"] and (kind not in best or result["wall"] < best[kind]["wall"]):
                    best[kind] = result
                print(f"  round {r + 1} {kind:<9} {result['wall']:6.2f} s  cpu "
                      f"{result['cpu']:6.2f} s (runner {result['runner']:.2f}, kernels and "
                      f"server {result['children']:.2f}); {result['status']}; "
                      f"load {result['load']}")
        met = "in a run" in best and best["in a run"]["wall"] <= TARGET_S and not failures
        for kind, result in best.items():
            print(f"fastest {kind}: {result['wall']:.2f} s (cpu {result['cpu']:.2f} s)")
        if failures:
            print(f"{failures} round(s) with a failed notebook (error above), left out of the times")
        print(f"in a run <= {TARGET_S:g} s: {'met' if met else 'MISSED'}")
        print(f"load average at end: {_load()}")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0 if met else 1


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each kind")
    parser.add_argument("--workers", type=int, default=0, help="as the parameter (0: all cores)")
    parser.add_argument("--keep", metavar="DIR", help="keep (and reuse) the demo data under DIR")
    parser.add_argument(CHILD_FLAG, help=argparse.SUPPRESS)
    parser.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ahead", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _config(base: Path, workers: int):
    from eda_lib.config import make_config

    return make_config({"data_dir": str(base / "demo"), "out_dir": str(base / "report"),
                        "workers": workers, "progress": False})


def _prepare(base: Path, workers: int) -> None:
    """The demo data (once) and its tables, untimed."""
    from eda_lib.datapass import ensure_tables
    from eda_lib.dataset import demo
    from eda_lib.report.runner import prepare_out_dir

    data, done = base / "demo", base / "demo.done"
    if not done.exists():
        shutil.rmtree(data, ignore_errors=True)
        t0 = time.perf_counter()
        demo.generate(data)
        print(f"generated the demo data in {time.perf_counter() - t0:.0f} s")
        done.write_text("complete\n", encoding="utf-8")
    cfg = _config(base, workers)
    prepare_out_dir(cfg)
    t0 = time.perf_counter()
    ensure_tables(cfg, progress=False)
    print(f"tables ready in {time.perf_counter() - t0:.1f} s")


def _round(base: Path, workers: int, fresh: bool, ahead: bool) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), CHILD_FLAG, str(base),
               "--workers", str(workers)] + (["--fresh"] if fresh else []) + (
                   ["--ahead"] if ahead else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"a round failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child(base: Path, workers: int, fresh: bool, ahead: bool) -> int:
    from eda_lib.report.runner import NOTEBOOKS_DIR, kernel_pool, run_notebooks, select_notebooks

    cfg = _config(base, workers)
    if fresh:
        for folder in ("notebooks", "html"):
            shutil.rmtree(cfg.out_dir / folder, ignore_errors=True)
            (cfg.out_dir / folder).mkdir()
    sources = select_notebooks(NOTEBOOKS_DIR)
    own, waited = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    with kernel_pool(sources) as pool:
        if ahead and pool is not None:
            pool.start()
            time.sleep(SERVER_HEAD_START)
        t0 = time.perf_counter()
        records = run_notebooks(sources, cfg, show=False, reuse=False, kernels=pool)
        wall = time.perf_counter() - t0
    runner, children = _cpu(resource.RUSAGE_SELF) - own, _cpu(resource.RUSAGE_CHILDREN) - waited
    failed = [f"{r.name} ({r.error})" for r in records if r.status != "ok"]
    status = f"FAILED: {'; '.join(failed)}" if failed else f"{len(records)} notebooks ok"
    print(json.dumps({"wall": wall, "cpu": runner + children, "runner": runner,
                      "children": children, "ok": not failed, "status": status,
                      "load": _load()}))
    return 0


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    sys.exit(main())
