"""Bad input never breaks a run, never runs code, never touches the data.

A clean demo dataset gets every kind of bad file (``tests/hostile.py``); the suite
must report each with its kind, analyse everything else exactly as without the bad
files, leave the folder byte for byte as it was, and never unpickle anything unless
``allow_pickle`` is explicitly on.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hostile import PICKLE_MARKER, add_hostile_files, add_hostile_flat_files, make_flat_folder
from PIL import Image

from eda_lib import config, datapass
from eda_lib.datapass import measure_dataset
from eda_lib.dataset import demo
from eda_lib.errors import TablesError
from eda_lib.report import runner
from eda_lib.tables import PROBLEM_KINDS

DEMO = {"forged": 6, "seed": 11, "size_scale": 0.2, "supplemental": 1}


def _cfg(data: Path, out: Path, **kw) -> config.Config:
    return config.make_config({"data_dir": str(data), "out_dir": str(out), "workers": 1,
                               "progress": False, **kw})


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every regular file, the target of every link, and the
    kind of every folder or special file under root (nothing special is opened)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        mode = p.lstat().st_mode
        if stat.S_ISLNK(mode):
            out[rel] = f"link to {os.readlink(p)}"
        elif stat.S_ISREG(mode):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "dir" if stat.S_ISDIR(mode) else f"special {stat.S_IFMT(mode):o}"
    return out


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    clean, bad = tmp / "clean", tmp / "bad"
    demo.generate(clean, **DEMO)
    demo.generate(bad, **DEMO)
    expected = add_hostile_files(bad, tmp)
    return tmp, clean, bad, expected


@pytest.fixture(scope="module")
def measured(hostile):
    tmp, clean, bad, expected = hostile
    return (measure_dataset(_cfg(clean, tmp / "o1"), progress=False),
            measure_dataset(_cfg(bad, tmp / "o2"), progress=False))


def test_every_bad_file_is_reported_with_its_kind(hostile, measured):
    tmp, _, bad, expected = hostile
    problems = measured[1]["problems"]
    got = set(zip(problems["path"], problems["kind"]))
    want = {(path, kind) for path, kind in expected.items() if kind is not None}
    assert want <= got
    # nothing else is reported: every problem row is about a planted file
    assert set(problems["path"]) <= set(expected)
    assert problems["detail"].str.len().gt(10).all()
    assert set(problems["kind"]) <= set(PROBLEM_KINDS)
    assert not (tmp / PICKLE_MARKER).exists()


def test_unusual_but_valid_files_are_analysed(measured):
    images = measured[1]["images"].set_index("case_id")
    assert images.loc["90005", "mode"].startswith("I;16")
    assert images.loc["90006", "mode"] == "P"
    assert images.loc["90007", "mode"] == "LA"
    for case in ("90005", "90006", "90007", "12 (copy)", "éèñ-ü"):
        assert images.loc[case, "status"] == "ok"
        assert images.loc[case, "width"] == 50
    inst = measured[1]["instances"]
    for case in ("90005", "12 (copy)", "éèñ-ü", "90012", "90013", "90014", "90015", "90017"):
        assert (inst["case_id"] == case).any(), case


def test_normalised_masks_say_which_rule(measured):
    masks = measured[1]["masks"].set_index("case_id")
    assert masks.loc["90012", "notes"] == "2d_single_instance"
    assert masks.loc["90013", "notes"] == "values_0_255"
    assert masks.loc["90017", "notes"] == "channel_last" and masks.loc["90017", "n_instances"] == 2
    assert masks.loc["90019", "notes"] == "resized_to_image"
    assert (masks.loc["90019", "height"], masks.loc["90019", "width"]) == (40, 50)
    assert masks.loc["90020", "status"] == "empty"
    assert masks.loc["90011", "status"] == "pickled_mask"


def test_bad_files_never_hide_good_ones(measured):
    clean, bad = measured
    for name, keys in [("images", ["split", "label", "case_id"]), ("masks", ["split", "case_id"]),
                       ("instances", ["split", "case_id", "instance"])]:
        a = clean[name].set_index(keys)
        b = bad[name].set_index(keys).loc[a.index]
        pd.testing.assert_frame_equal(a, b, check_dtype=True)


def test_pickle_runs_only_when_explicitly_allowed(hostile):
    tmp, _, bad, _ = hostile
    marker = tmp / PICKLE_MARKER
    for extra in ({}, {"workers": 2}, {"allow_pickle": False}):
        measure_dataset(_cfg(bad, tmp / "o3", **extra), progress=False)
        assert not marker.exists(), extra
    # the check can fail: with allow_pickle on, the planted object is unpickled
    t = measure_dataset(_cfg(bad, tmp / "o4", allow_pickle=True), progress=False)
    assert marker.exists()
    marker.unlink()
    row = t["masks"].set_index("case_id").loc["90011"]
    assert row["status"] == "bad_mask_shape"  # what it unpickled to (an int) is no mask


@pytest.mark.slow
def test_full_run_finishes_and_leaves_the_data_untouched(hostile):
    tmp, _, bad, expected = hostile
    before = tree_digest(bad)
    cfg = _cfg(bad, tmp / "report", workers=2, max_grid_images=4, display_size=256, grid_size=128)
    umask = os.umask(0o022)
    try:
        result = runner.run(cfg, progress=False)
    finally:
        os.umask(umask)
    assert result.ok, [(r.name, r.error) for r in result.records if r.status != "ok"]
    assert tree_digest(bad) == before
    # every file of the report as readable as the umask allows (a web server can serve it)
    modes = {p.relative_to(cfg.out_dir).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in cfg.out_dir.rglob("*") if p.is_file()}
    assert {"index.html", "tables/images.csv", "cache/images.parquet"} <= set(modes)
    assert {name: mode for name, mode in modes.items() if mode != 0o644} == {}
    assert not (tmp / PICKLE_MARKER).exists()
    problems = pd.read_csv(cfg.out_dir / "tables" / "problems.csv")
    assert len(problems) >= sum(k is not None for k in expected.values())


def test_memory_stays_bounded_on_the_bomb(hostile):
    """Refusing a 30000 x 30000 header allocates nothing like its 2.7 GB."""
    _, _, bad, _ = hostile
    code = (
        "import resource, sys\n"
        "from eda_lib.dataset.images import decode\n"
        "from eda_lib.errors import ImageError\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    decode(sys.argv[1])\n"
        "except ImageError as e:\n"
        "    assert e.kind == 'too_many_pixels', e.kind\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print((after - before) // 1024)\n"
    )
    path = bad / "train_images/forged/90004.png"
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         check=True)
    assert int(out.stdout) < 50  # MiB of extra peak memory


def test_largest_real_size_is_measured_within_bounded_memory(tmp_path):
    """A 2592 x 3888 RGB forged image with a 3-instance mask: peak well under 1 GB."""
    code = (
        "import resource, sys\n"
        "import numpy as np\n"
        "from pathlib import Path\n"
        "from PIL import Image\n"
        "from eda_lib.config import make_config\n"
        "from eda_lib.datapass import measure_dataset\n"
        "root = Path(sys.argv[1])\n"
        "(root / 'train_images/forged').mkdir(parents=True)\n"
        "(root / 'train_masks').mkdir()\n"
        "rng = np.random.default_rng(0)\n"
        "img = rng.integers(0, 256, (2592, 3888, 3), dtype=np.uint8)\n"
        "Image.fromarray(img).save(root / 'train_images/forged/7.png', compress_level=1)\n"
        "m = np.zeros((3, 2592, 3888), np.uint8); m[:, 100:900, 200:1500] = 1\n"
        "np.save(root / 'train_masks/7.npy', m)\n"
        "del img, m\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "cfg = make_config({'data_dir': str(root), 'out_dir': sys.argv[2], 'workers': 1})\n"
        "t = measure_dataset(cfg, progress=False)\n"
        "assert t['images']['width'].iloc[0] == 3888\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(peak // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "d"), str(tmp_path / "o")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) < 1024  # MiB peak for the whole process


def test_every_problem_kind_is_documented():
    from eda_lib.dataset.masks import REFUSALS

    assert set(REFUSALS) <= set(PROBLEM_KINDS)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for kind in PROBLEM_KINDS:
        assert f"`{kind}`" in readme, kind


# --------------------------------------------------------------------------- second attack
# Holes found by a later attack: each test failed on the code before its fix.


#: Source of ``peak_mib()``: this process's peak resident memory in MiB. Linux's VmHWM
#: starts afresh at exec; ``ru_maxrss`` would carry the (large) pytest parent's peak over.
PEAK_MIB = (
    "import resource\n"
    "def peak_mib():\n"
    "    try:\n"
    "        with open('/proc/self/status') as fh:\n"
    "            return next(int(l.split()[1]) // 1024 for l in fh if l.startswith('VmHWM'))\n"
    "    except OSError:\n"
    "        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024\n"
)


def test_scoring_thousands_of_tiny_instances_stays_in_bounded_memory(tmp_path):
    """10,000 one-pixel instances for one 583 x 389 image: drawn as masks they would
    take 2.3 GB; scored from their runs the whole process stays under 300 MB."""
    runs = ";".join(f"[{1 + 7 * i}, 1]" for i in range(10_000))
    (tmp_path / "sub.csv").write_text(f'case_id,annotation\n5,"{runs}"\n', encoding="utf-8")
    code = PEAK_MIB + (
        "import sys\n"
        "import pandas as pd\n"
        "from eda_lib.dataset import metric\n"
        "sub = metric.read_submission(sys.argv[1])\n"
        "sol = pd.DataFrame({'case_id': ['5'], 'annotation': ['[1, 70000]'],\n"
        "                    'shape': ['[583, 389]']})\n"
        "d = metric.score_details(sol, sub)\n"
        "assert d['pred_instances'].iloc[0] == 10_000, d\n"
        "print(d['score'].iloc[0], peak_mib())\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "sub.csv")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    score, peak_mib = out.stdout.split()
    assert 0 < float(score) < 0.01  # 10,000 pixels of the 70,000 marked, 9,999 extra instances
    assert int(peak_mib) < 300


@pytest.mark.parametrize("seed, accepted", [(2**32 - 1, True), (2**32, False), (2**40, False)])
def test_a_seed_numpy_cannot_take_is_refused_at_validation(tmp_path, capsys, seed, accepted):
    """numpy's legacy seeding (random samples of sections 5 and 6) takes 0 .. 2**32 - 1."""
    values = {"data_dir": str(tmp_path), "out_dir": str(tmp_path / "out"), "seed": seed}
    if accepted:
        assert config.make_config(values).seed == seed
        return
    with pytest.raises(config.ConfigError, match="must be <= 4294967295") as err:
        config.make_config(values)
    assert err.value.key == "seed"
    from eda_lib import cli

    params = tmp_path / "p.yaml"
    params.write_text(f"data_dir: {tmp_path}\n", encoding="utf-8")
    assert cli.main(["run", "-f", str(params), "-p", "seed", str(seed)]) == 2
    assert capsys.readouterr().err.startswith("error: parameter 'seed' must be <= 4294967295")


