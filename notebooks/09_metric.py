# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 9. The competition's metric on this data
#
# Submissions encode each forged instance as a run-length list (column-major, 1-based
# starts), instances joined by `;`, or the word `authentic`; the score is the mean over
# images of the instance-matched F1, *oF1* (`eda_lib.dataset.metric`). This section checks
# that every training mask survives the round trip through that encoding, shows how
# long the encoded strings get, and scores simple baselines on the training data, so
# the floor and the ceiling of the score are known before any model is trained.
#
# Score a submission on training images with
# `python -m eda_lib score SUB.csv --data-dir D [--fold K --folds OUT/tables/folds.csv]`
# (images named `forged/<case_id>` or `authentic/<case_id>`), and check one with
# `python -m eda_lib validate SUB.csv --data-dir D`.

# %% tags=["parameters"]
data_dir: str = "../data/demo"  # competition layout or flat folder of images (read only)
out_dir: str = "../reports/demo"  # where tables, figures, notebooks and HTML are written
seed: int = 42  # seed of the folds and of every random sample shown
workers: int = 0  # processes for the data pass; 0 means all cores
executor: str = "local"  # where the data pass runs: local (processes here) or dask
dask_scheduler: str = ""  # address of a running Dask scheduler; empty starts a local one
display_size: int = 768  # longest side in pixels of single-image figures
grid_size: int = 320  # longest side in pixels of each grid thumbnail
max_grid_images: int = 12  # most images drawn in one grid
folds: int = 5  # grouped folds written to tables/folds
copy_move: bool = True  # run the copy-move analysis in the data pass
copy_move_max_side: int = 1024  # longest side at which copy-move search runs
screening: bool = True  # run the blind copy-move screen on every image in the data pass
screening_max_side: int = 512  # longest side at which the blind screen looks for copies
max_image_pixels: int = 100000000  # images claiming more pixels are refused
allow_pickle: bool = False  # allow unpickling object-array masks (runs code from the files)
cache_dir: str = ""  # per-file results cache; empty means out_dir/cache
show_code: bool = False  # show code cells in the HTML reports
progress: bool = True  # show progress bars on long work

# %%
import sys
from pathlib import Path

sys.path.append(str(Path.cwd().parent))  # finds eda_lib next to notebooks/ when not installed
import eda_lib
from eda_lib.analysis import stats
from eda_lib.report import plots
from eda_lib.tables import MASK_MEASURED

s = eda_lib.start(globals(), "09")
t = s.tables
measured = t.masks[t.masks["status"].isin(MASK_MEASURED)]

# %% [markdown]
# ## Round trip through RLE

# %%
measured["rle_roundtrip"].value_counts(dropna=False).rename_axis("round trip exact").rename(
    "masks").to_frame()

# %% [markdown]
# ## Encoded size
#
# Characters of each mask's annotation. Ragged or large instances make long strings;
# the submission file has one row per test image.

# %%
stats.quantiles(measured["rle_chars"]).to_frame("characters")

# %%
fig = plots.hist_by_label(measured.assign(label="forged"), "rle_chars", log_x=True,
                          title="Length of the encoded annotation",
                          xlabel="characters (log scale)")
s.show(fig, "rle_chars")

# %% [markdown]
# ## Baselines on the training images
#
# *all authentic* is the floor any model must beat; *blind screen* is the classical
# detector of section 10 (no mask, no twin, no training), the baseline a model should
# beat by a clear margin; *oracle label + union* is what a perfect detector loses by
# merging instances into one mask; *masks themselves* is the ceiling (1.0 when every
# mask round-trips).

# %%
stats.baseline_scores(t.images, t.masks)

# %% [markdown]
# ## The blind screen per grouped fold
#
# The screen is not trained, so every fold is held out; the spread across the folds of
# section 8 shows how much a validation score moves from fold to fold. Fold K's number
# is what `python -m eda_lib baseline --data-dir D --out SUB.csv --split train --fold K`
# scores with `python -m eda_lib score SUB.csv --data-dir D --fold K --folds
# OUT/tables/folds.csv`.

# %%
stats.screen_by_fold(t.images, t.folds)

# %%
fig = plots.hist_by_label(measured.assign(instances=measured["n_instances"].astype(str)),
                          "of1_union", by="instances", bins=20,
                          title="oF1 of the union as one instance, by instances per image",
                          xlabel="oF1 per image")
s.show(fig, "union_baseline")
