"""Benchmark of the dataset-level steps that follow the data pass, on synthetic tables.

For each size N (images; default 100,000 and 1,000,000) a helper process generates the
measured tables of a dataset shaped like the competition's and stores them as Parquet:

- ``images``: train authentic and forged images, every authentic image the twin of a
  forged one (same ``case_id``) and 86 % of the forged images with a twin, 2 % forged
  images of ``supplemental``, 0.5 % ``test`` images; 0.3 % unreadable, a few non-numeric
  case_ids; sizes, modes and file sizes from a mix of common sizes, twins the same size.
- ``image_scores``: the health values and both hashes of every image. Exact duplicates
  (equal ``pixel_hash`` and ``phash``) and near duplicates (equal ``phash``) come in sets
  of 2 to 60 images across case_ids, many twin pairs share their ``phash``, some near
  sets hold an exact set and more, and three sets are large (0.2 %, 0.05 % and 0.3 % of the
  images: blank and all-white figures), as :func:`eda_lib.measure.health.duplicate_groups`
  and :func:`eda_lib.analysis.folds.leakage_groups` group them.
- ``masks`` (one per forged image with a mask, 1 to 8 instances, normalised, empty,
  refused and orphan ones), ``instances``, ``copy_move`` (one row per instance),
  ``label_check`` (forged images with a twin), ``screening`` (about 0.3 candidate
  pairs per image) and ``problems`` (about 1 % of the images, and each missing mask).

Every table follows :data:`eda_lib.tables.SCHEMAS` and is sorted as the pass sorts it.
Then each step runs in a fresh Python process that reads the tables (untimed) and times
its calls; the process's peak memory is its ``ru_maxrss`` (``getrusage``), the tables it
holds included. The launching process imports neither pandas nor eda_lib, so a child's
peak does not start from its parent's. Each call is made twice in its process. The first
call's time (``cold``) is what a run pays: it includes mapping the new memory the call's
results need, which a fresh process gets from the system page by page and which the first
calls of a process pay for the later ones. The second call's time (``warm``) is the
call's own work, and the growth exponents are computed on it. The steps of every size
run ``--repeat`` times (2 by default), the sizes alternating, and each call keeps its
least times over the rounds, each step its largest peak.

``sort``
    ``eda_lib.datapass._sorted`` of every measured table, its rows shuffled first.
``derive``
    :func:`eda_lib.analysis.derive.derive`, as the pass calls it; its output is stored
    (untimed) for the next steps.
``duplicates``, ``leakage_groups``, ``grouped_folds``, ``flag_issues``
    The parts of ``derive``, each in its own process (inputs made untimed).
``summary``
    :func:`eda_lib.analysis.summary.findings`, ``recommendations``, ``to_markdown``
    and ``as_frame`` (what notebook 11 calls).
``stats``
    Every :mod:`eda_lib.analysis.stats` call of the notebooks and of the report's figure
    code (and ``fold_balance``), with their arguments.

Targets (exit status 1 when one is missed):

- the total at the largest size, the sort, ``derive``, ``to_markdown``, ``as_frame``
  and the stats calls (what a run does after its pass), under 60 s of wall time, cold;
- the largest peak memory of a step's process at the largest size under 4 GB;
- no timed call quadratic: each call's growth exponent ``log(t2 / t1) / log(n2 / n1)``
  from the smallest to the largest size at most 1.5, halfway between linear (1) and
  quadratic (2), warm, the lower of the exponents in wall and in CPU time: other load on a
  shared machine stretches wall time, and pyarrow spreads large operations over several
  threads, which adds CPU time at the larger size only; a quadratic call is quadratic in
  both. A sort (n log n) and hash tables that outgrow the CPU caches read 1.1 to 1.35 over
  a tenfold size step, and the exponent of a call of a tenth of a second moves by 0.1 to
  0.3 from run to run; calls above 1.2 are marked in the table, for a closer look. Calls
  under 0.05 s at the largest size are not judged (fixed costs dominate).

Usage::

    .venv/bin/python benchmarks/bench_derive.py [--sizes 100000 1000000] [--quick]
        [--repeat 2] [--seed 0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = (100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
TOTAL_LIMIT_S = 60.0
PEAK_LIMIT_GB = 4.0
MAX_EXPONENT = 1.5    # halfway between linear and quadratic growth
NOTE_EXPONENT = 1.2   # above it, a call is marked for a closer look
FLOOR_S = 0.05
STEPS = ("sort", "derive", "duplicates", "leakage_groups", "grouped_folds", "flag_issues",
         "summary", "stats")
#: Calls whose times add up to the total, what a run does after its pass (the parts of
#: ``sort`` and ``derive`` are inside them): a name, or a prefix ending with a dot.
IN_TOTAL = ("sort", "derive", "summary.to_markdown", "summary.as_frame", "stats.")


def _in_total(call: str) -> bool:
    return any(call == name or (name.endswith(".") and call.startswith(name))
               for name in IN_TOTAL)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.child:
        return _child(args.child, Path(args.folder))
    sizes = sorted(args.sizes or (QUICK_SIZES if args.quick else SIZES))
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"load average: {_load()}  cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="bench_derive_") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        results = {n: {} for n in sizes}
        for n in sizes:
            folder = root / f"n{n}_seed{args.seed}"
            if not (folder / "done").exists():
                t0 = time.perf_counter()
                _run("generate", folder, n, args.seed)
                print(f"{n:,} images generated in {time.perf_counter() - t0:.1f} s")
        for round_ in range(args.repeat):  # the sizes alternate: load drifts over both
            for n in sizes:
                folder = root / f"n{n}_seed{args.seed}"
                print(f"round {round_ + 1}, {n:,} images (load average {_load()})", flush=True)
                for step in STEPS:
                    _keep_best(results[n], step, _run(step, folder, n, args.seed))
        for n in sizes:
            _print_size(n, results[n])
    return _report(sizes, results)


def _keep_best(steps: dict, step: str, res: dict) -> None:
    """Each call's least wall and CPU time over the rounds, the step's largest peak."""
    if step not in steps:
        steps[step] = res
        return
    old = steps[step]
    old["times"] = {call: tuple(min(a, b) for a, b in zip(t, res["times"][call]))
                    for call, t in old["times"].items()}
    old["peak_gb"] = max(old["peak_gb"], res["peak_gb"])


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", help=f"images per dataset (default {SIZES})")
    p.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=2,
                   help="rounds over all sizes; each call keeps its least time (default 2)")
    p.add_argument("--keep", help="keep (and reuse) the generated tables in this folder")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _run(step: str, folder: Path, n: int, seed: int) -> dict:
    """Run ``step`` in a fresh process; its JSON report (times, peak memory)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BENCH_DERIVE_N": str(n), "BENCH_DERIVE_SEED": str(seed)}
    done = subprocess.run([sys.executable, __file__, "--child", step, "--folder", str(folder)],
                          capture_output=True, text=True, env=env)
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"step {step} at {n:,} images failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _print_size(n: int, steps: dict) -> None:
    print(f"\n{n:,} images (least time over the rounds; largest peak)")
    print(f"{'step':<34}{'cold wall':>10}{'cold cpu':>10}{'warm wall':>10}{'warm cpu':>10}"
          f"{'peak GB':>9}")
    for step, res in steps.items():
        for call, (wall, cpu, warm_wall, warm_cpu) in res["times"].items():
            print(f"{call:<34}{wall:>10.3f}{cpu:>10.3f}{warm_wall:>10.3f}{warm_cpu:>10.3f}")
        print(f"{'  (process peak, ' + step + ')':<74}{res['peak_gb']:>9.2f}")


