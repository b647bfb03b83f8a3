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
# # 4. Instance metrics
#
# One row per instance (mask channel) of every measured forged image: area in pixels
# and as a fraction of the image, bounding box (inclusive corners), box aspect and fill,
# connected components, and compactness, the isoperimetric quotient 4πA/P² in (0, 1]
# (1 for a disc, lower for elongated or ragged shapes; see `eda_lib.measure.instances`).

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

s = eda_lib.start(globals(), "04")
inst = s.tables.instances.assign(label="forged")

# %% [markdown]
# ## Quantiles

# %%
stats.instance_summary(inst)

# %% [markdown]
# ## Area
#
# Pixels per instance (source and copy together, as the mask marks them), then the
# same as a share of the image. Small instances are the ones a downscaled model loses:
# compare the left tail with the size a network's input would give them.

# %%
fig = plots.hist_by_label(inst, "area_px", log_x=True, title="Instance area",
                          xlabel="pixels (log scale)")
s.show(fig, "area_px")

# %%
fig = plots.hist_by_label(inst, "area_frac", log_x=True, title="Instance area as a fraction of the image",
                          xlabel="area_px / (H x W), log scale")
s.show(fig, "area_frac")

# %% [markdown]
# ## Shape
#
# Two components in one instance usually mean the channel marks both the source region
# and its pasted copy.

# %%
stats.components_per_instance(inst)

# %%
fig = plots.hist_by_label(inst, "aspect", log_x=True, title="Bounding-box aspect ratio",
                          xlabel="bbox_w / bbox_h")
s.show(fig, "aspect")

# %%
fig = plots.hist_by_label(inst, "compactness", title="Compactness (isoperimetric quotient)",
                          xlabel="4πA / P²")
s.show(fig, "compactness")

# %% [markdown]
# ## The largest and smallest instances

# %%
cols = ["case_id", "instance", "area_px", "area_frac", "bbox_w", "bbox_h", "n_components",
        "compactness"]
inst.nlargest(5, "area_px")[cols]

# %%
inst.nsmallest(5, "area_px")[cols]
