"""One exception family for the whole package.

Every error the suite raises on purpose derives from :class:`EdaError`. Messages say
what was expected, what was found, and what to do about it; structured fields let
callers (the runner, the notebooks, the tests) act on the error without parsing text.
"""

from __future__ import annotations

from pathlib import Path


class EdaError(Exception):
    """Base class of every error raised on purpose by eda_lib."""


class ConfigError(EdaError):
    """A parameter is unknown, mistyped, missing or out of range.

    Attributes
    ----------
    key : str or None
        The parameter at fault, when there is one.
    """

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


class DataError(EdaError):
    """A file or folder of the dataset cannot be used as it is.

    Attributes
    ----------
    path : Path or None
        The file or folder at fault.
    kind : str
        A stable short code for the problem (it becomes ``problems.kind``).
    """

    def __init__(self, message: str, path: Path | str | None = None, kind: str = "data_error"):
        super().__init__(message)
        self.path = Path(path) if path is not None else None
        self.kind = kind


class LayoutError(DataError):
    """The data folder is not in the expected competition layout."""


class ImageError(DataError):
    """An image file cannot be decoded or is refused."""


class MaskError(DataError):
    """A mask file cannot be loaded or is refused."""


class TablesError(EdaError):
    """The stored tables of a run are missing, incomplete or made from other inputs.

    Attributes
    ----------
    folder : Path or None
        The tables folder.
    """

    def __init__(self, message: str, folder: Path | str | None = None):
        super().__init__(message)
        self.folder = Path(folder) if folder is not None else None


class ClusterError(EdaError):
    """A Dask cluster cannot run the data pass: a worker does not see a folder the pass
    needs at the path the client gave, or the scheduler cannot be reached.

    Attributes
    ----------
    worker : str or None
        The address of the worker at fault, when there is one.
    path : Path or None
        The folder it cannot see.
    """

    def __init__(self, message: str, worker: str | None = None, path: Path | str | None = None):
        super().__init__(message)
        self.worker = worker
        self.path = Path(path) if path is not None else None


class DiskFullError(EdaError):
    """The device of an output folder is full (or the user's quota is reached).

    Attributes
    ----------
    folder : Path
        The folder being written.
    free : int or None
        Bytes free on its device, when known.
    needed : int or None
        About how many bytes the whole report needs, when known.
    """

    def __init__(self, folder: Path | str, free: int | None = None, needed: int | None = None):
        self.folder, self.free, self.needed = Path(folder), free, needed
        have = f"; {_mb(free)} free there" if free is not None else ""
        want = f", and the report needs about {_mb(needed)}" if needed is not None else ""
        super().__init__(
            f"no space left on the device of {self.folder}{have}{want}: free some space, or "
            "choose an out_dir (-p out_dir PATH) or cache_dir on another device; "
            "the partial files of this run were removed")


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"
