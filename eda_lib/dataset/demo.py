"""A deterministic stand-in for the competition data.

The real images cannot be shipped, so :func:`generate` writes a small dataset with the
same layout and the same quirks (see ``DATASET.md``): forged images with authentic
"twins" under the same case_id, RGBA twins of RGB forgeries, channel-first ``(N, H, W)``
masks that mark the pasted copy and usually its source, very wide blot strips, and a few
copies of flat background that no copy-move search can decide. It returns the ground truth
as a plain dict, so tests and notebooks can check what the loaders and detectors report.

The images are painted, not photographed: small painters draw fluorescence micrographs,
histology, western blots, charts and compound figures. They are meant to look plausible
to the analysis, not to a biologist.

Randomness
----------
One generator seeded with ``seed`` draws the case_ids and shares the per-image attributes
(twin or not, mode, number of instances) out by quota, so that even small datasets follow
the real proportions. Everything inside one image comes from its own generator,
``np.random.default_rng([seed, split_code, index])``, so one image never depends on how
another one was drawn. PNG files are written by Pillow at zlib level ``png_level`` and
without metadata: the same arguments give byte-identical files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from ..errors import ConfigError, DataError
from ..geometry import TRANSFORMS

__all__ = ["MIN_SIDE", "PAINTERS", "PNG_LEVEL", "TEXTURE_STD", "generate",
           "paint_blot", "paint_chart", "paint_compound", "paint_fluorescence",
           "paint_histology"]



_SWAPS_AXES = frozenset({"rot90", "rot270", "transpose", "anti_transpose"})

# --------------------------------------------------------------------------- constants

TEXTURE_STD = 1.0
"""A source region is ``textured`` when the standard deviation of its gray levels
(0..255) is at least this. Below it the region is blank (flat, or background clipped to
black or white): its copy cannot be told apart from the background it was pasted on."""

MIN_SIDE = 48
"""The shortest image side ``size_scale`` may produce, in pixels."""

PNG_LEVEL = 1
"""Default zlib level of the written PNGs, OpenCV's default: quick to write. Level 6
(Pillow's and zlib's default) writes the real size mix about 9 % smaller, taking two to
five times as long; the pixels are the same."""
_WORK_SIDE = 640  # painters draw smooth structure at most this large, then upsample

# Height x width of the common real sizes, with rough shares; "other", "wide" and "tall"
# are drawn at random (very wide blot strips, tall columns of panels).
_SIZE_WEIGHTS = {
    (666, 1000): 0.12, (256, 256): 0.09, (1200, 1600): 0.06, (520, 696): 0.11,
    (256, 320): 0.07, (512, 512): 0.09, (360, 360): 0.05, (1912, 2568): 0.03,
    (2592, 3888): 0.02, "other": 0.26, "wide": 0.07, "tall": 0.03,
}
_MODE_WEIGHTS = {"RGB": 1935, "RGBA": 647, "L": 169}           # forged images
_INSTANCE_WEIGHTS = {1: 1869, 2: 701, 3: 174, 4: 5, 5: 2}      # mask channels
_TWIN_SHARE = 2377 / 2751          # forged images with an authentic twin
_RGBA_TWIN_SHARE = 0.09            # twin pairs with an RGBA authentic and an RGB forgery
_CONTENT_WEIGHTS = {"fluorescence": 0.25, "histology": 0.15, "blot": 0.15, "chart": 0.10,
                    "compound": 0.35}
_ID_RANGE = (10, 65533)            # case_ids are drawn from range(*_ID_RANGE)
_SPLIT_CODES = {"train": 0, "supplemental": 1, "test": 2}
_IMAGE_DIRS = {"train": "train_images/forged", "supplemental": "supplemental_images",
               "test": "test_images"}
_MASK_DIRS = {"train": "train_masks", "supplemental": "supplemental_masks"}
_AUTHENTIC_DIR = "train_images/authentic"

# How often each variant of a copy-move occurs, as shares of all instances.
_IDENTITY_SHARE = 0.3              # the other seven transforms share the rest equally
_TRANSFORM_SHARES = [_IDENTITY_SHARE] + [(1 - _IDENTITY_SHARE) / 7] * 7  # in TRANSFORMS order
_SCALED_SHARE = 0.10
_BRIGHTNESS_SHARE = 0.10
_MARKS_SOURCE_SHARE = 0.70
_FLAT_SHARE = 0.12                 # look for a blank source; ~5 % of instances end untextured
_SOURCE_STD = 12.0                 # other sources preferably have at least this gray-level std
_AREA_MEDIAN, _AREA_RANGE = 0.015, (0.005, 0.08)   # shape area as a fraction of H*W
_GAP = 2                           # free pixels between boxes of different regions


# --------------------------------------------------------------------------- public API

def generate(root: str | Path, forged: int = 60, seed: int = 0, *, size_scale: float = 0.35,
             supplemental: int = 2, test: int = 1, png_level: int = PNG_LEVEL,
             progress: bool = False) -> dict:
    """Write the dataset under root and return the ground truth (JSON-serialisable dict).

    Parameters
    ----------
    root : str or Path
        Folder to write into. It must not exist yet or be empty; nothing is ever deleted.
    forged : int
        Number of forged training images; about 86 % of them get an authentic twin.
    seed : int
        Seed of every random draw. Same arguments, same bytes.
    size_scale : float
        Factor applied to the real image sizes; images keep their aspect ratio and are
        enlarged where needed so that the shorter side is at least :data:`MIN_SIDE`.
        ``1.0`` gives the real size mix, up to 2592 x 3888 pixels.
    supplemental : int
        Number of forged images (and masks) in ``supplemental_images/`` and
        ``supplemental_masks/``.
    test : int
        Number of images in ``test_images/``; all are listed as ``authentic`` in
        ``sample_submission.csv`` (they contain no forgery).
    png_level : int
        zlib compression level of the PNG files, 0 (none) to 9. It changes the files'
        bytes and how fast they decode, never their pixels.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        ``params`` (the arguments above but ``progress``), and three lists of records:

        - ``images``: ``case_id``, ``split`` (train, test, supplemental), ``label``
          (authentic, forged, or "" for test), ``path`` (relative to root, POSIX),
          ``width``, ``height``, ``mode`` (RGB, RGBA, L), ``file_bytes``, ``content``
          (a key of :data:`PAINTERS`).
        - ``masks``: ``case_id``, ``split``, ``path``, ``n_instances``, ``union_px``,
          ``height``, ``width``.
        - ``instances``: ``case_id``, ``split``, ``instance`` (1-based mask channel),
          ``area_px`` (pixels of the channel), ``source_box`` and ``target_box``
          (``[x1, y1, x2, y2]``, inclusive, tight around the marked shape), ``transform``
          (a key of :data:`TRANSFORMS`), ``scale``, ``dx`` and ``dy`` (target box corner
          minus source box corner), ``marks_source`` (the channel marks the source too),
          ``textured`` (see :data:`TEXTURE_STD`), ``brightness_changed``.

        case_ids are strings; lists are sorted by split, label and numeric case_id
        (instances then by channel).

    Raises
    ------
    DataError
        root exists and is not an empty folder.
    ConfigError
        A count or the scale is out of range.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     truth = generate(Path(folder) / "demo", forged=3, size_scale=0.1)
    >>> sorted(truth)
    ['images', 'instances', 'masks', 'params']
    >>> [(r["label"], r["mode"]) for r in truth["images"] if r["split"] == "train"][2:4]
    [('authentic', 'RGBA'), ('forged', 'RGB')]
    """
    _check_params(forged, size_scale, supplemental, test, png_level)
    root = _prepare_root(Path(root))
    cases = _plan_cases(np.random.default_rng(seed), forged, supplemental, test)
    truth: dict = {
        "params": {"forged": forged, "seed": seed, "size_scale": size_scale,
                   "supplemental": supplemental, "test": test, "png_level": png_level},
        "images": [], "masks": [], "instances": [],
    }
    for case in tqdm(cases, desc="demo dataset", unit="case", disable=not progress):
        _write_case(root, case, seed, size_scale, png_level, truth)
    _write_submission(root, [c.case_id for c in cases if c.split == "test"])
    truth["images"].sort(key=lambda r: (r["split"], r["label"], int(r["case_id"])))
    truth["masks"].sort(key=lambda r: (r["split"], int(r["case_id"])))
    truth["instances"].sort(key=lambda r: (r["split"], int(r["case_id"]), r["instance"]))
    return truth


# --------------------------------------------------------------------------- planning

@dataclass(frozen=True)
class _Case:
    """What the planner decided about one image before any pixel is drawn."""

    split: str
    index: int                 # position within its split; seeds the image's generator
    case_id: str
    mode: str                  # of the forged (or test) image
    twin_mode: str | None      # mode of the authentic twin, None when there is none
    n_instances: int           # 0 for test images


def _check_params(forged: int, size_scale: float, supplemental: int, test: int,
                  png_level: int) -> None:
    """Refuse counts and scales that cannot make a dataset."""
    for key, value, low in (("forged", forged, 1), ("supplemental", supplemental, 0),
                            ("test", test, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"{key} must be an integer >= {low}, got {value!r}.", key=key)
    if forged + supplemental + test > _ID_RANGE[1] - _ID_RANGE[0]:
        raise ConfigError(f"forged + supplemental + test = {forged + supplemental + test} "
                          f"exceeds the {_ID_RANGE[1] - _ID_RANGE[0]} case_ids available; "
                          "ask for fewer images.", key="forged")
    if isinstance(size_scale, bool) or not isinstance(size_scale, (int, float)) \
            or not size_scale > 0:
        raise ConfigError(f"size_scale must be a number > 0, got {size_scale!r}.",
                          key="size_scale")
    if isinstance(png_level, bool) or not isinstance(png_level, (int, np.integer)) \
            or not 0 <= png_level <= 9:
        raise ConfigError(f"png_level must be an integer from 0 to 9 (zlib's levels), got "
                          f"{png_level!r}.", key="png_level")


def _prepare_root(root: Path) -> Path:
    """Create root, or accept it when it is an empty folder."""
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        found = "a file" if not root.is_dir() else "a folder that is not empty"
        raise DataError(f"Cannot write the demo dataset to {root}: it is {found}. Pick a new "
                        "or empty folder; the generator never deletes or overwrites files.",
                        path=root, kind="root_not_empty")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"Cannot write the demo dataset to {root}: {exc.strerror}. Pick a "
                        "new or empty folder in a place you can write to.", path=root,
                        kind="root_not_writable") from exc
    return root


def _allocate(rng: np.random.Generator, n: int, weights: dict) -> list:
    """Share n draws among the keys of weights by largest remainder, in random order."""
    keys = list(weights)
    share = np.array([weights[k] for k in keys], dtype=float)
    expected = n * share / share.sum()
    counts = np.floor(expected).astype(int)
    remainder = expected - counts
    order = np.lexsort((rng.random(len(keys)), -remainder))  # ties broken at random
    counts[order[: n - counts.sum()]] += 1
    draws = [k for k, c in zip(keys, counts) for _ in range(c)]
    return [draws[i] for i in rng.permutation(n)]


def _plan_cases(rng: np.random.Generator, forged: int, supplemental: int,
                test: int) -> list[_Case]:
    """Draw case_ids and share twins, modes and instance counts out by quota."""
    ids = iter(str(i) for i in rng.permutation(np.arange(*_ID_RANGE)))
    modes = _allocate(rng, forged, _MODE_WEIGHTS)
    counts = _allocate(rng, forged, _INSTANCE_WEIGHTS)
    twin_modes = _twin_modes(rng, modes)
    cases = [_Case("train", k, next(ids), modes[k], twin_modes[k], counts[k])
             for k in range(forged)]
    modes = _allocate(rng, supplemental, _MODE_WEIGHTS)
    counts = _allocate(rng, supplemental, _INSTANCE_WEIGHTS)
    cases += [_Case("supplemental", k, next(ids), modes[k], None, counts[k])
              for k in range(supplemental)]
    modes = _allocate(rng, test, _MODE_WEIGHTS)
    cases += [_Case("test", k, next(ids), modes[k], None, 0) for k in range(test)]
    return cases


def _twin_modes(rng: np.random.Generator, modes: list[str]) -> list[str | None]:
    """Mode of the authentic twin of each forged image, None for those without one.

    Twins share the mode of their forgery, except that a few RGB forgeries get an RGBA
    twin (``_RGBA_TWIN_SHARE`` of all pairs, as far as there are RGB forgeries).
    """
    has_twin = _allocate(rng, len(modes), {True: _TWIN_SHARE, False: 1 - _TWIN_SHARE})
    twin_modes = [mode if twin else None for mode, twin in zip(modes, has_twin)]
    rgb_pairs = [k for k, mode in enumerate(twin_modes) if mode == "RGB"]
    n_rgba = min(len(rgb_pairs), round(_RGBA_TWIN_SHARE * sum(has_twin)))
    for i in rng.permutation(len(rgb_pairs))[:n_rgba]:
        twin_modes[rgb_pairs[i]] = "RGBA"
    return twin_modes


# --------------------------------------------------------------------------- writing

def _write_case(root: Path, case: _Case, seed: int, size_scale: float, png_level: int,
                truth: dict) -> None:
    """Paint, forge and write one case; append its records to truth."""
    rng = np.random.default_rng([seed, _SPLIT_CODES[case.split], case.index])
    height, width = _draw_size(rng, size_scale)
    content = _draw_content(rng, height, width)
    pixels = PAINTERS[content](rng, height, width)
    if case.mode == "L":
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)

    def write_image(folder: str, array: np.ndarray, mode: str, label: str) -> None:
        rel = f"{folder}/{case.case_id}.png"
        size = _save_png(root / rel, array, mode, png_level)
        truth["images"].append({"case_id": case.case_id, "split": case.split, "label": label,
                                "path": rel, "width": width, "height": height, "mode": mode,
                                "file_bytes": size, "content": content})

    if case.split == "test":
        write_image(_IMAGE_DIRS["test"], pixels, case.mode, "")
        return
    forgery, masks, instances = _forge(rng, pixels, case.n_instances)
    write_image(_IMAGE_DIRS[case.split], forgery, case.mode, "forged")
    if case.twin_mode is not None:
        write_image(_AUTHENTIC_DIR, pixels, case.twin_mode, "authentic")
    mask_rel = f"{_MASK_DIRS[case.split]}/{case.case_id}.npy"
    (root / mask_rel).parent.mkdir(parents=True, exist_ok=True)
    np.save(root / mask_rel, masks, allow_pickle=False)
    truth["masks"].append({"case_id": case.case_id, "split": case.split, "path": mask_rel,
                           "n_instances": int(masks.shape[0]),
                           "union_px": int(masks.any(axis=0).sum()),
                           "height": height, "width": width})
    for number, record in enumerate(instances, start=1):
        truth["instances"].append({"case_id": case.case_id, "split": case.split,
                                   "instance": number, **record})


def _save_png(path: Path, array: np.ndarray, mode: str, level: int) -> int:
    """Write array as an 8-bit PNG of the given mode; return the file size in bytes."""
    if mode == "RGBA":
        array = np.dstack([array, np.full(array.shape[:2], 255, np.uint8)])
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array)).save(path, format="PNG",
                                                      compress_level=int(level))
    return path.stat().st_size


def _write_submission(root: Path, test_ids: list[str]) -> None:
    """Write sample_submission.csv with every test image marked authentic."""
    rows = [f"{case_id},authentic\n" for case_id in sorted(test_ids, key=int)]
    (root / "sample_submission.csv").write_text("case_id,annotation\n" + "".join(rows),
                                                encoding="utf-8", newline="\n")


def _draw_size(rng: np.random.Generator, size_scale: float) -> tuple[int, int]:
    """Draw a real-looking (height, width) and scale it, keeping the aspect ratio."""
    keys = list(_SIZE_WEIGHTS)
    p = np.array(list(_SIZE_WEIGHTS.values()))
    kind = keys[rng.choice(len(keys), p=p / p.sum())]
    if kind == "other":
        height = int(rng.integers(150, 1200))
        width = int(height * np.exp(rng.uniform(np.log(0.7), np.log(2.0))))
    elif kind == "wide":
        height = int(rng.integers(64, 140))
        width = int(height * rng.uniform(5.0, 18.5))
    elif kind == "tall":
        width = int(rng.integers(150, 420))
        height = int(width / rng.uniform(0.12, 0.3))
    else:
        height, width = kind
    factor = max(size_scale, MIN_SIDE / min(height, width))
    return max(MIN_SIDE, round(height * factor)), max(MIN_SIDE, round(width * factor))


def _draw_content(rng: np.random.Generator, height: int, width: int) -> str:
    """Pick a painter; strips are blots, tall columns mostly stacks of panels."""
    aspect = width / height
    if aspect >= 4:
        weights = {"blot": 0.8, "compound": 0.2}
    elif aspect <= 0.3:
        weights = {"compound": 0.6, "blot": 0.4}
    else:
        weights = _CONTENT_WEIGHTS
    p = np.array(list(weights.values()))
    return list(weights)[rng.choice(len(weights), p=p / p.sum())]


# --------------------------------------------------------------------------- forgery

class _BoxStats:
    """Mean and standard deviation of any box of a gray image in constant time."""

    def __init__(self, gray: np.ndarray):
        g = gray.astype(np.float64)
        self._sum = np.pad(g.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        self._sq = np.pad((g * g).cumsum(0).cumsum(1), ((1, 0), (1, 0)))

    def std(self, boxes: np.ndarray) -> np.ndarray:
        """Standard deviation inside each inclusive ``[x1, y1, x2, y2]`` row of boxes."""
        x1, y1, x2, y2 = boxes.T
        n = (x2 - x1 + 1) * (y2 - y1 + 1)

        def total(table: np.ndarray) -> np.ndarray:
            return table[y2 + 1, x2 + 1] - table[y1, x2 + 1] - table[y2 + 1, x1] + table[y1, x1]

        mean = total(self._sum) / n
        return np.sqrt(np.maximum(total(self._sq) / n - mean * mean, 0.0))


def _forge(rng: np.random.Generator, pixels: np.ndarray,
           n_instances: int) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Apply n_instances copy-moves to a copy of pixels.

    Returns the forged array, the ``(N, H, W)`` uint8 mask and one record per channel.
    N is smaller than asked only when a region cannot be placed even after shrinking.
    """
    gray = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    stats = _BoxStats(gray)
    forged = pixels.copy()
    taken: list[list[int]] = []
    channels, records = [], []
    for _ in range(n_instances):
        made = _copy_move(rng, forged, gray, stats, taken)
        if made is None:
            break
        channel, record = made
        channels.append(channel)
        records.append(record)
        taken += [record["source_box"], record["target_box"]]
    return forged, np.stack(channels), records


