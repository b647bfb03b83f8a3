"""The data pass: from a data folder to the stored tables of a run.

:func:`ensure_tables` reads as its steps::

    check the paths and the layout -> reuse the stored tables if they match
    -> measure every case (cache, workers) -> derive the dataset-level tables -> store

:func:`measure_dataset` is the pass itself: the index is grouped into cases
(:mod:`eda_lib.measure.case`), cases whose files and settings are unchanged are taken from
the per-case cache (:mod:`eda_lib.measure.cache`), and the others are measured on
``cfg.workers`` processes, largest first, with a progress bar; with ``executor: dask``
the same tasks run on a Dask cluster (:mod:`eda_lib.cluster`, docs/scaling.md) and give
the same tables. Each measured case's
display views (its images at display size, for the report's figures) are stored in the
cache by the worker that decoded them, so the notebooks never decode an image again.
:func:`load_tables` is what a notebook opened by hand calls: it builds the tables when
they are missing.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing.context import BaseContext
from pathlib import Path

import cv2
import pandas as pd
from tqdm import tqdm

from . import trace
from .analysis.derive import derive
from .config import Config
from .dataset.index import SPLITS, Index, check_layout, fingerprint, scan
from .errors import TablesError
from .files import check_paths, unwritable_out_dir, write_text_atomic
from .measure import cache
from .measure.case import Case, Rows, group_cases, measure_case
from .tables import (
    ANALYSIS_VERSION,
    DERIVED_PARAMS,
    MEASURED_TABLES,
    PASS_PARAMS,
    SCHEMAS,
    Tables,
    copies_intact,
    frame,
    read_tables,
    tables_dir,
    tables_intact,
    write_copies,
    write_tables,
)


def _init_worker(trace_target: str | None) -> None:
    """One OpenCV thread per worker process (the processes already use every core), and
    the caller's trace setting (a forkserver's workers inherit the server's environment,
    not the caller's)."""
    cv2.setNumThreads(1)
    if trace_target:
        os.environ[trace.ENV] = trace_target
    else:
        os.environ.pop(trace.ENV, None)


#: Environment of the pass's worker processes, each variable unless the caller set it.
#: One BLAS thread: a BLAS library reads its variable once, when numpy loads (in the
#: forkserver or a spawned worker); the workers already use every core, and BLAS threads
#: of their own (OpenBLAS's wait by spinning) would take CPU from the other workers.
#: glibc's malloc keeps freed memory (up to 512 MiB) instead of returning it to the system
#: and taking it back zeroed, page by page, for the next image: every image's arrays
#: would otherwise cost their size in page faults. Other C libraries ignore these names.
_WORKER_ENVIRONMENT = {
    "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "MALLOC_MMAP_THRESHOLD_": str(256 << 20), "MALLOC_TRIM_THRESHOLD_": str(512 << 20),
}


@contextmanager
def _worker_environment() -> Iterator[None]:
    """Set :data:`_WORKER_ENVIRONMENT` (each variable unless already set) while workers
    start; the processes read it as they start (the forkserver, or each spawned worker).
    """
    unset = {name: value for name, value in _WORKER_ENVIRONMENT.items()
             if name not in os.environ}
    os.environ.update(unset)
    try:
        yield
    finally:
        for name in unset:
            os.environ.pop(name, None)


