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
# # 3. Mask structure and quality
#
# The competition stores each mask as an `(N, H, W)` uint8 array of {0, 1}, one
# channel per forged instance, channel-first even when N = 1. This section checks every
# mask against that, and against its image's size, then measures the union of the
# instances: its area in pixels and as a fraction of the **image** (H x W; dividing by
# the size of the whole (N, H, W) stack would understate it when N > 1).
#
# Masks are loaded with `allow_pickle=False`: a file holding Python objects is refused,
# never unpickled. Accepted files that needed a normalisation are listed with the rule
# applied (see `eda_lib.dataset.masks.RULES`).

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

s = eda_lib.start(globals(), "03")
t = s.tables

# %% [markdown]
# ## Checks

# %%
stats.mask_checks(t.images, t.masks)

# %% [markdown]
# ## Stored shapes and dtypes

# %%
stats.mask_shape_counts(t.masks)

# %% [markdown]
# ## Instances per mask

# %%
stats.instances_per_mask(t.masks)

# %%
fig = plots.bar_counts(t.masks.dropna(subset=["n_instances"]), "n_instances",
                       title="Instances per mask", xlabel="instances (channels)", ylabel="masks")
s.show(fig, "instances_per_mask")

# %% [markdown]
# ## Union area
#
# Pixels marked by any instance, and their share of the image.

# %%
stats.union_area_summary(t.masks)

# %%
usable = t.masks[t.masks["status"].isin(MASK_MEASURED)].assign(label="forged")
fig = plots.hist_by_label(usable, "union_px", log_x=True, title="Union area of the forged regions",
                          xlabel="pixels (log scale)")
s.show(fig, "union_px")

# %%
fig = plots.hist_by_label(usable, "union_frac", title="Union area as a fraction of the image",
                          xlabel="union_px / (H x W)")
s.show(fig, "union_frac")

# %% [markdown]
# ## Normalisations applied
#
# Each rule that was needed, and how many files needed it. An empty table means every
# mask was already in the competition's format.

# %%
stats.rules_applied(t.masks)