def _copy_move(rng: np.random.Generator, forged: np.ndarray, gray: np.ndarray,
               stats: _BoxStats, taken: list[list[int]]) -> tuple[np.ndarray, dict] | None:
    """Draw one copy-move, paste it into forged in place, return its mask channel and record."""
    height, width = gray.shape
    transform = list(TRANSFORMS)[rng.choice(len(TRANSFORMS), p=_TRANSFORM_SHARES)]
    scale = round(float(rng.uniform(0.8, 1.25)), 2) if rng.random() < _SCALED_SHARE else 1.0
    brightness = bool(rng.random() < _BRIGHTNESS_SHARE)
    marks_source = bool(rng.random() < _MARKS_SOURCE_SHARE)
    want_flat = bool(rng.random() < _FLAT_SHARE)
    kind = ("rect", "ellipse", "polygon")[rng.integers(3)]
    fraction = float(np.clip(_AREA_MEDIAN * np.exp(rng.normal(0, 0.8)), *_AREA_RANGE))

    for _ in range(6):  # shrink until both regions fit beside what is already taken
        shape = _draw_shape(rng, kind, fraction * height * width, height, width,
                            transform in _SWAPS_AXES)
        target_shape, crop = _transform_shape(shape, transform, scale)
        source = _find_box(rng, shape.shape, gray.shape, taken, stats, want_flat)
        target = None if source is None else _find_box(rng, target_shape.shape, gray.shape,
                                                       taken + [source])
        if target is not None:
            break
        fraction *= 0.6
    else:
        return None

    sx, sy = source[:2]
    tx, ty = target[:2]
    (sh, sw), (th, tw) = shape.shape, target_shape.shape
    patch = np.ascontiguousarray(TRANSFORMS[transform](forged[sy:sy + sh, sx:sx + sw]))
    if scale != 1.0:
        patch = cv2.resize(patch, crop[2], interpolation=cv2.INTER_LINEAR)
    patch = patch[crop[0], crop[1]]
    if brightness:
        patch = _change_brightness(rng, patch, target_shape)
    forged[ty:ty + th, tx:tx + tw][target_shape] = patch[target_shape]

    channel = np.zeros((height, width), np.uint8)
    channel[ty:ty + th, tx:tx + tw][target_shape] = 1
    if marks_source:
        channel[sy:sy + sh, sx:sx + sw][shape] = 1
    source_std = float(gray[sy:sy + sh, sx:sx + sw][shape].std())
    record = {"area_px": int(channel.sum()), "target_box": target, "source_box": source,
              "transform": transform, "scale": scale, "dx": tx - sx, "dy": ty - sy,
              "marks_source": marks_source, "textured": source_std >= TEXTURE_STD,
              "brightness_changed": brightness}
    return channel, record


