"""The competition's metric and submission format: encode, decode, score, validate.

A submission is a CSV with the columns ``case_id,annotation``. An annotation is
the literal ``authentic`` or one run-length list per forged instance, written as
JSON and joined by ``;``, e.g. ``[123, 4, 200, 3];[1000, 10]``. A run-length list
walks the (H, W) mask in column-major (Fortran) order and gives, for each run of
marked pixels, its 1-based start and its length.

The score of one image is 1 when truth and prediction are both ``authentic``, 0
when only one of them is, and otherwise the "oF1": the pixel F1 of every
(prediction, truth) pair, the Hungarian matching that maximises the summed F1,
the sum of the matched F1 over ``len(truth)`` (a truth without prediction counts
0), times ``len(truth) / max(len(pred), len(truth))``. The final score is the
mean over the images of the solution. This module reproduces the official
examples bit for bit (``DATASET.md``, tested in ``tests/test_metric.py``).

Decoding follows the scorer's rules and names the broken one: a run-length list
must hold an even number of integers, all positive, with strictly ascending
starts, no run overlapping the next and no run past the last pixel. Every error
is a :class:`SubmissionError` whose ``kind`` is a key of :data:`PROBLEMS` (what
:func:`validate_submission` reports, one row per problem) or of :data:`REFUSALS`
(arguments this module refuses). Instance and run numbers in messages count
from 1.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..errors import DataError
from ..geometry import bbox

AUTHENTIC = "authentic"
#: The columns of a submission, in order.
COLUMNS = ("case_id", "annotation")

#: Problems of a submission (``validate_submission(...).kind``) and what to do.
PROBLEMS: dict[str, str] = {
    "missing_column": "the header lacks case_id or annotation (rows are not checked): fix it",
    "extra_column": "the header has a column other than case_id and annotation: remove it",
    "field_count": "a row has more or fewer fields than the header: quote the annotation",
    "duplicate_case_id": "a case_id appears on several rows: keep one row per case",
    "unknown_case_id": "a case_id that is not in the solution: remove the row",
    "missing_case_id": "a case of the solution has no row: add it ('authentic' if not forged)",
    "unparsable_annotation": "neither 'authentic' nor ';'-joined JSON lists",
    "space_separated_rle": "a run-length list written '1 3 10 5': write JSON, '[1, 3, 10, 5]'",
    "non_integer_rle": "a run-length list holds a value that is not an integer",
    "odd_length_rle": "a run-length list has an odd number of values: it is start, length pairs",
    "non_positive_rle": "a start or a length below 1 (starts are 1-based, lengths positive)",
    "descending_rle": "a run starts at or before the previous run's start: sort the runs",
    "overlapping_rle": "a run starts inside the previous run: merge the two",
    "rle_outside_image": "a run ends past the last pixel (H * W) of the image",
}
#: Arguments the functions of this module refuse (``SubmissionError.kind``).
REFUSALS: dict[str, str] = {
    "bad_mask": "a mask that is not a 2-D bool or 0/1 array, or a stack that is not (N, H, W)",
    "shape_mismatch": "masks of one image with different shapes",
    "bad_shape": "an image shape that is not two positive integers, as (H, W) or '[H, W]'",
    "bad_frame": "a solution or submission DataFrame without its columns, or with no rows",
    "unreadable_submission": "a submission file that cannot be opened or is not UTF-8 CSV",
}

#: Columns of :func:`validate_submission`; ``line`` is the 1-based line in the file
#: (null for a case of ``known`` that has no row).
PROBLEM_COLUMNS: dict[str, str] = {
    "line": "Int64", "case_id": "str", "kind": "str", "detail": "str",
}
#: Columns of :func:`score_details`; authentic sides have 0 instances.
DETAIL_COLUMNS: dict[str, str] = {
    "case_id": "str", "truth_instances": "int64", "pred_instances": "int64", "score": "float64",
}
#: Columns of :func:`read_submission`.
SUBMISSION_COLUMNS: dict[str, str] = {"line": "int64", "case_id": "str", "annotation": "str"}

_SPACED = re.compile(r"\s*\[?\s*\d+(?:[ \t]+\d+)+\s*\]?\s*")
_EXCERPT = 60


class SubmissionError(DataError):
    """An annotation, a submission or a solution cannot be scored as it is.

    Attributes
    ----------
    kind : str
        A key of :data:`PROBLEMS` or :data:`REFUSALS`.
    line : int or None
        The 1-based line of the submission file at fault, when known.
    case_id : str or None
        The case at fault, when known.
    """

    def __init__(self, message: str, path: Path | str | None = None,
                 kind: str = "unparsable_annotation", *, line: int | None = None,
                 case_id: str | None = None):
        super().__init__(message, path, kind)
        self.line = line
        self.case_id = case_id


# --- masks <-> run-length lists ----------------------------------------------------------


def rle_encode(mask: np.ndarray) -> list[int]:
    """Run-length list of an (H, W) mask: ``[start1, length1, start2, length2, ...]``.

    Pixels are numbered from 1 in column-major (Fortran) order, so a run can wrap
    from the bottom of one column to the top of the next.

    Parameters
    ----------
    mask : (H, W) array of bool or 0/1 integers

    Returns
    -------
    list of int
        Empty for an empty mask.

    Raises
    ------
    SubmissionError
        ``bad_mask`` when the array is not 2-D, or holds values other than 0/1.

    Examples
    --------
    >>> m = np.zeros((3, 4), bool)
    >>> m[1:, 0] = True; m[0, 1] = True   # wraps from column 0 into column 1
    >>> m[2, 3] = True                    # the last pixel, number 12
    >>> rle_encode(m)
    [2, 3, 12, 1]
    """
    m = _as_mask(mask)
    marked = bbox(m)
    if marked is None:
        return []
    left, top, right, bottom = marked[0], marked[1], marked[2] + 1, marked[3] + 1
    # only the columns with marked pixels, and their rows with marked pixels plus one
    # unmarked row (unless they span the height), so that no run crosses a column there
    h = m.shape[0]
    if bottom < h:
        bottom += 1
    elif top > 0:
        top -= 1
    box = m[top:bottom, left:right]
    flat = cv2.transpose(np.ascontiguousarray(box).view(np.uint8)).ravel()  # column-major
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    if flat[0]:
        edges = np.concatenate(([0], edges))
    if flat[-1]:
        edges = np.concatenate((edges, [flat.size]))
    # position in the box -> pixel number in the image (a box as high as the image
    # is a run of whole columns, numbered on from one to the next)
    column, row = np.divmod(edges[0::2], bottom - top)
    runs = np.empty(edges.size, np.int64)
    runs[0::2] = (left + column) * h + top + row + 1
    runs[1::2] = edges[1::2] - edges[0::2]
    return runs.tolist()


def rle_decode(rle: Sequence[int] | np.ndarray | str, shape: Sequence[int] | str) -> np.ndarray:
    """The (H, W) bool mask of one run-length list, checked with the scorer's rules.

    Parameters
    ----------
    rle : list of int, 1-D integer array, or its JSON text (``"[1, 3, 10, 5]"``)
    shape : (H, W), or the scorer's ``"[H, W]"`` text

    Returns
    -------
    (H, W) bool array, C-contiguous

    Raises
    ------
    SubmissionError
        With ``kind`` one of ``unparsable_annotation``, ``space_separated_rle``,
        ``non_integer_rle``, ``odd_length_rle``, ``non_positive_rle``,
        ``descending_rle``, ``overlapping_rle``, ``rle_outside_image`` (the
        message names the run), or ``bad_shape``.

    Examples
    --------
    >>> rle_decode("[2, 3, 12, 1]", "[3, 4]").astype(int)
    array([[0, 1, 0, 0],
           [1, 0, 0, 0],
           [1, 0, 0, 1]])
    >>> try:
    ...     rle_decode([3, 2, 4, 1], (3, 4))
    ... except SubmissionError as exc:
    ...     print(exc.kind, "-", exc)  # doctest: +NORMALIZE_WHITESPACE
    overlapping_rle - run 2 (start 4, length 1) starts inside run 1 (start 3, length 2, last
    pixel 4); merge overlapping runs
    """
    hw = _shape(shape)
    values = _rle_values(rle) if isinstance(rle, str) else rle
    return _draw(*_runs(_integers(values), hw), hw)


def _draw(starts: np.ndarray, lengths: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """The (H, W) bool mask of checked runs (see :func:`_runs`), C-contiguous."""
    h, w = hw
    marks = np.zeros(h * w + 1, np.int8)
    marks[starts - 1] = 1
    marks[starts - 1 + lengths] -= 1  # ends are distinct; an end may be the next start
    flat = np.cumsum(marks[:-1], dtype=np.int8).view(bool)
    return np.ascontiguousarray(flat.reshape((h, w), order="F"))


def truth_from_masks(masks: np.ndarray) -> list[np.ndarray]:
    """The instances of an (N, H, W) mask stack: one (H, W) bool mask per non-empty channel.

    Examples
    --------
    >>> stack = np.zeros((3, 2, 2), np.uint8); stack[0, 0, 0] = stack[2, 1, 1] = 1
    >>> [int(m.sum()) for m in truth_from_masks(stack)]
    [1, 1]
    """
    return [m for m in _instances(masks) if m.any()]


# --- annotations ----------------------------------------------------------------------


def format_annotation(instances: Sequence[np.ndarray] | np.ndarray) -> str:
    """The annotation text of a list of (H, W) masks or an (N, H, W) stack.

    Empty instances are left out (an empty prediction cannot match anything and
    only lowers the score); with none left the annotation is ``authentic``.

    Examples
    --------
    >>> a = np.zeros((2, 3), bool); a[:, 1] = True
    >>> b = np.zeros((2, 3), bool); b[1, 2] = True
    >>> format_annotation([a, np.zeros((2, 3), bool), b])
    '[3, 2];[6, 1]'
    >>> format_annotation(np.zeros((0, 2, 3), bool))
    'authentic'
    """
    return format_runs(map(rle_encode, _instances(instances)))


def format_runs(runs: Iterable[Sequence[int]]) -> str:
    """The annotation text of run-length lists (as :func:`rle_encode` makes them).

    Empty lists are left out; with none left the annotation is ``authentic``.

    Examples
    --------
    >>> format_runs([[3, 2], [], [6, 1]])
    '[3, 2];[6, 1]'
    """
    parts = [json.dumps([int(v) for v in rle]) for rle in runs if len(rle)]
    return ";".join(parts) if parts else AUTHENTIC


def parse_runs(text: str, shape: Sequence[int] | str) -> list[np.ndarray] | str:
    """The run-length lists of an annotation, checked by the scorer's rules, unexpanded.

    What :func:`parse_annotation` reads before it draws the masks: one int64 array of
    ``start, length`` pairs per instance (``authentic`` as is). Cheap for large images,
    since no pixel array is made.

    Examples
    --------
    >>> [r.tolist() for r in parse_runs("[1, 1];[4, 1]", (2, 2))]
    [[1, 1], [4, 1]]
    """
    if _is_authentic(text):
        return AUTHENTIC
    hw = _shape(shape)
    parts = text.split(";")
    runs = []
    for number, part in enumerate(parts, 1):
        with _context(f"instance {number} of {len(parts)}"):
            values = _integers(_rle_values(part))
            _runs(values, hw)
            runs.append(values)
    return runs


def parse_annotation(text: str, shape: Sequence[int] | str) -> list[np.ndarray] | str:
    """The masks of an annotation, or ``"authentic"``.

    Parameters
    ----------
    text : str
        ``authentic`` (exactly), or JSON run-length lists joined by ``;``.
    shape : (H, W), or the scorer's ``"[H, W]"`` text

    Raises
    ------
    SubmissionError
        The first broken rule, in the first broken instance (see :func:`rle_decode`).

    Examples
    --------
    >>> [m.astype(int).tolist() for m in parse_annotation("[1, 1];[4, 1]", (2, 2))]
    [[[1, 0], [0, 0]], [[0, 0], [0, 1]]]
    >>> parse_annotation("authentic", (2, 2))
    'authentic'
    """
    runs = parse_runs(text, shape)
    if isinstance(runs, str):
        return runs
    hw = _shape(shape)
    return [_draw(r[0::2], r[1::2], hw) for r in runs]


# --- scoring --------------------------------------------------------------------------


def of1(truth: Sequence[np.ndarray] | np.ndarray | str,
        pred: Sequence[np.ndarray] | np.ndarray | str) -> float:
    """Score of one image: the oF1 of predicted against true instances.

    Either side is ``"authentic"`` (an empty list counts as authentic) or a list of
    (H, W) masks (or an (N, H, W) stack). Note the order: truth first.

    Returns
    -------
    float
        1.0 when both sides are authentic, 0.0 when one is; otherwise the sum of
        the Hungarian-matched pixel F1 over ``len(truth)``, times
        ``len(truth) / max(len(pred), len(truth))``.

    Examples
    --------
    >>> a = np.zeros((4, 4), bool); a[0, :2] = True
    >>> b = np.zeros((4, 4), bool); b[3, 3] = True
    >>> of1([a, b], [b])          # one exact instance of two
    0.5
    >>> of1([a], [a, b])          # one extra prediction
    0.5
    >>> of1("authentic", [a]), of1([], "authentic")
    (0.0, 1.0)
    """
    truth_masks, pred_masks = _instances(truth), _instances(pred)
    if not truth_masks or not pred_masks:
        return float(not truth_masks and not pred_masks)
    _same_shape(truth_masks + pred_masks)
    f1 = _f1_matrix(pred_masks, truth_masks)
    n_truth = len(truth_masks)
    mean = _matched_sum(f1) / n_truth
    return float(mean * (n_truth / max(len(pred_masks), n_truth)))


def of1_runs(truth: Sequence[np.ndarray] | str, pred: Sequence[np.ndarray] | str) -> float:
    """:func:`of1` of run-length lists, as :func:`parse_runs` returns them, without
    drawing a mask.

    Each instance is an int64 array ``[start1, length1, start2, length2, ...]`` of one
    image, checked by the scorer's rules (sorted, disjoint runs). Intersections are
    counted from the runs, so time and memory grow with the number of runs, not with
    the image's pixels times the instances: a submission with thousands of tiny
    instances for one image scores in a few megabytes.

    Examples
    --------
    >>> of1_runs([np.array([1, 2])], [np.array([1, 1])])
    0.6666666666666666
    >>> of1_runs("authentic", "authentic"), of1_runs([np.array([1, 2])], "authentic")
    (1.0, 0.0)
    """
    truth_runs = [] if isinstance(truth, str) else list(truth)
    pred_runs = [] if isinstance(pred, str) else list(pred)
    if not truth_runs or not pred_runs:
        return float(not truth_runs and not pred_runs)
    n_pred, n_truth = len(pred_runs), len(truth_runs)
    owner = np.repeat(np.arange(n_pred), [len(r) // 2 for r in pred_runs])
    flat = np.concatenate(pred_runs) if n_pred else np.empty(0, np.int64)
    starts, ends = flat[0::2] - 1, flat[0::2] - 1 + flat[1::2]  # 0-based, end excluded
    pred_sizes = np.bincount(owner, weights=flat[1::2], minlength=n_pred)
    tp = np.empty((n_pred, n_truth))
    truth_sizes = np.empty(n_truth)
    for j, runs in enumerate(truth_runs):
        t_starts, t_lengths = runs[0::2] - 1, runs[1::2]
        before = _covered_before(t_starts, t_lengths, ends) - _covered_before(
            t_starts, t_lengths, starts)
        tp[:, j] = np.bincount(owner, weights=before, minlength=n_pred)
        truth_sizes[j] = t_lengths.sum()
    f1 = _f1_array(tp, pred_sizes[:, None], truth_sizes[None, :])
    return float(_matched_sum(f1) / n_truth * (n_truth / max(n_pred, n_truth)))


def _covered_before(starts: np.ndarray, lengths: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Pixels of the sorted, disjoint runs ``[start, start + length)`` (0-based) that lie
    before each position of ``x``."""
    cumulative = np.concatenate(([0], np.cumsum(lengths)))
    i = np.searchsorted(starts, x, side="left")  # runs that start before x
    last_end = np.where(i > 0, starts[i - 1] + lengths[i - 1], 0) if len(starts) else 0
    return cumulative[i] - np.maximum(last_end - x, 0)


