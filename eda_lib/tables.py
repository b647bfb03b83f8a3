"""The tidy tables of a run: their schema, their versions, and their storage.

Each table has one row per thing (image, mask file, instance, problem, ...), its
columns declared here with a dtype and a sentence, and the same names in CSV,
Parquet and the notebooks. :func:`frame` builds a DataFrame that follows the
schema (empty tables keep their columns and dtypes); :func:`write_tables` stores a
run's tables and :func:`read_tables` reads them back as :class:`Tables`.
:data:`ANALYSIS_VERSION` and the parameter lists say when stored results are stale;
the data pass that makes the tables is :mod:`eda_lib.datapass`.
"""

from __future__ import annotations

import functools
import hashlib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .config import Config
from .errors import TablesError
from .files import write_bytes_atomic, write_csv_atomic, write_text_atomic

#: Bump when a measurement changes, so stored tables are recomputed.
#: 9: the pass also stores each case's display views in the cache (the report draws from
#: them); an entry of version 8 has none, so its case is measured again.
#: 10: the blind screen adds its dense field, and its vote spans every translation a
#: flip or quarter turn gives (it clipped those past the image's size).
#: 11: the screen's dense field runs at the image's own size on small images and is
#: seeded by 5 random projections (3 before), and a dense copy larger than a keypoint
#: copy is no longer dropped as a part of it.
#: 12: a verified screen pair's regions grow by ``region_grow`` to the copy's edge.
#: 13: a screen region holding a label needs a rest NCC of 0.8 (was 0.5) to be a copy,
#: a screen pair drawn as chart elements is rejected as text, and a weak match whose noise
#: residual matches at its source far better than elsewhere is a copy.
#: 14: 16-bit images keep the top 8 of the bits they use (12-bit data was nearly black),
#: float TIFFs in 0..1 are scaled by 255, and the screen shrinks a strip less and
#: stretches a dim image for its keypoints.
#: 15: screen copies that are pieces of one duplication are merged into one pair.
ANALYSIS_VERSION = "15"


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 of the package's source (every module's path and bytes): two processes
    with the same digest measure alike, whatever folder the package is installed in."""
    h = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


#: Parameters whose value changes what the data pass measures.
PASS_PARAMS = ("max_image_pixels", "copy_move", "copy_move_max_side", "screening",
               "screening_max_side", "allow_pickle")
#: Parameters of the dataset-level tables (they do not change per-file results).
DERIVED_PARAMS = ("folds", "seed")


#: ``masks.status`` values of masks that were read (the others were refused).
MASK_READ = ("ok", "normalized", "empty", "orphan", "image_unreadable")
#: ``masks.status`` values of masks measured against their image.
MASK_MEASURED = ("ok", "normalized", "empty")


#: Every ``problems.kind``, with what it means and what the suite does about it.
PROBLEM_KINDS: dict[str, str] = {
    # layout (eda_lib.dataset.index)
    "stray_file": "a file that is not part of the layout (.DS_Store, README.txt, Thumbs.db...): ignored",
    "stray_folder": "a folder that is not part of the layout: ignored",
    "missing_mask": "a forged image without its mask: image measured, no mask or instance rows",
    "orphan_mask": "a mask without a forged image: loaded and listed with status orphan, not measured",
    "duplicate_case_id": "a second file of one folder with the same case_id (names differing only in "
                         "the extension's case, or in a flat folder in the extension, fig1.png and "
                         "fig1.jpg): a file that is not empty before a 0-byte one, then PNG, TIFF, "
                         "BMP, WebP, JPEG, a lower-case extension before an upper-case one, is "
                         "analysed, this one is not",
    "bad_file_name": "a name that is not valid UTF-8 (shown with \\x escapes): skipped, never opened",
    "broken_link": "a symbolic link to a missing file, or a loop of links: skipped",
    "link_outside_data": "a symbolic link that leads out of the data folder: never followed, skipped",
    "not_a_regular_file": "a FIFO, device or socket: never opened, skipped",
    "unreadable_folder": "a folder that cannot be listed (permissions): its files are not analysed",
    # images (eda_lib.dataset.images): the image is rejected, its row keeps the kind as status
    "empty_file": "a 0-byte image: rejected",
    "not_an_image": "Pillow cannot identify the file (e.g. text named .png): rejected",
    "wrong_format": "a readable image in another format than its name says (e.g. JPEG named .png): "
                    "rejected",
    "too_many_pixels": "the header claims more than max_image_pixels: rejected before decoding",
    "truncated_image": "the file ends early: rejected",
    "unreadable_image": "decoding failed for another reason: rejected",
    "exif_orientation": "the file asks viewers to turn or flip it (EXIF orientation): accepted and "
                        "analysed as stored, so boxes and masks are in the stored pixels",
    # masks (eda_lib.dataset.masks): refusals, then accepted files that needed a rule
    "unreadable_mask": "not a readable .npy file: rejected",
    "pickled_mask": "an object array (pickle): rejected unless allow_pickle is on; never unpickled",
    "bad_mask_dtype": "not bool, integer or float: rejected",
    "bad_mask_values": "NaN, infinite or negative values: rejected",
    "bad_mask_shape": "not (H, W), (N, H, W) or (H, W, N), e.g. 4-D: rejected",
    "mask_too_large": "the .npy header claims an absurd size: rejected before loading",
    "mask_normalized": "accepted after the rules named in detail (eda_lib.dataset.masks.RULES)",
    "empty_mask": "no pixel marked in any channel: accepted, status empty",
    # analysis
    "copy_move_failed": "the copy-move analysis of this image raised: other results kept",
    "screening_failed": "the blind screen of this image raised: no screening rows for it, other "
                        "results kept",
    # the pass (eda_lib.cluster)
    "measure_failed": "on a Dask cluster, measuring this case raised (or killed its worker) on every "
                      "try: no rows for it but this one; measured again by the next pass",
}


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    doc: str


def _c(name: str, dtype: str, doc: str) -> Column:
    return Column(name, dtype, doc)


_BOX = [
    _c("x1", "Int64", "left column of the bounding box (inclusive, 0-based)"),
    _c("y1", "Int64", "top row of the bounding box (inclusive)"),
    _c("x2", "Int64", "right column of the bounding box (inclusive)"),
    _c("y2", "Int64", "bottom row of the bounding box (inclusive)"),
]

SCHEMAS: dict[str, list[Column]] = {
    "images": [
        _c("case_id", "str", "file stem; shared by an authentic image and its forged twin"),
        _c("split", "str", "train, supplemental, test or unlabelled (a flat folder of images)"),
        _c("label", "str", "authentic or forged; empty for test and unlabelled images"),
        _c("path", "str", "path relative to data_dir"),
        _c("width", "Int64", "width in pixels (empty if the file could not be decoded)"),
        _c("height", "Int64", "height in pixels"),
        _c("aspect", "float64", "width / height"),
        _c("mode", "str", "Pillow mode of the file: RGB, RGBA, L, P, I;16, ..."),
        _c("file_bytes", "Int64", "file size in bytes"),
        _c("has_mask", "bool", "forged image whose mask file exists (never true for authentic)"),
        _c("twin", "bool", "the other class of the same split has an image with this case_id"),
        _c("status", "str", "ok, or the problem kind that made the file unusable"),
        _c("screen_status", "str", "blind screen: screened, too_small, too_flat (no pairs "
           "looked for), failed (a screening_failed problem), off (screening: false); empty "
           "when the image could not be decoded"),
        _c("screen_reason", "str", "why the image was not screened (too_small, too_flat, failed)"),
        _c("screen_copies", "Int64", "pairs of the blind screen with verdict copy"),
        _c("screen_of1", "float64", "oF1 of the blind screen's copies as this image's submission "
           "against its label and mask (labelled images with a usable mask or none needed)"),
    ],
    "masks": [
        _c("case_id", "str", "file stem of the mask"),
        _c("split", "str", "train or supplemental"),
        _c("path", "str", "path relative to data_dir"),
        _c("shape", "str", "shape as stored, e.g. 2x512x696"),
        _c("dtype", "str", "dtype as stored"),
        _c("height", "Int64", "height of the normalised mask (equals the image's)"),
        _c("width", "Int64", "width of the normalised mask"),
        _c("n_instances", "Int64", "instances (channels) in the mask"),
        _c("n_empty", "Int64", "channels with no marked pixel"),
        _c("union_px", "Int64", "pixels marked by any instance"),
        _c("union_frac", "float64", "union_px / (height * width) of the image"),
        _c("status", "str",
           "ok, normalized (see notes), empty, orphan, image_unreadable, or the refusal kind"),
        _c("notes", "str", "normalisation rules applied, ';'-separated (dataset.masks.RULES)"),
        _c("rle_chars", "Int64", "length of the mask's submission annotation (RLE lists joined by ';')"),
        _c("rle_roundtrip", "boolean", "encoding the instances as RLE and decoding gives them back"),
        _c("of1_union", "float64", "oF1 of predicting the union of the instances as one instance"),
    ],
    "instances": [
        _c("case_id", "str", "case_id of the forged image"),
        _c("split", "str", "train or supplemental"),
        _c("instance", "Int64", "1-based channel of the mask"),
        _c("area_px", "Int64", "marked pixels"),
        _c("area_frac", "float64", "area_px / (H * W)"),
        *_BOX,
        _c("bbox_w", "Int64", "x2 - x1 + 1"),
        _c("bbox_h", "Int64", "y2 - y1 + 1"),
        _c("aspect", "float64", "bbox_w / bbox_h"),
        _c("bbox_fill", "float64", "area_px / (bbox_w * bbox_h)"),
        _c("n_components", "Int64", "8-connected components (2 when source and copy are marked)"),
        _c("perimeter", "float64", "boundary length in pixels (measure.instances.perimeter)"),
        _c("compactness", "float64", "isoperimetric quotient 4*pi*A/P^2 in (0, 1]"),
    ],
    "copy_move": [
        _c("case_id", "str", "case_id of the forged image"),
        _c("split", "str", "train or supplemental"),
        _c("instance", "Int64", "1-based channel of the mask"),
        _c("method", "str", "twin_diff, mask_pair, search, or none (see eda_lib.measure.copymove)"),
        *[_c(f"target_{c.name}", c.dtype, f"pasted copy: {c.doc}") for c in _BOX],
        *[_c(f"source_{c.name}", c.dtype, f"where it was copied from: {c.doc}") for c in _BOX],
        _c("transform", "str", "flip/rotation with target = transform(source): identity, flip_h, "
           "flip_v, rot90 (counter-clockwise), rot180, rot270, transpose, anti_transpose"),
        _c("scale", "float64", "target size / source size"),
        _c("dx", "Int64", "target_x1 - source_x1 (px)"),
        _c("dy", "Int64", "target_y1 - source_y1 (px)"),
        _c("ncc", "float64", "normalized cross-correlation of aligned source and target"),
        _c("residual_ncc", "float64", "the same on the noise residual (image minus its blur)"),
        _c("identical_frac", "float64", "share of textured pixels identical after alignment"),
        _c("texture", "Int64", "texture-bearing pixels of the target (few: undecidable)"),
        _c("margin", "float64", "score of the chosen source minus the best competing one"),
        _c("verdict", "str", "copy, unsure or undecidable"),
        _c("screen_found", "boolean", "the blind screen found this pair: one of its copy pairs "
           "has both boxes at IoU >= 0.5 with source and target, either way round (empty "
           "when screening is off or the pair has no source box)"),
    ],
    "screening": [
        _c("split", "str", "train, supplemental, test or unlabelled"),
        _c("label", "str", "authentic, forged, or empty when the layout does not say"),
        _c("case_id", "str", "case_id of the image"),
        _c("pair", "Int64", "1-based candidate pair of the image, copies first"),
        *[_c(f"source_{c.name}", c.dtype, f"one end of the pair: {c.doc}") for c in _BOX],
        *[_c(f"target_{c.name}", c.dtype, f"the other end, target = transform(source): {c.doc}")
          for c in _BOX],
        _c("roles", "str", "undecided: without a twin, which end was pasted is unknown"),
        _c("transform", "str", "flip/rotation with target = transform(source), as in copy_move"),
        _c("scale", "float64", "target size / source size"),
        _c("ncc", "float64", "normalized cross-correlation of the aligned regions"),
        _c("residual_ncc", "float64", "the same on the noise residual (image minus its blur)"),
        _c("identical_frac", "float64", "share of textured pixels identical after alignment "
           "(reported, not used: recompression destroys identity)"),
        _c("texture", "Int64", "texture-bearing pixels of the target"),
        _c("margin", "float64", "score of the found transform minus the best other one"),
        _c("inliers", "Int64", "keypoint or block matches that support the pair (a copy "
           "merged from pieces of one duplication: their sum; its scores are the largest "
           "piece's)"),
        _c("method", "str", "sift (keypoints), blocks (fallback for smooth images) or dense "
           "(the dense field)"),
        _c("verdict", "str", "copy, unsure or rejected"),
        _c("reason", "str", "why not copy: a false-positive control (periodic, too_close, "
           "scale_bar, text: also labels drawn on a picture and chart elements, flat; a "
           "pair rejected before verification has empty scores, one drawn as chart "
           "elements is rejected after it) or a doubt (weak_match, free_rotation)"),
        _c("annotation", "str", "copy pairs: source and target as one instance in the "
           "competition's run-length encoding (what the baseline submits)"),
    ],
    "label_check": [
        _c("case_id", "str", "case_id of a forged image with its authentic twin"),
        _c("split", "str", "train or supplemental"),
        _c("changed_px", "Int64", "pixels where forged image and twin differ by more than 8 "
           "levels in some channel (copy-move's change_tol: recompression noise is not a change)"),
        _c("changed_outside_mask_px", "Int64", "changed pixels no channel marks"),
        _c("marked_px", "Int64", "pixels marked by any channel"),
        _c("marked_unchanged_px", "Int64", "marked pixels that did not change (sources)"),
        _c("n_targets", "Int64", "marked components that changed: pasted copies"),
        _c("n_sources", "Int64", "marked components that did not change: source regions"),
    ],
    "image_scores": [
        _c("split", "str", "train, supplemental, test or unlabelled (a flat folder of images)"),
        _c("label", "str", "authentic, forged, or empty for test and unlabelled images"),
        _c("case_id", "str", "case_id of the image"),
        _c("brightness_perc_5", "float64", "5th percentile of perceived brightness, [0, 1]"),
        _c("brightness_perc_99", "float64", "99th percentile of perceived brightness, [0, 1]"),
        _c("entropy", "float64", "Shannon entropy (bits) of the pooled band histograms"),
        _c("blurriness", "float64", "std of the edge response on a 64 px thumbnail; high = sharp"),
        _c("blurriness_grayscale_std", "float64", "std of that thumbnail's histogram counts"),
        _c("aspect_ratio", "float64", "min(W/H, H/W), (0, 1]"),
        _c("size", "float64", "sqrt(W * H)"),
        _c("grayscale", "boolean", "one band, gray + alpha, or equal colour channels"),
        _c("pixel_hash", "str", "SHA-1 of shape, dtype and pixel row blocks: exact duplicate key"),
        _c("phash", "str", "64-bit DCT perceptual hash: near duplicate key"),
        _c("dark_score", "float64", "[0, 1]; low = dark (eda_lib.measure.health)"),
        _c("light_score", "float64", "[0, 1]; low = light, washed out"),
        _c("low_information_score", "float64", "[0, 1]; low = little information"),
        _c("blurry_score", "float64", "[0, 1]; low = blurry"),
        _c("odd_aspect_ratio_score", "float64", "(0, 1]; low = elongated"),
    ],
    "health": [
        _c("split", "str", "train, supplemental, test or unlabelled (a flat folder of images)"),
        _c("label", "str", "authentic, forged, or empty for test and unlabelled images"),
        _c("case_id", "str", "case_id of the image"),
        *[c for issue in ("dark", "light", "odd_aspect_ratio", "low_information",
                          "exact_duplicates", "near_duplicates", "blurry", "grayscale",
                          "odd_size")
          for c in (_c(f"{issue}_score", "float64", f"{issue.replace('_', ' ')} score; low = issue"),
                    _c(f"is_{issue}_issue", "boolean",
                       f"{issue.replace('_', ' ')} flagged (cleanvision's default threshold)"))],
    ],
    "groups": [
        _c("split", "str", "train or supplemental"),
        _c("label", "str", "authentic or forged"),
        _c("case_id", "str", "case_id of the image"),
        _c("group", "Int64", "leakage group: images that must stay in the same fold"),
        _c("group_size", "Int64", "images in the group"),
        _c("reason", "str", "links that joined the group: twin, exact duplicate, near duplicate"),
    ],
    "folds": [
        _c("split", "str", "train or supplemental"),
        _c("label", "str", "authentic or forged"),
        _c("case_id", "str", "case_id of the image"),
        _c("group", "Int64", "leakage group (tables/groups)"),
        _c("stratum", "str", "label:instances (0, 1, 2, 3+) the folds are balanced on"),
        _c("fold", "Int64", "fold number, 0 .. folds - 1"),
    ],
    "problems": [
        _c("path", "str", "file or folder relative to data_dir"),
        _c("case_id", "str", "file stem, when there is one"),
        _c("kind", "str", "stable short code of the problem (tables.PROBLEM_KINDS)"),
        _c("detail", "str", "what was found and what was done"),
    ],
}


#: Tables the data pass measures, file by file (and caches per case).
MEASURED_TABLES = ("images", "image_scores", "masks", "instances", "copy_move", "label_check",
                   "screening", "problems")
#: Tables computed from the measured ones for the whole dataset (cheap, never cached).
DERIVED_TABLES = ("health", "groups", "folds")


def frame(name: str, rows: Iterable[Mapping] | pd.DataFrame,
          extra_str: Iterable[str] = ()) -> pd.DataFrame:
    """A DataFrame of table ``name`` from row dicts, or from a DataFrame's columns, with
    the schema's columns and dtypes.

    Missing keys (or columns) become nulls; keys not in the schema are an error (a typo
    would otherwise silently drop a measurement). ``extra_str`` names string columns
    kept after the schema's (the cache's keys).
    """
    cols = SCHEMAS[name] + [Column(k, "str", "") for k in extra_str]
    names = [c.name for c in cols]
    if isinstance(rows, pd.DataFrame):
        unknown = set(rows.columns) - set(names)
        n = len(rows)
        values = {c: rows[c].to_numpy(object) for c in rows.columns}
    else:
        rows = list(rows)
        unknown = {k for r in rows for k in r} - set(names)
        n = len(rows)
        values = {c: [r.get(c) for r in rows] for c in names}
    if unknown:
        raise KeyError(f"table {name!r} has no column(s) {sorted(unknown)}")
    data = {c.name: pd.array(values.get(c.name, [None] * n), dtype=_pandas_dtype(c))
            for c in cols}
    return pd.DataFrame(data, columns=names)


def _pandas_dtype(c: Column):
    return pd.StringDtype() if c.dtype == "str" else c.dtype


#: First characters that make a spreadsheet read a CSV cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_CSV_NOTE = (
    "Every table is written twice: `NAME.parquet` holds the true values; in `NAME.csv`, a "
    "text cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return (a file "
    "name, say) starts with an added `'`, so that a spreadsheet shows it as text instead "
    "of running it as a formula."
)


def schema_markdown() -> str:
    """Every table's columns as Markdown, for the README and the output folder."""
    out = [_CSV_NOTE, ""]
    for name, cols in SCHEMAS.items():
        out.append(f"### `{name}`\n\n| column | type | meaning |\n|---|---|---|")
        out += [f"| `{c.name}` | {c.dtype} | {c.doc} |" for c in cols]
        out.append("")
    return "\n".join(out)


