"""End-to-end benchmark of the data pass and the notebook suite, against their targets.

For each dataset size the demo generator (:func:`eda_lib.dataset.demo.generate`, on the real size
mix by default) writes a dataset once; then eight steps are measured on it, in this order,
each in a fresh Python process, and the eight are repeated ``--repeat`` times (rounds, each
in fresh output and cache folders):

``decode floor``
    Every image decoded (``eda_lib.dataset.images.decode(path).pixels``) and every mask loaded
    (``eda_lib.dataset.masks.load``), once each, one file per task on a pool of ``--workers``
    processes started as the data pass starts its own (forked by a forkserver that has
    imported the pass's modules, or spawned where there is no forkserver), and nothing
    else. No pass that reads every file is faster.
    (The pass itself starts fewer processes when it has under 8 cases per worker, and
    none below 16 cases: on datasets that small it can beat the floor.)
``pass, no copy-move``
    :func:`eda_lib.datapass.measure_dataset` with ``copy_move=False``, ``screening=False``,
    ``use_cache=False`` and an empty ``cache_dir``: the cold data pass without the
    copy-move analysis and without the blind screen.
``pass, copy-move``
    The same with ``copy_move=True``: the cold data pass without the blind screen.
``pass, screening``
    The same with ``copy_move=True`` and ``screening=True``: the cold data pass as
    ``run`` makes it.
``pass, warm``
    The same call again with ``use_cache=True``, on the cache the previous step wrote.
``full run, cold``
    :func:`eda_lib.report.runner.run` into an empty ``out_dir``: data pass, every notebook, HTML.
``full run, warm``
    :func:`eda_lib.report.runner.run` again into the same ``out_dir``, the data unchanged.
``notebook phase``
    :func:`eda_lib.report.runner.run_notebooks` on every notebook, with ``reuse=False``,
    into an ``out_dir`` of its own whose tables are already built (untimed, by
    :func:`eda_lib.datapass.ensure_tables` from the cold run's per-file cache): every
    notebook executed on a new kernel and rendered to HTML, the kernel server's start
    included, the index page not. This is the part of a cold run that follows the pass.

Seconds are timed inside the step's process around the one call (interpreter start-up
and imports excluded; pool and kernel start-up included). On a shared machine other load
slows a call down, never speeds it up, so each step's time is its fastest over the
rounds, and ``spread`` (slowest / fastest) shows how noisy it was; rounds interleave the
steps, so a busy spell hits all of them alike. ``cpu s`` is the CPU time (user + system)
of the step's process and all its descendants during the call (``getrusage`` for the
process and the children it waited for; psutil for a child still alive, such as the
forkserver, with the workers it waited for; notebook kernels, forked by the runner's kernel
server, which waits for each, count once the server has been waited for at the end of the
notebooks): contention stretches it far less than wall time, so the targets' ratios are
also shown in CPU time.

Peak memory is the largest of: ``resource.getrusage(...).ru_maxrss`` of ``RUSAGE_SELF``
(the step's process) and of ``RUSAGE_CHILDREN`` (the largest single process it started
and waited for: notebook kernels, spawned workers), read when the call is over; and the
largest high-water mark (``VmHWM``) of any process of the step's tree, sampled from
outside every 0.2 s (workers forked by a forkserver are not the step's children, so
``getrusage`` does not see them). It is tagged ``self``, ``children`` or ``sampled``, and
the largest over the rounds is kept. Those processes run side by side, so the benchmark also
samples the summed RSS of the step's whole process tree every 0.2 s (``tree``: an upper
bound of what the machine needed, since shared library pages count once per process).
On Linux a new process's ``ru_maxrss`` starts at its parent's peak RSS (``vfork`` and
``exec`` carry the parent's high-water mark over), so the process that launches the steps
stays small: it imports only the standard library and psutil, and the datasets are
generated and scanned in a helper process too. Its own peak is printed at the end: no
``self`` figure can be below it.

The report gives, per size, the files and megapixels, a table of the steps (seconds,
spread, CPU seconds, seconds per megapixel, ratio to the decode floor, peak memory), then
every target of :data:`TARGETS` with the value of each size, marked met or MISSED. Time
per megapixel is linear when it grows by at most :data:`GROWTH_TOLERANCE` from the
smallest to the largest size; peak memory is flat under the same tolerance. Sizes and ratios come from
one run on one machine: compare them with each other, not with another machine.

Usage::

    .venv/bin/python benchmarks/bench_suite.py [--forged 100 200] [--size-scale 1.0]
        [--workers N] [--repeat 3] [--seed 0] [--png-level L] [--keep DIR] [--quick]
        [--steps STEP [STEP ...]]

``--quick`` is a smoke run (forged 20 and 40 at size_scale 0.5, two rounds: about two
minutes); ``--keep DIR`` writes the datasets and outputs under DIR and keeps them, reusing a
dataset generated there before with the same arguments; ``--png-level L`` writes the
datasets' PNGs at zlib level L (see benchmarks/README.md on why it matters). The exit
status is 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil  # installed with ipykernel

# eda_lib is imported only inside the functions that run in helper processes: the
# launcher must stay small (see the module docstring), and the decode floor's workers,
# which import this file, then import what the pass's workers import, no more.

#: Ratio and size targets; :func:`_print_targets` says how each is computed.
TARGETS = {
    "pass_plain_floor": 1.5,   # pass without copy-move / decode floor
    "pass_cm_floor": 3.0,      # pass with copy-move / decode floor
    "pass_screen_cm": 2.0,     # pass with the blind screen / pass without it
    "run_cold_floor": 2.5,     # full run cold (pass with copy-move and screening, notebooks)
    "run_warm_cold": 0.1,      # warm full run / cold full run
    "notebooks_floor": 1.0,    # notebook phase (tables built, every notebook and HTML) / floor
    "peak_mb": 1536.0,         # peak memory of the full run (largest single process)
}
#: Largest growth from the smallest to the largest size still called linear (time per
#: megapixel) or flat (peak memory).
GROWTH_TOLERANCE = 1.2
SAMPLE_SECONDS = 0.2
QUICK = {"forged": [20, 40], "size_scale": 0.5, "repeat": 2}
DEFAULT = {"forged": [100, 200], "size_scale": 1.0, "repeat": 3}
CHILD_FLAG = "--child"


#: A measured call: does the step's work, returns a one-line detail for the report.
Call = Callable[[], str]


@dataclass(frozen=True)
class Step:
    """One measured step: its label in the report, and ``prepare(data, work, workers)``,
    which does the untimed set-up (imports, config, file list) and returns the call."""

    label: str
    prepare: Callable[[Path, Path, int], Call]


@dataclass(frozen=True)
class Run:
    """What one step's process reported, plus the tree peak sampled from outside."""

    seconds: float
    cpu: float  # CPU seconds of the process and all its descendants, during the call
    detail: str
    self_mb: float
    children_mb: float
    tree_mb: float
    process_mb: float  # largest high-water mark of any descendant, sampled from outside

    @property
    def peak_mb(self) -> float:
        return max(self.self_mb, self.children_mb, self.process_mb)

    @property
    def peak_source(self) -> str:
        sources = {"self": self.self_mb, "children": self.children_mb, "sampled": self.process_mb}
        return max(sources, key=sources.get)


