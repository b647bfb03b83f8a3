"""Index a dataset folder in the competition layout, without opening any file.

The index says which files exist and how they relate: every image with its split
and label, which forged images have a mask, which have an authentic twin (same
case_id in the other class), which masks are orphans and which files do not
belong. Reading pixels is the job of :mod:`eda_lib.measure`.

Expected layout (``DATASET.md``)::

    train_images/authentic/<case_id>.png
    train_images/forged/<case_id>.png
    train_masks/<case_id>.npy
    test_images/<case_id>.png
    supplemental_images/[authentic|forged/]<case_id>.png    (optional)
    supplemental_masks/<case_id>.npy                        (optional)
    sample_submission.csv                                   (optional)

A folder with none of the competition's folders is read as a *flat* folder of images
(the usual folder of figures an analyst has): every image in it and in its
subfolders, walked recursively, is one image of the split ``"unlabelled"`` with label
``""`` (as test images have) and no mask; its case_id is its path relative to the data
folder without the suffix, with ``/`` separators (``fig1``, ``paper2/fig1``), so that
files of one name in different subfolders stay apart. An image there is a PNG, JPEG,
TIFF, BMP or WebP file (:data:`FLAT_IMAGE_SUFFIXES`; figures come out of papers and
microscopes in all of them); ``fig1.png`` and ``fig1.jpg`` in one folder are one
case_id, the PNG analysed and the other a ``duplicate_case_id``. The competition's
folders hold PNG files only, as the competition does: there a ``.jpg`` or ``.tif`` is a
``stray_file`` whose detail says to convert it. Hidden files and folders
(``.DS_Store``, ``._fig1.png``, ``.git``) are stray, never walked or opened. When the
top of the folder holds any competition folder, the competition layout wins and an image
beside those folders is a ``stray_file`` (see :func:`layout_of`).

A mask is looked up for forged images only: an authentic image shares its stem
with its forged twin, so a stem lookup alone would "find" a mask for it too.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from ..errors import LayoutError

IMAGE_SUFFIX = ".png"
MASK_SUFFIX = ".npy"
LABELS = ("authentic", "forged")
#: The split of every image of a flat folder of images (no competition folder).
FLAT_SPLIT = "unlabelled"
SPLITS = ("train", "supplemental", "test", FLAT_SPLIT)
#: The splits a submission can be for: ``test`` and ``unlabelled`` images are named by
#: case_id, ``train`` images by ``forged/<case_id>`` and ``authentic/<case_id>``.
SUBMISSION_SPLITS = ("test", "train", FLAT_SPLIT)
#: Folders that make a data folder one in the competition layout (see :func:`layout_of`).
COMPETITION_FOLDERS = ("train_images", "train_masks", "test_images", "supplemental_images",
                       "supplemental_masks")
#: The image files of a flat folder: each suffix with the format it promises (Pillow's
#: name, which :func:`eda_lib.dataset.images.decode` checks), in order of preference when
#: two files share a stem. The competition's folders hold ``.png`` files only.
IMAGE_FORMATS = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP",
                 ".webp": "WEBP", ".jpg": "JPEG", ".jpeg": "JPEG"}
FLAT_IMAGE_SUFFIXES = tuple(IMAGE_FORMATS)
#: Suffixes of images named in the detail of a ``stray_file`` problem and in the layout
#: error, with the fix: other formats in the competition's folders (PNG only there), GIF
#: anywhere.
OTHER_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp")
#: Top-level entries a dataset folder may hold; anything else is reported as stray.
KNOWN_TOP = {
    "train_images",
    "train_masks",
    "test_images",
    "supplemental_images",
    "supplemental_masks",
    "sample_submission.csv",
}


@dataclass(frozen=True)
class ImageEntry:
    """One image file: where it is and what the layout says about it."""

    case_id: str
    split: str
    label: str  # "authentic", "forged", or "" when the layout does not say (test)
    path: str  # relative to data_dir, POSIX separators
    mask_path: str | None = None  # for forged images whose mask exists
    twin: bool = False  # the other class of the same split has the same case_id


@dataclass(frozen=True)
class MaskEntry:
    """One mask file and the forged image it belongs to (None for an orphan)."""

    case_id: str
    split: str
    path: str
    image_path: str | None


@dataclass(frozen=True)
class Problem:
    """A file that cannot be used as it is; one row of the ``problems`` table."""

    path: str
    case_id: str
    kind: str
    detail: str


@dataclass
class Index:
    """What a dataset folder holds, before any file is opened."""

    root: Path
    images: list[ImageEntry] = field(default_factory=list)
    masks: list[MaskEntry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def case_sort_key(case_id: str) -> tuple:
    """Numeric case_ids in numeric order, then any other stem in text order."""
    return (0, int(case_id), "") if case_id.isdigit() else (1, 0, case_id)


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def shown(text: str) -> str:
    """``text`` as it can be stored and printed: a name that is not valid UTF-8 (its
    bytes kept by Python as surrogates) gets ``\\xNN`` escapes for those bytes.

    Examples
    --------
    >>> shown(b"a\\xff.png".decode("utf-8", "surrogateescape"))
    'a\\\\xff.png'
    """
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _readable_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _entries(root: Path, folder: Path, problems: list[Problem]) -> tuple[list[Path], list[Path]]:
    """The regular files and the folders directly inside ``folder``, sorted.

    Nothing is opened and no link is followed out of the data folder. Every other entry
    becomes a problem: a name that is not valid UTF-8 (``bad_file_name``), a link whose
    target is missing or that never ends (a loop) (``broken_link``) or lies outside the
    data folder (``link_outside_data``), a FIFO, device or socket (``not_a_regular_file``),
    and ``folder`` itself when it cannot be listed (``unreadable_folder``). Links that stay
    inside the data folder are taken for what they point to.
    """
    if not folder.is_dir():
        return [], []
    files, folders = [], []
    data = root.resolve()
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        problems.append(Problem(_rel(root, folder) if folder != root else ".", "",
                                "unreadable_folder",
                                f"cannot be listed ({exc.strerror}); the files in it are not "
                                "analysed: make it readable (chmod a+rx)"))
        return [], []
    for p in entries:
        rel = shown(_rel(root, p))
        stem = shown(p.stem)
        if not _readable_name(p.name):
            problems.append(Problem(rel, "", "bad_file_name",
                                    "the name is not valid UTF-8 (shown with \\x escapes); "
                                    "skipped: rename the file"))
            continue
        if p.is_symlink():
            target = _link_target(p)
            if target is None or not target.exists():
                problems.append(Problem(rel, stem, "broken_link",
                                        "a symbolic link to a missing file; skipped"
                                        if target else
                                        "a symbolic link that never ends (a loop); skipped"))
                continue
            if target != data and data not in target.parents:
                problems.append(Problem(rel, stem, "link_outside_data",
                                        "a symbolic link that leads out of the data folder; "
                                        "never followed, skipped"))
                continue
        try:
            mode = p.stat().st_mode
        except OSError as exc:
            problems.append(Problem(rel, stem, "not_a_regular_file",
                                    f"cannot be examined ({exc.strerror}); skipped"))
            continue
        if stat.S_ISDIR(mode):
            folders.append(p)
        elif stat.S_ISREG(mode):
            files.append(p)
        else:
            problems.append(Problem(rel, stem, "not_a_regular_file",
                                    "a FIFO, device or socket; never opened, skipped"))
    return files, folders


def _link_target(link: Path) -> Path | None:
    """Where the symbolic link ``link`` leads (links followed), or None for a loop."""
    try:
        return link.resolve()
    except (OSError, RuntimeError):  # RuntimeError up to Python 3.12, OSError after
        return None


def _split_files(
    root: Path, folder: Path, suffix: str, problems: list[Problem], what: str
) -> dict[str, Path]:
    """Files of ``folder`` with ``suffix`` (any case) keyed by stem; others become problems.

    Two files with one stem (``4263.png`` and ``4263.PNG``) are one case_id: the first
    by name (lower-case suffix first) is kept, the others are ``duplicate_case_id``.
    """
    files, folders = _entries(root, folder, problems)
    found = _by_stem(root, files, (suffix,), problems, f"not a {suffix} file in the {what} folder")
    for p in folders:
        if not (what == "image" and p.name in LABELS):
            problems.append(Problem(_rel(root, p), "", "stray_folder", f"unexpected folder in {what}s"))
    return found


def _by_stem(root: Path, files: list[Path], suffixes: tuple[str, ...], problems: list[Problem],
             stray: str) -> dict[str, Path]:
    """The files of one folder with one of ``suffixes`` (any case), keyed by stem, sorted
    by name.

    A file with another suffix is a ``stray_file`` whose detail is ``stray`` (for an image
    in a format not read there, :func:`_stray_detail` names the fix instead); of two files
    with one stem, a file that is not empty before a 0-byte one, then the one whose suffix
    comes first in ``suffixes`` (then a lower-case suffix, then by name) is kept and the
    other is a ``duplicate_case_id``.
    """
    def rank(f: Path) -> tuple:
        lower = f.suffix.lower()
        return (f.stem, _empty(f), suffixes.index(lower) if lower in suffixes else len(suffixes),
                f.suffix != lower, f.name)

    found: dict[str, Path] = {}
    for p in sorted(files, key=rank):
        if p.suffix.lower() not in suffixes:
            problems.append(Problem(_rel(root, p), p.stem, "stray_file",
                                    _stray_detail(p, stray, suffixes)))
            continue
        if p.stem in found:
            problems.append(Problem(
                _rel(root, p), p.stem, "duplicate_case_id",
                f"same case_id as {found[p.stem].name} in this folder (names that differ only "
                f"in the extension); {found[p.stem].name} is analysed, this file is not"))
            continue
        found[p.stem] = p
    return dict(sorted(found.items(), key=lambda item: item[1].name))


def _empty(path: Path) -> bool:
    """Whether ``path`` holds 0 bytes (its size, from the folder; nothing is opened)."""
    try:
        return path.stat().st_size == 0
    except OSError:
        return False


def _stray_detail(path: Path, detail: str, read: tuple[str, ...] = (IMAGE_SUFFIX,)) -> str:
    """``detail``, or for an image in a format not read where it is (``read``: the
    suffixes read there), what to do with it."""
    suffix = path.suffix.lower()
    if suffix in OTHER_IMAGE_SUFFIXES and suffix not in read and not path.name.startswith("."):
        formats = ", ".join(dict.fromkeys(IMAGE_FORMATS[s] for s in read))
        return (f"a {suffix} image: images here are read as {formats} only, so it is ignored; "
                "convert it to PNG to analyse it")
    return detail


#: What a data folder may be, said in every layout error.
_ACCEPTED = ("expected the competition layout (train_images/ with authentic/ and forged/, "
             "train_masks/, test_images/) or a flat folder of images (PNG, JPEG, TIFF, BMP or "
             "WebP; subfolders walked)")


def layout_of(root: Path) -> str:
    """``"competition"`` or ``"flat"``: how :func:`scan` reads the data folder ``root``.

    The competition layout wins whenever the top of ``root`` holds one of
    :data:`COMPETITION_FOLDERS`: a folder mixing them with loose images is read in the
    competition layout, and each loose image is a ``stray_file`` saying how to analyse it.
    Any other folder is read as a flat folder of images. Nothing is opened.
    """
    root = Path(root)
    try:
        return "competition" if any((root / d).is_dir() for d in COMPETITION_FOLDERS) else "flat"
    except OSError:  # a folder that cannot be looked into: a flat folder, listed unreadable
        return "flat"


def check_layout(root: Path) -> None:
    """Raise :class:`LayoutError` unless ``root`` looks like a dataset folder.

    A dataset folder is in the competition layout (one of ``train_images/``,
    ``test_images/``, ``supplemental_images/`` at least) or a flat folder of images: no
    competition folder and at least one image (:data:`FLAT_IMAGE_SUFFIXES`) in it or in
    a subfolder that is not hidden (see :func:`layout_of`). Only names are read; no file is opened.

    Raises
    ------
    LayoutError
        ``kind`` ``missing_data_dir``, ``not_a_folder``, ``unreadable_data_dir``,
        ``empty_data_dir``, ``nested_dataset``
        (the dataset sits one level deeper) or ``unexpected_layout``; every message
        says what is accepted and how to fix the folder.
    """
    root = Path(root)
    if not root.exists():
        raise LayoutError(
            f"data_dir {root} does not exist; point data_dir at the dataset folder, in the "
            "competition layout or a flat folder of images (PNG, JPEG, TIFF, BMP or WebP) "
            "(make a demo one with: python -m eda_lib demo-data DIR)",
            path=root,
            kind="missing_data_dir",
        )
    if not root.is_dir():
        raise LayoutError(f"data_dir {root} is a file, not a folder; point data_dir at the "
                          "folder that holds the images", path=root, kind="not_a_folder")
    try:
        entries = sorted(p.name for p in root.iterdir())
    except OSError as exc:
        raise LayoutError(f"data_dir {root} cannot be listed ({exc.strerror}); make it readable "
                          "(chmod a+rx) or point data_dir at a folder you can read",
                          path=root, kind="unreadable_data_dir") from exc
    if not entries:
        raise LayoutError(f"data_dir {root} is empty; {_ACCEPTED} inside it",
                          path=root, kind="empty_data_dir")
    found = ", ".join(shown(e) for e in entries[:10]) + (" ..." if len(entries) > 10 else "")
    if layout_of(root) == "competition":
        if any((root / d).is_dir() for d in ("train_images", "test_images", "supplemental_images")):
            return
        raise LayoutError(
            f"data_dir {root} has competition folders but no image folder: {_ACCEPTED}, "
            f"found: {found}. Add train_images/ or test_images/ (a flat folder of images must "
            "not hold train_masks/ or supplemental_masks/).",
            path=root,
            kind="unexpected_layout",
        )
    for entry in entries:
        if (root / entry).is_dir() and layout_of(root / entry) == "competition":
            raise LayoutError(
                f"data_dir {root} holds {shown(entry)}/, a dataset in the competition layout: "
                f"point data_dir at {root / shown(entry)} (a flat folder of images must not "
                "hold competition folders)",
                path=root,
                kind="nested_dataset",
            )
    counts = _suffix_counts(root)
    if any(counts.get(suffix) for suffix in FLAT_IMAGE_SUFFIXES):
        return
    others = ", ".join(f"{n:,} {suffix}" for suffix, n in sorted(counts.items())
                       if suffix in OTHER_IMAGE_SUFFIXES)
    hint = (f" It holds {others} images, a format not read: convert them to PNG."
            if others else " If the dataset sits one level deeper, point data_dir at that folder.")
    raise LayoutError(
        f"data_dir {root} holds no image: {_ACCEPTED}, found: {found}.{hint}",
        path=root,
        kind="unexpected_layout",
    )


def _suffix_counts(root: Path) -> dict[str, int]:
    """Files per lower-case suffix under ``root``, hidden files and folders left out,
    no link followed; stops early once an image of a flat folder is found (names only,
    nothing opened)."""
    counts: dict[str, int] = {}
    for _, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith("."):
                suffix = Path(name).suffix.lower()
                counts[suffix] = counts.get(suffix, 0) + 1
        if any(counts.get(suffix) for suffix in FLAT_IMAGE_SUFFIXES):
            break
    return counts


def _labelled_images(root: Path, base: Path, split: str, problems: list[Problem]) -> dict:
    """{(label, case_id): path} for a folder split into authentic/ and forged/."""
    out = {}
    for label in LABELS:
        for stem, p in _split_files(root, base / label, IMAGE_SUFFIX, problems, "image").items():
            out[(label, stem)] = p
    return out


def scan(data_dir: str | Path) -> Index:
    """Index ``data_dir`` by listing its folders; no file is opened.

    Raises
    ------
    LayoutError
        When the folder is missing, empty, or not in the competition layout.
    """
    root = Path(data_dir)
    check_layout(root)
    problems: list[Problem] = []
    index = Index(root=root, problems=problems)
    if layout_of(root) == "flat":
        for case_id, p in _flat_images(root, problems).items():
            index.images.append(ImageEntry(case_id, FLAT_SPLIT, "", _rel(root, p)))
        return _ordered(index)
    files, folders = _entries(root, root, problems)
    for p in sorted(files + folders):
        if p.name not in KNOWN_TOP:
            detail = "not part of the competition layout"
            if p in files and p.suffix.lower() == IMAGE_SUFFIX:
                detail = ("an image beside the competition folders, not analysed: move it into "
                          "test_images/, or put loose images in a folder of their own, which is "
                          "read as a flat folder of images")
            elif p in files:
                detail = _stray_detail(p, detail)
            problems.append(
                Problem(p.name, "", "stray_file" if p in files else "stray_folder", detail)
            )

    # train: always split by label
    train_imgs = _labelled_images(root, root / "train_images", "train", problems)
    for p in _entries(root, root / "train_images", problems)[0]:
        problems.append(Problem(_rel(root, p), p.stem, "stray_file", "image outside authentic/ and forged/"))
    train_masks = _split_files(root, root / "train_masks", MASK_SUFFIX, problems, "mask")
    _add_split(index, "train", train_imgs, train_masks)

    # supplemental: split by label, or flat (label from the presence of a mask)
    sup_dir = root / "supplemental_images"
    sup_masks = _split_files(root, root / "supplemental_masks", MASK_SUFFIX, problems, "mask")
    if any((sup_dir / label).is_dir() for label in LABELS):
        sup_imgs = _labelled_images(root, sup_dir, "supplemental", problems)
    else:
        flat = _split_files(root, sup_dir, IMAGE_SUFFIX, problems, "image")
        sup_imgs = {("forged" if s in sup_masks else "authentic", s): p for s, p in flat.items()}
    _add_split(index, "supplemental", sup_imgs, sup_masks)

    # test: flat, unlabelled
    for stem, p in _split_files(root, root / "test_images", IMAGE_SUFFIX, problems, "image").items():
        index.images.append(ImageEntry(stem, "test", "", _rel(root, p)))
    return _ordered(index)


def _ordered(index: Index) -> Index:
    """``index`` with its images, masks and problems in their stable order."""
    order = {s: i for i, s in enumerate(SPLITS)}
    index.images.sort(key=lambda e: (order[e.split], e.label, case_sort_key(e.case_id)))
    index.masks.sort(key=lambda e: (order[e.split], case_sort_key(e.case_id)))
    index.problems.sort(key=lambda q: (q.kind, q.path))
    return index


def _flat_images(root: Path, problems: list[Problem]) -> dict[str, Path]:
    """{case_id: path} of every image (:data:`FLAT_IMAGE_SUFFIXES`) under ``root``, a flat
    folder of images.

    Subfolders are walked recursively; a case_id is the path relative to ``root`` without
    its suffix. A link to a folder is a ``stray_folder``, never walked: it can only lead
    to a folder of the data folder, walked where it is (or to a loop). Hidden files and
    folders are stray and never opened or walked. Every rule of
    :func:`_entries` (names, links, special files) and of :func:`_by_stem` (other
    suffixes, one stem twice in a folder) holds in every folder.
    """
    found: dict[str, Path] = {}
    pending = [root]
    before = len(problems)
    while pending:
        folder = pending.pop(0)
        files, folders = _entries(root, folder, problems)
        for p in files:
            if p.name.startswith("."):
                problems.append(Problem(_rel(root, p), "", "stray_file",
                                        "a hidden file (.DS_Store, ._name from macOS...); ignored"))
        visible = [p for p in files if not p.name.startswith(".")]
        stray = "not an image file (PNG, JPEG, TIFF, BMP or WebP) in a flat folder; ignored"
        for p in _by_stem(root, visible, FLAT_IMAGE_SUFFIXES, problems, stray).values():
            found[PurePosixPath(_rel(root, p)).with_suffix("").as_posix()] = p
        for p in folders:
            if p.name.startswith("."):
                problems.append(Problem(_rel(root, p), "", "stray_folder",
                                        "a hidden folder (.git, .ipynb_checkpoints...); not walked"))
            elif p.is_symlink():
                problems.append(Problem(_rel(root, p), "", "stray_folder",
                                        "a link to a folder of the data folder, whose images "
                                        "are analysed where they are; not walked"))
            else:
                pending.append(p)
    # a problem's case_id, like an image's, is its path without the suffix
    problems[before:] = [replace(q, case_id=PurePosixPath(q.path).with_suffix("").as_posix())
                         if q.case_id else q for q in problems[before:]]
    return found


def _add_split(index: Index, split: str, images: dict, masks: dict[str, Path]) -> None:
    root = index.root
    stems = {label: {s for (lab, s) in images if lab == label} for label in LABELS}
    for (label, stem), p in images.items():
        other = "forged" if label == "authentic" else "authentic"
        mask = masks.get(stem) if label == "forged" else None
        index.images.append(
            ImageEntry(
                case_id=stem,
                split=split,
                label=label,
                path=_rel(root, p),
                mask_path=_rel(root, mask) if mask is not None else None,
                twin=stem in stems[other],
            )
        )
        if label == "forged" and mask is None:
            index.problems.append(
                Problem(_rel(root, p), stem, "missing_mask",
                        f"forged image has no {split}_masks/{stem}{MASK_SUFFIX}")
            )
    for stem, p in masks.items():
        image = images.get(("forged", stem))
        index.masks.append(
            MaskEntry(stem, split, _rel(root, p), _rel(root, image) if image is not None else None)
        )
        if image is None:
            index.problems.append(
                Problem(_rel(root, p), stem, "orphan_mask", f"no forged image with case_id {stem}")
            )


def fingerprint(data_dir: str | Path) -> dict:
    """A cheap fingerprint of every file under ``data_dir``.

    Hashes the sorted relative paths with their sizes and modification times
    (nanoseconds); file contents are not read, so it is instant on any size. A link is
    described by its target when that is a file inside the data folder, else by itself.

    Returns
    -------
    dict
        ``{"files": int, "bytes": int, "sha256": str}``
    """
    root = Path(data_dir)
    h = hashlib.sha256()
    n = total = 0
    entries = []
    data = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if p.is_symlink():  # followed only to a file inside the data folder
                target = _link_target(p)
                if target is not None and target.is_file() and data in target.parents:
                    st = target.stat()
            entries.append((p.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns))
    for rel, size, mtime in sorted(entries):
        h.update(f"{rel}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
        n += 1
        total += size
    return {"files": n, "bytes": total, "sha256": h.hexdigest()}
