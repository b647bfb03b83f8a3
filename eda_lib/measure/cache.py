"""Per-case cache of the data pass's rows.

Every case (a forged image, its twin and its mask, or a lone file) gets a
signature: a hash of its files' relative paths, sizes and modification times, the
analysis version and the parameters that change what the pass measures. Its rows,
in every table, are stored with that signature in one Parquet file per table under
``cfg.cache_path``. A later pass reuses the rows of every case whose signature is
unchanged and measures the others, so adding, changing or deleting one file
recomputes its case only.

The cache is a convenience, never trusted blindly: a file that cannot be read, does
not have the expected columns, or is not the file the last pass wrote (its SHA-256 is
in the stamp written last: files of two passes sharing the folder, or edited since) is
reported with a warning and the cache rebuilt.

Beside the rows, each case's *display views* (:attr:`eda_lib.measure.case.Rows.views`:
its images shrunk to display size, its masks on their grid) are stored in
``views/<signature>.npz`` under the same folder, written atomically by the worker that
measured the case. Images are PNG-encoded (lossless, so a twin's difference is exact at
display size), masks bit-packed; the file is read without pickle. The report draws its
galleries from them (:mod:`eda_lib.report.gallery`) and never decodes an image again. A
case whose views file is missing is measured again by the next pass, and files of cases
no longer in the data are removed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..config import Config
from ..errors import TablesError
from ..files import atomic_write, write_text_atomic
from ..tables import (
    ANALYSIS_VERSION,
    MEASURED_TABLES,
    PASS_PARAMS,
    SCHEMAS,
    read_parquet,
    write_parquet,
)
from . import copymove, screening

#: Digest of the tuning defaults of the copy-move analysis and the blind screen: part
#: of every case's signature and of the tables' manifest, so a changed threshold
#: recomputes what it changes even where nobody bumped ANALYSIS_VERSION.
TUNING_DIGEST = hashlib.sha256(json.dumps(
    {"copymove": dict(copymove.DEFAULT_TUNING), "screening": dict(screening.DEFAULT_TUNING)},
    sort_keys=True, default=repr).encode()).hexdigest()[:16]

#: Columns the cache adds to each table: the case and its signature.
KEY_COLUMNS = ("_split", "_case", "_sig")


def stat_files(root: Path, paths: list[str]) -> list[tuple[str, os.stat_result | None]]:
    """Each of a case's files with its ``os.stat`` (None when missing), sorted by path."""
    out = []
    for rel in sorted(paths):
        try:
            out.append((rel, os.stat(root / rel)))
        except OSError:
            out.append((rel, None))
    return out


