"""A hostile dataset: a clean demo dataset plus every kind of bad file seen in dumps.

:func:`add_hostile_files` writes the bad files into a dataset folder and returns what
the suite must say about each: ``{relative path: expected problems.kind}`` (``None``
for files that must be analysed as usual despite being unusual). Everything is
generated here; no binary fixture is stored.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

#: The file the planted pickle creates if it is ever unpickled.
PICKLE_MARKER = "pickle-ran.txt"


class PlantedPickle:
    """Unpickling this object creates a file: proof that pickle ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "unpickled"))


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(tag + data))
        return struct.pack(">I", len(data)) + tag + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _mask(h: int, w: int) -> np.ndarray:
    m = np.zeros((1, h, w), np.uint8)
    m[0, h // 4 : h // 2, w // 4 : w // 2] = 1
    return m


def add_hostile_files(root: Path, marker_dir: Path) -> dict[str, str | None]:
    """Write every bad file into ``root``; return ``{path: expected kind or None}``."""
    forged, authentic, masks = (root / "train_images/forged", root / "train_images/authentic",
                                root / "train_masks")
    expected: dict[str, str | None] = {}

    def image(name: str, array: np.ndarray | None = None, *, mode=None, data: bytes | None = None,
              folder: Path = forged, kind: str | None = None) -> None:
        path = folder / name
        if data is not None:
            path.write_bytes(data)
        else:
            Image.fromarray(array, mode=mode).save(path)
        expected[path.relative_to(root).as_posix()] = kind

    def mask(case: str, array, *, kind: str | None = None, allow_pickle=False) -> None:
        path = masks / f"{case}.npy"
        np.save(path, array, allow_pickle=allow_pickle)
        expected[path.relative_to(root).as_posix()] = kind

    def good_pair(case: str, h: int = 40, w: int = 50) -> None:
        image(f"{case}.png", _texture(h, w, int(case)))
        expected.pop(f"train_images/forged/{case}.png")

    # images
    good = _texture(60, 80, 1)
    Image.fromarray(good).save(forged / "90001.png")
    (forged / "90001.png").write_bytes((forged / "90001.png").read_bytes()[:-400])
    expected["train_images/forged/90001.png"] = "truncated_image"
    mask("90001", _mask(60, 80))
    image("90002.png", data=b"", folder=authentic, kind="empty_file")
    image("90003.png", data=b"this is a text file, not a PNG\n", kind="not_an_image")
    mask("90003", _mask(8, 8))
    image("90004.png", data=png_header_only(30000, 30000), kind="too_many_pixels")
    mask("90004", _mask(8, 8))
    image("90005.png", (np.arange(40 * 50, dtype=np.uint16).reshape(40, 50) * 30))  # 16-bit
    mask("90005", _mask(40, 50))
    Image.fromarray(_texture(40, 50, 6)).convert("P").save(forged / "90006.png")  # palette
    mask("90006", _mask(40, 50))
    la = np.dstack([_texture(40, 50, 7)[:, :, 0], np.full((40, 50), 200, np.uint8)])
    image("90007.png", la, mode="LA")
    mask("90007", _mask(40, 50))
    image("12 (copy).png", _texture(40, 50, 12))
    mask("12 (copy)", _mask(40, 50))
    image("éèñ-ü.png", _texture(40, 50, 13))
    mask("éèñ-ü", _mask(40, 50))
    # stray files
    for path in (forged / ".DS_Store", root / "README.txt", root / "train_images/Thumbs.db"):
        path.write_bytes(b"\0\1stray")
        expected[path.relative_to(root).as_posix()] = "stray_file"
    # masks
    good_pair("90008")
    expected["train_images/forged/90008.png"] = "missing_mask"
    mask("90009", _mask(8, 8), kind="orphan_mask")
    good_pair("90010")
    (masks / "90010.npy").write_text("not numpy\n")
    expected["train_masks/90010.npy"] = "unreadable_mask"
    good_pair("90011")
    mask("90011", np.array([PlantedPickle(marker_dir / PICKLE_MARKER)], dtype=object),
         kind="pickled_mask", allow_pickle=True)
    for case, array, kind in [
        ("90012", _mask(40, 50)[0], "mask_normalized"),  # 2-D
        ("90013", _mask(40, 50) * 255, "mask_normalized"),  # 0/255
        ("90014", _mask(40, 50).astype(bool), "mask_normalized"),
        ("90015", _mask(40, 50).astype(np.float32), "mask_normalized"),
        ("90016", np.full((1, 40, 50), np.nan, np.float32), "bad_mask_values"),
        ("90017", np.moveaxis(np.concatenate([_mask(40, 50)] * 2), 0, 2), "mask_normalized"),
        ("90018", _mask(40, 50)[None], "bad_mask_shape"),  # 4-D
        ("90019", _mask(20, 25), "mask_normalized"),  # half the image size
        ("90020", np.zeros((1, 40, 50), np.uint8), "empty_mask"),
    ]:
        good_pair(case)
        mask(case, array, kind=kind)
    _add_second_attack(root, expected, image, mask)
    return expected


def _add_second_attack(root: Path, expected: dict, image, mask) -> None:
    """Files of a later attack: odd names, links and special files."""
    forged, masks = root / "train_images/forged", root / "train_masks"
    # a name that is not valid UTF-8: reported with its bytes escaped, never opened
    raw = os.fsdecode(b"\xff\xfe90030.png")
    Image.fromarray(_texture(40, 50, 30)).save(forged / raw)
    expected["train_images/forged/\\xff\\xfe90030.png"] = "bad_file_name"
    # links: to nothing, to a device, out of the data folder; a FIFO
    (forged / "90031.png").symlink_to(root / "no-such-file.png")
    expected["train_images/forged/90031.png"] = "broken_link"
    (forged / "90032.png").symlink_to("/dev/zero")
    expected["train_images/forged/90032.png"] = "link_outside_data"
    (masks / "90034.npy").symlink_to("/etc/passwd")
    expected["train_masks/90034.npy"] = "link_outside_data"
    os.mkfifo(forged / "90033.png")
    expected["train_images/forged/90033.png"] = "not_a_regular_file"
    # one case_id twice, the extensions differing in case; an extension in mixed case
    image("90037.png", _texture(40, 50, 37))
    image("90037.PNG", _texture(40, 50, 38), kind="duplicate_case_id")
    mask("90037", _mask(40, 50))
    image("90038.Png", _texture(40, 50, 39))
    mask("90038", _mask(40, 50))
    # names that matplotlib would read as mathematics
    for case in ("c$\\fo{$4263", "$x$"):
        image(f"{case}.png", _texture(40, 50, 40))
        mask(case, _mask(40, 50))


def make_flat_folder(root: Path, n: int = 4) -> list[str]:
    """A clean flat folder of images: ``n`` PNGs at the top and one in a subfolder;
    returns their case_ids."""
    (root / "panels").mkdir(parents=True, exist_ok=True)
    names = [f"fig{k}" for k in range(1, n + 1)] + ["panels/fig1"]
    for k, name in enumerate(names):
        Image.fromarray(_texture(40 + 4 * k, 50, 100 + k)).save(root / f"{name}.png")
    return names


def add_hostile_flat_files(root: Path) -> dict[str, str | None]:
    """Every bad file of :func:`add_hostile_files` that a flat folder of images can hold
    (no mask, no label), at its top and in a subfolder; returns ``{path: expected kind}``."""
    expected: dict[str, str | None] = {}
    sub = root / "panels"
    sub.mkdir(exist_ok=True)

    def put(rel: str, kind: str | None, data: bytes | None = None, array=None) -> None:
        path = root / rel
        if data is not None:
            path.write_bytes(data)
        else:
            Image.fromarray(array).save(path)
        expected[rel] = kind

    put("empty.png", "empty_file", data=b"")
    put("text.png", "not_an_image", data=b"this is a text file, not a PNG\n")
    put("bomb.png", "too_many_pixels", data=png_header_only(30000, 30000))
    Image.fromarray(_texture(30, 40, 3)).save(sub / "photo.png", format="JPEG")
    expected["panels/photo.png"] = "wrong_format"
    good = root / "cut.png"
    Image.fromarray(_texture(60, 80, 4)).save(good)
    good.write_bytes(good.read_bytes()[:-400])
    expected["cut.png"] = "truncated_image"
    put("panels/fig1.PNG", "duplicate_case_id", array=_texture(40, 50, 5))
    put("scan.jpg", "not_an_image", data=b"\xff\xd8\xff")
    put("panels/gel.tif", None, array=_texture(48, 64, 6))  # a TIFF: analysed
    put("blot.jpeg", None, array=_texture(40, 56, 7))  # a JPEG: analysed
    Image.fromarray(_texture(30, 40, 8)).save(sub / "fake.tif", format="PNG")
    expected["panels/fake.tif"] = "wrong_format"
    turned = Image.Exif()
    turned[0x0112] = 8  # viewers turn it; it is analysed as stored, with a note
    Image.fromarray(_texture(36, 52, 9)).save(root / "phone.jpg", format="JPEG", exif=turned)
    expected["phone.jpg"] = "exif_orientation"
    put("README.txt", "stray_file", data=b"figures of paper 12\n")
    put(".DS_Store", "stray_file", data=b"\0\1stray")
    put("panels/._fig1.png", "stray_file", data=b"\0\5\26\7")
    raw = os.fsdecode(b"\xff\xfe7.png")
    Image.fromarray(_texture(20, 20, 6)).save(root / raw)
    expected["\\xff\\xfe7.png"] = "bad_file_name"
    (root / "gone.png").symlink_to(root / "no-such-file.png")
    expected["gone.png"] = "broken_link"
    (sub / "zero.png").symlink_to("/dev/zero")
    expected["panels/zero.png"] = "link_outside_data"
    os.mkfifo(sub / "fifo.png")
    expected["panels/fifo.png"] = "not_a_regular_file"
    (sub / "loop").symlink_to(root)
    expected["panels/loop"] = "stray_folder"
    (root / ".ipynb_checkpoints").mkdir()
    Image.fromarray(_texture(20, 20, 7)).save(root / ".ipynb_checkpoints" / "fig1.png")
    expected[".ipynb_checkpoints"] = "stray_folder"
    for case in ("12 (copy)", "éèñ-ü", "$x$"):
        put(f"{case}.png", None, array=_texture(40, 50, 8))
    return expected