# ----------------------------------------------------------------------------- storage


def tables_dir(cfg: Config) -> Path:
    return cfg.out_dir / "tables"


def write_tables(tables: Mapping[str, pd.DataFrame], folder: Path
                 ) -> tuple[dict[str, str], dict[str, str]]:
    """Write each table as ``NAME.parquet`` and ``NAME.csv`` (text cells that a spreadsheet
    would run as formulas neutralised, see :func:`csv_safe`), and the schema as SCHEMA.md.

    Returns
    -------
    tuple of dict
        The SHA-256 of each Parquet file written, by table name (:func:`read_tables`
        checks them, so a damaged or changed file is never read as the run's table), and
        those of the readable copies (:func:`copy_digests`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    digests = {name: write_parquet(folder / f"{name}.parquet", df) for name, df in tables.items()}
    return digests, write_copies(tables, folder)


def write_parquet(path: Path, df: pd.DataFrame) -> str:
    """Write ``df`` (no index) as Parquet to ``path``, atomically, and return the file's
    SHA-256: what the tables' manifest and the cache's stamp keep of each file, so that a
    changed or damaged one is never read as the one written."""
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    data = buffer.getvalue()
    write_bytes_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def write_copies(tables: Mapping[str, pd.DataFrame], folder: Path) -> dict[str, str]:
    """Write the readable copies of the tables: ``NAME.csv`` for each (see
    :func:`csv_safe`) and SCHEMA.md; returns their :func:`copy_digests`."""
    for name, df in tables.items():
        write_csv_atomic(folder / f"{name}.csv", csv_safe(df))
    write_text_atomic(folder / "SCHEMA.md", schema_markdown())
    return copy_digests(folder)


def copy_digests(folder: Path) -> dict[str, str]:
    """The SHA-256 of each readable copy in ``folder`` (every table's CSV and SCHEMA.md),
    by file name.

    Raises
    ------
    OSError
        A copy is missing or cannot be read.
    """
    names = [*(f"{t}.csv" for t in SCHEMAS), "SCHEMA.md"]
    return {name: _digest(folder / name) for name in names}


def _digest(path: Path) -> str:
    """The SHA-256 of the file at ``path`` (OSError when it cannot be read)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tables_intact(folder: Path, digests: Mapping[str, str]) -> bool:
    """Whether every table's Parquet file in ``folder`` is the one written, by its SHA-256
    in ``digests`` (the first that :func:`write_tables` returned); False when one is missing,
    unreadable or changed."""
    try:
        return all(_digest(folder / f"{name}.parquet") == digests.get(name) for name in SCHEMAS)
    except OSError:
        return False


def copies_intact(folder: Path, digests: Mapping[str, str]) -> bool:
    """Whether every readable copy (:func:`write_copies`) is the file written, by its
    SHA-256 in ``digests``; False when one is missing, changed or not listed."""
    try:
        return copy_digests(folder) == dict(digests)
    except OSError:
        return False


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell that begins with one of :data:`FORMULA_STARTS`
    prefixed by ``'``, as spreadsheets expect for literal text (the CSV copies only).

    Examples
    --------
    >>> csv_safe(pd.DataFrame({"path": ["=HYPERLINK(1)", "a.png"]}))["path"].tolist()
    ["'=HYPERLINK(1)", 'a.png']
    """
    out = df.copy()
    for column in out.columns:
        values = out[column]
        if isinstance(values.dtype, pd.StringDtype) or values.dtype == object:
            text = values.astype("string")
            risky = text.str.startswith(FORMULA_STARTS).fillna(False).astype(bool)
            if risky.any():
                out[column] = text.where(~risky, "'" + text)
    return out


@dataclass(frozen=True)
class Tables:
    """The tables of a run, as DataFrames following :data:`SCHEMAS`."""

    images: pd.DataFrame
    image_scores: pd.DataFrame
    health: pd.DataFrame
    masks: pd.DataFrame
    instances: pd.DataFrame
    copy_move: pd.DataFrame
    label_check: pd.DataFrame
    screening: pd.DataFrame
    groups: pd.DataFrame
    folds: pd.DataFrame
    problems: pd.DataFrame



def read_tables(folder: Path, digests: Mapping[str, str] | None = None) -> Tables:
    """The tables stored in ``folder`` by :func:`write_tables`.

    With ``digests`` (the first that :func:`write_tables` returned), each Parquet file is read
    once and checked against its digest before it is parsed.

    Raises
    ------
    TablesError
        When a file is missing, cannot be parsed, or differs from its digest.
    """
    return Tables(**{name: read_parquet(folder / f"{name}.parquet",
                                        None if digests is None else digests.get(name))
                     for name in SCHEMAS})


def read_parquet(path: Path, digest: str | None = None) -> pd.DataFrame:
    """The Parquet file at ``path``, read once and, with ``digest`` (its SHA-256 as
    :func:`write_parquet` returned it), checked before it is parsed.

    Raises
    ------
    TablesError
        When the file is missing, cannot be parsed, or differs from ``digest``.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TablesError(f"{path}: cannot be read ({exc.strerror or exc})",
                          folder=path.parent) from exc
    if digest is not None and hashlib.sha256(data).hexdigest() != digest:
        raise TablesError(f"{path} is not the file written last (damaged or changed since)",
                          folder=path.parent)
    try:
        return pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises many types for a damaged file
        raise TablesError(f"{path}: not a readable Parquet file ({type(exc).__name__}: "
                          f"{exc})", folder=path.parent) from exc