def _f1_array(tp: np.ndarray, n_pred: np.ndarray, n_truth: np.ndarray) -> np.ndarray:
    """:func:`_f1` over arrays (broadcast)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_pred > 0, tp / n_pred, 0.0)
        recall = np.where(n_truth > 0, tp / n_truth, 0.0)
        total = precision + recall
        return np.where(total > 0, 2 * precision * recall / total, 0.0)


def _matched_sum(f1: np.ndarray) -> float:
    """Largest sum of F1 over one-to-one (prediction, truth) pairs (Hungarian matching).

    With one prediction or one truth the best pair is the matching: the data pass
    scores every mask against its union that way, without loading SciPy's solver in
    each worker.
    """
    if min(f1.shape) == 1:
        return float(f1.max())
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-f1)
    return float(f1[rows, cols].sum())


def score_details(solution: pd.DataFrame, submission: pd.DataFrame) -> pd.DataFrame:
    """Per-case scores: one row per case of the solution (columns :data:`DETAIL_COLUMNS`).

    Parameters
    ----------
    solution : DataFrame with columns case_id, annotation, shape
        ``shape`` is ``"[H, W]"`` (as in the scorer) or an (H, W) pair.
    submission : DataFrame with columns case_id, annotation
        Extra case_ids are ignored. With a ``line`` column (as from
        :func:`read_submission`), errors name the file line.

    Raises
    ------
    SubmissionError
        ``missing_case_id``, ``duplicate_case_id``, ``bad_frame``, or the first
        broken annotation, with its ``case_id``. Both sides are always decoded: a
        broken annotation is an error even where the score does not depend on it
        (the other side is ``authentic``), which the official scorer may let pass.

    Examples
    --------
    >>> sol = pd.DataFrame({"case_id": [1, 2], "annotation": ["[1, 2]", "authentic"],
    ...                     "shape": ["[2, 2]", "[2, 2]"]})
    >>> sub = pd.DataFrame({"case_id": ["1", "2"], "annotation": ["[1, 1]", "authentic"]})
    >>> score_details(sol, sub)
      case_id  truth_instances  pred_instances     score
    0       1                1               1  0.666667
    1       2                0               0  1.000000
    """
    _require(solution, ("case_id", "annotation", "shape"), "solution")
    _require(submission, COLUMNS, "submission")
    predicted = _predictions(submission)
    cases = solution[["case_id", "annotation", "shape"]].itertuples(index=False)
    rows = [_score_case(str(case), truth, shape, predicted) for case, truth, shape in cases]
    return _frame(rows, DETAIL_COLUMNS)


def score(solution: pd.DataFrame, submission: pd.DataFrame) -> float:
    """The competition score: the mean of :func:`score_details` over the solution's cases.

    Examples
    --------
    >>> sol = pd.DataFrame({"case_id": [7], "annotation": ["[1, 2]"], "shape": ["[2, 2]"]})
    >>> score(sol, pd.DataFrame({"case_id": [7], "annotation": ["[1, 2]"]}))
    1.0
    """
    if len(solution) == 0:
        raise SubmissionError("the solution has no rows: nothing to score", kind="bad_frame")
    return float(np.mean(score_details(solution, submission)["score"].to_numpy()))


# --- files ----------------------------------------------------------------------------


def read_submission(path: Path | str) -> pd.DataFrame:
    """A submission file as a DataFrame (columns :data:`SUBMISSION_COLUMNS`), all text.

    Only the structure is checked (header columns, fields per row); extra columns
    are dropped. :func:`validate_submission` lists every problem.

    Raises
    ------
    SubmissionError
        ``unreadable_submission``, ``missing_column`` or ``field_count``, naming
        the first such problem and how many there are.
    """
    header_line, header, records = _read_csv(Path(path))
    _raise_first(path, [p for p in _header_problems(header, header_line)
                        if p["kind"] == "missing_column"])
    at = _positions(header)
    _raise_first(path, [_field_count(line, fields, header, at) for line, fields in records
                        if len(fields) != len(header)])
    rows = [{"line": line, "case_id": fields[at["case_id"]], "annotation": fields[at["annotation"]]}
            for line, fields in records]
    return _frame(rows, SUBMISSION_COLUMNS)


def validate_submission(path: Path | str,
                        known: Mapping[str, tuple[int, int] | None] | None = None,
                        aliases: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Every problem of a submission file, one row each (columns :data:`PROBLEM_COLUMNS`).

    The file is read as text: no value is converted or evaluated. Each instance
    of each annotation is checked on its own, so a row can have several problems.

    Parameters
    ----------
    path : Path
    known : dict case_id -> (H, W) or None, optional
        The cases of the solution. With it, unknown and missing case_ids are
        reported and runs are checked against the image size (of a case whose size
        is None, an image that cannot be read, only their form is checked).
    aliases : dict name -> case_id of ``known``, optional
        Other names a row may give a case by (a name that is a case_id of ``known``
        names that case). Rows that name one case, under any of its names, are
        ``duplicate_case_id``; the ``case_id`` of a problem is as the row writes it.

    Returns
    -------
    DataFrame
        Empty (with its columns) when the submission is valid. ``kind`` is a key
        of :data:`PROBLEMS`. Rows follow the file; missing cases come last, in
        the order of ``known``, with a null ``line``.

    Raises
    ------
    SubmissionError
        ``unreadable_submission`` when the file cannot be read as UTF-8 CSV.
    """
    header_line, header, records = _read_csv(Path(path))
    problems = _header_problems(header, header_line)
    if not any(p["kind"] == "missing_column" for p in problems):
        shapes = None if known is None else {str(k): v for k, v in known.items()}
        problems += _rows_problems(records, header, shapes, aliases or {})
    return _frame(problems, PROBLEM_COLUMNS)


