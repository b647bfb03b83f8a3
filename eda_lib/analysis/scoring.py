"""Scoring and checking submission files against a dataset folder.

:mod:`eda_lib.metric` holds the metric; this module builds the ground truth from
the training images and masks of a data folder, so a submission made on training
data (a validation fold, say) can be scored locally, and a submission for the test
set can be checked against the test images' sizes.

Training images are named in a submission by ``<label>/<case_id>`` (``forged/10``,
``authentic/10``), their training id: an authentic image and its forged twin share
their case_id, so a plain case_id is accepted only where it names one training image
(a forged image without twin), as an alias of its training id
(:func:`training_aliases`). Scoring and checking treat both names alike: two rows
that name one image, whichever name each uses, are a duplicate.

:func:`baseline_submission` turns the blind screen's ``copy`` pairs (table
``screening``) into a submission: the classical baseline of the ``baseline`` command.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..dataset import images, masks, metric
from ..dataset.index import FLAT_SPLIT, SUBMISSION_SPLITS, Index, scan
from ..errors import ConfigError
from ..tables import Tables
from .folds import check_fold_count, grouped_folds, leakage_groups


def training_ids(index: Index) -> dict[str, tuple[str, str | None]]:
    """Training id (``<label>/<case_id>``) -> (image path, mask path or None) for every
    training image."""
    return {f"{e.label}/{e.case_id}": (e.path, e.mask_path)
            for e in index.images if e.split == "train"}


def training_aliases(index: Index) -> dict[str, str]:
    """Plain case_id -> training id, for every case_id that names one training image
    only (a forged image without its authentic twin): a submission may name that
    image either way."""
    named: dict[str, list[str]] = {}
    for e in index.images:
        if e.split == "train":
            named.setdefault(e.case_id, []).append(f"{e.label}/{e.case_id}")
    return {case: ids[0] for case, ids in named.items() if len(ids) == 1}


def _labelled(index: Index) -> dict[str, tuple[str, str | None]]:
    """:func:`training_ids`; none is a ConfigError: there is nothing to score against."""
    known = training_ids(index)
    if not known:
        raise ConfigError(f"{index.root} has no labelled training images (train_images/authentic "
                          "and train_images/forged) to score against; the images of a flat "
                          "folder have no labels: check a submission's form with validate "
                          "--split unlabelled", key="data_dir")
    return known


def _check_split(split: str) -> None:
    if split not in SUBMISSION_SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SUBMISSION_SPLITS)}, got {split!r}",
                          key="split")


def image_sizes(index: Index) -> dict[str, tuple[int, int] | None]:
    """(H, W) of every image a submission may name (test and unlabelled case_ids, and
    training ids), None for a file whose header cannot be read: its id is still one a
    submission must name."""
    out: dict[str, tuple[int, int] | None] = {}
    named = {e.case_id: e.path for e in index.images if e.split in ("test", FLAT_SPLIT)}
    named.update({k: path for k, (path, _) in training_ids(index).items()})
    for key, rel in named.items():
        size = images.image_size(index.root / rel)
        out[key] = None if size is None else (size[1], size[0])
    return out


def solution(data_dir: Path, ids: Iterable[str], allow_pickle: bool = False) -> pd.DataFrame:
    """Ground truth rows (case_id, annotation, shape) for training images named by ``ids``
    (training ids, or the plain case_ids of :func:`training_aliases`), named as there."""
    return _solution(scan(data_dir), list(ids), allow_pickle)


def _solution(index: Index, ids: list[str], allow_pickle: bool = False) -> pd.DataFrame:
    """:func:`solution` over a scanned data folder."""
    known = _labelled(index)
    known = {**{case: known[key] for case, key in training_aliases(index).items()}, **known}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ConfigError(
            f"{len(unknown)} id(s) name no training image, e.g. {unknown[:3]}; name training "
            "images as forged/<case_id> or authentic/<case_id>", key="case_id")
    rows = []
    for key in ids:
        image_path, mask_path = known[key]
        size = images.image_size(index.root / image_path)
        if size is None:
            raise ConfigError(f"{index.root / image_path}: cannot read the size of this training "
                              f"image, so {key} cannot be scored; make the file readable, or "
                              "leave its id out of the submission", key="case_id")
        w, h = size
        if mask_path is None:
            annotation = "authentic"
        else:
            m = masks.load_mask(index.root / mask_path, (h, w), allow_pickle)
            annotation = metric.format_annotation(metric.truth_from_masks(m.instances))
        rows.append({"case_id": key, "annotation": annotation, "shape": f"[{h}, {w}]"})
    return pd.DataFrame(rows, columns=["case_id", "annotation", "shape"])


FOLDS_COLUMNS = ("split", "label", "case_id", "fold")


def read_folds(path: Path) -> pd.DataFrame:
    """A folds CSV (a run's ``tables/folds.csv``), checked: a file that cannot be read or
    lacks a column of :data:`FOLDS_COLUMNS` is a ConfigError naming it."""
    hint = "give a run's tables/folds.csv, or a number of folds"
    try:
        folds = pd.read_csv(path, dtype={"case_id": str})
    except (OSError, ValueError, pd.errors.ParserError) as exc:  # EmptyDataError: ValueError
        raise ConfigError(f"folds file {path} cannot be read ({str(exc).strip()}); {hint}",
                          key="folds") from exc
    missing = [c for c in FOLDS_COLUMNS if c not in folds.columns]
    if missing:
        raise ConfigError(f"folds file {path} has no column {', '.join(missing)} (it needs "
                          f"{', '.join(FOLDS_COLUMNS)}); {hint}", key="folds")
    folds["fold"] = pd.to_numeric(folds["fold"], errors="coerce")
    return folds


def fold_ids(data_dir: Path, fold: int, folds_csv: Path | None = None, k: int = 5,
             seed: int = 42) -> list[str]:
    """Training ids of one fold, from a run's ``tables/folds.csv`` or computed here.

    Computed here, groups join twins only (duplicates need the pixels: use the
    folds table of a run for those), and ``k`` may not exceed the number of groups
    (:func:`~eda_lib.analysis.folds.check_fold_count`).
    """
    return _fold_ids(scan(data_dir) if folds_csv is None else None, fold, folds_csv, k, seed)


def _fold_ids(index: Index | None, fold: int, folds_csv: Path | None = None, k: int = 5,
              seed: int = 42) -> list[str]:
    """:func:`fold_ids` over a scanned data folder (read only without ``folds_csv``)."""
    if folds_csv is not None:
        folds = read_folds(folds_csv)
    else:
        assert index is not None
        imgs = pd.DataFrame([e.__dict__ for e in index.images])
        groups = leakage_groups(imgs)
        check_fold_count(k, groups["group"].nunique())
        counts = [{"split": m.split, "case_id": m.case_id,
                   "n_instances": masks.read_header(index.root / m.path)[0][0]}
                  for m in index.masks]
        folds = grouped_folds(imgs, pd.DataFrame(counts, columns=["split", "case_id",
                                                                   "n_instances"]),
                              groups, k=k, seed=seed)
    chosen = folds[(folds["fold"] == fold) & (folds["split"] == "train")]
    if chosen.empty:
        known = folds.loc[folds["split"] == "train", "fold"].dropna()
        span = f"folds are 0 .. {int(known.max())}" if len(known) else "the folds name none"
        raise ConfigError(f"fold {fold} holds no training image ({span})", key="fold")
    return [f"{r.label}/{r.case_id}" for r in chosen.itertuples()]


def score_file(submission: Path, data_dir: Path, fold: int | None = None,
               folds_csv: Path | None = None, k: int = 5) -> tuple[float, pd.DataFrame]:
    """Score a submission file; returns the mean oF1 and the per-image details.

    Without ``fold`` every image the submission names is scored (the images it
    leaves out are not: :func:`unnamed_training_ids` lists them); with it, the images
    of that fold (each must be in the submission), from ``folds_csv`` or, without it,
    from ``k`` folds computed here (:func:`fold_ids`). The details name every image
    by its training id, also where the submission uses a plain case_id.

    Raises
    ------
    ConfigError
        A submission that names no image, a row that names no training image or
        an image an earlier row names (see the module notes), naming the file and
        its lines; a bad fold or number of folds; a data folder without labels.
    SubmissionError
        A file that cannot be read as a submission, a broken annotation, or an
        image of the fold without a row, naming the file.
    """
    sub = metric.read_submission(submission)
    if sub.empty:
        raise ConfigError(f"{submission} names no image: it has a header and no row; add a row "
                          "case_id,annotation for each training image to score",
                          key="submission")
    index = scan(data_dir)
    sub = _by_training_id(sub, index, submission)
    ids = _fold_ids(index, fold, folds_csv, k) if fold is not None else list(sub["case_id"])
    truth = _solution(index, ids)
    try:
        details = metric.score_details(truth, sub)
    except metric.SubmissionError as exc:
        if exc.line is None and exc.kind != "missing_case_id":
            raise  # the truth's, not the submission's
        raise metric.SubmissionError(f"{submission}: {exc}", submission, exc.kind,
                                     line=exc.line, case_id=exc.case_id) from exc
    return float(details["score"].mean()), details


def _by_training_id(sub: pd.DataFrame, index: Index, path: Path) -> pd.DataFrame:
    """The rows of a submission (:func:`metric.read_submission`), each image named by
    its training id. A row that names no training image, or an image that an earlier
    row names by either of its names, is a ConfigError naming ``path`` and the lines."""
    known = _labelled(index)
    aliases = training_aliases(index)
    names = [case if case in known else aliases.get(case) for case in sub["case_id"]]
    rows = list(zip(sub["line"], sub["case_id"], names))
    unknown = [f"line {line}: {case}" for line, case, name in rows if name is None]
    if unknown:
        raise ConfigError(
            f"{path}: {len(unknown)} row(s) name no training image ({_some(unknown)}); name "
            "training images forged/<case_id> or authentic/<case_id>", key="case_id")
    first: dict[str, tuple[int, str]] = {}
    again = []
    for line, case, name in rows:
        if name in first:
            line0, case0 = first[name]
            named = case if case == name else f"{case} ({name})"
            also = "" if case0 in (case, name) else f" as {case0}"
            again.append(f"line {line}: {named}, already on line {line0}{also}")
        first.setdefault(name, (line, case))
    if again:
        raise ConfigError(f"{path}: {len(again)} row(s) name an image of an earlier row "
                          f"({_some(again)}); keep one row per image", key="case_id")
    return sub.assign(case_id=names)


def _some(items: list[str], n: int = 3) -> str:
    """The first ``n`` of a submission's ``items`` joined by '; ', and how many more
    there are."""
    more = (f"; and {len(items) - n} more: validate --split train lists them all"
            if len(items) > n else "")
    return "; ".join(items[:n]) + more


def unnamed_training_ids(data_dir: Path, named: Iterable[str]) -> list[str]:
    """The training ids of ``data_dir`` that are not in ``named`` (training ids, as
    :func:`score_file`'s details give them), in index order: the images a submission
    leaves out, which :func:`score_file` without a fold does not score."""
    named = set(named)
    return [key for key in training_ids(scan(data_dir)) if key not in named]


def validate_file(submission: Path, data_dir: Path | None = None,
                  split: str = "test") -> pd.DataFrame:
    """Every problem of a submission file, one row each (empty when it is valid).

    With ``data_dir``, the submission is checked against the images of ``split``:
    ``"test"`` (case_ids of ``test_images/``, what the competition scores),
    ``"unlabelled"`` (the case_ids of a flat folder's images) or ``"train"`` (training
    ids, see the module notes): unknown and missing ids are reported and runs are
    checked against each image's size.
    """
    _check_split(split)
    if data_dir is None:
        return metric.validate_submission(submission)
    index = scan(data_dir)
    sizes = image_sizes(index)
    aliases: dict[str, str] = {}
    if split == "train":
        wanted = set(training_ids(index))
        aliases = training_aliases(index)
    else:
        wanted = {e.case_id for e in index.images if e.split == split}
    if not wanted:
        raise ConfigError(f"{data_dir} has no {split} images to check the submission against"
                          f"{_split_hint(index)}", key="split")
    return metric.validate_submission(submission, {k: sizes[k] for k in wanted}, aliases)


def _split_hint(found: Index | Iterable[str]) -> str:
    """': its images are test and train; pass --split test' for the splits of an index
    (or the split column of a table) that a submission can name, '' when none."""
    splits = {e.split for e in found.images} if isinstance(found, Index) else set(found)
    present = [x for x in SUBMISSION_SPLITS if x in splits]
    return f": its images are {' and '.join(present)}; pass --split {present[0]}" if present else ""


def _split_images(tables: Tables, split: str) -> tuple[pd.DataFrame, list[str]]:
    """The image rows a submission for ``split`` names, and their names in it."""
    _check_split(split)
    imgs = tables.images[tables.images["split"] == split]
    if split == "train":
        imgs = imgs[imgs["label"].isin(["authentic", "forged"])]
        return imgs, (imgs["label"] + "/" + imgs["case_id"]).tolist()
    return imgs, imgs["case_id"].tolist()


def unscreened(tables: Tables, split: str = "test") -> pd.DataFrame:
    """The images of ``split`` the blind screen did not look at, which a baseline
    submission calls ``authentic`` without evidence: ``case_id`` (named as in the
    submission) and ``why`` (the image's status when it could not be decoded, else its
    screen status: ``too_small``, ``too_flat``, ``failed`` or ``off``)."""
    imgs, names = _split_images(tables, split)
    status = imgs["status"].astype("string")
    screen = imgs["screen_status"].astype("string").fillna("off")
    why = status.where(status != "ok", screen)
    out = pd.DataFrame({"case_id": names, "why": why.to_numpy()})
    return out[out["why"] != "screened"].reset_index(drop=True)


def baseline_submission(tables: Tables, split: str = "test",
                        ids: Iterable[str] | None = None) -> pd.DataFrame:
    """The blind screen's submission for the images of ``split``.

    Each ``copy`` pair of the screening table is one instance (its ``annotation``:
    source and target together, as the training masks mark them); an image without
    one is ``authentic``. An image that could not be decoded or screened is
    ``authentic`` too, and its screen status says why.

    Parameters
    ----------
    tables : Tables
        A run's tables (:func:`eda_lib.datapass.load_tables`).
    split : str
        ``"test"`` or ``"unlabelled"`` (a flat folder's images): rows named by case_id,
        every image of the split; ``"train"``: rows named ``forged/<case_id>`` and
        ``authentic/<case_id>`` (what :func:`score_file` reads).
    ids : iterable of str, optional
        With ``split="train"``, only these training ids (a fold's, from :func:`fold_ids`).

    Returns
    -------
    DataFrame
        ``case_id, annotation``, in the tables' order.

    Raises
    ------
    ConfigError
        An unknown split, an id that names no training image, or no image at all.
    """
    imgs, names = _split_images(tables, split)
    if imgs.empty:
        raise ConfigError(f"the dataset has no {split} images to predict"
                          f"{_split_hint(tables.images['split'])}", key="split")
    screen = tables.screening
    copies = screen[(screen["split"] == split) & (screen["verdict"] == "copy")]
    joined = copies.groupby(["label", "case_id"], sort=False)["annotation"].agg(";".join)
    annotations = [joined.get((label, case), "authentic")
                   for label, case in zip(imgs["label"], imgs["case_id"])]
    out = pd.DataFrame({"case_id": names, "annotation": annotations})
    if ids is not None:
        wanted = list(ids)
        missing = sorted(set(wanted) - set(out["case_id"]))
        if missing:
            raise ConfigError(f"{len(missing)} id(s) name no {split} image of the tables, e.g. "
                              f"{missing[:3]}", key="case_id")
        out = out[out["case_id"].isin(set(wanted))]
    return out.reset_index(drop=True)
