"""Writing files: every output of the suite goes through here.

A file is written under a temporary name in its final folder and renamed into
place, so a reader (or a crash) never finds a half-written file under the final
name. The temporary file is created with mode 0666 and the process's umask, as
``open()`` would create it, so a report folder is as readable as any other folder
the user writes (``tempfile.mkstemp`` would make every file owner-only).

:func:`check_paths` refuses a run that would write anywhere in the data folder, which
is only ever read.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from .config import Config
from .errors import ConfigError

if TYPE_CHECKING:  # pandas is imported by the callers; the command line starts without it
    import pandas as pd

__all__ = ["LOCK_NAME", "OUT_FOLDERS", "atomic_write", "check_paths", "free_bytes",
           "is_disk_full", "out_dir_lock", "unwritable_out_dir", "write_bytes_atomic",
           "write_csv_atomic", "write_text_atomic"]


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a new temporary file in ``path``'s folder, then rename it
    to ``path``.

    The temporary file exists (empty) when ``write`` is called, created with the
    umask's permissions; it is removed if ``write`` raises.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            break
        except FileExistsError:
            continue
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return path


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the device is full or the quota reached (ENOSPC, EDQUOT)."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def free_bytes(folder: Path) -> int | None:
    """Bytes free for this user on the device of ``folder`` (or of its nearest existing
    parent), or None when the system cannot say."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` (whose folder must exist) atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (whose folder must exist) atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


#: Folders of a report, under ``out_dir``; the cache is ``out_dir/cache`` unless
#: ``cache_dir`` says otherwise.
OUT_FOLDERS = ("notebooks", "html", "figures", "tables")


#: How the parameters :func:`check_paths` names are set with ``run``.
RUN_OPTIONS = MappingProxyType({"out_dir": "-p out_dir PATH", "cache_dir": "-p cache_dir PATH"})


def unwritable_out_dir(out_dir: Path, exc: OSError, option: str = "-p out_dir PATH"
                       ) -> ConfigError:
    """The error for an ``out_dir`` that cannot be written (``exc`` says why); ``option``
    says how the command at hand sets ``out_dir``."""
    return ConfigError(f"cannot write to out_dir {out_dir}: {exc.strerror or exc}; choose a "
                       f"folder you can write to ({option})", key="out_dir")


#: File in ``out_dir`` that a run holds locked while it writes there (see :func:`out_dir_lock`).
LOCK_NAME = ".eda_lib.lock"


@contextlib.contextmanager
def out_dir_lock(out_dir: Path, option: str = "-p out_dir PATH") -> Iterator[None]:
    """Hold ``out_dir`` for one run: while it is held, a second run into the same folder
    stops at once rather than mixing its files with this one's.

    The lock is an advisory ``flock`` on :data:`LOCK_NAME` (which holds the process id,
    for the message), released when the run ends however it ends, even killed. Where
    ``fcntl`` is missing (Windows) nothing is locked. ``option`` says, for the message,
    how the command at hand sets ``out_dir``.

    Raises
    ------
    ConfigError
        Another process holds the folder.
    """
    try:
        import fcntl
    except ImportError:  # no advisory locks here
        yield
        return
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(out_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise unwritable_out_dir(out_dir, exc, option) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            who = f"another run (process {holder})" if holder.isdigit() else "another run"
            raise ConfigError(f"out_dir {out_dir} is in use by {who}: wait for it to end, or "
                              f"choose another out_dir ({option})", key="out_dir") from exc
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        yield
    finally:
        os.close(fd)


def write_csv_atomic(path: Path, df: pd.DataFrame) -> Path:
    """Write ``df`` (no index) as CSV to ``path``, atomically (:func:`atomic_write`).

    Lines end with ``\n``; a text cell holding a carriage return (a file name can) is
    quoted like one holding a newline, which the csv module does only for the line
    ending's own characters: the whole file is then written with every cell quoted.
    """
    cells = df.select_dtypes(include=["object", "string"])
    carriage = any(cells[c].astype("string").str.contains("\r", regex=False).fillna(False).any()
                   for c in cells.columns)
    quoting = csv.QUOTE_ALL if carriage else csv.QUOTE_MINIMAL
    return atomic_write(path, lambda p: df.to_csv(p, index=False, lineterminator="\n",
                                                  quoting=quoting))


def check_paths(cfg: Config, options: Mapping[str, str] = RUN_OPTIONS) -> None:
    """Refuse any place the suite would write that lies in the data folder.

    ``out_dir``, ``cache_dir``, the report's folders and any symbolic link already inside
    ``out_dir`` are resolved (links followed) and compared with the resolved data folder,
    which is only ever read. Nothing is created or written here.

    ``options`` says, for the message, how the command at hand sets ``out_dir`` and
    ``cache_dir`` (:data:`RUN_OPTIONS`: as ``run`` does).

    Raises
    ------
    ConfigError
        Naming the parameter (``out_dir`` or ``cache_dir``) and the path at fault.
    """
    data = cfg.data_dir
    out = cfg.out_dir
    places = [("out_dir", out, "out_dir"), ("cache_dir", cfg.cache_path, "cache_dir")]
    places += [(f"out_dir/{name}", out / name, "out_dir") for name in OUT_FOLDERS]
    places += [(f"the link {link}", link, "out_dir") for link in _links_under(out)]
    for what, path, key in places:
        link = what.startswith("the link")
        refuse_inside(path, data, what if link else f"{what} {path}",
                      f"Choose a {key} outside the data folder ({options[key]})"
                      + (", or remove the link" if link else ""), key)


def refuse_inside(path: Path, data_dir: Path, what: str, fix: str, key: str) -> None:
    """Raise :class:`ConfigError` when ``path`` (links followed) lies in ``data_dir``.

    ``what`` names the path in the message, ``fix`` says what to do instead, ``key``
    is the parameter or option at fault.
    """
    data, resolved = data_dir.resolve(), path.resolve()
    if resolved == data or data in resolved.parents:
        raise ConfigError(f"{what} leads into data_dir {data} (as {resolved}); the data "
                          f"folder is never written. {fix}.", key=key)


def _links_under(folder: Path) -> list[Path]:
    """Symbolic links inside ``folder`` (not followed), sorted; [] when it does not exist."""
    links = []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        links += [base / name for name in dirnames + filenames if (base / name).is_symlink()]
    return sorted(links)
