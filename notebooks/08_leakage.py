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
# # 8. Leakage and folds
#
# Images that must never sit on both sides of a train/validation split form one
# **group**: an authentic image and its forged twin (same `case_id`), and images whose
# pixels are identical or nearly identical across different case_ids (the same figure
# used twice). The groups are dealt whole into `folds` folds, balanced on label and on
# the number of instances per image. Both tables are written to `tables/groups` and
# `tables/folds` (CSV and Parquet) for training code to use as they are.

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
from eda_lib.analysis.folds import empty_folds_note, fold_balance
from eda_lib.report import plots

s = eda_lib.start(globals(), "08")
t = s.tables

# %% [markdown]
# ## Groups

# %%
stats.group_summary(t.groups)

# %%
fig = plots.bar_counts(t.groups.drop_duplicates("group"), "group_size",
                       title="Leakage groups by size", xlabel="images in the group",
                       ylabel="groups")
s.show(fig, "group_sizes")

# %% [markdown]
# Groups that join images of different case_ids: the same figure filed twice.

# %%
s.table(stats.cross_case_images(t.groups, n=20),
        empty="None: no group joins images of different case_ids.")

# %% [markdown]
# ## Folds
#
# Images per fold and stratum (label : instances per image). No group is split: the
# check below counts groups found in more than one fold.

# %%
print(empty_folds_note(t.folds, folds))

# %%
fold_balance(t.folds)

# %%
print(f"groups split across folds: {stats.groups_split_across_folds(t.folds)}")

# %%
fig = plots.bar_counts(t.folds, "fold", hue="stratum", title="Fold balance by stratum",
                       xlabel="fold", ylabel="images")
s.show(fig, "fold_balance")