# --- helpers: masks -------------------------------------------------------------------


def _as_mask(mask: np.ndarray, what: str = "mask") -> np.ndarray:
    """(H, W) bool from a bool or 0/1 integer array; anything else is refused."""
    a = np.asarray(mask)
    if a.ndim != 2:
        raise SubmissionError(
            f"{what} must be a 2-D (H, W) array, got shape {a.shape}; pass an (N, H, W)"
            " stack as a whole to format_annotation, of1 or truth_from_masks", kind="bad_mask")
    if a.dtype == bool:
        return a
    if a.dtype.kind not in "iu" or (a.size and (a.min() < 0 or a.max() > 1)):
        raise SubmissionError(
            f"{what} must hold bool or 0/1 integers, got dtype {a.dtype}"
            f"{'' if a.dtype.kind not in 'iu' else f' with values {a.min()}..{a.max()}'};"
            " threshold it first, e.g. mask > 0 or probability > 0.5", kind="bad_mask")
    return a.astype(bool)


def _instances(instances: Sequence[np.ndarray] | np.ndarray | str) -> list[np.ndarray]:
    """The instances of one image as (H, W) bool masks; ``"authentic"`` has none."""
    if isinstance(instances, str):
        if instances != AUTHENTIC:
            raise SubmissionError(
                f"expected masks or 'authentic', got the text {_excerpt(instances)!r};"
                " decode annotation text with parse_annotation first", kind="bad_mask")
        return []
    if isinstance(instances, np.ndarray) and instances.ndim != 3:
        raise SubmissionError(
            f"a mask stack must be (N, H, W), got shape {instances.shape}; wrap a single"
            " (H, W) mask in a list", kind="bad_mask")
    return [_as_mask(m, f"instance {i}") for i, m in enumerate(instances, 1)]