def _pool_context(preload: tuple[str, ...] = ()) -> BaseContext:
    """How worker processes start: ``forkserver`` where the platform has it, else spawn.

    A forkserver imports this module and the ``preload`` ones.

    Never plain fork: a forked child can deadlock on OpenCV's thread pool when the
    parent used OpenCV first (in a notebook kernel, say). A forkserver is a fresh
    process that imports this module once, before any OpenCV call; each worker is
    then forked from it already imported, which saves every worker the imports that
    spawn costs (about 0.7 s of CPU each). The server lives as long as the calling process, so
    a later pass in the same kernel starts its workers at once (and with the code
    imported then: restart the kernel after editing ``eda_lib``).
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__, *preload])
        return context
    return multiprocessing.get_context("spawn")


def _measure_chunk(args: tuple[Path, list[Case], Config]) -> Rows:
    """Measure some cases; each row is tagged with its case and signature for the cache.

    Each case's display views are stored here, in the worker (:func:`cache.save_views`),
    rather than sent back to the main process with the rows.
    """
    root, cases, cfg = args
    out = Rows()
    for case in cases:
        rows = measure_case(root, case, cfg)
        cache.save_views(cfg.cache_path, case.sig, rows.views)
        tag = dict(zip(cache.KEY_COLUMNS, (case.split, case.case_id, case.sig)))
        for table in rows.tables.values():
            for row in table:
                row.update(tag)
        out.extend(rows)
    return out


_CHUNKS_PER_WORKER = 8
_MAX_CHUNK_CASES = 16


def _schedule(cases: list[Case], workers: int) -> list[list[Case]]:
    """Cases in tasks for the workers: the largest first, small ones grouped.

    A case's cost is estimated by its files' bytes on disk (decoding dominates). Cases
    go out largest first and a task takes cases until it holds ``1 / (8 workers)`` of
    the total bytes (at most 16 cases), so the pass ends on small tasks rather than
    with one worker busy on a large one while the others wait.
    """
    budget = sum(c.nbytes for c in cases) / (workers * _CHUNKS_PER_WORKER)
    tasks: list[list[Case]] = []
    held = 0.0
    for case in sorted(cases, key=lambda c: c.nbytes, reverse=True):
        if not tasks or held >= budget or len(tasks[-1]) >= _MAX_CHUNK_CASES:
            tasks.append([])
            held = 0.0
        tasks[-1].append(case)
        held += case.nbytes
    return tasks


def measure_dataset(
    cfg: Config, index: Index | None = None, progress: bool = True, use_cache: bool = True,
    report: dict | None = None,
) -> dict[str, pd.DataFrame]:
    """Run the data pass over ``cfg.data_dir`` and return every table, sorted.

    Parameters
    ----------
    cfg : Config
    index : Index, optional
        A prepared index (default: :func:`eda_lib.dataset.index.scan` of ``cfg.data_dir``).
    progress : bool
        Show a progress bar (files done, rate, time left).
    use_cache : bool
        Reuse the cached rows of unchanged cases (``cfg.cache_path``); the cache is
        rewritten either way.
    report : dict, optional
        Given, its ``"executor"`` is set to what measured the cases (for the report's
        index): ``"local, 2 processes"``, ``"dask, 2 workers (LocalCluster)"``...
    """
    index = index or scan(cfg.data_dir)
    cases = group_cases(index)
    for case in cases:
        files = cache.stat_files(index.root, case.paths)
        case.sig = cache.signature(files, cfg)
        case.nbytes = sum(st.st_size for _, st in files if st is not None)
    stored = cache.load(cfg.cache_path) if use_cache else None
    reused = {name: pd.DataFrame() for name in MEASURED_TABLES}
    signatures = {c.sig for c in cases}
    if stored is not None:
        # a case is reused with its display views only: without them it is measured again
        wanted = {(c.split, c.case_id): c.sig for c in cases
                  if cache.views_path(cfg.cache_path, c.sig).exists()}
        reused = cache.reusable(stored, wanted)
        hits = cache.cached_cases(reused)
        cases = [c for c in cases if (c.split, c.case_id, c.sig) not in hits]
    rows = _measure_cases(index.root, cases, cfg, progress, report)
    frames = {}
    for name in MEASURED_TABLES:
        new = frame(name, rows.tables.get(name, []), cache.KEY_COLUMNS)
        frames[name] = pd.concat([reused[name], new], ignore_index=True) if len(reused[name]) \
            else new
    cache.save(cfg.cache_path, frames)
    cache.prune_views(cfg.cache_path, signatures)
    tables = {name: df.drop(columns=list(cache.KEY_COLUMNS)) for name, df in frames.items()}
    layout = frame("problems", [p.__dict__ for p in index.problems])
    tables["problems"] = pd.concat([layout, tables["problems"]], ignore_index=True)
    return {name: _sorted(name, df) for name, df in tables.items()}


def _measure_cases(root: Path, cases: list[Case], cfg: Config, progress: bool,
                   report: dict | None = None) -> Rows:
    """Measure cases on ``cfg.workers`` processes (or on Dask) with a progress bar over
    files; ``report["executor"]`` says which ran them."""
    rows = Rows()
    bar = tqdm(total=_n_files(cases), desc="data pass", unit="file", disable=not progress,
               dynamic_ncols=True, mininterval=0.5)
    workers = min(cfg.n_workers, max(1, len(cases) // 8))
    with bar:
        if not cases:
            what = "nothing measured (every case from the per-case cache)"
        elif cfg.executor == "dask":
            what = _measure_on_dask(root, cases, cfg, workers, rows, bar)
        elif workers <= 1:
            what = "local, 1 process"
            for job in ([c] for c in cases):
                rows.extend(_measure_chunk((root, job, cfg)))
                bar.update(_n_files(job))
        else:
            what = f"local, {workers} processes"
            tasks = _schedule(cases, workers)
            jobs = [(root, task, cfg) for task in tasks]
            with _worker_environment(), ProcessPoolExecutor(
                    max_workers=workers, mp_context=_pool_context(), initializer=_init_worker,
                    initargs=(os.environ.get(trace.ENV),)) as pool:
                for job, result in zip(jobs, pool.map(_measure_chunk, jobs)):
                    rows.extend(result)
                    bar.update(_n_files(job[1]))
    if report is not None:
        report["executor"] = what
    return rows


def _measure_on_dask(root: Path, cases: list[Case], cfg: Config, workers: int, rows: Rows,
                     bar: tqdm) -> str:
    """Measure cases on a Dask cluster (:mod:`eda_lib.cluster`) into ``rows``; return what
    ran them.

    The tasks are those of the local pool (:func:`_schedule` over the cluster's threads,
    the same :func:`_measure_chunk`); their rows are added in task order, whatever order
    they complete in, so the tables are those of the local executor. A task that failed
    on every try (:data:`eda_lib.cluster.RETRIES`) is split: each of its cases runs again
    alone, and a case that fails alone too becomes a ``measure_failed`` problem.
    """
    from . import cluster  # optional dependency (distributed), allowed in tests/test_layout.py

    with cluster.connect(cfg, workers, _WORKER_ENVIRONMENT) as pool:
        tasks = _schedule(cases, pool.threads) if pool.threads > 1 else [[c] for c in cases]
        jobs = [(root, task, cfg) for task in tasks]
        results = pool.map(_measure_chunk, jobs, done=lambda i: bar.update(_n_files(tasks[i])))
        split = [(i, case) for i, task in enumerate(tasks)
                 if isinstance(results[i], cluster.TaskFailed) and len(task) > 1 for case in task]
        again = pool.map(_measure_chunk, [(root, [case], cfg) for _, case in split],
                         done=lambda k: bar.update(_n_files([split[k][1]])))
        description = pool.description
    alone: dict[int, list[Rows]] = {}
    for (i, case), result in zip(split, again):
        failed = isinstance(result, cluster.TaskFailed)
        alone.setdefault(i, []).append(_failed_rows(case, result.error) if failed else result)
    for i, (task, result) in enumerate(zip(tasks, results)):
        if not isinstance(result, cluster.TaskFailed):
            rows.extend(result)
        elif i in alone:
            for part in alone[i]:
                rows.extend(part)
        else:
            rows.extend(_failed_rows(task[0], result.error))
    return description


def _failed_rows(case: Case, error: str) -> Rows:
    """The one ``measure_failed`` problem of a case no try could measure, tagged for the
    cache like measured rows (it has no display views, so the next pass measures it again).
    """
    rows = Rows()
    rows.add("problems", {
        "path": case.paths[0], "case_id": case.case_id, "kind": "measure_failed",
        "detail": f"measuring the case failed on every try ({error}); its files were not "
                  "measured and will be at the next pass",
        **dict(zip(cache.KEY_COLUMNS, (case.split, case.case_id, case.sig)))})
    return rows


def _n_files(cases: list[Case]) -> int:
    return sum(len(c.images) + (c.mask is not None) for c in cases)


_SPLIT_RANK = {split: rank for rank, split in enumerate(SPLITS)}


def _sorted(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Sort rows into a stable order: split, label, numeric case_id, instance."""
    if name == "problems":
        return df.sort_values(["kind", "path"], kind="stable").reset_index(drop=True)
    case = df["case_id"].astype(str)
    keys = pd.DataFrame({
        "split": df["split"].map(_SPLIT_RANK).fillna(9),
        "label": df["label"] if "label" in df else "",
        "numeric": ~case.str.isdigit(),
        "number": pd.to_numeric(case.where(case.str.isdigit()), errors="coerce").fillna(0),
        "text": case,
        "instance": df["instance"] if "instance" in df else 0,
    })
    order = keys.sort_values(list(keys.columns), kind="stable").index
    return df.loc[order].reset_index(drop=True)


