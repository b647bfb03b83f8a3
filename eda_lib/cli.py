"""Command line: a thin layer over the runner, the demo generator, the parameter
table, the blind screen's baseline submission, submission scoring and checking, and
the comparison of two runs.

Exit codes: 0 when everything ran, 1 when a notebook failed (its HTML is written and the
index marks it), 2 for bad parameters or usage, or a Dask cluster that cannot run the
pass (:class:`~eda_lib.errors.ClusterError`: a worker that does not see the data folder,
say); the message is printed as ``error: ...``, without a traceback. 130 when interrupted.

The runner (papermill, nbconvert) and the demo generator are imported by the command
that needs them, so ``params`` and ``--help`` do not pay for them.
"""

from __future__ import annotations

import argparse
import os
import re
import stat
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from . import config
from .dataset.index import SUBMISSION_SPLITS
from .errors import ConfigError, EdaError
from .files import OUT_FOLDERS, check_paths, out_dir_lock, refuse_inside, write_csv_atomic

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when not given.

    Returns
    -------
    int
        The exit code (see the module docstring).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return int(exc.code)
    try:
        return args.command(args)
    except EdaError as exc:
        _say(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of the output went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except OSError as exc:  # a place the command writes: not writable, not a folder...
        where = exc.filename if exc.filename is not None else "a path it uses"
        _say(f"error: {exc.strerror or exc}: {where}; check that the path is right and that "
             "you can write there", file=sys.stderr)
        return EXIT_USAGE


def printable(text: object) -> str:
    """``text`` safe to write to a terminal: control characters (ANSI escape sequences,
    carriage returns, ...) other than newline and tab, and the bytes of names that are
    not valid UTF-8, are shown as ``\\x``/``\\u`` escapes instead of acting on the screen.

    Examples
    --------
    >>> printable("case \\x1b[2Jx\\r")
    'case \\\\x1b[2Jx\\\\x0d'
    """
    out = []
    for ch in str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"):
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"):
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def _say(text: object = "", file=None) -> None:
    """Print ``text`` escaped (:func:`printable`): everything the command line shows may
    hold a file name or a submission's text."""
    print(printable(text), file=file or sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m eda_lib``."""
    parser = argparse.ArgumentParser(
        prog="python -m eda_lib",
        description="Exploratory data analysis of copy-move forgery datasets.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the data pass and the notebooks, write the report")
    run.add_argument("-f", "--file", required=True, metavar="PARAMS.yaml",
                     help="YAML file of parameters (see the params command)")
    run.add_argument("-p", "--param", nargs=2, action="append", default=[],
                     metavar=("KEY", "VALUE"), help="override one parameter; repeatable")
    run.add_argument("--only", action="append", metavar="NAME",
                     help="run only this notebook (01_index or index); repeatable; the index "
                          "still lists the other sections whose pages are current")
    run.add_argument("--notebooks", type=Path, metavar="DIR",
                     help="folder of NN_name.py notebooks (default: the suite's)")
    run.add_argument("--no-cache", action="store_true",
                     help="measure every file again, ignoring stored tables and the cache")
    run.set_defaults(command=cmd_run)

    demo = commands.add_parser("demo-data", help="write a small synthetic dataset")
    demo.add_argument("dir", type=Path, metavar="DIR", help="new or empty folder to write")
    demo.add_argument("--forged", type=int, default=60, metavar="N",
                      help="number of forged training images (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, metavar="S",
                      help="seed of every random draw (default: %(default)s)")
    demo.add_argument("--size-scale", type=float, default=0.35, metavar="F",
                      help="factor on the real image sizes (default: %(default)s)")
    demo.add_argument("--png-level", type=int, default=1, metavar="L",
                      help="zlib level of the PNG files, 0 to 9 (default: %(default)s)")
    demo.set_defaults(command=cmd_demo_data)

    params = commands.add_parser("params", help="list the parameters with defaults and help")
    params.set_defaults(command=cmd_params)

    score = commands.add_parser(
        "score", help="score a submission against the training masks (the competition's oF1)")
    score.add_argument("submission", type=Path, metavar="SUBMISSION.csv")
    score.add_argument("--data-dir", type=Path, required=True, metavar="D",
                       help="dataset folder whose training images the submission names")
    score.add_argument("--fold", type=int, metavar="K",
                       help="score the images of fold K only (each must be in the submission)")
    score.add_argument("--folds", type=_folds_arg, metavar="F|FOLDS.csv",
                       help="a run's tables/folds.csv, or the number of folds F to compute "
                            "here (twins grouped, not duplicates; default: 5 computed here)")
    score.add_argument("--details", type=Path, metavar="OUT.csv",
                       help="also write the per-image scores to this CSV")
    score.set_defaults(command=cmd_score)

    baseline = commands.add_parser(
        "baseline", help="write the blind screen's submission (a classical baseline)")
    baseline.add_argument("--data-dir", type=Path, required=True, metavar="D",
                          help="dataset folder (read only)")
    baseline.add_argument("--out", type=Path, required=True, metavar="SUB.csv",
                          help="submission file to write (outside the data folder)")
    baseline.add_argument("--split", choices=SUBMISSION_SPLITS, default="test",
                          help="the images to predict: test, unlabelled (a flat folder of "
                               "images) or train, which names them forged/<case_id> and "
                               "authentic/<case_id>, as score reads them (default: %(default)s)")
    baseline.add_argument("--fold", type=int, metavar="K",
                          help="with --split train: only the images of fold K")
    baseline.add_argument("--folds", type=_folds_arg, metavar="F|FOLDS.csv",
                          help="with --fold: the number of grouped folds F of the run (its "
                               "parameter folds, default 5) or a folds CSV to take fold K from "
                               "(default: the run's tables/folds.csv)")
    baseline.add_argument("--out-dir", type=Path, default=Path("reports/baseline"), metavar="RUN",
                          help="where the data pass keeps its tables and cache; a report's "
                               "out_dir is reused when its tables match (default: %(default)s)")
    baseline.add_argument("--workers", type=int, default=0, metavar="N",
                          help="processes for the data pass; 0 means all cores")
    baseline.set_defaults(command=cmd_baseline)

    validate = commands.add_parser("validate", help="check a submission file's format")
    validate.add_argument("submission", type=Path, metavar="SUBMISSION.csv")
    validate.add_argument("--data-dir", type=Path, metavar="D",
                          help="also check case_ids and runs against this dataset's images")
    validate.add_argument("--split", choices=SUBMISSION_SPLITS, default="test",
                          help="the images the submission is for (default: %(default)s)")
    validate.set_defaults(command=cmd_validate)

    diff = commands.add_parser("diff", help="summarise what changed between two runs",
                               description="Compare two runs' out_dir folders (manifest, "
                               "tables, figures, executed notebooks); exit status 1 when "
                               "they differ, 0 when they are the same.")
    diff.add_argument("old", type=Path, metavar="OLD_OUT", help="out_dir of the earlier run")
    diff.add_argument("new", type=Path, metavar="NEW_OUT", help="out_dir of the later run")
    diff.set_defaults(command=cmd_diff)
    return parser


def _output_file(path: Path, what: str, key: str, example: str,
                 keep: Sequence[tuple[Path, str]] = ()) -> Path:
    """Ready the path of a file a command writes, and return where to write it.

    The file is replaced whole (written under a temporary name, then renamed), so a
    link there is followed and the file it leads to is written; a folder, a device, a
    FIFO or a socket there is a ConfigError, as is a file of ``keep`` (pairs of a path
    the command reads or owns and what it is: ``(submission, "the submission scored")``;
    a folder there covers the files in it). Missing parent folders are made.
    """
    target = path.resolve() if path.is_symlink() else path
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise ConfigError(f"{what}: cannot look at it ({exc.strerror}); choose another file",
                          key=key) from exc
    if mode is not None and stat.S_ISDIR(mode):
        raise ConfigError(f"{what} is a folder; name the file to write, e.g. {path / example}",
                          key=key)
    if mode is not None and not stat.S_ISREG(mode):
        raise ConfigError(f"{what} is a device, FIFO or socket, not a file: the command writes "
                          f"a whole file in its place; name a file, e.g. {example}", key=key)
    resolved = target.resolve()
    for other, name in keep:
        other = other.resolve()
        if resolved == other or other in resolved.parents:
            raise ConfigError(f"{what} would overwrite {name} ({other}); name another file",
                              key=key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{what}: cannot make its folder {target.parent} ({exc.strerror}); "
                          "choose a writable place", key=key) from exc
    return target


def _folds_arg(text: str) -> int | Path:
    """``--folds``: a number of folds (at least 2), or the path of a folds CSV.

    Any whole number, signed or not, is a number of folds: ``-2`` is refused as too few
    rather than looked for as a file. Whether there are as many groups to deal is
    known only from the data (:func:`eda_lib.analysis.folds.check_fold_count`).
    """
    if re.fullmatch(r"\s*[+-]?\d+\s*", text):
        n = int(text)
        if n < 2:
            raise argparse.ArgumentTypeError(
                f"{text!r}: at least 2 folds, or the path of a folds CSV (a run's "
                "tables/folds.csv)")
        return n
    return Path(text)


def cmd_run(args: argparse.Namespace) -> int:
    """``run``: validate the parameters, run the suite, print where the report is."""
    from .report import runner

    overrides = {key: config.parse_override(key, text) for key, text in args.param}
    cfg = config.load_config(args.file, overrides)
    result = runner.run(cfg, only=args.only, notebooks_dir=args.notebooks,
                        use_cache=not args.no_cache)
    for r in result.records:
        detail = f"  {r.error}" if r.error else ("  (unchanged, kept)" if r.reused else "")
        _say(f"{r.status:<6}  {r.name:<24} {r.seconds:7.1f} s  {r.title}{detail}")
    _say(result.index_html)
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_score(args: argparse.Namespace) -> int:
    """``score``: the mean oF1 of a submission over training images, and a warning when
    it leaves some out (without ``--fold`` they are not scored)."""
    from .analysis import scoring

    if args.folds is not None and args.fold is None:
        raise ConfigError("--folds needs --fold K: without it every image the submission "
                          "names is scored", key="folds")
    folds_csv = args.folds if isinstance(args.folds, Path) else None
    k = args.folds if isinstance(args.folds, int) else 5
    if args.details is not None:
        refuse_inside(args.details, args.data_dir, f"--details {args.details}",
                      "Write the details outside the data folder", "details")
        details_path = _output_file(args.details, f"--details {args.details}", "details",
                                    "details.csv", [(args.submission, "the submission scored")])
    value, details = scoring.score_file(args.submission, args.data_dir, args.fold, folds_csv, k)
    if args.details is not None:
        write_csv_atomic(details_path, details)
    where = f"fold {args.fold}" if args.fold is not None else "the images it names"
    _say(f"oF1 {value:.6f} over {len(details)} images ({where})")
    if args.fold is None:
        left = scoring.unnamed_training_ids(args.data_dir, details["case_id"])
        if left:
            _say(f"warning: {len(left)} of the {len(left) + len(details)} training images have "
                 f"no row in {args.submission} and are not scored, e.g. {', '.join(left[:3])}; "
                 f"python -m eda_lib validate {args.submission} --data-dir {args.data_dir} "
                 "--split train lists them; add a row for each to score them all",
                 file=sys.stderr)
    return EXIT_OK


def cmd_baseline(args: argparse.Namespace) -> int:
    """``baseline``: the data pass (or its stored tables), then the screen's submission."""
    from . import datapass
    from .analysis import scoring
    from .analysis.folds import check_fold_count
    from .tables import tables_dir

    if args.fold is not None and args.split != "train":
        raise ConfigError(f"--fold needs --split train: the {args.split} images have no folds",
                          key="fold")
    if args.folds is not None and args.fold is None:
        raise ConfigError("--folds needs --fold K: without it every image of the split is "
                          "predicted", key="folds")
    values = {"data_dir": args.data_dir, "out_dir": args.out_dir, "workers": args.workers}
    if isinstance(args.folds, int):
        values["folds"] = args.folds  # the run's own grouped folds, that many
    cfg = config.make_config(values)
    check_paths(cfg, {"out_dir": "--out-dir PATH", "cache_dir": "--out-dir PATH"})
    refuse_inside(args.out, cfg.data_dir, f"--out {args.out}",
                  "Write the submission outside the data folder", "out")
    owned = [(cfg.out_dir / name, f"the run's {name} folder") for name in OUT_FOLDERS]
    out = _output_file(args.out, f"--out {args.out}", "out", "sub.csv",
                       [*owned, (cfg.cache_path, "the run's cache")])
    with out_dir_lock(cfg.out_dir, "--out-dir PATH"):
        datapass.ensure_tables(cfg)
        tables = datapass.load_tables(cfg, build=False)
    if isinstance(args.folds, int):  # the groups are known once the pass has run
        check_fold_count(args.folds, tables.folds["group"].nunique())
    ids = None
    folds_csv = args.folds if isinstance(args.folds, Path) else tables_dir(cfg) / "folds.csv"
    if args.fold is not None:
        ids = scoring.fold_ids(cfg.data_dir, args.fold, folds_csv)
    sub = scoring.baseline_submission(tables, args.split, ids)
    write_csv_atomic(out, sub)
    flagged = int((sub["annotation"] != "authentic").sum())
    _say(f"wrote {args.out}: {len(sub)} image(s), {flagged} with a duplicated region found")
    blind = scoring.unscreened(tables, args.split)
    blind = blind[blind["case_id"].isin(set(sub["case_id"]))]
    if len(blind):
        counts = ", ".join(f"{n} {why}" for why, n in blind["why"].value_counts().items())
        _say(f"{len(blind)} of them were not screened ({counts}) and are written as authentic "
             f"without evidence, e.g. {', '.join(blind['case_id'].head(3))}: see "
             f"{tables_dir(cfg) / 'problems.csv'} and screen_status in "
             f"{tables_dir(cfg) / 'images.csv'}")
    if args.split == "train":
        fold = f" --fold {args.fold} --folds {folds_csv}" if args.fold is not None else ""
        _say(f"score it with: python -m eda_lib score {args.out} --data-dir {args.data_dir}{fold}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """``validate``: list every problem of a submission file; exit 1 when there is one."""
    import pandas as pd

    from .analysis import scoring

    problems = scoring.validate_file(args.submission, args.data_dir, args.split)
    for p in problems.itertuples():
        line = "" if pd.isna(p.line) else f"line {p.line}: "
        _say(f"{line}{p.case_id or '-'}: {p.kind}: {p.detail}")
    _say(f"{len(problems)} problem(s) in {args.submission}")
    unknown = problems[problems["kind"] == "unknown_case_id"]["case_id"]
    if args.split != "train" and len(unknown) and \
            unknown.str.startswith(("forged/", "authentic/")).all():
        _say(f"every unknown case_id names a training image (forged/... or authentic/...), "
             f"and these are checked against the {args.split} images: for a submission on "
             "training images add --split train")
    return EXIT_OK if problems.empty else EXIT_FAILED


def cmd_diff(args: argparse.Namespace) -> int:
    """``diff``: what changed between two output folders; exit 1 when something did."""
    from .report import diff

    d = diff.diff_runs(args.old, args.new)
    _say(diff.format_diff(d))
    return EXIT_OK if d.identical else EXIT_FAILED


def cmd_demo_data(args: argparse.Namespace) -> int:
    """``demo-data``: write the synthetic dataset and count what was written."""
    from .dataset import demo

    start = time.perf_counter()
    truth = demo.generate(args.dir, forged=args.forged, seed=args.seed,
                          size_scale=args.size_scale, png_level=args.png_level,
                          progress=True)
    seconds = time.perf_counter() - start
    splits = Counter(r["split"] for r in truth["images"])
    per_split = ", ".join(f"{n} {split}" for split, n in sorted(splits.items()))
    _say(f"wrote {args.dir.resolve()} in {seconds:.1f} s:")
    _say(f"  {len(truth['images'])} images ({per_split})")
    _say(f"  {len(truth['masks'])} masks with {len(truth['instances'])} instances")
    return EXIT_OK


def cmd_params(args: argparse.Namespace) -> int:
    """``params``: print the parameter table."""
    rows = [
        (p["name"], p["type"], "(required)" if p["default"] is None else str(p["default"]),
         p["help"])
        for p in config.describe()
    ]
    header = ("name", "type", "default", "help")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        _say("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3])
    return EXIT_OK