@pytest.mark.parametrize("where", ["data", "data/train_masks", "data/train_images/forged"])
def test_a_cache_dir_in_the_data_folder_is_refused_and_nothing_written(hostile, tmp_path, where):
    _, clean, _, _ = hostile
    data = tmp_path / "data"
    shutil.copytree(clean, data)
    before = tree_digest(data)
    cfg = _cfg(data, tmp_path / "out", cache_dir=str(tmp_path / where))
    with pytest.raises(config.ConfigError, match="cache_dir .* leads into data_dir") as err:
        datapass.ensure_tables(cfg)
    assert err.value.key == "cache_dir"
    assert tree_digest(data) == before and not (tmp_path / "out").exists()


def test_a_link_in_out_dir_that_leads_into_the_data_is_refused(hostile, tmp_path):
    _, clean, _, _ = hostile
    data = tmp_path / "data"
    shutil.copytree(clean, data)
    before = tree_digest(data)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "figures").symlink_to(data / "train_images")
    cfg = _cfg(data, tmp_path / "out")
    with pytest.raises(config.ConfigError, match="figures leads into data_dir"):
        runner.run(cfg, progress=False)
    assert tree_digest(data) == before


def test_a_damaged_table_file_is_rebuilt_not_trusted(hostile, tmp_path):
    _, clean, _, _ = hostile
    cfg = _cfg(clean, tmp_path / "out")
    assert datapass.ensure_tables(cfg) is True
    good = pd.read_parquet(tmp_path / "out/tables/masks.parquet")
    damaged = tmp_path / "out/tables/masks.parquet"
    damaged.write_bytes(damaged.read_bytes()[:-100])
    with pytest.raises(TablesError, match="masks.parquet"):
        datapass.load_tables(cfg, build=False)
    assert datapass.ensure_tables(cfg) is True  # rebuilt
    pd.testing.assert_frame_equal(datapass.load_tables(cfg, build=False).masks, good)
    # a file replaced by a readable one that is not the pass's: rebuilt too
    pd.read_parquet(damaged).head(1).to_parquet(damaged)
    assert len(datapass.load_tables(cfg).masks) == len(good)


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(hostile, tmp_path):
    _, clean, _, _ = hostile
    data = tmp_path / "data"
    shutil.copytree(clean, data)
    for name in ("=HYPERLINK(1).png", "+1.png", "-2.png", "@SUM(A1).png"):
        shutil.copy(data / "test_images" / sorted(os.listdir(data / "test_images"))[0],
                    data / "test_images" / name)
    cfg = _cfg(data, tmp_path / "out")
    datapass.ensure_tables(cfg)
    parquet = pd.read_parquet(tmp_path / "out/tables/images.parquet")
    assert {"=HYPERLINK(1)", "+1", "-2", "@SUM(A1)"} <= set(parquet["case_id"])
    csv = pd.read_csv(tmp_path / "out/tables/images.csv", dtype=str)
    assert {"'=HYPERLINK(1)", "'+1", "'-2", "'@SUM(A1)"} <= set(csv["case_id"])
    assert not csv.map(lambda v: isinstance(v, str) and v[:1] in "=+-@").any().any()
    assert "spreadsheet" in (tmp_path / "out/tables/SCHEMA.md").read_text(encoding="utf-8")