# ----------------------------------------------------------------------------- tables


MANIFEST = "manifest.json"
"""File in the tables folder that says what the tables were made from; written last."""

PASS_INFO = "pass.json"
"""File in the tables folder that says what ran the pass that made them (the executor and
its workers): shown on the report's index, and neither part of the manifest nor compared
by ``diff``, since the tables do not depend on it."""


def _manifest(cfg: Config) -> dict:
    """What the tables of ``cfg`` are made from: the analysis version, the data folder
    and its fingerprint, and the parameters that change a table."""
    return {**_manifest_without_data(cfg), "data": fingerprint(cfg.data_dir)}


def _stored_manifest(folder: Path) -> dict | None:
    """The manifest of the tables stored in ``folder``, or None when there is none that
    can be read (the pass did not finish, or the file is damaged)."""
    try:
        stored = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(stored, dict) and isinstance(stored.get("digests"), dict)
    return stored if ok else None


def _inputs(stored: dict, with_data: bool = True) -> dict:
    """What the stored tables were made from: the manifest without the digests of the
    tables and of their copies (and without the data fingerprint, unless ``with_data``)."""
    drop = {"digests", "copies"} if with_data else {"digests", "copies", "data"}
    return {k: v for k, v in stored.items() if k not in drop}


def ensure_tables(cfg: Config, progress: bool | None = None, use_cache: bool = True) -> bool:
    """Run the data pass unless the stored tables match the data and the parameters.

    Returns True when the pass ran, False when the stored tables were reused.
    The manifest is written last, so an interrupted pass is never taken as complete.
    With ``use_cache=False`` the pass runs from scratch: neither the stored tables
    nor the per-case cache are read.

    Raises
    ------
    ConfigError
        When ``out_dir`` is inside the data folder.
    LayoutError
        When the data folder is missing or not in the competition layout.
    """
    check_paths(cfg)
    check_layout(cfg.data_dir)
    folder = tables_dir(cfg)
    wanted = _manifest(cfg)
    stored = _stored_manifest(folder)
    if use_cache and stored is not None and _inputs(stored) == wanted \
            and tables_intact(folder, stored["digests"]):
        copies = stored.get("copies")
        if not isinstance(copies, dict) or not copies_intact(folder, copies):
            # a CSV copy or SCHEMA.md deleted or changed: written again from the tables
            stored["copies"] = write_copies(vars(read_tables(folder, stored["digests"])),
                                            folder)
            _write_manifest(folder, stored)
        return False
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unwritable_out_dir(cfg.out_dir, exc, "-p out_dir PATH, or out_dir in a "
                                 "notebook's parameters cell") from exc
    (folder / MANIFEST).unlink(missing_ok=True)
    (folder / PASS_INFO).unlink(missing_ok=True)
    report: dict = {}
    tables = measure_dataset(cfg, progress=cfg.progress if progress is None else progress,
                             use_cache=use_cache, report=report)
    tables.update(derive(tables, cfg))
    digests, copies = write_tables(tables, folder)
    # what ran the pass is said (on the report's index), never compared: not in the manifest
    write_text_atomic(folder / PASS_INFO, json.dumps({"executor": report.get("executor", "")}))
    _write_manifest(folder, {**wanted, "digests": digests, "copies": copies})
    return True