@dataclass(frozen=True)
class Measured:
    """One step over every round: its fastest time, its largest memory."""

    runs: tuple[Run, ...]

    @property
    def seconds(self) -> float:
        return min(r.seconds for r in self.runs)

    @property
    def cpu(self) -> float:
        return min(r.cpu for r in self.runs)

    @property
    def spread(self) -> float:
        """Slowest time over fastest: 1.0 when the rounds agree."""
        return max(r.seconds for r in self.runs) / self.seconds

    @property
    def peak(self) -> Run:
        """The round with the largest peak."""
        return max(self.runs, key=lambda r: r.peak_mb)

    @property
    def tree_mb(self) -> float:
        return max(r.tree_mb for r in self.runs)

    @property
    def failed(self) -> list[str]:
        """Details of the rounds in which a notebook failed (each names its error)."""
        return [r.detail for r in self.runs if "FAILED" in r.detail]

    @property
    def detail(self) -> str:
        return (self.failed or [self.runs[0].detail])[0]


@dataclass(frozen=True)
class Dataset:
    """A generated dataset and what it holds (as the helper process reports it)."""

    forged: int
    root: str
    n_images: int
    n_masks: int
    megapixels: float
    disk_mb: float
    image_mb: float  # the PNG files alone
    largest_file_mb: float
    largest: tuple[int, int]  # (width, height) of the largest image
    generated_s: float | None  # None when an earlier dataset was reused (--keep)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with ``--child``, one task of it); 0 when all targets are met."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [CHILD_FLAG]:
        return _run_child(json.loads(argv[1]))
    args = _parse(argv)
    _print_header(args)
    with tempfile.TemporaryDirectory(prefix="bench_suite_") as tmp:
        base = Path(args.keep).resolve() if args.keep else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        measured = []
        for forged in args.forged:
            name = f"data-f{forged}-x{args.size_scale:g}-seed{args.seed}"
            if args.png_level is not None:
                name += f"-png{args.png_level}"
            data = Dataset(**_child("dataset", {
                "root": str(base / name), "forged": forged, "seed": args.seed,
                "size_scale": args.size_scale, "png_level": args.png_level},
                base / f"{name}.json")[0])
            results = _measure_size(data, base, args.workers, args.repeat, args.steps)
            _print_size(data, results)
            measured.append((data, results))
    ok = _print_targets(measured)
    failed = [f"forged {data.forged}, {STEPS[key].label}" for data, results in measured
              for key, step in results.items() if step.failed]
    if failed:  # a failed notebook stops its run early: such a time measures nothing
        print(f"\nA NOTEBOOK FAILED in: {'; '.join(failed)} (the error is in the detail column)")
        ok = False
    launcher_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nlauncher peak RSS {launcher_mb:.0f} MB (no 'self' figure can be below it)")
    print("all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forged", type=int, nargs="+",
                        help="forged images per dataset size (default 100 200; quick 20 40)")
    parser.add_argument("--size-scale", type=float,
                        help="demo image size factor (default 1.0, the real mix; quick 0.5)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes of the data pass and the decode floor (default: cores)")
    parser.add_argument("--repeat", type=int,
                        help="rounds of every step; each step's fastest time is kept "
                             "(default 3; quick 2)")
    parser.add_argument("--seed", type=int, default=0, help="demo seed (default 0)")
    parser.add_argument("--png-level", type=int, choices=range(10), metavar="L",
                        help="zlib level of the demo PNGs, 0 to 9 (default: the generator's, "
                             "1); how well files compress changes how fast they decode")
    parser.add_argument("--keep", metavar="DIR",
                        help="write datasets and outputs under DIR and keep them; a dataset "
                             "made there before with the same arguments is reused")
    parser.add_argument("--steps", nargs="+", choices=list(STEPS), metavar="STEP",
                        help="measure only these steps (the decode floor always runs, every "
                             f"ratio needs it): {', '.join(STEPS)}; targets whose steps "
                             "were not measured are left out")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: forged 20 and 40 at size_scale 0.5, two rounds")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else DEFAULT
    args.forged = sorted(args.forged or preset["forged"])
    args.size_scale = args.size_scale or preset["size_scale"]
    args.repeat = args.repeat or preset["repeat"]
    if args.workers < 1 or args.repeat < 1:
        parser.error("--workers and --repeat must be at least 1")
    args.steps = [key for key in STEPS if key == "floor" or key in (args.steps or STEPS)]
    return args


