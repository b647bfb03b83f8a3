"""Writing files: every output of the suite goes through here.

A file is written under a temporary name in its final folder and renamed into
place, so a reader (or a crash) never finds a half-written file under the final
name. The temporary file is created with mode 0666 and the process's umask, as
``open()`` would create it, so a report folder is as readable as any other folder
the user writes (``tempfile.mkstemp`` would make every file owner-only).

:func:`check_paths` refuses a run that would write into the data folder, which is
only ever read.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from .config import Config
from .errors import ConfigError

__all__ = ["atomic_write", "check_paths", "write_bytes_atomic", "write_text_atomic"]


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


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` (whose folder must exist) atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (whose folder must exist) atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def check_paths(cfg: Config) -> None:
    """Refuse an out_dir inside the data folder: the data folder is only ever read.

    Raises
    ------
    ConfigError
        When ``out_dir`` is ``data_dir`` or inside it.
    """
    data, out = cfg.data_dir.resolve(), cfg.out_dir.resolve()
    if out == data or data in out.parents:
        raise ConfigError(
            f"out_dir {out} is inside data_dir {data}; the data folder is never written. "
            "Choose an out_dir outside the data folder.",
            key="out_dir",
        )
