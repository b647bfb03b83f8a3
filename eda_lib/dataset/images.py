"""Safe image decoding.

Every image is opened with Pillow, its header checked (pixel count against
``max_image_pixels``, so a decompression bomb is refused before any pixel is
decoded), then decoded once. Failures become :class:`~eda_lib.errors.ImageError`
with a stable ``kind``.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .. import trace
from ..errors import ImageError
from .index import IMAGE_FORMATS


@dataclass(frozen=True)
class Decoded:
    """A decoded image: its pixels as stored, and what the file said about them."""

    pixels: np.ndarray  # (H, W) or (H, W, C), dtype as stored (uint8 or uint16)
    mode: str  # Pillow mode of the file: "RGB", "RGBA", "L", "P", "I;16", ...
    width: int
    height: int
    orientation: int = 1  # EXIF orientation (1: as stored); never applied to the pixels
    bits: int = 8  # bits the values use (see used_bits); 8 bits of them are analysed

    @property
    def rgb(self) -> np.ndarray:
        """The image as (H, W, 3) uint8 RGB: alpha dropped, gray replicated, 16-bit values
        reduced to the top 8 of the :attr:`bits` they use."""
        return to_rgb(to_uint8(self.pixels, self.bits))

    @property
    def uint8(self) -> np.ndarray:
        """The pixels as stored, 16-bit values reduced as in :attr:`rgb`."""
        return to_uint8(self.pixels, self.bits)


#: The array layouts of an 8-bit image, by number of bands.
LAYOUTS = {1: "(H, W) uint8 array (gray)", 2: "(H, W, 2) uint8 array (gray + alpha)",
           3: "(H, W, 3) uint8 array (RGB)", 4: "(H, W, 4) uint8 array (RGBA)"}


def check_pixels(pixels, what: str = "pixels", bands: Collection[int] = (1, 2, 3, 4)
                 ) -> np.ndarray:
    """``pixels`` as a C-contiguous uint8 image array, or an error that says how to get one.

    The one validator of image arrays in the package: every function that takes pixels
    from a caller checks them here.

    Parameters
    ----------
    pixels : numpy.ndarray
        The array to check.
    what : str
        Its name in the message, e.g. ``"rgb"`` or ``"gray levels"``.
    bands : collection of int
        Band counts accepted, among :data:`LAYOUTS`: 1 is (H, W), the others (H, W, bands).

    Raises
    ------
    ImageError
        ``kind`` ``image_dtype`` when the values are not uint8, ``image_shape`` when the
        array has another layout or no pixel.

    Examples
    --------
    >>> check_pixels(np.zeros((2, 3), np.uint8), bands=(1,)).shape
    (2, 3)
    """
    a = pixels if isinstance(pixels, np.ndarray) else None
    expected = " or ".join(LAYOUTS[b] for b in sorted(bands))
    if a is None:
        raise ImageError(f"{what} must be an {expected}, found a {type(pixels).__name__}",
                         kind="image_shape")
    found = f"found a {a.dtype} array of shape {a.shape}"
    if a.dtype != np.uint8:
        raise ImageError(
            f"{what} must be an {expected}, {found}: "
            + ("reduce 16-bit images to 8 bits first (eda_lib.dataset.images.to_uint8)"
               if a.dtype == np.uint16 else
               "convert it to uint8 first (a float image in 0..1 times 255, rounded)"),
            kind="image_dtype")
    n = 1 if a.ndim == 2 else a.shape[2] if a.ndim == 3 else 0
    if n not in bands or 0 in a.shape:
        fix = ("convert it with eda_lib.measure.health.to_gray" if tuple(bands) == (1,) else
               "convert it with eda_lib.dataset.images.to_rgb (gray replicated, alpha dropped)")
        raise ImageError(f"{what} must be an {expected} with H, W >= 1, {found}: {fix}",
                         kind="image_shape")
    return np.ascontiguousarray(a)


def used_bits(pixels: np.ndarray) -> int:
    """How many bits the values of 16-bit ``pixels`` use, at least 8 (8 for uint8).

    Cameras and microscopes store 10-, 12- or 14-bit data in 16-bit files: their values
    use the low bits only, and their top 8 of 16 bits would be nearly black.

    Examples
    --------
    >>> used_bits(np.array([[0, 4095]], np.uint16))
    12
    """
    a = np.asarray(pixels)
    if a.dtype != np.uint16 or a.size == 0:
        return 8
    return max(8, int(a.max()).bit_length())


def to_uint8(pixels: np.ndarray, bits: int = 16) -> np.ndarray:
    """``pixels`` with 16-bit values reduced to the top 8 of the ``bits`` they use (16:
    of all 16 bits; values beyond ``bits`` bits are clipped); uint8 kept as is.

    Examples
    --------
    >>> to_uint8(np.array([[4095, 16]], np.uint16), bits=12).tolist()
    [[255, 1]]
    """
    a = np.asarray(pixels)
    if a.dtype == np.uint16:
        return np.minimum(a >> max(0, bits - 8), 255).astype(np.uint8)
    return a


def to_rgb(pixels: np.ndarray) -> np.ndarray:
    """Return ``pixels`` as (H, W, 3) uint8.

    Alpha is dropped (not composited: copy-move analysis compares stored colour
    values), single channels are replicated, and 16-bit values keep their top 8 bits
    (:attr:`Decoded.rgb` keeps the top 8 of the bits they use).

    Examples
    --------
    >>> to_rgb(np.zeros((2, 3), np.uint8)).shape
    (2, 3, 3)
    """
    a = to_uint8(pixels)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        return np.repeat(a[:, :, None], 3, axis=2)
    if a.shape[2] == 1:
        return np.repeat(a, 3, axis=2)
    if a.shape[2] == 2:  # gray + alpha
        return np.repeat(a[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(a[:, :, :3])


def _pixels(img: Image.Image) -> np.ndarray:
    """Array of a loaded Pillow image (palette expanded, 16-bit kept as uint16).

    32-bit whole numbers (mode ``I``) are clipped to 0..65535 and kept as uint16; 32-bit
    floats (mode ``F``) in 0..1 are scaled to 0..255 (uint8), others rounded and clipped
    to 0..65535 (uint16), NaN read as 0.
    """
    if img.mode == "P" or img.mode == "PA":
        img = img.convert("RGBA" if "transparency" in img.info or img.mode == "PA" else "RGB")
    elif img.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV", "F", "I"):
        if img.mode == "I":
            return np.clip(np.asarray(img), 0, 65535).astype(np.uint16)
        if img.mode == "F":
            f = np.nan_to_num(np.asarray(img, np.float64), nan=0.0, posinf=65535, neginf=0)
            if f.size and f.min() >= 0 and f.max() <= 1:
                return np.round(f * 255).astype(np.uint8)
            return np.round(np.clip(f, 0, 65535)).astype(np.uint16)
        img = img.convert("RGB" if img.mode in ("CMYK", "YCbCr", "LAB", "HSV") else "L")
    a = np.asarray(img)
    if img.mode.startswith("I;16"):
        a = a.astype(np.uint16)
    return a


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: What each EXIF orientation asks a viewer to do with the stored pixels (TIFF 6.0's
#: Orientation tag, which EXIF uses).
ORIENTATIONS = {2: "flip it left-right", 3: "turn it 180 degrees", 4: "flip it upside down",
                5: "transpose it", 6: "turn it 90 degrees clockwise", 7: "transverse it",
                8: "turn it 90 degrees counter-clockwise"}
#: Orientations that swap width and height, and those that only mirror (each its own
#: inverse, as a function on the stored array).
_SWAPS = (5, 6, 7, 8)
_MIRRORS = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1]}


def png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, or None if the file is not a PNG.

    Read from the first 24 bytes, so the pixel budget is checked before Pillow
    (whose own limit is fixed) sees the file.
    """
    with open(path, "rb") as fh:
        head = fh.read(24)
    if len(head) < 24 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _check_pixels(path: Path, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageError(
            f"{path}: header claims {width} x {height} = {width * height:,} pixels, more than "
            f"max_image_pixels = {max_pixels:,}; refused before decoding "
            "(raise max_image_pixels if the image is genuine)",
            path, "too_many_pixels",
        )


def open_checked(path: Path, max_pixels: int) -> Image.Image:
    """Open ``path`` with Pillow and check its header; no pixel is decoded."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror})", path, "unreadable_image") from exc
    if size == 0:
        raise ImageError(f"{path}: file is empty (0 bytes)", path, "empty_file")
    claimed = png_size(path)
    if claimed is not None:
        _check_pixels(path, *claimed, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageError(
            f"{path}: header claims too many pixels ({exc}); refused before decoding",
            path, "too_many_pixels",
        ) from exc
    except Exception as exc:  # Pillow raises many types for a file it cannot identify
        raise ImageError(
            f"{path}: not a readable image ({type(exc).__name__}: {exc})", path, "not_an_image"
        ) from exc
    try:
        _check_pixels(path, *img.size, max_pixels)
    except ImageError:
        img.close()
        raise
    # the format the name promises (index.IMAGE_FORMATS); any other suffix promises PNG
    expected = IMAGE_FORMATS.get(path.suffix.lower(), "PNG")
    if img.format != expected:
        img.close()
        raise ImageError(
            f"{path}: file is {img.format or 'an unknown format'}, not {expected} as its name "
            "says", path, "wrong_format",
        )
    return img


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of an image file from its header, or None when it cannot be read
    (permissions included): a PNG's first 24 bytes, another format's header through
    Pillow (no pixel decoded)."""
    try:
        size = png_size(path)
    except OSError:
        return None
    if size is not None or Path(path).suffix.lower() in ("", ".png"):
        return size
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                return img.size
    except Exception:  # any file Pillow cannot identify: no size, as for a broken PNG
        return None


def decode(path: str | Path, max_pixels: int = 100_000_000) -> Decoded:
    """Decode an image file once, after checking its header.

    Raises
    ------
    ImageError
        ``kind`` is one of ``empty_file``, ``not_an_image``, ``wrong_format``,
        ``too_many_pixels``, ``truncated_image`` or ``unreadable_image`` (among them a
        TIFF whose orientation tag swaps width and height, which Pillow cannot read as
        stored).

    The pixels are those stored in the file, whatever orientation its EXIF tag asks a
    viewer for (:attr:`Decoded.orientation` keeps the tag); of a TIFF of several pages,
    the first.
    """
    path = Path(path)
    trace.record("image", path)
    img = open_checked(path, max_pixels)
    try:
        with img:
            # read before loading: Pillow turns a TIFF by its tag while loading, then
            # drops the tag (the other formats are loaded as stored, tag kept)
            orientation = _orientation(img)
            if img.format == "TIFF" and orientation in _SWAPS:
                raise ImageError(
                    f"{path}: a TIFF whose orientation tag ({orientation}) asks viewers to "
                    f"{ORIENTATIONS[orientation]}; the decoder turns such a TIFF while reading "
                    "it and misplaces its pixels. Save it again without the tag, or as PNG",
                    path, "unreadable_image")
            img.load()
            mode = img.mode
            pixels = _pixels(img)
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
        text = str(exc)
        kind = "truncated_image" if "truncat" in text.lower() else "unreadable_image"
        raise ImageError(f"{path}: cannot decode ({text})", path, kind) from exc
    if img.format == "TIFF" and orientation in _MIRRORS:  # turned while loading: undone
        pixels = np.ascontiguousarray(_MIRRORS[orientation](pixels))
    h, w = pixels.shape[:2]
    return Decoded(pixels=pixels, mode=mode, width=w, height=h, orientation=orientation,
                   bits=used_bits(pixels))


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation a file declares, 1 when none (or one out of range)."""
    try:
        value = img.getexif().get(0x0112, 1)
    except Exception:  # a damaged EXIF block says nothing about the pixels
        return 1
    return value if isinstance(value, int) and value in ORIENTATIONS else 1