def _print_header(args: argparse.Namespace) -> None:
    """The command, the workers, the datasets, and which eda_lib (and commit) is measured."""
    package = Path(importlib.util.find_spec("eda_lib").origin).parent  # not imported
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"workers: {args.workers} (data pass and decode floor; machine has "
          f"{os.cpu_count()} cores, load average {_load()})")
    level = "the generator's" if args.png_level is None else args.png_level
    print(f"datasets: forged {args.forged}, size_scale {args.size_scale:g}, seed {args.seed}, "
          f"png level {level}; {args.repeat} round(s) of every step")
    print(f"eda_lib: {package} ({_code_state(package.parent)})")
    sys.stdout.flush()


def _code_state(repo: Path) -> str:
    """The commit of ``repo`` and whether eda_lib/ or notebooks/ differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                              text=True).stdout
    head = git("rev-parse", "--short", "HEAD").strip()
    if not head:
        return "not a git checkout"
    changed = git("status", "--porcelain", "--", "eda_lib", "notebooks").splitlines()
    if changed:
        return f"commit {head} + {len(changed)} uncommitted file(s) in eda_lib/ and notebooks/"
    return f"commit {head}, clean"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --------------------------------------------------------------------------- datasets


def _make_dataset(spec: dict) -> dict:
    """Generate one dataset (unless a complete one is there) and describe it.

    The helper-process task behind :class:`Dataset`; a ``.done`` file next to the
    dataset (outside it: the data folder holds only its own files) marks it complete.
    """
    from eda_lib.dataset import demo, images
    from eda_lib.dataset.index import scan

    root = Path(spec["root"])
    done = root.with_name(root.name + ".done")
    generated_s = None
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)  # a generation of ours that was interrupted
        _log(f"generating {root.name} ...")
        t0 = time.perf_counter()
        level = {} if spec.get("png_level") is None else {"png_level": spec["png_level"]}
        demo.generate(root, forged=spec["forged"], seed=spec["seed"],
                      size_scale=spec["size_scale"], **level)
        generated_s = time.perf_counter() - t0
        done.write_text("complete\n", encoding="utf-8")
    index = scan(root)
    sizes = [images.png_size(root / e.path) for e in index.images]
    image_bytes = [(root / e.path).stat().st_size for e in index.images]
    mask_bytes = [(root / m.path).stat().st_size for m in index.masks]
    return {
        "forged": spec["forged"], "root": str(root), "n_images": len(index.images),
        "n_masks": len(index.masks), "megapixels": sum(w * h for w, h in sizes) / 1e6,
        "disk_mb": (sum(image_bytes) + sum(mask_bytes)) / 1e6,
        "image_mb": sum(image_bytes) / 1e6, "largest_file_mb": max(image_bytes) / 1e6,
        "largest": max(sizes, key=lambda s: s[0] * s[1]), "generated_s": generated_s,
    }


# --------------------------------------------------------------------------- measuring


def _measure_size(data: Dataset, base: Path, workers: int, rounds: int,
                  steps: list[str]) -> dict[str, Measured]:
    """Run the ``steps`` on one dataset ``rounds`` times, each in its own process.

    Each round works in a fresh folder, so its cold steps start without cache or output.
    """
    work = base / f"work-{Path(data.root).name}"
    shutil.rmtree(work, ignore_errors=True)
    runs: dict[str, list[Run]] = {key: [] for key in steps}
    for i in range(1, rounds + 1):
        folder = work / f"round{i}"
        folder.mkdir(parents=True)
        for key in steps:
            step = STEPS[key]
            _log(f"forged {data.forged}, round {i}/{rounds}: {step.label} ...")
            spec = {"data": data.root, "work": str(folder), "workers": workers}
            values, tree_mb, process_mb = _child(key, spec, folder / f"{key}.json")
            runs[key].append(Run(**values, tree_mb=tree_mb, process_mb=process_mb))
    return {key: Measured(tuple(r)) for key, r in runs.items()}


def _child(task: str, spec: dict, out: Path) -> tuple[dict, float, float]:
    """Run one task in a fresh interpreter; return what it wrote, its tree's peak MB and
    the largest high-water mark of one of its processes (MB)."""
    spec = {**spec, "task": task, "out": str(out)}
    with subprocess.Popen([sys.executable, str(Path(__file__).resolve()), CHILD_FLAG,
                           json.dumps(spec)]) as proc:
        tree_mb, process_mb = _tree_peak_mb(proc)
    if proc.returncode != 0:
        raise SystemExit(f"{task!r} failed with exit status {proc.returncode} "
                         "(its error is printed above); no report")
    return json.loads(out.read_text(encoding="utf-8")), tree_mb, process_mb


def _tree_peak_mb(proc: subprocess.Popen) -> tuple[float, float]:
    """Sampled until ``proc`` exits: the largest summed RSS of it and its descendants,
    and the largest high-water mark (``VmHWM``) of any one of them, in MB.

    The high-water mark covers the processes ``getrusage`` cannot see: pool workers
    forked by a forkserver are the server's children, not the step's.
    """
    root = psutil.Process(proc.pid)
    peak = hwm = 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        total = 0
        for p in tree:
            try:
                total += p.memory_info().rss
                hwm = max(hwm, _high_water_kb(p.pid) * 1024)
            except (psutil.Error, OSError):  # it ended between the listing and the reading
                pass
        peak = max(peak, total)
        time.sleep(SAMPLE_SECONDS)
    proc.wait()
    return peak / 2**20, hwm / 2**20


def _high_water_kb(pid: int) -> int:
    """Peak resident set size of a live process (``VmHWM`` of /proc/PID/status), in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _run_child(spec: dict) -> int:
    """The ``--child`` entry: make a dataset, or time one step and read its peak memory."""
    if spec["task"] == "dataset":
        values = _make_dataset(spec)
    else:
        call = STEPS[spec["task"]].prepare(Path(spec["data"]), Path(spec["work"]),
                                           spec["workers"])
        t0, cpu0 = time.perf_counter(), _cpu_seconds()
        detail = call()
        seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
        kb_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
        kb_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        values = {"seconds": seconds, "cpu": cpu, "detail": detail,
                  "self_mb": kb_self / 1024, "children_mb": kb_children / 1024}
    Path(spec["out"]).write_text(json.dumps(values), encoding="utf-8")
    return 0