def _same_shape(masks: list[np.ndarray]) -> None:
    shapes = sorted({m.shape for m in masks})
    if len(shapes) > 1:
        raise SubmissionError(
            f"the masks of one image have different shapes {shapes}; truth and prediction"
            " must be decoded with the image's (H, W)", kind="shape_mismatch")


def _f1_matrix(pred: list[np.ndarray], truth: list[np.ndarray]) -> np.ndarray:
    """Pixel F1 of every (prediction, truth) pair, shape (len(pred), len(truth))."""
    pred_sizes = [np.count_nonzero(m) for m in pred]
    truth_sizes = [np.count_nonzero(m) for m in truth]
    f1 = np.zeros((len(pred), len(truth)))
    for i, p in enumerate(pred):
        for j, t in enumerate(truth):
            f1[i, j] = _f1(np.count_nonzero(p & t), pred_sizes[i], truth_sizes[j])
    return f1


def _f1(tp: int, n_pred: int, n_truth: int) -> float:
    """Pixel F1 from precision and recall; 0 when both are 0 (or undefined)."""
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_truth if n_truth else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


# --- helpers: run-length lists --------------------------------------------------------


def _shape(shape: Sequence[int] | str) -> tuple[int, int]:
    """(H, W) from a pair or the scorer's ``"[H, W]"`` text."""
    try:
        values = json.loads(shape) if isinstance(shape, str) else list(shape)
    except (TypeError, ValueError):
        values = None
    if (not isinstance(values, list) or len(values) != 2
            or not all(_is_int(v) and v > 0 for v in values)):
        raise SubmissionError(f"an image shape must be two positive integers (H, W) or"
                              f" '[H, W]', got {shape!r}", kind="bad_shape")
    return int(values[0]), int(values[1])