def _draw_shape(rng: np.random.Generator, kind: str, area: float, height: int, width: int,
                swaps_axes: bool) -> np.ndarray:
    """A boolean rectangle, ellipse or star-shaped polygon of about area pixels, tight."""
    fill = {"rect": 1.0, "ellipse": np.pi / 4, "polygon": 0.6}[kind]
    aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))  # width / height of the box
    bh, bw = np.sqrt(area / fill / aspect), np.sqrt(area / fill * aspect)
    # Source and copy must fit side by side; a transposed copy needs room the other way.
    max_h, max_w = (0.8 * min(height, width),) * 2 if swaps_axes else (0.8 * height, 0.8 * width)
    if height >= width:
        max_h = min(max_h, 0.45 * height)
    else:
        max_w = min(max_w, 0.45 * width)
    shrink = min(1.0, max_h / bh, max_w / bw)
    bh, bw = max(3, int(bh * shrink)), max(3, int(bw * shrink))
    if kind == "rect" or min(bh, bw) < 8:
        return np.ones((bh, bw), bool)
    if kind == "ellipse":
        y, x = np.ogrid[:bh, :bw]
        inside = ((x - (bw - 1) / 2) / (bw / 2)) ** 2 + ((y - (bh - 1) / 2) / (bh / 2)) ** 2 <= 1
        return _tight(inside)[0]
    corners = int(rng.integers(5, 10))
    angle = np.sort(rng.uniform(0, 2 * np.pi, corners))
    radius = rng.uniform(0.55, 1.0, corners)
    points = np.stack([(bw - 1) / 2 * (1 + radius * np.cos(angle)),
                       (bh - 1) / 2 * (1 + radius * np.sin(angle))], axis=1)
    canvas = np.zeros((bh, bw), np.uint8)
    cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 1)
    return _tight(canvas.astype(bool))[0]


