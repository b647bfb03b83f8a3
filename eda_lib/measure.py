"""The data pass: every file opened once, every per-file measurement taken then.

Work is grouped by case: a forged image, its authentic twin and its mask are
measured together by one worker, so each is decoded once and the pair is at hand
for the analyses that need both; the second image's health measurements reuse the
first's where the two are the same (:func:`eda_lib.health.score_image`). Cases run
on ``cfg.workers`` processes with a progress bar. Rows come back as plain dicts and
become the tables of :mod:`eda_lib.tables`.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from . import cache, copymove, health, images, masks, metric, trace
from .config import Config
from .errors import DataError
from .index import ImageEntry, Index, MaskEntry, scan
from .instances import instance_metrics
from .tables import MEASURED_TABLES, frame


@dataclass
class Case:
    """The files of one case_id within one split."""

    split: str
    case_id: str
    images: list[ImageEntry] = field(default_factory=list)
    mask: MaskEntry | None = None
    sig: str = ""  # cache signature (eda_lib.cache.signature)
    nbytes: int = 0  # bytes of its files on disk, the cost estimate of the schedule

    @property
    def paths(self) -> list[str]:
        return [e.path for e in self.images] + ([self.mask.path] if self.mask else [])


@dataclass
class Rows:
    """Rows produced by measuring one or more cases, per table."""

    tables: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))

    def add(self, table: str, row: dict) -> None:
        self.tables[table].append(row)

    def extend(self, other: Rows) -> None:
        for name, rows in other.tables.items():
            self.tables[name].extend(rows)


def group_cases(index: Index) -> list[Case]:
    """Group the index's images and masks by (split, case_id)."""
    cases: dict[tuple[str, str], Case] = {}
    for e in index.images:
        cases.setdefault((e.split, e.case_id), Case(e.split, e.case_id)).images.append(e)
    for m in index.masks:
        cases.setdefault((m.split, m.case_id), Case(m.split, m.case_id)).mask = m
    return list(cases.values())


def _problem(rows: Rows, path: str, case_id: str, kind: str, detail: str) -> None:
    rows.add("problems", {"path": path, "case_id": case_id, "kind": kind, "detail": detail})


def _measure_image(root: Path, e: ImageEntry, cfg: Config, rows: Rows,
                   like: health.Measured | None = None
                   ) -> tuple[images.Decoded | None, health.Measured | None]:
    """Decode one image and add its rows; return the decoded image and its health
    measurements (both None when it cannot be decoded).

    ``like`` is the other image of the case, measured just before: a forgery and its
    twin differ only where the forgery was pasted, so the health measurements reuse
    the other's work on the rows they share (:func:`eda_lib.health.score_image`), and
    Pillow's band histograms and gray levels are not made at decoding.
    """
    row = {
        "case_id": e.case_id, "split": e.split, "label": e.label, "path": e.path,
        "has_mask": e.mask_path is not None, "twin": e.twin, "status": "ok",
    }
    path = root / e.path
    try:
        row["file_bytes"] = path.stat().st_size
        decoded = images.decode(path, cfg.max_image_pixels, with_stats=like is None)
    except (DataError, OSError) as exc:
        kind = getattr(exc, "kind", "unreadable_image")
        row["status"] = kind
        rows.add("images", row)
        _problem(rows, e.path, e.case_id, kind, _short(exc, root))
        return None, None
    row.update(width=decoded.width, height=decoded.height,
               aspect=decoded.width / decoded.height, mode=decoded.mode)
    rows.add("images", row)
    scores, measured = health.score_image(images.to_uint8(decoded.pixels), decoded.gray,
                                          decoded.band_counts, like=like)
    rows.add("image_scores", {"case_id": e.case_id, "split": e.split, "label": e.label, **scores})
    return decoded, measured


def _short(exc: Exception, root: Path) -> str:
    """Error text with the data folder prefix removed (paths are relative in tables)."""
    return str(exc).replace(str(root) + "/", "")