def _cpu_seconds() -> float:
    """User and system CPU time of this process and all its descendants.

    ``getrusage`` counts this process and its children once waited for; a child still
    alive (a forkserver, which lives as long as this process) is read with psutil,
    with the time of the children it has waited for (the pool workers it forked).
    """
    total = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))
    for child in psutil.Process().children():
        try:
            t = child.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:  # it ended, and was waited for, meanwhile
            pass
    return total


def _load_file(path: Path) -> int:
    """Decode one image or load one mask; return its size in bytes (decode floor task)."""
    from eda_lib.dataset import images, masks

    if path.suffix == ".npy":
        return masks.load(path).nbytes
    return images.decode(path).pixels.nbytes


def _decode_floor(data: Path, work: Path, workers: int) -> Call:
    """Every file of the index, one per task, on ``workers`` processes started as the data
    pass starts its own (a forkserver that has imported the pass's modules, or spawn)."""
    from eda_lib.datapass import _pool_context, _worker_environment
    from eda_lib.dataset.index import scan

    index = scan(data)
    paths = [data / e.path for e in index.images] + [data / m.path for m in index.masks]

    def call() -> str:
        # _load_file lives in this script, which a forkserver imports as __main__
        with _worker_environment(), ProcessPoolExecutor(
                workers, mp_context=_pool_context(("__main__",))) as pool:
            nbytes = sum(pool.map(_load_file, paths))
        return f"{len(paths)} files, {nbytes / 1e6:,.0f} MB in memory"

    return call