def _tight(mask: np.ndarray) -> tuple[np.ndarray, tuple[slice, slice]]:
    """Crop a boolean mask to the bounding box of its pixels; also return the crop."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    crop = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    return mask[crop], crop


def _transform_shape(shape: np.ndarray, transform: str,
                     scale: float) -> tuple[np.ndarray, tuple[slice, slice, tuple[int, int]]]:
    """The pasted shape, and how to cut the transformed patch to it.

    Returns the tight target shape and ``(rows, cols, dsize)``: resize the transformed
    patch to ``dsize`` (cv2 order, width first) when scaling, then take ``[rows, cols]``.
    """
    moved = np.ascontiguousarray(TRANSFORMS[transform](shape)).astype(np.uint8)
    dsize = (max(1, round(moved.shape[1] * scale)), max(1, round(moved.shape[0] * scale)))
    if scale != 1.0:
        moved = cv2.resize(moved, dsize, interpolation=cv2.INTER_NEAREST)
    target, (rows, cols) = _tight(moved.astype(bool))
    return target, (rows, cols, dsize)



def _find_box(rng: np.random.Generator, size: tuple[int, int], image_shape: tuple[int, int],
              taken: list[list[int]], stats: _BoxStats | None = None, want_flat: bool = False,
              tries: int = 128) -> list[int] | None:
    """A random free ``[x1, y1, x2, y2]`` box of the given (height, width), or None.

    Free means at least ``_GAP`` pixels away from every taken box. With stats the box
    should show structure (gray-level std of at least ``_SOURCE_STD``); when none does,
    the most textured free box is returned. With want_flat a blank box (std below half
    of :data:`TEXTURE_STD`) is returned instead, when there is one.
    """
    (h, w), (height, width) = size, image_shape
    if h > height or w > width:
        return None
    y = rng.integers(0, height - h + 1, tries)
    x = rng.integers(0, width - w + 1, tries)
    boxes = np.stack([x, y, x + w - 1, y + h - 1], axis=1)
    free = ~_overlaps(boxes, taken)
    if not free.any():
        return None
    if stats is None:
        return boxes[np.argmax(free)].tolist()
    std = np.where(free, stats.std(boxes), np.nan)
    if want_flat and np.nanmin(std) < TEXTURE_STD / 2:
        return boxes[np.nanargmin(std)].tolist()
    if (std >= _SOURCE_STD).any():
        return boxes[np.argmax(std >= _SOURCE_STD)].tolist()
    return boxes[np.nanargmax(std)].tolist()


def _overlaps(boxes: np.ndarray, taken: list[list[int]]) -> np.ndarray:
    """For each row of boxes, whether it comes within ``_GAP`` pixels of a taken box."""
    if not taken:
        return np.zeros(len(boxes), bool)
    b, t = boxes[:, None, :], np.asarray(taken)[None, :, :]
    near = ((b[..., 0] <= t[..., 2] + _GAP) & (t[..., 0] <= b[..., 2] + _GAP)
            & (b[..., 1] <= t[..., 3] + _GAP) & (t[..., 1] <= b[..., 3] + _GAP))
    return near.any(axis=1)


def _change_brightness(rng: np.random.Generator, patch: np.ndarray,
                       shape: np.ndarray) -> np.ndarray:
    """Mildly stretch the contrast and shift the brightness of patch about its mean."""
    gain = rng.uniform(0.8, 1.2)
    offset = rng.uniform(8, 20) * rng.choice([-1, 1])
    values = patch.astype(np.float32)
    mean = values[shape].mean()
    return _to_uint8((values - mean) * gain + mean + offset)


# --------------------------------------------------------------------------- painters
# Each painter takes (rng, height, width) and returns a C-contiguous (height, width, 3)
# uint8 RGB array. Smooth structure is drawn at most _WORK_SIDE pixels large and
# upsampled; micrographs and blots get sensor grain at full size, while charts, gutters
# and margins stay perfectly blank (the usual donors of untextured copies).

def _work_shape(height: int, width: int) -> tuple[int, int]:
    """The size at which a painter draws smooth structure."""
    factor = min(1.0, _WORK_SIDE / max(height, width))
    return max(4, round(height * factor)), max(4, round(width * factor))


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Round and clip to 0..255."""
    return np.ascontiguousarray(np.clip(values + 0.5, 0, 255).astype(np.uint8))