def _measure_mask(root: Path, m: MaskEntry, image, rows: Rows, allow_pickle: bool):
    """Load and normalise one mask, add its rows, return the Mask (or None)."""
    hw = (image.height, image.width) if image is not None else None
    row = {"case_id": m.case_id, "split": m.split, "path": m.path}
    try:
        mask = masks.load_mask(root / m.path, hw, allow_pickle)
    except DataError as exc:
        row.update(_stored_as(root / m.path), status=exc.kind)
        rows.add("masks", row)
        _problem(rows, m.path, m.case_id, exc.kind, _short(exc, root))
        return None
    row.update(_stored_as(root / m.path, mask))
    h, w = mask.instances.shape[1:]
    # cv2.countNonZero counts bytes faster than numpy counts bools
    areas = np.array([cv2.countNonZero(channel.view(np.uint8)) for channel in mask.instances],
                     np.int64)
    union = mask.union
    union_px = cv2.countNonZero(union.view(np.uint8))
    if m.image_path is None:
        status = "orphan"
    elif image is None:
        status = "image_unreadable"
    elif union_px == 0:
        status = "empty"
    elif mask.notes:
        status = "normalized"
    else:
        status = "ok"
    row.update(
        height=h, width=w, n_instances=mask.n_instances, n_empty=int((areas == 0).sum()),
        union_px=union_px, union_frac=union_px / (h * w), status=status,
        notes=";".join(mask.notes), **_submission_checks(mask, union),
    )
    rows.add("masks", row)
    if mask.notes and image is not None:
        detail = "; ".join(masks.RULES[n] for n in mask.notes)
        _problem(rows, m.path, m.case_id, "mask_normalized", detail)
    if union_px == 0 and image is not None:
        _problem(rows, m.path, m.case_id, "empty_mask", "no pixel is marked in any channel")
    return mask


def _stored_as(path: Path, mask: masks.Mask | None = None) -> dict:
    """A mask file's shape and dtype as stored: the loaded array's, else (a refused or
    unpickled file) its header's; nothing when even the header cannot be read."""
    if mask is not None and "unpickled" not in mask.notes:
        shape, dtype = mask.raw_shape, mask.raw_dtype
    else:
        try:
            shape, dtype = masks.read_header(path)
        except DataError:
            return {}
    return {"shape": "x".join(map(str, shape)), "dtype": str(dtype)}


def _submission_checks(mask: masks.Mask, union: np.ndarray) -> dict:
    """The mask as the competition's annotation: its size, round trip and union baseline.

    The round trip writes each instance's runs as annotation text and reads the text
    back under the scorer's rules; the runs must come back unchanged (drawing masks
    from runs is checked by the tests, so no pixel array is redrawn here). ``union``
    is ``mask.union``, the prediction of the baseline.
    """
    truth = metric.truth_from_masks(mask.instances)
    runs = [metric.rle_encode(m) for m in truth]
    text = metric.format_runs(runs)
    back = metric.parse_runs(text, mask.instances.shape[1:])
    same = back == metric.AUTHENTIC and not truth or (
        back != metric.AUTHENTIC and [r.tolist() for r in back] == runs)
    baseline = metric.of1(truth, [union]) if truth else float("nan")
    return {"rle_chars": len(text), "rle_roundtrip": same, "of1_union": baseline}


def measure_case(root: Path, case: Case, cfg: Config) -> Rows:
    """Measure every file of one case: images decoded once, the mask loaded once."""
    rows = Rows()
    decoded: dict[str, images.Decoded | None] = {}
    measured = None
    for e in case.images:
        decoded[e.label], measured = _measure_image(root, e, cfg, rows, measured)
    del measured  # its brightness keys and thumbnails: not needed past this point
    if case.mask is None:
        return rows
    forged = decoded.get("forged")
    if case.mask.image_path is not None and forged is None:
        # the image failed to decode: load the mask on its own so its problems still show
        _measure_mask(root, case.mask, None, rows, cfg.allow_pickle)
        return rows
    mask = _measure_mask(root, case.mask, forged, rows, cfg.allow_pickle)
    if mask is None or case.mask.image_path is None:
        return rows
    key = {"case_id": case.case_id, "split": case.split}
    for k in range(mask.n_instances):
        rows.add("instances", {**key, "instance": k + 1, **instance_metrics(mask.instances[k])})
    if mask.n_instances and cfg.copy_move:
        twin = decoded.get("authentic")
        _copy_move(forged, twin, mask, cfg, key, case.mask.path, rows)
    return rows