def _config(data: Path, out: Path, workers: int, **values):
    from eda_lib.config import make_config

    return make_config({"data_dir": str(data), "out_dir": str(out), "workers": workers,
                        "progress": False, **values})


def _data_pass(copy_move: bool, screening: bool, use_cache: bool
               ) -> Callable[[Path, Path, int], Call]:
    """A data-pass step; passes with the same settings share one cache folder."""
    def prepare(data: Path, work: Path, workers: int) -> Call:
        from eda_lib.datapass import measure_dataset

        name = f"cm{int(copy_move)}-screen{int(screening)}"
        cfg = _config(data, work / f"pass-{name}", workers, copy_move=copy_move,
                      screening=screening, cache_dir=str(work / f"cache-{name}"))

        def call() -> str:
            tables = measure_dataset(cfg, progress=False, use_cache=use_cache)
            return (f"{len(tables['images'])} image, {len(tables['masks'])} mask, "
                    f"{len(tables['copy_move'])} copy-move, {len(tables['screening'])} "
                    "screening rows")

        return call

    return prepare


def _full_run(data: Path, work: Path, workers: int) -> Call:
    """``runner.run`` into ``work/run``: cold the first time in a round, warm the second."""
    from eda_lib.report.runner import run

    cfg = _config(data, work / "run", workers)

    def call() -> str:
        result = run(cfg, progress=False)
        failed = [f"{r.name} ({r.error})" for r in result.records if r.status != "ok"]
        reused = sum(r.reused for r in result.records)
        slowest = max(result.records, key=lambda r: r.seconds)
        return (f"{len(result.records)} notebooks, {reused} reused, "
                + (f"FAILED: {'; '.join(failed)}" if failed else "all ok")
                + f"; slowest {slowest.name} {slowest.seconds:.1f} s")

    return call