def _write_manifest(folder: Path, manifest: dict) -> None:
    """Write the tables' manifest (:data:`MANIFEST`), atomically."""
    write_text_atomic(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))


def pass_summary(cfg: Config, ran: bool) -> str:
    """One line for the report's index: what ran the data pass (from :data:`PASS_INFO`), or
    that the stored tables were reused (``ran`` is what :func:`ensure_tables` returned).
    """
    try:
        what = str(json.loads((tables_dir(cfg) / PASS_INFO).read_text(encoding="utf-8"))
                   .get("executor") or "")
    except (OSError, ValueError, AttributeError):
        what = ""
    if ran:
        return f"data pass: {what or 'ran'}"
    return "data pass: reused the stored tables" + (f" (made by {what})" if what else "")


def load_tables(cfg: Config, progress: bool | None = None, build: bool = True) -> Tables:
    """The tables of ``cfg``'s run, as a notebook reads them.

    With ``build`` (a notebook opened by hand), :func:`ensure_tables` runs first: the
    data folder is walked (names, sizes and modification times, no file opened) and
    the pass runs again, for the cases that changed, when the data changed since the
    tables were made, so a notebook never shows tables of files since deleted or
    changed. Without it (a notebook run by the runner, whose pass has just checked the
    data), stored tables are read when they were made from the same data folder,
    analysis version and parameters, and each file is the one the pass wrote (checked
    against the manifest's digests); the data folder is not walked again.

    Raises
    ------
    TablesError
        Without ``build``, when the stored tables are missing, damaged, or were made
        from other inputs.
    """
    folder = tables_dir(cfg)
    if build:
        ensure_tables(cfg, progress)
        return read_tables(folder, _stored_manifest(folder)["digests"])
    stored = _stored_manifest(folder)
    if stored is not None and _inputs(stored, with_data=False) == _manifest_without_data(cfg):
        return read_tables(folder, stored["digests"])
    raise TablesError(
        f"the tables in {folder} are missing, incomplete or were made from other "
        "data or parameters; build them with `python -m eda_lib run -f PARAMS.yaml` "
        "(or open the notebook by hand, which builds them)", folder=folder)


def _manifest_without_data(cfg: Config) -> dict:
    """:func:`_manifest` without the data fingerprint, which takes a walk of the folder."""
    return {
        "analysis_version": ANALYSIS_VERSION,
        "tuning": cache.TUNING_DIGEST,
        "data_dir": str(cfg.data_dir),
        "params": {k: getattr(cfg, k) for k in PASS_PARAMS + DERIVED_PARAMS},
        "tables": sorted(SCHEMAS),
    }