def _copy_move(forged, twin, mask, cfg: Config, key: dict, mask_path: str, rows: Rows) -> None:
    """Copy-move analysis of one forged image (with its twin when it has the same size)."""
    twin_rgb = twin.rgb if twin is not None and twin.pixels.shape[:2] == forged.pixels.shape[:2] \
        else None
    try:
        results, check = copymove.analyze_image(forged.rgb, mask.instances, twin_rgb,
                                                max_side=cfg.copy_move_max_side)
    except Exception as exc:  # one image's analysis must not end the pass: report it
        _problem(rows, mask_path, key["case_id"], "copy_move_failed",
                 f"{type(exc).__name__}: {exc}")
        return
    for r in results:
        rows.add("copy_move", {**key, **r.as_row()})
    if check is not None:
        rows.add("label_check", {**key, **check.as_row()})


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
    """Measure some cases; each row is tagged with its case and signature for the cache."""
    root, cases, cfg = args
    out = Rows()
    for case in cases:
        rows = measure_case(root, case, cfg)
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
    cfg: Config, index: Index | None = None, progress: bool = True, use_cache: bool = True
) -> dict[str, pd.DataFrame]:
    """Run the data pass over ``cfg.data_dir`` and return every table, sorted.

    Parameters
    ----------
    cfg : Config
    index : Index, optional
        A prepared index (default: :func:`eda_lib.index.scan` of ``cfg.data_dir``).
    progress : bool
        Show a progress bar (files done, rate, time left).
    use_cache : bool
        Reuse the cached rows of unchanged cases (``cfg.cache_path``); the cache is
        rewritten either way.
    """
    index = index or scan(cfg.data_dir)
    cases = group_cases(index)
    for case in cases:
        files = cache.stat_files(index.root, case.paths)
        case.sig = cache.signature(files, cfg)
        case.nbytes = sum(st.st_size for _, st in files if st is not None)
    stored = cache.load(cfg.cache_path) if use_cache else None
    reused = {name: pd.DataFrame() for name in MEASURED_TABLES}
    if stored is not None:
        wanted = {(c.split, c.case_id): c.sig for c in cases}
        reused = cache.reusable(stored, wanted)
        hits = cache.cached_cases(reused)
        cases = [c for c in cases if (c.split, c.case_id, c.sig) not in hits]
    rows = _measure_cases(index.root, cases, cfg, progress)
    frames = {}
    for name in MEASURED_TABLES:
        new = frame(name, rows.tables.get(name, []), cache.KEY_COLUMNS)
        frames[name] = pd.concat([reused[name], new], ignore_index=True) if len(reused[name]) \
            else new
    cache.save(cfg.cache_path, frames)
    tables = {name: df.drop(columns=list(cache.KEY_COLUMNS)) for name, df in frames.items()}
    layout = frame("problems", [p.__dict__ for p in index.problems])
    tables["problems"] = pd.concat([layout, tables["problems"]], ignore_index=True)
    return {name: _sorted(name, df) for name, df in tables.items()}


def _measure_cases(root: Path, cases: list[Case], cfg: Config, progress: bool) -> Rows:
    """Measure cases on ``cfg.workers`` processes with a progress bar over files."""
    rows = Rows()
    bar = tqdm(total=_n_files(cases), desc="data pass", unit="file", disable=not progress,
               dynamic_ncols=True, mininterval=0.5)
    workers = min(cfg.n_workers, max(1, len(cases) // 8))
    tasks = _schedule(cases, workers) if workers > 1 else [[c] for c in cases]
    jobs = [(root, task, cfg) for task in tasks]
    with bar:
        if workers <= 1:
            results = map(_measure_chunk, jobs)
            for job, result in zip(jobs, results):
                rows.extend(result)
                bar.update(_n_files(job[1]))
        else:
            with _worker_environment(), ProcessPoolExecutor(
                    max_workers=workers, mp_context=_pool_context(), initializer=_init_worker,
                    initargs=(os.environ.get(trace.ENV),)) as pool:
                for job, result in zip(jobs, pool.map(_measure_chunk, jobs)):
                    rows.extend(result)
                    bar.update(_n_files(job[1]))
    return rows


def _n_files(cases: list[Case]) -> int:
    return sum(len(c.images) + (c.mask is not None) for c in cases)


_SPLIT_ORDER = {"train": 0, "supplemental": 1, "test": 2}


def _sorted(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Sort rows into a stable order: split, label, numeric case_id, instance."""
    if name == "problems":
        return df.sort_values(["kind", "path"], kind="stable").reset_index(drop=True)
    case = df["case_id"].astype(str)
    keys = pd.DataFrame({
        "split": df["split"].map(_SPLIT_ORDER).fillna(9),
        "label": df["label"] if "label" in df else "",
        "numeric": ~case.str.isdigit(),
        "number": pd.to_numeric(case.where(case.str.isdigit()), errors="coerce").fillna(0),
        "text": case,
        "instance": df["instance"] if "instance" in df else 0,
    })
    order = keys.sort_values(list(keys.columns), kind="stable").index
    return df.loc[order].reset_index(drop=True)