def _is_int(value: object) -> bool:
    return type(value) is int or isinstance(value, np.integer)


def _is_authentic(text: str) -> bool:
    """True for the literal ``authentic``; refuses non-text and near misses ("Authentic ")."""
    if not isinstance(text, str):
        raise SubmissionError(
            f"an annotation must be text, got {type(text).__name__} {text!r}; read the CSV"
            " with dtype=str, keep_default_na=False (or read_submission)")
    if text != AUTHENTIC and text.strip().lower() == AUTHENTIC:
        raise SubmissionError(f"{text!r} is not the literal 'authentic': write it in lower"
                              " case with no spaces")
    return text == AUTHENTIC


def _rle_values(text: str) -> list:
    """The values of one instance's JSON run-length list (types not yet checked)."""
    if _SPACED.fullmatch(text):
        numbers = ", ".join(re.findall(r"\d+", text))
        raise SubmissionError(f"{_excerpt(text)!r} is space-separated; the scorer reads JSON:"
                              f" write {_excerpt(f'[{numbers}]')}", kind="space_separated_rle")
    if not text.strip():
        raise SubmissionError("empty run-length list: write 'authentic', or drop the empty"
                              " part between ';'")
    try:
        values = json.loads(text)
    except (ValueError, RecursionError):
        values = None
    if not isinstance(values, list):
        hint = "; decode one instance at a time (parse_annotation splits on ';')"
        hint = hint if ";" in text else ""
        raise SubmissionError(f"{_excerpt(text)!r} is not a JSON list like [123, 4, 200, 3] (an"
                              f" annotation is 'authentic' or such lists joined by ';'){hint}")
    return values