def _notebook_phase(data: Path, work: Path, workers: int) -> Call:
    """Every notebook and its HTML into ``work/notebooks``, on tables built beforehand
    (untimed) from the per-file cache the cold full run of the round left in ``work/run``."""
    from eda_lib.datapass import ensure_tables
    from eda_lib.report.runner import NOTEBOOKS_DIR, prepare_out_dir, run_notebooks, select_notebooks

    cfg = _config(data, work / "notebooks", workers, cache_dir=str(work / "run" / "cache"))
    prepare_out_dir(cfg)
    ensure_tables(cfg, progress=False, use_cache=True)
    sources = select_notebooks(NOTEBOOKS_DIR)

    def call() -> str:
        records = run_notebooks(sources, cfg, show=False, reuse=False)
        failed = [f"{r.name} ({r.error})" for r in records if r.status != "ok"]
        slowest = max(records, key=lambda r: r.seconds)
        return (f"{len(records)} notebooks, "
                + (f"FAILED: {'; '.join(failed)}" if failed else "all ok")
                + f"; slowest {slowest.name} {slowest.seconds:.1f} s")

    return call


#: The steps, in the order they run; keys name them as ``--child`` tasks and in the targets.
STEPS = {
    "floor": Step("decode floor", _decode_floor),
    "pass_plain": Step("pass, no copy-move", _data_pass(False, False, use_cache=False)),
    "pass_cm": Step("pass, copy-move", _data_pass(True, False, use_cache=False)),
    "pass_screen": Step("pass, screening", _data_pass(True, True, use_cache=False)),
    "pass_warm": Step("pass, warm", _data_pass(True, True, use_cache=True)),
    "run_cold": Step("full run, cold", _full_run),
    "run_warm": Step("full run, warm", _full_run),
    "notebooks": Step("notebook phase", _notebook_phase),
}


# --------------------------------------------------------------------------- report


def _print_size(data: Dataset, results: dict[str, Measured]) -> None:
    made = (f"generated in {data.generated_s:.0f} s" if data.generated_s is not None
            else "reused")
    print(f"\n== forged {data.forged}: {data.n_images} images + {data.n_masks} masks = "
          f"{data.n_images + data.n_masks} files, {data.megapixels:.1f} MP, "
          f"{data.disk_mb:.0f} MB on disk (PNGs {data.image_mb / data.megapixels:.2f} bytes per "
          f"pixel, largest {data.largest_file_mb:.1f} MB), largest image "
          f"{data.largest[0]}x{data.largest[1]} ({made}; load average {_load()})")
    floor = results["floor"].seconds
    print(f"{'step':<20}{'seconds':>9}{'spread':>7}{'cpu s':>8}{'s/MP':>8}{'x floor':>9}"
          f"{'peak MB':>9}  {'of':<9}{'tree MB':>8}  detail")
    for key, r in results.items():
        print(f"{STEPS[key].label:<20}{r.seconds:>9.2f}{r.spread:>7.2f}{r.cpu:>8.1f}"
              f"{r.seconds / data.megapixels:>8.3f}{r.seconds / floor:>9.2f}"
              f"{r.peak.peak_mb:>9.0f}  {r.peak.peak_source:<9}{r.tree_mb:>8.0f}  {r.detail}")
    sys.stdout.flush()