def _upsample(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize to (height, width) unless it is that size already."""
    if values.shape[:2] == (height, width):
        return values
    return cv2.resize(values, (width, height), interpolation=cv2.INTER_LINEAR)


def _grain(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Gaussian sensor noise of the given shape and standard deviation."""
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma)


def _smooth_noise(rng: np.random.Generator, height: int, width: int,
                  cell: float) -> np.ndarray:
    """A smooth random field with features about cell pixels large, mean 0, std 1."""
    cell = max(cell, 1.0)
    coarse = rng.standard_normal((int(height / cell) + 3, int(width / cell) + 3),
                                 dtype=np.float32)
    field = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return (field - field.mean()) / (field.std() + 1e-6)


def _splat(height: int, width: int, ys: np.ndarray, xs: np.ndarray, amplitude: np.ndarray,
           sigma: float) -> np.ndarray:
    """Gaussian spots of standard deviation sigma and peak amplitude at (ys, xs)."""
    canvas = np.zeros((height, width), np.float32)
    np.add.at(canvas, (np.clip(ys, 0, height - 1).astype(int),
                       np.clip(xs, 0, width - 1).astype(int)), amplitude)
    sigma = max(sigma, 0.5)
    return cv2.GaussianBlur(canvas, (0, 0), sigma) * np.float32(2 * np.pi * sigma ** 2)