def _integers(values: Sequence[int] | np.ndarray) -> np.ndarray:
    """The values as int64; a non-integer (float, bool, text, list...) is refused."""
    items = values.tolist() if isinstance(values, np.ndarray) else list(values)
    bad = next((i for i, v in enumerate(items) if not _is_int(v)), None)
    if bad is not None:
        raise SubmissionError(f"value {bad + 1} of the run-length list is {items[bad]!r},"
                              " not an integer", kind="non_integer_rle")
    try:
        return np.array(items, dtype=np.int64)
    except OverflowError:
        bad = next(i for i, v in enumerate(items) if not -2**63 <= v < 2**63)
        kind = "non_positive_rle" if items[bad] < 1 else "rle_outside_image"
        raise SubmissionError(f"value {bad + 1} of the run-length list, {items[bad]}, is"
                              " outside any image", kind=kind) from None


def _runs(values: np.ndarray, shape: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths) of a run-length list, after the scorer's rules.

    Without ``shape`` the runs are not checked against the image size.
    """
    if values.size % 2:
        raise SubmissionError(f"the run-length list has {values.size} values, an odd number;"
                              " it must be start, length pairs", kind="odd_length_rle")
    starts, lengths = values[0::2], values[1::2]
    i = _first(values < 1)
    if i is not None:
        role = "start" if i % 2 == 0 else "length"
        raise SubmissionError(f"run {i // 2 + 1} has {role} {values[i]}; starts are 1-based"
                              " and lengths at least 1", kind="non_positive_rle")
    step = np.diff(starts)
    i = _first(step <= 0)
    if i is not None:
        raise SubmissionError(f"run {i + 2} starts at {starts[i + 1]}, not after run {i + 1}'s"
                              f" start {starts[i]}; sort the runs by start", kind="descending_rle")
    i = _first(step < lengths[:-1])
    if i is not None:
        raise SubmissionError(
            f"run {i + 2} (start {starts[i + 1]}, length {lengths[i + 1]}) starts inside run"
            f" {i + 1} (start {starts[i]}, length {lengths[i]}, last pixel"
            f" {starts[i] + lengths[i] - 1}); merge overlapping runs", kind="overlapping_rle")
    if shape is not None:
        n_pixels = shape[0] * shape[1]
        i = _first(lengths > n_pixels - starts + 1)
        if i is not None:
            raise SubmissionError(
                f"run {i + 1} (start {starts[i]}, length {lengths[i]}) ends at pixel"
                f" {starts[i] + lengths[i] - 1}, past the last pixel {n_pixels} of an"
                f" {shape[0]} x {shape[1]} image", kind="rle_outside_image")
    return starts, lengths


def _first(condition: np.ndarray) -> int | None:
    hits = np.flatnonzero(condition)
    return int(hits[0]) if hits.size else None


def _excerpt(text: str) -> str:
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


@contextmanager
def _context(prefix: str, *, case_id: str | None = None, line: int | None = None) -> Iterator[None]:
    """Re-raise a SubmissionError with ``prefix`` (and a case or line) in front."""
    try:
        yield
    except SubmissionError as exc:
        raise SubmissionError(f"{prefix}: {exc}", exc.path, exc.kind,
                              line=exc.line if line is None else line,
                              case_id=exc.case_id if case_id is None else case_id) from exc


# --- helpers: frames ------------------------------------------------------------------


def _frame(rows: list[dict], columns: Mapping[str, str]) -> pd.DataFrame:
    """A DataFrame with exactly ``columns`` and their dtypes, also with no rows."""
    return pd.DataFrame(rows, columns=list(columns)).astype(dict(columns))


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SubmissionError(f"the {name} DataFrame lacks column(s) {missing}; it has"
                              f" {list(frame.columns)}", kind="bad_frame")


def _predictions(submission: pd.DataFrame) -> dict[str, tuple[object, int | None]]:
    """case_id -> (annotation, file line or None); a duplicate case_id is an error."""
    lines = submission["line"] if "line" in submission.columns else [None] * len(submission)
    predicted: dict[str, tuple[object, int | None]] = {}
    for case, text, line in zip(submission["case_id"], submission["annotation"], lines):
        key = str(case)
        if key in predicted:
            raise SubmissionError(f"case {key} has several rows in the submission; keep one",
                                  kind="duplicate_case_id", case_id=key, line=line)
        predicted[key] = (text, line)
    return predicted


def _score_case(case: str, truth: str, shape: Sequence[int] | str,
                predicted: Mapping[str, tuple[object, int | None]]) -> dict:
    if case not in predicted:
        raise SubmissionError(f"case {case} of the solution has no row in the submission;"
                              " add one ('authentic' if nothing is forged)",
                              kind="missing_case_id", case_id=case)
    text, line = predicted[case]
    with _context(f"case {case}, solution", case_id=case):
        truth_runs = parse_runs(truth, shape)
    where = f"case {case}, submission" + ("" if line is None else f" line {line}")
    with _context(where, case_id=case, line=line):
        pred_runs = parse_runs(text, shape)
    return {"case_id": case, "truth_instances": _count(truth_runs),
            "pred_instances": _count(pred_runs), "score": of1_runs(truth_runs, pred_runs)}


def _count(masks: list[np.ndarray] | str) -> int:
    return 0 if isinstance(masks, str) else len(masks)


# --- helpers: submission files --------------------------------------------------------


@contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    """Raise the csv module's field size limit (128 KiB; an RLE can be longer), then restore it."""
    previous = csv.field_size_limit(max(limit, csv.field_size_limit()))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _read_csv(path: Path) -> tuple[int, list[str], list[tuple[int, list[str]]]]:
    """(header line, header, [(line, fields)]) of a CSV; blank lines skipped.

    The csv module, not pandas: it gives the line of every record and reads rows
    with a wrong number of fields, where pandas stops at the first one or shifts
    the columns into the index.
    """
    records, end = [], 0
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh, \
                _csv_field_limit(path.stat().st_size + 1):
            reader = csv.reader(fh)
            for fields in reader:
                if fields:
                    records.append((end + 1, fields))
                end = reader.line_num
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"{path}, line {_undecodable_line(path)}: not UTF-8 text (byte"
                              f" {exc.object[exc.start]:#04x}); save the file as UTF-8 (in a"
                              " spreadsheet: CSV UTF-8)", path, "unreadable_submission") from exc
    except csv.Error as exc:
        raise SubmissionError(f"{path}, line {end + 1}: not CSV ({exc}); write a header"
                              " case_id,annotation and one row per image",
                              path, "unreadable_submission") from exc
    except OSError as exc:
        fix = ("no such file; check the path" if isinstance(exc, FileNotFoundError) else
               "a folder; give the path of the submission file" if isinstance(
                   exc, IsADirectoryError) else
               f"cannot be opened ({exc.strerror or exc}); check that it is a file you can read")
        raise SubmissionError(f"{path}: {fix}", path, "unreadable_submission") from exc
    if not records:
        return 1, [], []
    (header_line, header), *rows = records
    return header_line, header, rows