def signature(files: list[tuple[str, os.stat_result | None]], cfg: Config) -> str:
    """Hash of a case's files (path, size, mtime; see :func:`stat_files`) and of the
    pass's settings (parameters and :data:`TUNING_DIGEST`)."""
    h = hashlib.sha256(f"{ANALYSIS_VERSION}\0{TUNING_DIGEST}".encode())
    for key in PASS_PARAMS:
        h.update(f"{key}={getattr(cfg, key)!r}\n".encode())
    for rel, st in files:
        state = "missing" if st is None else f"{st.st_size}\0{st.st_mtime_ns}"
        h.update(f"{rel}\0{state}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _expected_columns(name: str) -> list[str]:
    return [c.name for c in SCHEMAS[name]] + list(KEY_COLUMNS)


#: The cache's stamp, written last by :func:`save`: the analysis version and the SHA-256 of
#: each table file.
VERSION_FILE = "VERSION"


def load(folder: Path) -> dict[str, pd.DataFrame] | None:
    """The cached rows per table, or None when there is no usable cache.

    A cache written by another analysis version is dropped silently (its rows could
    not match anyway); a damaged one with a warning.
    """
    paths = {name: folder / f"{name}.parquet" for name in MEASURED_TABLES}
    try:
        stamp = json.loads((folder / VERSION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none, or one of an older format: not this version's
        return None
    if not isinstance(stamp, dict) or stamp.get("analysis_version") != ANALYSIS_VERSION:
        return None
    if not all(p.exists() for p in paths.values()):
        warnings.warn(f"cache in {folder} is incomplete; rebuilding it", stacklevel=2)
        return None
    digests = stamp.get("digests")
    if not isinstance(digests, dict):
        digests = {}
    try:
        # a file changed, damaged, or written by another pass sharing the folder
        frames = {name: read_parquet(p, digests.get(name, "")) for name, p in paths.items()}
    except TablesError as exc:
        warnings.warn(f"cache in {folder} cannot be used ({exc}); rebuilding it", stacklevel=2)
        return None
    for name, df in frames.items():
        if list(df.columns) != _expected_columns(name):
            warnings.warn(f"cache table {name} in {folder} has unexpected columns; rebuilding "
                          "the cache", stacklevel=2)
            return None
    return frames


def reusable(frames: dict[str, pd.DataFrame], wanted: dict[tuple[str, str], str]) -> dict:
    """Rows of the cases whose signature matches; ``wanted`` maps (split, case) -> sig."""
    keys = pd.DataFrame(
        [(s, c, sig) for (s, c), sig in wanted.items()], columns=list(KEY_COLUMNS))
    return {name: df.merge(keys, on=list(KEY_COLUMNS), how="inner") for name, df in frames.items()}


def cached_cases(frames: dict[str, pd.DataFrame]) -> set[tuple[str, str, str]]:
    """(split, case, sig) of every case stored, whatever table its rows are in."""
    out: set[tuple[str, str, str]] = set()
    for df in frames.values():
        out.update(zip(df["_split"], df["_case"], df["_sig"]))
    return out


def save(folder: Path, frames: dict[str, pd.DataFrame]) -> None:
    """Store the rows (with their key columns) of every table, atomically per file, then
    the stamp (:data:`VERSION_FILE`: the analysis version and each file's SHA-256), which
    :func:`load` checks: files of two passes mixed, or one changed since, are not read."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / VERSION_FILE).unlink(missing_ok=True)
    digests = {name: write_parquet(folder / f"{name}.parquet", df) for name, df in frames.items()}
    write_text_atomic(folder / VERSION_FILE, json.dumps(
        {"analysis_version": ANALYSIS_VERSION, "digests": digests}, indent=2, sort_keys=True))


# ----------------------------------------------------------------------------- views

#: Folder under the cache folder holding one ``<signature>.npz`` of display views per case.
VIEWS_DIR = "views"

#: PNG settings of the stored views: zlib level 1 with run-length matching only, the
#: cheapest lossless encoding measured on the demo's views (20% less CPU than level 1
#: alone, 40% less than level 3, and a smaller file than either); lossless, so a twin's
#: difference and a copy's crops stay exact at display size.
_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY,
               cv2.IMWRITE_PNG_STRATEGY_RLE]


def views_path(folder: Path, sig: str) -> Path:
    """Where the display views of the case with signature ``sig`` are stored."""
    return Path(folder) / VIEWS_DIR / f"{sig}.npz"


def save_views(folder: Path, sig: str, views: dict[str, np.ndarray]) -> Path:
    """Store a case's display views, atomically (an empty mapping is stored too: the case
    then has nothing to show, and is not measured again for want of the file).

    (H, W, 3) uint8 arrays are stored as PNG (``png_<key>``), bool arrays bit-packed
    (``bits_<key>`` with ``shape_<key>``), others as they are (``raw_<key>``).
    """
    stored: dict[str, np.ndarray] = {}
    for key, array in views.items():
        if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3:
            ok, png = cv2.imencode(".png", cv2.cvtColor(array, cv2.COLOR_RGB2BGR), _PNG_PARAMS)
            if not ok:
                raise ValueError(f"cannot encode the view {key} {array.shape} as PNG")
            stored[f"png_{key}"] = png.ravel()
        elif array.dtype == bool:
            stored[f"bits_{key}"] = np.packbits(array, axis=None)
            stored[f"shape_{key}"] = np.array(array.shape, np.int64)
        else:
            stored[f"raw_{key}"] = np.asarray(array)
    path = views_path(folder, sig)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **stored)

    return atomic_write(path, write)


def read_views(folder: Path, sig: str, keys: list[str]) -> dict[str, np.ndarray] | None:
    """The display views ``keys`` of the case with signature ``sig``, decoded.

    Returns None when the file is missing or cannot be read, or when it lacks one of
    the ``keys`` (the caller then falls back to the data folder); only the asked keys
    are decoded.
    """
    path = views_path(folder, sig)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            names = set(stored.files)
            out = {}
            for key in keys:
                if f"png_{key}" in names:
                    bgr = cv2.imdecode(stored[f"png_{key}"], cv2.IMREAD_COLOR)
                    if bgr is None:
                        return None
                    out[key] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                elif f"bits_{key}" in names:
                    shape = tuple(int(n) for n in stored[f"shape_{key}"])
                    bits = np.unpackbits(stored[f"bits_{key}"], count=math.prod(shape))
                    out[key] = bits.reshape(shape).astype(bool)
                elif f"raw_{key}" in names:
                    out[key] = stored[f"raw_{key}"]
                else:
                    return None
    except Exception:  # a damaged file is a missing one: the caller falls back
        return None
    return out


def prune_views(folder: Path, keep: set[str]) -> None:
    """Remove the views files of signatures not in ``keep`` (cases gone or changed)."""
    for path in (Path(folder) / VIEWS_DIR).glob("*.npz"):
        if path.stem not in keep:
            path.unlink(missing_ok=True)