def _draw_scale_bar(image: np.ndarray, rng: np.random.Generator) -> None:
    """Draw a filled scale bar near the bottom-right corner of image, in place."""
    height, width = image.shape[:2]
    length = max(3, round(width * rng.uniform(0.12, 0.25)))
    thick = max(2, round(height * 0.015))
    x2, y2 = width - 1 - round(0.05 * width), height - 1 - round(0.05 * height)
    color = (255, 255, 255) if image.mean() < 128 else (0, 0, 0)
    cv2.rectangle(image, (x2 - length, y2 - thick), (x2, y2), color, thickness=-1)


def paint_fluorescence(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Fluorescence micrograph: blurred cells with nuclei and puncta on a dark background.

    Nuclei, cytoplasm and puncta are three marker fields mixed into RGB by one of three
    colour schemes (blue/green/red, green only, gray); shot noise grows with brightness.
    About a third of the images have their background clipped to pure black.
    """
    hh, ww = _work_shape(height, width)
    radius = max(1.5, rng.uniform(0.02, 0.06) * np.sqrt(hh * ww))
    n = int(np.clip(rng.uniform(0.1, 0.5) * hh * ww / (np.pi * radius ** 2), 2, 600))
    ys, xs = rng.uniform(0, hh, n), rng.uniform(0, ww, n)
    sizes = radius * rng.lognormal(0.0, 0.3, n)
    nuclei = np.zeros((hh, ww), np.float32)
    cytoplasm = np.zeros((hh, ww), np.float32)
    for group in np.array_split(np.argsort(sizes), 3):  # three size classes of cells
        if group.size == 0:
            continue
        size = float(sizes[group].mean())
        nuclei += _splat(hh, ww, ys[group], xs[group], rng.uniform(0.5, 1.0, group.size),
                         0.4 * size)
        lobes = np.repeat(group, 4)
        cytoplasm += _splat(hh, ww, ys[lobes] + rng.normal(0, 0.5 * size, lobes.size),
                            xs[lobes] + rng.normal(0, 0.5 * size, lobes.size),
                            rng.uniform(0.1, 0.35, lobes.size), 0.6 * size)
    cytoplasm *= np.clip(0.7 + 0.4 * _smooth_noise(rng, hh, ww, radius / 3), 0.1, None)
    spots = np.repeat(np.arange(n), 6)
    puncta = _splat(hh, ww, ys[spots] + rng.normal(0, radius, spots.size),
                    xs[spots] + rng.normal(0, radius, spots.size),
                    rng.uniform(0.3, 1.0, spots.size), max(0.7, radius / 8))
    markers = np.stack([f / (f.max() + 1e-6) for f in (nuclei, cytoplasm, puncta)], axis=-1)
    scheme = [
        [[0.25, 0.45, 1.0], [0.1, 1.0, 0.25], [1.0, 0.2, 0.2]],   # DAPI, GFP, a red marker
        [[0.05, 0.5, 0.05], [0.1, 1.0, 0.2], [0.0, 0.0, 0.0]],    # one green channel
        [[0.8, 0.8, 0.8], [0.6, 0.6, 0.6], [0.5, 0.5, 0.5]],      # gray
    ][rng.integers(3)]
    mix = np.asarray(scheme, np.float32) * rng.uniform(140, 240, (3, 1)).astype(np.float32)
    # A negative offset stands for background subtraction: the background clips to black.
    rgb = _upsample(markers @ mix + np.float32(rng.uniform(-15, 20)), height, width)
    rgb += np.sqrt(np.maximum(rgb, 0) + 4) * _grain(rng, rgb.shape, 0.8)
    image = _to_uint8(rgb)
    if rng.random() < 0.5:
        _draw_scale_bar(image, rng)
    return image


_EOSIN_OD = np.array([0.15, 1.0, 0.45], np.float32)          # absorbs green: pink
_HEMATOXYLIN_OD = np.array([0.8, 1.0, 0.4], np.float32)      # absorbs red and green: purple


def paint_histology(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """H&E-stained section: pink fibrous tissue, purple nuclei, pale lumens.

    Stain densities are mixed by Beer-Lambert absorption, so overlaps darken naturally.
    """
    hh, ww = _work_shape(height, width)
    tissue = _smooth_noise(rng, hh, ww, max(hh, ww) / rng.uniform(3, 7))
    density = 1 / (1 + np.exp(-(tissue - rng.uniform(-1.2, 0.2)) / 0.15))
    fibres = _smooth_noise(rng, hh, ww, rng.uniform(2, 5))
    eosin = density * np.clip(0.55 + 0.25 * fibres, 0.1, None) * rng.uniform(0.6, 1.1)
    n = int(density.sum() * rng.uniform(0.004, 0.012)) + 1
    ys, xs = rng.integers(0, hh, 3 * n), rng.integers(0, ww, 3 * n)
    keep = rng.random(3 * n) < density[ys, xs]
    hematoxylin = _splat(hh, ww, ys[keep], xs[keep], rng.uniform(0.6, 1.3, keep.sum()),
                         rng.uniform(1.2, 2.5)) + 0.15 * density
    od = eosin[..., None] * _EOSIN_OD + hematoxylin[..., None] * _HEMATOXYLIN_OD
    rgb = _upsample(np.float32(250) * np.exp(-od), height, width)
    image = _to_uint8(rgb + _grain(rng, rgb.shape, 3.0))
    if rng.random() < 0.5:
        _draw_scale_bar(image, rng)
    return image


def paint_blot(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Western blot or gel: lanes of smeared bands of varying strength.

    Wide strips (width >= 3 x height) hold one or two bands per lane, as cropped blot
    panels do; a quarter of the images are gels with bright bands on a dark background.
    About a fifth have a saturated (blank) background.
    """
    hh, ww = _work_shape(height, width)
    if ww >= 3 * hh:
        pitch = hh * rng.uniform(0.9, 1.6)
        n_bands = int(rng.integers(1, 3))
        centres = rng.uniform(0.35, 0.65, n_bands) * hh
        half = hh * rng.uniform(0.1, 0.22, n_bands)
    else:
        pitch = ww / rng.integers(3, 13)
        n_bands = int(rng.integers(2, 8))
        centres = rng.uniform(0.08, 0.92, n_bands) * hh
        half = np.maximum(1.5, hh * rng.uniform(0.008, 0.025, n_bands))
    n_lanes = max(1, int(ww / pitch))
    lane_centres = (np.arange(n_lanes) + 0.5) * ww / n_lanes + rng.normal(0, 0.03 * pitch,
                                                                          n_lanes)
    lane_half = pitch * rng.uniform(0.3, 0.42)
    x = np.arange(ww, dtype=np.float32)
    across = np.clip((lane_half - np.abs(x - lane_centres[:, None])) / (0.25 * lane_half), 0, 1)
    d = np.arange(hh, dtype=np.float32) - centres[:, None]
    core = np.clip((half[:, None] - np.abs(d)) / (0.5 * half[:, None]), 0, 1)
    tail = np.where(d > 0, np.exp(-d / (half[:, None] * rng.uniform(1, 4))), 0)
    along = np.maximum(core, tail * rng.uniform(0.1, 0.4))
    strength = (rng.uniform(0, 1, (n_bands, n_lanes)) ** 1.5
                * (rng.random((n_bands, n_lanes)) > 0.12) * rng.uniform(0.6, 1.2, n_lanes))
    dens = (along.T @ strength @ across).astype(np.float32)
    dens *= 0.85 + 0.15 * _smooth_noise(rng, hh, ww, 3)
    dens = cv2.GaussianBlur(dens, (0, 0), max(0.6, float(half.mean()) * 0.25))
    # Above ~265 the background saturates to white, as on overexposed scans.
    gray = rng.uniform(205, 280) + 4 * _smooth_noise(rng, hh, ww, max(hh, ww) / 2) \
        - dens * rng.uniform(110, 190)
    if rng.random() < 0.25:
        gray = 255 - gray
    gray = _upsample(gray.astype(np.float32), height, width)
    gray += _grain(rng, gray.shape, rng.uniform(1, 3))
    tint = np.array([1.0, rng.uniform(0.97, 1.0), rng.uniform(0.93, 1.0)], np.float32)
    return _to_uint8(gray[..., None] * tint)


_PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
            (90, 90, 90)]


