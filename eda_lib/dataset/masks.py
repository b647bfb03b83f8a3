"""Safe loading and normalisation of ``.npy`` instance masks.

A mask file is read with ``allow_pickle=False``, always: an object array is
refused, never unpickled, so a mask file cannot run code. Its header is read
first so that an absurd shape is refused before memory is allocated.

The competition's masks are ``(N, H, W)`` uint8 arrays with values {0, 1}, one
channel per instance, channel-first even when N = 1 (``DATASET.md``). Anything
else goes through :data:`RULES`, the one place that says what is accepted with
a normalisation and what is rejected; each applied rule is recorded in
:attr:`Mask.notes` so the report can say, per file, what was done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import trace
from ..errors import MaskError

#: What each normalisation rule does. Keys appear in ``masks.notes``.
RULES: dict[str, str] = {
    "unpickled": "an object array was unpickled because allow_pickle is set (this runs code)",
    "2d_single_instance": "a 2-D (H, W) mask is taken as one instance -> (1, H, W)",
    "channel_last": "an (H, W, N) mask matching the image size is moved to (N, H, W)",
    "values_0_255": "values {0, 255} are read as {0, 1}",
    "bool_values": "a boolean mask is read as {0, 1}",
    "nonbinary_values": "values other than {0, 1} are read as (value > 0)",
    "float_values": "a float mask with finite values is read as (value > 0.5)",
    "resized_to_image": "a mask whose size differs from the image is resized to it (nearest)",
}
#: Reasons a mask is refused (``problems.kind``).
REFUSALS: dict[str, str] = {
    "unreadable_mask": "not a readable .npy file",
    "pickled_mask": "an object array that only pickle could load; never unpickled",
    "bad_mask_dtype": "dtype is not bool, integer or float",
    "bad_mask_values": "values are NaN, infinite or negative",
    "bad_mask_shape": "shape is not (H, W), (N, H, W) or (H, W, N)",
    "mask_too_large": "the header claims more elements than allowed",
}
MAX_ELEMENTS = 2_000_000_000  # ~2 GB of uint8: far above any real mask


@dataclass
class Mask:
    """A normalised mask: ``instances`` is (N, H, W) bool, N >= 0."""

    instances: np.ndarray
    raw_shape: tuple[int, ...]
    raw_dtype: str
    notes: list[str] = field(default_factory=list)

    @property
    def n_instances(self) -> int:
        return int(self.instances.shape[0])

    @property
    def union(self) -> np.ndarray:
        """(H, W) bool: pixels marked by any instance."""
        if self.n_instances == 0:
            return np.zeros(self.instances.shape[1:], bool)
        return self.instances.any(axis=0)


def read_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the ``.npy`` header, without reading the data."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported .npy version {version}")
    except OSError as exc:
        raise MaskError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})",
                        path, "unreadable_mask") from exc
    except (ValueError, SyntaxError) as exc:  # numpy's message quotes the file's bytes
        raise MaskError(f"{path}: not a readable .npy file (no valid .npy header)", path,
                        "unreadable_mask") from exc
    return tuple(int(s) for s in shape), dtype


def load(path: str | Path, allow_pickle: bool = False) -> np.ndarray:
    """Load a ``.npy`` file, refusing object arrays (unless allowed) and huge headers.

    When ``allow_pickle`` is true an object array is unpickled, which runs whatever
    code the file holds: only for files you trust. Its content must then be a
    numeric array, or a sequence of equally shaped numeric arrays (one per instance).
    """
    return _load(Path(path), allow_pickle)[0]


def _load(path: Path, allow_pickle: bool) -> tuple[np.ndarray, bool]:
    """:func:`load`, also saying whether the file was unpickled (one header read)."""
    trace.record("mask", path)
    shape, dtype = read_header(path)
    if dtype.hasobject and not allow_pickle:
        raise MaskError(
            f"{path}: holds Python objects (dtype {dtype}), which only pickle can load; "
            "refused, since unpickling a file can run code. Re-save it as a numeric array "
            "(or set allow_pickle: true if you trust the file).",
            path, "pickled_mask",
        )
    if int(np.prod(shape, dtype=np.int64)) > MAX_ELEMENTS:
        raise MaskError(f"{path}: header claims shape {shape}; refused", path, "mask_too_large")
    try:
        array = np.load(path, allow_pickle=bool(dtype.hasobject and allow_pickle))
    except (OSError, ValueError, EOFError) as exc:  # no message: it may quote the file
        raise MaskError(f"{path}: cannot load the array the header describes "
                        f"({type(exc).__name__}; the file may be truncated)", path,
                        "unreadable_mask") from exc
    if array.dtype.hasobject:
        return _numeric_from_objects(array, path), True
    return array, False


def _numeric_from_objects(array: np.ndarray, path: Path) -> np.ndarray:
    """The numeric array inside an unpickled object array, or a MaskError."""
    items = [array.item()] if array.ndim == 0 else list(array)
    try:
        parts = [np.asarray(x) for x in items]
        out = parts[0] if len(parts) == 1 else np.stack(parts)
    except (ValueError, TypeError, IndexError) as exc:
        raise MaskError(f"{path}: unpickled content is not a numeric array ({exc})",
                        path, "bad_mask_dtype") from exc
    if out.dtype.hasobject:
        raise MaskError(f"{path}: unpickled content is not a numeric array", path, "bad_mask_dtype")
    return out


def _to_binary(a: np.ndarray, path: Path, notes: list[str]) -> np.ndarray:
    if a.dtype == bool:
        notes.append("bool_values")
        return a
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all() or (a < 0).any():
            raise MaskError(f"{path}: float mask holds NaN, infinite or negative values",
                            path, "bad_mask_values")
        notes.append("float_values")
        return a > 0.5
    if not np.issubdtype(a.dtype, np.integer):
        raise MaskError(f"{path}: mask dtype {a.dtype} is not bool, integer or float",
                        path, "bad_mask_dtype")
    if a.size and np.issubdtype(a.dtype, np.signedinteger) and a.min() < 0:
        raise MaskError(f"{path}: mask holds negative values", path, "bad_mask_values")
    hi = int(a.max()) if a.size else 0
    if hi > 1:
        values = np.unique(a)
        notes.append("values_0_255" if set(values.tolist()) <= {0, 255} else "nonbinary_values")
    elif a.dtype.itemsize == 1:  # bytes of 0 and 1 (the competition's uint8) are bools
        return a.view(bool)
    return a > 0


def normalize(
    raw: np.ndarray, image_hw: tuple[int, int] | None = None, path: str | Path = "<array>"
) -> Mask:
    """Apply :data:`RULES` to a loaded array and return a :class:`Mask`.

    Parameters
    ----------
    raw : ndarray
        The array as stored.
    image_hw : (int, int), optional
        Height and width of the image the mask belongs to. Used to recognise a
        channel-last layout and to resize a mask of a different size.
    path : str or Path
        Named in error messages.

    Raises
    ------
    MaskError
        When the array cannot be read as instance masks (see :data:`REFUSALS`).

    Examples
    --------
    >>> m = normalize(np.array([[0, 255], [0, 0]], np.uint8))
    >>> m.instances.shape, m.notes
    ((1, 2, 2), ['2d_single_instance', 'values_0_255'])
    """
    path = Path(path)
    notes: list[str] = []
    a = np.asarray(raw)
    raw_shape, raw_dtype = tuple(a.shape), str(a.dtype)
    if a.ndim == 2:
        notes.append("2d_single_instance")
        a = a[None]
    elif a.ndim == 3:
        if image_hw is not None and a.shape[1:] != tuple(image_hw) and a.shape[:2] == tuple(image_hw):
            notes.append("channel_last")
            a = np.moveaxis(a, 2, 0)
    else:
        raise MaskError(
            f"{path}: mask has shape {raw_shape}; expected (N, H, W) (or (H, W) for one instance)",
            path, "bad_mask_shape",
        )
    if min(a.shape[1:], default=0) == 0:
        raise MaskError(f"{path}: mask has an empty dimension {raw_shape}", path, "bad_mask_shape")
    binary = _to_binary(a, path, notes)
    if image_hw is not None and binary.shape[1:] != tuple(image_hw):
        notes.append("resized_to_image")
        binary = _resize_nearest(binary, image_hw)
    return Mask(np.ascontiguousarray(binary), raw_shape, raw_dtype, notes)


def _resize_nearest(stack: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an (N, h, w) bool stack to (N, H, W)."""
    n, h, w = stack.shape
    rows = (np.arange(hw[0]) * h // hw[0]).astype(np.intp)
    cols = (np.arange(hw[1]) * w // hw[1]).astype(np.intp)
    return stack[:, rows[:, None], cols[None, :]]


def load_mask(
    path: str | Path, image_hw: tuple[int, int] | None = None, allow_pickle: bool = False
) -> Mask:
    """Load a mask file safely and normalise it (see :func:`normalize`).

    An object array loaded because ``allow_pickle`` is set gets the note
    ``unpickled``, so the report can say which files ran through pickle.
    """
    array, unpickled = _load(Path(path), allow_pickle)
    mask = normalize(array, image_hw, path)
    if unpickled:
        mask.notes.insert(0, "unpickled")
    return mask
