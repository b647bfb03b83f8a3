"""Per-case cache of the data pass's rows.

Every case (a forged image, its twin and its mask, or a lone file) gets a
signature: a hash of its files' relative paths, sizes and modification times, the
analysis version and the parameters that change what the pass measures. Its rows,
in every table, are stored with that signature in one Parquet file per table under
``cfg.cache_path``. A later pass reuses the rows of every case whose signature is
unchanged and measures the others, so adding, changing or deleting one file
recomputes its case only.

The cache is a convenience, never trusted blindly: a file that cannot be read or
does not have the expected columns is reported with a warning and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import pandas as pd

from ..config import Config
from ..files import atomic_write
from ..tables import ANALYSIS_VERSION, MEASURED_TABLES, PASS_PARAMS, SCHEMAS
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


VERSION_FILE = "VERSION"


def load(folder: Path) -> dict[str, pd.DataFrame] | None:
    """The cached rows per table, or None when there is no usable cache.

    A cache written by another analysis version is dropped silently (its rows could
    not match anyway); a damaged one with a warning.
    """
    paths = {name: folder / f"{name}.parquet" for name in MEASURED_TABLES}
    version = folder / VERSION_FILE
    if not version.exists() or version.read_text(encoding="utf-8").strip() != ANALYSIS_VERSION:
        return None
    if not all(p.exists() for p in paths.values()):
        warnings.warn(f"cache in {folder} is incomplete; rebuilding it", stacklevel=2)
        return None
    try:
        frames = {name: pd.read_parquet(p) for name, p in paths.items()}
    except Exception as exc:  # any unreadable file means the cache is not to be trusted
        warnings.warn(f"cache in {folder} is unreadable ({type(exc).__name__}: {exc}); "
                      "rebuilding it", stacklevel=2)
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
    """Store the rows (with their key columns) of every table, atomically per file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / VERSION_FILE).unlink(missing_ok=True)
    for name, df in frames.items():
        atomic_write(folder / f"{name}.parquet", lambda p, df=df: df.to_parquet(p, index=False))
    atomic_write(folder / VERSION_FILE,
                  lambda p: p.write_text(ANALYSIS_VERSION + "\n", encoding="utf-8"))