def _calls(steps: dict, warm: bool = False) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds of every call, of the first call or (``warm``) the second."""
    return {call: t[2:] if warm else t[:2] for res in steps.values()
            for call, t in res["times"].items()}


def _report(sizes: list[int], results: dict) -> int:
    big, small = sizes[-1], sizes[0]
    calls = _calls(results[big])
    total = sum(w for call, (w, _) in calls.items() if _in_total(call))
    total_cpu = sum(c for call, (_, c) in calls.items() if _in_total(call))
    peak = max(res["peak_gb"] for res in results[big].values())
    ok = grown = True
    if len(sizes) > 1:
        print(f"\ngrowth from {small:,} to {big:,} images (size ratio {big / small:g}), warm: "
              "time ratio / size ratio (1 = linear), exponent log(t2/t1)/log(n2/n1)")
        print(f"{'call':<34}{'wall ratio':>11}{'cpu ratio':>11}{'exp wall':>10}{'exp cpu':>9}"
              "  target")
        lows = _calls(results[small], warm=True)
        for call, (wall, cpu) in _calls(results[big], warm=True).items():
            w1, c1 = lows[call]
            rw, rc = (wall / max(w1, 1e-9)) / (big / small), (cpu / max(c1, 1e-9)) / (big / small)
            ew = math.log(max(wall, 1e-9) / max(w1, 1e-9)) / math.log(big / small)
            ec = math.log(max(cpu, 1e-9) / max(c1, 1e-9)) / math.log(big / small)
            judged = wall >= FLOOR_S
            met = not judged or min(ew, ec) <= MAX_EXPONENT
            grown &= met
            mark = ("met" if met else "MISSED") if judged else "(under 0.05 s)"
            if judged and met and min(ew, ec) > NOTE_EXPONENT:
                mark += f" (above {NOTE_EXPONENT})"
            print(f"{call:<34}{rw:>11.2f}{rc:>11.2f}{ew:>10.2f}{ec:>9.2f}  {mark}")
    print(f"\ntargets at {big:,} images (load average {_load()}):")
    for name, value, limit, unit in (("total after the pass", total, TOTAL_LIMIT_S, "s"),
                                     ("peak memory of a step", peak, PEAK_LIMIT_GB, "GB")):
        met = value < limit
        ok &= met
        extra = f" (cpu {total_cpu:.1f} s)" if unit == "s" else ""
        print(f"  {name}: {value:.2f} {unit}{extra} < {limit:g} {unit}: "
              f"{'met' if met else 'MISSED'}")
    if len(sizes) > 1:
        print(f"  every call's growth exponent (the lower of wall and cpu) <= {MAX_EXPONENT}: "
              f"{'met' if grown else 'MISSED, see above'}")
    return 0 if ok and grown else 1


# ----------------------------------------------------------------------------- children


def _child(step: str, folder: Path) -> int:
    n, seed = int(os.environ["BENCH_DERIVE_N"]), int(os.environ["BENCH_DERIVE_SEED"])
    if step == "generate":
        _store(generate(n, seed), folder)
        (folder / "done").write_text("ok")
        print(json.dumps({}))
        return 0
    times = globals()[f"_step_{step}"](folder)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    print(json.dumps({"times": times, "peak_gb": peak}))
    return 0


def _timed(times: dict, name: str, fn, *args, **kwargs):
    """Call ``fn`` twice; ``times[name]`` is (wall, CPU) seconds of the first call, then of
    the second."""
    measured = []
    for _ in range(2):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn(*args, **kwargs)
        measured += [time.perf_counter() - w0, time.process_time() - c0]
    times[name] = tuple(measured)
    return out


def _store(tables: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_parquet(folder / f"{name}.parquet", index=False)


def _read(folder: Path, names=None) -> dict:
    import pandas as pd

    from eda_lib.tables import MEASURED_TABLES
    names = names or MEASURED_TABLES
    return {name: pd.read_parquet(folder / f"{name}.parquet") for name in names}


def _cfg():
    from eda_lib.config import make_config
    return make_config({"data_dir": "d", "folds": 5, "seed": 42})


def _step_sort(folder: Path) -> dict:
    from eda_lib.datapass import _sorted
    times = {}
    for name, df in _read(folder).items():
        shuffled = df.sample(frac=1.0, random_state=0).reset_index(drop=True)
        _timed(times, f"sort.{name}", _sorted, name, shuffled)
    return {"sort": tuple(map(sum, zip(*times.values()))), **times}  # the parts summed


def _step_derive(folder: Path) -> dict:
    from eda_lib.analysis.derive import derive
    times = {}
    out = _timed(times, "derive", derive, _read(folder), _cfg())
    _store(out, folder)
    return times


def _step_duplicates(folder: Path) -> dict:
    from eda_lib.analysis.derive import duplicates
    times = {}
    _timed(times, "derive.duplicates", duplicates, _read(folder, ["image_scores"])["image_scores"])
    return times


def _step_leakage_groups(folder: Path) -> dict:
    from eda_lib.analysis.derive import duplicates
    from eda_lib.analysis.folds import leakage_groups
    t = _read(folder, ["images", "image_scores"])
    dup = duplicates(t["image_scores"])
    times = {}
    _timed(times, "derive.leakage_groups", leakage_groups, t["images"], dup)
    return times


def _step_grouped_folds(folder: Path) -> dict:
    from eda_lib.analysis.folds import grouped_folds
    t = _read(folder, ["images", "masks", "groups"])
    times = {}
    _timed(times, "derive.grouped_folds", grouped_folds, t["images"], t["masks"], t["groups"],
           k=5, seed=42)
    return times


def _step_flag_issues(folder: Path) -> dict:
    from eda_lib.measure import health
    scores = _read(folder, ["image_scores"])["image_scores"]
    times = {}
    _timed(times, "derive.flag_issues", health.flag_issues, scores)
    return times


def _all_tables(folder: Path):
    from eda_lib.tables import SCHEMAS, Tables
    return Tables(**_read(folder, list(SCHEMAS)))


def _step_summary(folder: Path) -> dict:
    from eda_lib.analysis import summary
    t = _all_tables(folder)
    times = {}
    for name in ("findings", "recommendations", "to_markdown", "as_frame"):
        _timed(times, f"summary.{name}", getattr(summary, name), t)
    return times


def _step_stats(folder: Path) -> dict:
    from eda_lib.analysis import stats
    from eda_lib.analysis.folds import fold_balance
    from eda_lib.tables import MASK_MEASURED
    t = _all_tables(folder)
    cm, inst = t.copy_move, t.instances.assign(label="forged")
    measured = t.masks[t.masks["status"].isin(MASK_MEASURED)]
    calls = {
        "split_label_counts": lambda: stats.split_label_counts(t.images),
        "sanity_checks": lambda: stats.sanity_checks(t.images, t.masks, t.problems),
        "twin_mode_pairs": lambda: stats.twin_mode_pairs(t.images),
        "geometry_by_label": lambda: stats.geometry_by_label(t.images),
        "common_sizes": lambda: stats.common_sizes(t.images, n=12),
        "mode_counts": lambda: stats.mode_counts(t.images),
        "mask_checks": lambda: stats.mask_checks(t.images, t.masks),
        "mask_shape_counts": lambda: stats.mask_shape_counts(t.masks),
        "instances_per_mask": lambda: stats.instances_per_mask(t.masks),
        "union_area_summary": lambda: stats.union_area_summary(t.masks),
        "rules_applied": lambda: stats.rules_applied(t.masks),
        "instance_summary": lambda: stats.instance_summary(inst),
        "components_per_instance": lambda: stats.components_per_instance(inst),
        "measurable_forged": lambda: stats.measurable_forged(t),
        "copy_move_overview": lambda: stats.copy_move_overview(cm),
        "transform_counts": lambda: stats.transform_counts(cm),
        "copy_distances": lambda: stats.distance_quantiles(
            stats.copy_distances(stats.confirmed_copies(cm), t.images)),
        "source_marking": lambda: stats.source_marking(t.instances, t.label_check),
        "label_quality": lambda: stats.label_quality(t.label_check),
        "health_counts": lambda: stats.health_counts(t.health),
        "flagged_issues": lambda: stats.flagged_issues(t.health),
        "worst": lambda: [stats.worst(t.health, issue, 12)
                          for issue in stats.issues_found(t.health)],
        "described_images(health)": lambda: stats.described_images(t.health),
        "readable_authentic": lambda: stats.readable_authentic(t.images),
        "group_summary": lambda: stats.group_summary(t.groups),
        "cross_case_images": lambda: stats.cross_case_images(t.groups, n=20),
        "fold_balance": lambda: fold_balance(t.folds),
        "groups_split_across_folds": lambda: stats.groups_split_across_folds(t.folds),
        "quantiles(rle_chars)": lambda: stats.quantiles(measured["rle_chars"]),
        "baseline_scores": lambda: stats.baseline_scores(t.images, t.masks),
        "screen_by_fold": lambda: stats.screen_by_fold(t.images, t.folds),
        "screen_status": lambda: stats.screen_status(t.images),
        "screen_overview": lambda: stats.screen_overview(t.images, t.screening),
        "screen_recovery": lambda: [stats.screen_recovery(cm, t.images, by) for by in
                                    ("transform", "scale", "area", "image size")],
        "screen_flagged": lambda: [
            stats.screen_flagged(t.screening, "authentic"),
            stats.screen_flagged(t.screening, None, ("test", "supplemental", "unlabelled")),
            stats.screen_flagged(t.screening, "forged", ("train",))],
        "screen_controls": lambda: stats.screen_controls(t.screening),
    }
    times = {}
    for name, call in calls.items():
        _timed(times, f"stats.{name}", call)
    return times


# ---------------------------------------------------------------------------- generator


def generate(n: int, seed: int = 0) -> dict:
    """The measured tables of a synthetic dataset of about ``n`` images (see the module
    docstring), sorted as the data pass sorts them."""
    import numpy as np

    from eda_lib.datapass import _sorted
    rng = np.random.default_rng(seed)
    img = _images(rng, n)
    masks, inst = _masks(rng, img)
    tables = {
        "images": img,
        "image_scores": _scores(rng, img),
        "masks": masks,
        "instances": inst,
        "copy_move": _copy_move(rng, img, inst),
        "label_check": _label_check(rng, img, masks),
        "screening": _screening(rng, img),
        "problems": _problems(rng, img, masks),
    }
    _screen_columns(rng, img, tables["screening"])
    return {name: _sorted(name, _table(name, cols)) for name, cols in tables.items()}


def _table(name: str, cols: dict):
    """A DataFrame of table ``name`` from column arrays (absent columns null)."""
    import numpy as np
    import pandas as pd

    from eda_lib.tables import SCHEMAS
    n = len(next(iter(cols.values())))
    data = {}
    for c in SCHEMAS[name]:
        dtype = pd.StringDtype() if c.dtype == "str" else c.dtype
        values = cols.get(c.name)
        if values is None:
            values = np.full(n, None, dtype=object)
        elif c.dtype == "str":
            values = np.asarray(values, dtype=object)
        data[c.name] = pd.array(values, dtype=dtype)
    return pd.DataFrame(data)


def _pick(rng, n: int, choices: dict):
    import numpy as np
    keys = list(choices)
    p = np.array(list(choices.values()), dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def _images(rng, n: int) -> dict:
    import numpy as np
    n_test, n_supp = max(1, n // 200), n // 50
    rest = n - n_test - n_supp
    n_forged = round(rest / 1.86)
    n_auth = rest - n_forged
    ids = rng.choice(20 * n, size=n_forged + n_supp + n_test, replace=False)
    forged_ids = ids[:n_forged].astype(str).astype(object)
    named = rng.random(len(forged_ids)) < 0.005
    forged_ids[named] = ["img_" + s for s in forged_ids[named]]
    case = np.concatenate([forged_ids[:n_auth], forged_ids,
                           ids[n_forged:n_forged + n_supp].astype(str).astype(object),
                           ids[n_forged + n_supp:].astype(str).astype(object)])
    split = np.array(["train"] * rest + ["supplemental"] * n_supp + ["test"] * n_test, dtype=object)
    label = np.array(["authentic"] * n_auth + ["forged"] * (n_forged + n_supp) + [""] * n_test,
                     dtype=object)
    twin = np.zeros(n, bool)
    twin[:n_auth] = True
    twin[n_auth:2 * n_auth] = True
    sizes = np.array([(512, 512), (1024, 768), (768, 1024), (640, 480), (1200, 900), (256, 256),
                      (2048, 1536), (800, 600), (1000, 1000), (3888, 2592)])
    which = rng.choice(len(sizes), size=n, p=[.2, .15, .1, .1, .1, .05, .05, .1, .1, .05])
    w, h = sizes[which, 0].copy(), sizes[which, 1].copy()
    free = rng.random(n) < 0.4
    w[free] = rng.integers(100, 3000, free.sum())
    h[free] = rng.integers(100, 3000, free.sum())
    same = rng.random(n_auth) < 0.97  # a twin has its forgery's size
    w[:n_auth][same], h[:n_auth][same] = w[n_auth:2 * n_auth][same], h[n_auth:2 * n_auth][same]
    status = _pick(rng, n, {"ok": 0.997, "truncated_image": 0.001, "not_an_image": 0.001,
                            "wrong_format": 0.001})
    ok = status == "ok"
    mode = _pick(rng, n, {"RGB": 0.85, "L": 0.08, "RGBA": 0.05, "P": 0.02})
    wf, hf = np.where(ok, w, np.nan), np.where(ok, h, np.nan)
    has_mask = (label == "forged") & (rng.random(n) < 0.99)
    screen = _pick(rng, n, {"screened": 0.95, "too_small": 0.02, "too_flat": 0.025,
                            "failed": 0.005})
    screen = np.where(ok, screen, None)
    reason = np.where(np.isin(screen, ["too_small", "too_flat", "failed"]), screen, None)
    return {
        "case_id": case, "split": split, "label": label,
        "path": np.char.add(np.char.add(np.char.add(split.astype(str), "_images/"),
                                        label.astype(str)),
                            np.char.add(np.char.add("/", case.astype(str)), ".png")).astype(object),
        "width": wf, "height": hf, "aspect": wf / hf, "mode": np.where(ok, mode, None),
        "file_bytes": (w * h * rng.uniform(0.3, 2.0, n)).astype(np.int64),
        "has_mask": has_mask, "twin": twin, "status": status,
        "screen_status": screen, "screen_reason": reason,
    }


def _scores(rng, img: dict) -> dict:
    import numpy as np
    n = len(img["case_id"])
    ok = img["status"] == "ok"
    pix = np.arange(n, dtype=np.int64)  # pixel_hash ids
    ph = np.arange(n, dtype=np.int64) + n  # phash ids
    n_auth = int((img["label"] == "authentic").sum())
    share = rng.random(n_auth) < 0.4  # a small forgery leaves the perceptual hash unchanged
    ph[:n_auth][share] = ph[n_auth:2 * n_auth][share]
    order = rng.permutation(n)
    at = 0

    def sets(sizes, ids):
        nonlocal at
        for size in sizes:
            members = order[at:at + size]
            at += size
            ids[members] = ids[members[0]]
            yield members

    small = np.minimum(2 + rng.zipf(2.0, max(1, n // 150)), 60)
    big = [max(3, n // 500), max(3, n // 2000)]
    exact = list(sets([*small, *big], pix))
    for members in exact:  # exact duplicates are near duplicates too
        ph[members] = ph[members[0]]
    near = np.minimum(2 + rng.zipf(2.0, max(1, n // 150)), 60)
    for _ in sets([*near, max(3, 3 * n // 1000)], ph):
        pass
    for members in exact[:max(1, len(exact) // 10)]:  # a near set: an exact set and one more
        ph[order[at]] = ph[members[0]]
        at += 1
    mix = np.uint64(0x9E3779B97F4A7C15)  # ids spread over 64 bits, wrapping
    pixel_hash = np.array([f"{i:040x}" for i in pix.astype(np.uint64) * mix], dtype=object)
    phash = np.array([f"{i:016x}" for i in ph.astype(np.uint64) * mix], dtype=object)
    w, h = img["width"], img["height"]
    gray = np.where(ok, np.isin(img["mode"], ["L"]) | (rng.random(n) < 0.02), None)
    nan = np.where(ok, 1.0, np.nan)
    b5, b99 = rng.beta(2, 5, n) * nan, (0.5 + rng.beta(5, 1, n) / 2) * nan
    entropy, blur = rng.uniform(0.5, 8, n) * nan, rng.gamma(2, 20, n) * nan
    return {
        "split": img["split"], "label": img["label"], "case_id": img["case_id"],
        "brightness_perc_5": b5, "brightness_perc_99": b99, "entropy": entropy,
        "blurriness": blur, "blurriness_grayscale_std": rng.gamma(2, 10, n) * nan,
        "aspect_ratio": np.minimum(w / h, h / w), "size": np.sqrt(w * h), "grayscale": gray,
        "pixel_hash": np.where(ok, pixel_hash, None), "phash": np.where(ok, phash, None),
        "dark_score": b99, "light_score": 1 - b5,
        "low_information_score": np.minimum(0.1 * entropy, 1.0),
        "blurry_score": np.minimum(1 - np.exp(-0.01 * blur), 1.0),
        "odd_aspect_ratio_score": np.minimum(w / h, h / w),
    }


def _masks(rng, img: dict) -> tuple[dict, dict]:
    import numpy as np
    rows = np.flatnonzero(img["has_mask"])
    m = len(rows)
    n_inst = np.minimum(1 + rng.geometric(0.55, m) - 1, 8)
    status = _pick(rng, m, {"ok": 0.93, "normalized": 0.04, "empty": 0.01,
                            "bad_mask_dtype": 0.01, "pickled_mask": 0.005,
                            "image_unreadable": 0.005})
    status = np.where(img["status"][rows] == "ok", status, "image_unreadable")
    n_orphan = max(1, m // 1000)
    case = np.concatenate([img["case_id"][rows], [f"orphan_{i}" for i in range(n_orphan)]])
    split = np.concatenate([img["split"][rows], ["train"] * n_orphan]).astype(object)
    status = np.concatenate([status, ["orphan"] * n_orphan]).astype(object)
    w = np.concatenate([img["width"][rows], np.full(n_orphan, 500.0)])
    h = np.concatenate([img["height"][rows], np.full(n_orphan, 400.0)])
    n_inst = np.concatenate([n_inst, np.ones(n_orphan, int)])
    total = len(case)
    measured = np.isin(status, ["ok", "normalized", "empty"])
    read = measured | np.isin(status, ["orphan", "image_unreadable"])
    n_inst = np.where(status == "empty", 1, n_inst)
    frac = np.where(status == "empty", 0.0, rng.lognormal(-3.5, 1.2, total).clip(1e-5, 0.9))
    union = np.round(frac * w * h)
    notes = np.where(status == "normalized",
                     _pick(rng, total, {"resized_to_image": 1, "values_scaled": 1,
                                        "resized_to_image;values_scaled": 1}), "")
    hw = zip(n_inst, np.nan_to_num(h, nan=300), np.nan_to_num(w, nan=400))
    shape = np.array([f"{k}x{int(a)}x{int(b)}" for k, a, b in hw], dtype=object)
    masks = {
        "case_id": case, "split": split,
        "path": np.array([f"{s}_masks/{c}.npy" for s, c in zip(split, case)], dtype=object),
        "shape": np.where(read, shape, None),
        "dtype": np.where(read, _pick(rng, total, {"uint8": 0.95, "bool": 0.05}), None),
        "height": np.where(measured, h, np.nan), "width": np.where(measured, w, np.nan),
        "n_instances": np.where(measured, n_inst, np.nan),
        "n_empty": np.where(measured, (status == "empty") * n_inst, np.nan),
        "union_px": np.where(measured, union, np.nan),
        "union_frac": np.where(measured, frac, np.nan),
        "status": status, "notes": np.where(read, notes, None),
        "rle_chars": np.where(measured, rng.integers(10, 5000, total), np.nan),
        "rle_roundtrip": np.where(measured, True, None),
        "of1_union": np.where(measured, np.where(n_inst > 1, rng.uniform(0.3, 1, total), 1.0),
                              np.nan),
    }
    usable = np.flatnonzero(np.isin(status, ["ok", "normalized"]))
    reps = n_inst[usable]
    at = np.repeat(usable, reps)
    k = len(at)
    first = np.repeat(np.cumsum(reps) - reps, reps)
    area = np.maximum(1, np.round(frac[at] * w[at] * h[at] / n_inst[at]))
    bw = np.maximum(1, np.minimum(w[at], np.round(np.sqrt(area) * rng.uniform(0.5, 2, k))))
    bh = np.maximum(1, np.minimum(h[at], np.ceil(area / bw)))
    x1 = np.floor(rng.random(k) * (w[at] - bw + 1))
    y1 = np.floor(rng.random(k) * (h[at] - bh + 1))
    perim = 2 * (bw + bh) * rng.uniform(1, 2, k)
    inst = {
        "case_id": case[at], "split": split[at], "instance": np.arange(k) - first + 1,
        "area_px": area, "area_frac": area / (w[at] * h[at]),
        "x1": x1, "y1": y1, "x2": x1 + bw - 1, "y2": y1 + bh - 1, "bbox_w": bw, "bbox_h": bh,
        "aspect": bw / bh, "bbox_fill": np.minimum(1, area / (bw * bh)),
        "n_components": rng.choice([1, 2, 3], k, p=[0.5, 0.45, 0.05]),
        "perimeter": perim, "compactness": np.minimum(1, 4 * np.pi * area / perim ** 2),
    }
    return masks, inst


def _copy_move(rng, img: dict, inst: dict) -> dict:
    import numpy as np
    k = len(inst["case_id"])
    twins = set(img["case_id"][img["twin"] & (img["label"] == "forged")])
    with_twin = np.fromiter((c in twins for c in inst["case_id"]), bool, k)
    method = np.where(with_twin, "twin_diff",
                      _pick(rng, k, {"mask_pair": 0.6, "search": 0.3, "none": 0.1}))
    verdict = _pick(rng, k, {"copy": 0.7, "unsure": 0.2, "undecidable": 0.1})
    found = method != "none"
    dx, dy = rng.integers(-500, 500, k), rng.integers(-500, 500, k)
    box = {f"target_{c}": inst[c] for c in ("x1", "y1", "x2", "y2")}
    src = {f"source_{c}": np.where(found, inst[c] - (dx if c[0] == "x" else dy), np.nan)
           for c in ("x1", "y1", "x2", "y2")}
    transforms = ["identity", "flip_h", "flip_v", "rot90", "rot180", "rot270", "transpose",
                  "anti_transpose"]
    return {
        "case_id": inst["case_id"], "split": inst["split"], "instance": inst["instance"],
        "method": method, **box, **src,
        "transform": np.where(found, _pick(rng, k, dict.fromkeys(transforms, 1) | {
            "identity": 6}), None),
        "scale": np.where(found, rng.lognormal(0, 0.05, k), np.nan),
        "dx": np.where(found, dx, np.nan), "dy": np.where(found, dy, np.nan),
        "ncc": rng.uniform(0.5, 1, k), "residual_ncc": rng.uniform(0, 1, k),
        "identical_frac": rng.random(k), "texture": rng.integers(0, 100_000, k),
        "margin": rng.random(k), "verdict": verdict,
        "screen_found": np.where(found, rng.random(k) < 0.6, None),
    }


def _label_check(rng, img: dict, masks: dict) -> dict:
    import numpy as np
    twins = set(img["case_id"][img["twin"] & (img["label"] == "forged")])
    rows = np.flatnonzero(np.fromiter((c in twins for c in masks["case_id"]), bool,
                                      len(masks["case_id"]))
                          & np.isin(masks["status"], ["ok", "normalized", "empty"]))
    k = len(rows)
    marked = np.nan_to_num(masks["union_px"][rows]).astype(np.int64)
    return {
        "case_id": masks["case_id"][rows], "split": masks["split"][rows],
        "changed_px": marked // 2 + rng.integers(0, 50, k),
        "changed_outside_mask_px": np.where(rng.random(k) < 0.1, rng.integers(1, 500, k), 0),
        "marked_px": marked, "marked_unchanged_px": marked // 2,
        "n_targets": rng.integers(0, 3, k), "n_sources": rng.integers(0, 3, k),
    }


def _screening(rng, img: dict) -> dict:
    import numpy as np
    screened = np.flatnonzero(img["screen_status"] == "screened")
    pairs = rng.poisson(np.where(img["label"][screened] == "forged", 0.5, 0.15))
    at = np.repeat(screened, pairs)
    k = len(at)
    first = np.repeat(np.cumsum(pairs) - pairs, pairs)
    verdict = _pick(rng, k, {"copy": 0.5, "unsure": 0.2, "rejected": 0.3})
    reason = np.where(verdict == "rejected",
                      _pick(rng, k, {"periodic": 3, "too_close": 2, "scale_bar": 1, "text": 2,
                                     "flat": 1}),
                      np.where(verdict == "unsure",
                               _pick(rng, k, {"weak_match": 3, "free_rotation": 1}), None))
    x, y = rng.integers(0, 400, k), rng.integers(0, 400, k)
    size = rng.integers(8, 200, k)
    scored = verdict != "rejected"
    return {
        "split": img["split"][at], "label": img["label"][at], "case_id": img["case_id"][at],
        "pair": np.arange(k) - first + 1,
        "source_x1": x, "source_y1": y, "source_x2": x + size, "source_y2": y + size,
        "target_x1": x + 300, "target_y1": y, "target_x2": x + 300 + size, "target_y2": y + size,
        "roles": np.full(k, "undecided", dtype=object),
        "transform": _pick(rng, k, {"identity": 5, "flip_h": 1, "rot90": 1}),
        "scale": np.ones(k), "ncc": np.where(scored, rng.uniform(0.6, 1, k), np.nan),
        "residual_ncc": np.where(scored, rng.uniform(0, 1, k), np.nan),
        "identical_frac": np.where(scored, rng.random(k), np.nan),
        "texture": rng.integers(0, 10_000, k), "margin": np.where(scored, rng.random(k), np.nan),
        "inliers": rng.integers(4, 300, k),
        "method": _pick(rng, k, {"sift": 4, "blocks": 1}), "verdict": verdict, "reason": reason,
        "annotation": np.where(verdict == "copy", "[1, 5, 20, 5]", None),
    }


def _screen_columns(rng, img: dict, screening: dict) -> None:
    """The images' ``screen_copies`` from the screening rows, and ``screen_of1``."""
    import numpy as np
    n = len(img["case_id"])
    key = {(s, lab, c): i for i, (s, lab, c) in
           enumerate(zip(img["split"], img["label"], img["case_id"]))}
    copies = np.zeros(n, np.int64)
    for s, lab, c, v in zip(screening["split"], screening["label"], screening["case_id"],
                            screening["verdict"]):
        if v == "copy":
            copies[key[(s, lab, c)]] += 1
    screened = img["screen_status"] == "screened"
    img["screen_copies"] = np.where(screened, copies, np.nan)
    labelled = screened & (img["split"] == "train")
    img["screen_of1"] = np.where(labelled, np.where(copies > 0, rng.random(n),
                                                    (img["label"] == "authentic") * 1.0), np.nan)


def _problems(rng, img: dict, masks: dict) -> dict:
    import numpy as np

    from eda_lib.tables import PROBLEM_KINDS
    n = len(img["case_id"])
    k = max(1, n // 100)
    kinds = _pick(rng, k, dict.fromkeys(PROBLEM_KINDS, 1) | {"stray_file": 20,
                                                             "mask_normalized": 20})
    missing = np.flatnonzero((img["label"] == "forged") & ~img["has_mask"])
    case = np.concatenate([rng.integers(0, 10 * n, k).astype(str).astype(object),
                           img["case_id"][missing]])
    kinds = np.concatenate([kinds, np.full(len(missing), "missing_mask", dtype=object)])
    return {
        "path": np.array([f"train_images/x/{c}.png" for c in case], dtype=object),
        "case_id": case, "kind": kinds,
        "detail": np.array([f"{k}: what was found" for k in kinds], dtype=object),
    }


if __name__ == "__main__":
    raise SystemExit(main())
