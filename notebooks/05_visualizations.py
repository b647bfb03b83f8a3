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
# # 5. Labeled visualizations
#
# Forged images with their instances drawn: each instance has its own colour, its
# bounding box and its number (the 1-based mask channel). Thumbnails keep each image's
# aspect ratio. Examples are drawn with the run's `seed`, so a re-run shows the same
# ones; every figure is also saved under `figures/`. Pixels come from the display views
# the data pass stored (at most 768 px on the longest side): no image is decoded again;
# captions give each file's own size.

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
from eda_lib.report import figures, gallery

s = eda_lib.start(globals(), "05")
t = s.tables
cfg = s.cfg

# %%
forged = stats.measurable_forged(t)
print(f"{len(forged)} forged images with a usable mask")

# %% [markdown]
# ## One example
#
# Original, the union of its instances, and the instances overlaid.

# %%
examples = gallery.load_examples(cfg, t, gallery.sample(forged, cfg.max_grid_images, cfg.seed))
s.show_all(figures.example(examples, cfg.display_size))

# %% [markdown]
# ## A grid of forged images
#
# A sample of forged images (the parameter `seed` picks it), each with its instances
# outlined in their colours: what a forgery of this dataset looks like at a glance.

# %%
s.show_all(figures.example_grid(examples, cfg.grid_size))

# %% [markdown]
# ## Authentic and forged side by side
#
# The top row shows authentic images, the bottom row forged ones with their instances.

# %%
s.show_all(figures.authentic_vs_forged(cfg, t, examples))

# %% [markdown]
# ## Twins: authentic | forged | difference
#
# For a forged image with its authentic original, the per-pixel absolute difference
# (largest over the colour channels, alpha dropped) shows what the forgery changed.
# The mask outline is drawn on top: pasted copies light up, their source regions do not.

# %%
s.show_all(figures.twins(examples, cfg.display_size), empty="No twin pair among the sampled examples.")