def _undecodable_line(path: Path) -> int:
    """The 1-based line of the first byte of ``path`` that is not UTF-8."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")  # offsets count the BOM, as utf-8-sig would not
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1
    return 1


def _raise_first(path: Path | str, problems: list[dict]) -> None:
    """Raise the first of ``problems``, if any, saying how many there are."""
    if problems:
        first = problems[0]
        raise SubmissionError(
            f"{path}, line {first['line']}: {first['detail']} ({len(problems)} such problem(s);"
            " `python -m eda_lib validate` lists them all)", path, first["kind"],
            line=first["line"])


def _problem(line: int | None, case_id: str, kind: str, detail: str) -> dict:
    return {"line": line, "case_id": case_id, "kind": kind, "detail": detail}


def _header_problems(header: list[str], line: int) -> list[dict]:
    found = f"the header is {','.join(header)!r}" if header else "the file is empty"
    missing = [_problem(line, "", "missing_column",
                        f"no column {name!r}; {found}, and must be {','.join(COLUMNS)}")
               for name in COLUMNS if name not in header]
    extra = [_problem(line, "", "extra_column",
                      f"column {name!r} is not case_id or annotation, or is repeated")
             for i, name in enumerate(header) if name not in COLUMNS or name in header[:i]]
    return missing + extra


def _positions(header: list[str]) -> dict[str, int]:
    return {name: header.index(name) for name in COLUMNS}


def _field_count(line: int, fields: list[str], header: list[str], at: Mapping[str, int]) -> dict:
    case = fields[at["case_id"]] if at["case_id"] < len(fields) else ""
    return _problem(line, case, "field_count",
                    f"{len(fields)} fields where the header has {len(header)}; quote an"
                    ' annotation that holds commas: 45,"[1, 2]"')


def _rows_problems(records: list[tuple[int, list[str]]], header: list[str],
                   shapes: Mapping[str, tuple[int, int] | None] | None,
                   aliases: Mapping[str, str]) -> list[dict]:
    """Problems of every row, then (with ``shapes``) of every case without a row; a
    name of ``aliases`` stands for its case (see :func:`validate_submission`)."""
    at = _positions(header)
    problems: list[dict] = []
    first: dict[str, tuple[int, str]] = {}  # case -> (line, name) of its first row

    def case_of(name: str) -> str:
        return name if shapes is not None and name in shapes else aliases.get(name, name)

    for line, fields in records:
        if len(fields) != len(header):
            problem = _field_count(line, fields, header, at)
            problems.append(problem)
            first.setdefault(case_of(problem["case_id"]), (line, problem["case_id"]))
            continue
        name, text = fields[at["case_id"]], fields[at["annotation"]]
        case = case_of(name)
        if case in first:
            line0, name0 = first[case]
            also = "" if name0 in (name, case) else f" as {name0}"
            named = name if case == name else f"{name} ({case})"
            problems.append(_problem(line, name, "duplicate_case_id",
                                     f"case {named} is already on line {line0}{also}"))
        first.setdefault(case, (line, name))
        if shapes is not None and case not in shapes:
            problems.append(_problem(line, name, "unknown_case_id",
                                     f"case {name!r} is not in the solution"))
        shape = None if shapes is None else shapes.get(case)
        problems += [_problem(line, name, kind, detail)
                     for kind, detail in _annotation_problems(text, shape)]
    if shapes is not None:
        problems += [_problem(None, case, "missing_case_id", "no row for this case of the solution")
                     for case in shapes if case not in first]
    return problems


def _annotation_problems(text: str, shape: tuple[int, int] | None) -> list[tuple[str, str]]:
    """(kind, detail) of every broken instance of an annotation; runs are checked
    against the image size when ``shape`` is given."""
    try:
        if _is_authentic(text):
            return []
    except SubmissionError as exc:
        return [(exc.kind, str(exc))]
    hw = None if shape is None else _shape(shape)
    parts = text.split(";")
    found = []
    for number, part in enumerate(parts, 1):
        try:
            _runs(_integers(_rle_values(part)), hw)
        except SubmissionError as exc:
            found.append((exc.kind, f"instance {number} of {len(parts)}: {exc}"))
    return found