def paint_chart(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Bar chart with error bars, or line plot with markers, on white with labelled axes."""
    image = np.full((height, width, 3), 255, np.uint8)
    side = min(height, width)
    thick = max(1, round(side / 300))
    font, font_scale = cv2.FONT_HERSHEY_SIMPLEX, max(0.25, side / 700)
    left, right = int(0.14 * width), int(0.95 * width)
    top, bottom = int(0.08 * height), int(0.86 * height)
    colors = [_PALETTE[i] for i in rng.permutation(len(_PALETTE))]
    span_x, span_y = max(1, right - left), max(1, bottom - top)
    if rng.random() < 0.5:
        groups, series = int(rng.integers(2, 7)), int(rng.integers(1, 4))
        values = rng.uniform(0.2, 0.95, (groups, series))
        slot = span_x / groups
        bar = slot * 0.7 / series
        for g in range(groups):
            for s in range(series):
                x1 = int(left + g * slot + 0.15 * slot + s * bar)
                y1 = int(bottom - values[g, s] * span_y)
                cv2.rectangle(image, (x1, y1), (int(x1 + bar) - 1, bottom), colors[s], -1)
                err = int(rng.uniform(0.02, 0.08) * span_y)
                xc = int(x1 + bar / 2)
                cv2.line(image, (xc, y1 - err), (xc, y1 + err), (0, 0, 0), thick)
            cv2.putText(image, str(g + 1), (int(left + (g + 0.4) * slot), bottom + int(
                0.08 * height)), font, font_scale, (0, 0, 0), 1, cv2.LINE_AA)
    else:
        points = int(rng.integers(5, 15))
        xs = left + np.linspace(0.03, 0.97, points) * span_x
        for s in range(int(rng.integers(1, 4))):
            walk = np.cumsum(rng.normal(0, 1, points))
            walk = (walk - walk.min()) / (np.ptp(walk) + 1e-6)
            ys = bottom - (0.1 + 0.8 * walk) * span_y
            vertices = np.stack([xs, ys], axis=1).round().astype(np.int32)
            cv2.polylines(image, [vertices], False, colors[s], thick, cv2.LINE_AA)
            for vx, vy in vertices:
                cv2.circle(image, (int(vx), int(vy)), thick + 2, colors[s], -1, cv2.LINE_AA)
    cv2.line(image, (left, bottom), (right, bottom), (0, 0, 0), thick)
    cv2.line(image, (left, bottom), (left, top), (0, 0, 0), thick)
    top_value = int(rng.choice([1, 5, 10, 50, 100]))
    for i in range(5):
        y = int(bottom - i / 4 * span_y)
        cv2.line(image, (left - 3 * thick, y), (left, y), (0, 0, 0), thick)
        cv2.putText(image, str(top_value * i // 4), (int(0.02 * width), y + 3), font,
                    font_scale, (0, 0, 0), 1, cv2.LINE_AA)
    return image


def paint_compound(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A figure of 2-4 panels of the other kinds, white gutters, letters A, B, ...

    Half of the figures repeat one kind of panel. Rounding leaves a blank margin at the
    right and bottom edges, as exported figures often have.
    """
    aspect = width / height
    if aspect >= 2.2:
        rows, cols = 1, int(rng.integers(2, 5))
    elif aspect <= 0.45:
        rows, cols = int(rng.integers(2, 5)), 1
    else:
        layouts = ([(1, 2), (2, 2), (1, 3)] if aspect > 1.3 else
                   [(2, 1), (2, 2), (3, 1)] if aspect < 0.77 else [(2, 2), (1, 2), (2, 1)])
        rows, cols = layouts[rng.integers(len(layouts))]
    gap = max(2, round(0.02 * min(height, width)))
    panel_h = (height - gap * (rows - 1)) // rows
    panel_w = (width - gap * (cols - 1)) // cols
    kinds = ["fluorescence", "histology", "blot", "chart"]
    same = kinds[rng.integers(4)] if rng.random() < 0.5 else None
    image = np.full((height, width, 3), 255, np.uint8)
    for i in range(rows * cols):
        panel = PAINTERS[same or kinds[rng.integers(4)]](rng, panel_h, panel_w)
        if min(panel_h, panel_w) >= 24:
            _draw_letter(panel, chr(ord("A") + i))
        r, c = divmod(i, cols)
        image[r * (panel_h + gap):r * (panel_h + gap) + panel_h,
              c * (panel_w + gap):c * (panel_w + gap) + panel_w] = panel
    return image


def _draw_letter(panel: np.ndarray, letter: str) -> None:
    """Write a bold panel letter in the top-left corner, in place."""
    font_scale = max(0.35, min(panel.shape[:2]) / 250)
    thickness = max(1, round(2 * font_scale))
    (_, text_h), _ = cv2.getTextSize(letter, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
    x, y = 2 + round(0.03 * panel.shape[1]), 2 + text_h + round(0.03 * panel.shape[0])
    corner = panel[: y + 2, : x + 2 * text_h]
    color = (255, 255, 255) if corner.mean() < 128 else (0, 0, 0)
    cv2.putText(panel, letter, (x, y), cv2.FONT_HERSHEY_SIMPLEX, font_scale, color, thickness,
                cv2.LINE_AA)


PAINTERS: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "fluorescence": paint_fluorescence,
    "histology": paint_histology,
    "blot": paint_blot,
    "chart": paint_chart,
    "compound": paint_compound,
}
"""Content painters by the name recorded in the truth's ``content`` column."""
