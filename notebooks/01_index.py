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
# # 1. Index and sanity checks
#
# What the data folder holds, before any statistic: images per split and label,
# which forged images have a mask, which have their authentic original (a *twin*,
# same `case_id`), orphan masks, and every file that could not be used as it is.
#
# A mask is looked up for **forged** images only. An authentic image shares its file
# stem with its forged twin, so a plain stem lookup would "find" a mask for it too.

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

s = eda_lib.start(globals(), "01")
t = s.tables
s.print_warnings()

# %% [markdown]
# ## Images per split and label

# %%
stats.split_label_counts(t.images)

# %%
fig = plots.bar_counts(t.images[t.images["split"] != "test"], "split", hue="label",
                       title="Images per split and label", xlabel="split")
s.show(fig, "counts")

# %% [markdown]
# ## Sanity checks
#
# Counts of everything that links images and masks. The real competition data has no
# authentic image without a forged twin, no orphan mask and no forged image without a mask.

# %%
stats.sanity_checks(t.images, t.masks, t.problems)

# %% [markdown]
# ## Twin pairs
#
# Twins must have the same size. Their modes may differ (an RGBA original of an RGB
# forgery is common), which matters when differencing the pair.

# %%
s.table(stats.twin_mode_pairs(t.images), empty="None: no authentic image has a forged twin.")

# %% [markdown]
# ## Files that could not be used as they are
#
# One row per file, with a stable `kind` and what was found. The same table is written
# to `tables/problems.csv`.

# %%
s.table(t.problems, empty="None: every file was used as it is.")

# %%
s.table(t.problems["kind"].value_counts().rename_axis("kind").rename("files").to_frame(),
        empty="No problem of any kind.")