def _print_targets(measured: list[tuple[Dataset, dict[str, Measured]]]) -> bool:
    """Print each target with every size's value; return True when all are met.

    Targets are judged on wall time. The same ratio in CPU time follows in brackets:
    other load on the machine stretches wall time much more than CPU time, so a wall
    ratio far from its CPU ratio was measured under contention.
    """
    print("\n== targets (met / MISSED; CPU-time ratios in brackets)")
    ok = True

    def line(name: str, values: list[str], met: bool) -> None:
        nonlocal ok
        ok &= met
        print(f"  {name:<52} {'met' if met else 'MISSED':<7} {'; '.join(values)}")

    def ratio(name: str, limit: float, key: str, base: str) -> None:
        if any(key not in r or base not in r for _, r in measured):
            return  # a step not measured (--steps)
        walls = [r[key].seconds / r[base].seconds for _, r in measured]
        cpus = [r[key].cpu / r[base].cpu for _, r in measured]
        line(f"{name} <= {limit:g}",
             [f"forged {d.forged}: {w:.2f} ({c:.2f})"
              for (d, _), w, c in zip(measured, walls, cpus)],
             all(w <= limit for w in walls))

    ratio("pass without copy-move / decode floor", TARGETS["pass_plain_floor"],
          "pass_plain", "floor")
    ratio("pass with copy-move / decode floor", TARGETS["pass_cm_floor"], "pass_cm", "floor")
    ratio("pass with screening / pass without", TARGETS["pass_screen_cm"], "pass_screen",
          "pass_cm")
    ratio("warm full run / cold full run", TARGETS["run_warm_cold"], "run_warm", "run_cold")
    ratio("full run cold / decode floor", TARGETS["run_cold_floor"], "run_cold", "floor")
    ratio("notebook phase / decode floor", TARGETS["notebooks_floor"], "notebooks", "floor")
    if any("run_cold" not in r for _, r in measured):
        return ok  # peak memory is read from the full runs
    full_runs = [(*r["run_cold"].runs, *(r["run_warm"].runs if "run_warm" in r else ()))
                 for _, r in measured]
    peaks = [max(runs, key=lambda x: x.peak_mb) for runs in full_runs]
    trees = [max(x.tree_mb for x in runs) for runs in full_runs]
    line(f"peak memory of the full run <= {TARGETS['peak_mb']:.0f} MB",
         [f"forged {d.forged}: {p.peak_mb:.0f} MB ({p.peak_source}; tree {t:.0f} MB)"
          for (d, _), p, t in zip(measured, peaks, trees)],
         all(p.peak_mb <= TARGETS["peak_mb"] for p in peaks))
    if len(measured) < 2:
        print("  (one size only: growth with size not measured)")
        return ok
    (small, first), (large, last) = measured[0], measured[-1]
    growth = peaks[-1].peak_mb / peaks[0].peak_mb
    line(f"peak memory flat, forged {large.forged} / {small.forged} <= {GROWTH_TOLERANCE:g}",
         [f"{growth:.2f}"], growth <= GROWTH_TOLERANCE)
    for key in ("floor", "pass_plain", "pass_cm", "pass_screen", "run_cold"):
        if any(key not in r for _, r in measured):
            continue
        per_mp = [r[key].seconds / d.megapixels for d, r in measured]
        cpu_growth = (last[key].cpu / large.megapixels) / (first[key].cpu / small.megapixels)
        growth = per_mp[-1] / per_mp[0]
        line(f"{STEPS[key].label}: s/MP linear, growth <= {GROWTH_TOLERANCE:g}",
             [f"forged {d.forged}: {v:.3f} s/MP" for (d, _), v in zip(measured, per_mp)]
             + [f"growth {growth:.2f} ({cpu_growth:.2f})"],
             growth <= GROWTH_TOLERANCE)
    return ok


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
