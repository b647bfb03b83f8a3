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
# # 2. Global statistics
#
# Width, height, aspect ratio, mode and file size of every decodable image, by label.
# Every value comes from the one data pass, joined by `case_id` and split: a row that
# could not be measured stays empty instead of shifting the others.

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

s = eda_lib.start(globals(), "02")
t = s.tables
labelled = stats.described_images(t.images)  # a flat folder's images when none is labelled

# %% [markdown]
# ## Size and file-size quantiles by label

# %%
stats.geometry_by_label(t.images)

# %% [markdown]
# ## Width and height
#
# Each point is one size; its area grows with the number of images of that size.
# The dotted diagonals mark aspect ratios 1/2, 1 and 2.

# %%
fig = plots.scatter_sizes(labelled)
s.show(fig, "sizes")

# %%
fig = plots.hist_by_label(labelled, "width", log_x=True, title="Image width", xlabel="width (px)")
s.show(fig, "width")

# %%
fig = plots.hist_by_label(labelled, "height", log_x=True, title="Image height", xlabel="height (px)")
s.show(fig, "height")

# %%
fig = plots.hist_by_label(labelled, "aspect", log_x=True, title="Aspect ratio",
                          xlabel="width / height")
s.show(fig, "aspect")

# %% [markdown]
# ## Most common sizes

# %%
stats.common_sizes(t.images, n=12)

# %% [markdown]
# ## Modes
#
# Pillow modes as stored: `RGB`, `RGBA` (with alpha), `L` (single channel), and any
# other mode found. The analysis converts each image to RGB, dropping alpha.

# %%
stats.mode_counts(t.images)

# %%
fig = plots.bar_counts(labelled, "mode", hue="label", title="Image modes by label", xlabel="mode")
s.show(fig, "modes")

# %% [markdown]
# ## File size
#
# Bytes on disk per image: PNG in the competition's folders; a flat folder of images may
# mix PNG with JPEG or TIFF, whose sizes are not comparable with a PNG's (the `path`
# column of `tables/images.csv` says each file's format).

# %%
fig = plots.hist_by_label(labelled.assign(file_kb=labelled["file_bytes"] / 1024), "file_kb",
                          log_x=True, title="File size", xlabel="file size (KiB)")
s.show(fig, "file_size")