def test_a_full_disk_is_one_error_line_and_leaves_no_partial_file(hostile, tmp_path, monkeypatch,
                                                                  capsys):
    """The device fills while the tables are written: exit 2, one line, nothing half-written."""
    from eda_lib import cli

    _, clean, _, _ = hostile
    out = tmp_path / "out"
    replace = os.replace

    def full(src, dst, *args, **kwargs):
        if str(dst).startswith(str(out / "tables")):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full)
    params = tmp_path / "p.yaml"
    params.write_text(f"data_dir: {clean}\nout_dir: {out}\nprogress: false\nworkers: 1\n",
                      encoding="utf-8")
    assert cli.main(["run", "-f", str(params)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: no space left on the device of "
                                                   f"{out / 'tables'}")
    assert "MB free there, and the report needs about" in err and "Traceback" not in err
    left = [p.name for p in out.rglob("*") if p.name.endswith((".tmp", ".partial.ipynb"))]
    assert left == []


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_really_full_device_stops_the_run_cleanly(hostile, tmp_path):
    """The same on a real 3 MB device: the tables fit, the notebooks' figures do not."""
    _, clean, _, _ = hostile
    device = tmp_path / "small"
    device.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(device)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        params = tmp_path / "p.yaml"
        params.write_text(f"data_dir: {clean}\nout_dir: {device / 'out'}\nprogress: false\n"
                          "workers: 2\n", encoding="utf-8")
        run = subprocess.run([sys.executable, "-m", "eda_lib", "run", "-f", str(params)],
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 2, run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: no space left on the device of "
                                                       f"{device / 'out'}"), run.stderr
        assert not list(device.rglob("*.partial.ipynb")) and not list(device.rglob("*.tmp"))
    finally:
        subprocess.run(["umount", str(device)], check=True)


def test_terminal_escapes_from_a_submission_are_printed_escaped(hostile, tmp_path, capsys):
    from eda_lib import cli

    _, clean, _, _ = hostile
    evil = "\x1b[2J\x1b[31mowned\x07\r"
    sub = tmp_path / "sub.csv"
    sub.write_text(f'case_id,annotation\n"{evil}",authentic\n', encoding="utf-8")
    assert cli.main(["validate", str(sub), "--data-dir", str(clean)]) == 1
    out = capsys.readouterr().out
    assert "unknown_case_id" in out and "\\x1b[2J\\x1b[31mowned\\x07\\x0d" in out
    assert not any(ch in out for ch in "\x1b\x07\r")


@pytest.mark.parametrize("case_id", ["c$\\fo{$4263", "$x$", "a_b^c $\\alpha$"])
def test_names_with_dollars_are_drawn_literally(tmp_path, case_id):
    """matplotlib reads $...$ as mathematics: a case_id in a title must show as written."""
    from matplotlib.text import Text

    from eda_lib.report import plots

    rgb = np.zeros((20, 30, 3), np.uint8)
    masks = np.zeros((1, 20, 30), bool)
    masks[0, 5:9, 5:9] = True
    figures = [plots.example_panel(rgb, masks, title=f"case {case_id}", display_size=64),
               plots.overlay_grid([(case_id, rgb, masks)], tile=32, cols=1, suptitle=case_id),
               plots.twin_panel(rgb, rgb, masks, title=case_id, display_size=64)]
    for i, fig in enumerate(figures):
        plots.save_figure(fig, tmp_path, f"f{i}")  # raised ValueError (mathtext) before
        texts = [t.get_text() for t in fig.findobj(Text)]
        assert any(case_id in text for text in texts)
        assert all(not t.get_parse_math() for t in fig.findobj(Text) if "$" in t.get_text())


def test_a_finding_with_nothing_to_say_is_left_out(tmp_path):
    """A test-only dataset has no labelled sizes, no forged images, no masks: no finding
    about them (it read "Sizes span nan to nan megapixels" and "0 of 0 forged images")."""
    from eda_lib.analysis import summary

    root = tmp_path / "data"
    (root / "test_images").mkdir(parents=True)
    (root / "test_images" / "5.png").write_bytes(b"not a png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "test_images" / "6.png")
    text = summary.to_markdown(datapass.load_tables(_cfg(root, tmp_path / "out")))
    assert "2 images: 0 authentic, 0 forged, 2 test" in text
    assert "nan" not in text and "0 of 0" not in text and "Sizes span" not in text


def test_tables_and_cache_honour_the_umask(hostile, tmp_path):
    """They were created owner-only (0600), whatever the umask."""
    _, clean, _, _ = hostile
    cfg = _cfg(clean, tmp_path / "out")
    umask = os.umask(0o022)
    try:
        datapass.ensure_tables(cfg)
    finally:
        os.umask(umask)
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert len(written) > 20
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in written
            if stat.S_IMODE(p.stat().st_mode) != 0o644} == {}


def test_no_problem_detail_quotes_a_file(hostile, measured):
    """numpy's header errors quote the file's first bytes ("got b'not nu'"); a detail
    must say what is wrong without echoing content (a link to /etc/passwd, say)."""
    problems = measured[1]["problems"].set_index("path")
    assert problems.loc["train_masks/90010.npy", "detail"] == (
        "train_masks/90010.npy: not a readable .npy file (no valid .npy header)")
    assert not problems["detail"].str.contains("b'|not nu|root:", regex=True).any()


# --------------------------------------------------------------------------- flat folder
# A folder of figures without the competition layout: every rule above holds there too.


@pytest.fixture(scope="module")
def hostile_flat(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile_flat")
    clean, bad = tmp / "clean", tmp / "bad"
    make_flat_folder(clean)
    make_flat_folder(bad)
    expected = add_hostile_flat_files(bad)
    return tmp, clean, bad, expected


def test_every_bad_file_of_a_flat_folder_is_reported_and_the_rest_analysed(hostile_flat):
    tmp, clean, bad, expected = hostile_flat
    before = tree_digest(bad)
    good = measure_dataset(_cfg(clean, tmp / "o1"), progress=False)
    got = measure_dataset(_cfg(bad, tmp / "o2", workers=2), progress=False)
    assert tree_digest(bad) == before
    problems = got["problems"]
    want = {(path, kind) for path, kind in expected.items() if kind is not None}
    assert want == set(zip(problems["path"], problems["kind"]))
    assert problems["detail"].str.len().gt(10).all()
    assert not problems["detail"].str.contains("b'|root:", regex=True).any()
    images = got["images"].set_index("case_id")
    assert set(images["split"]) == {"unlabelled"} and set(images["label"]) == {""}
    for case in ("12 (copy)", "éèñ-ü", "$x$", "panels/fig1", "panels/gel", "blot", "phone"):
        assert images.loc[case, "status"] == "ok"
    assert (images.loc["panels/gel", "width"], images.loc["blot", "height"]) == (64, 40)
    assert (images.loc["phone", "width"], images.loc["phone", "height"]) == (52, 36)
    turned = problems.set_index("path").loc["phone.jpg", "detail"]
    assert "orientation 8" in turned and "analysed as stored" in turned
    assert got["screening"].empty or set(got["screening"]["split"]) == {"unlabelled"}
    keys = ["split", "label", "case_id"]
    for name in ("images", "image_scores"):
        a = good[name].set_index(keys)
        pd.testing.assert_frame_equal(a, got[name].set_index(keys).loc[a.index], check_dtype=True)
