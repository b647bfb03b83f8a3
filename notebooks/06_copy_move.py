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
# # 6. Copy-move signature
#
# For every instance of every forged image: where was it copied from, under which flip
# or rotation, how sure are we, and does the mask agree with the pixels. The analysis
# ran once per forged image in the data pass (`eda_lib.measure.copymove`); this section reads
# its table, `tables/copy_move.csv`, and draws the evidence.
#
# Three routes, chosen per instance:
#
# - **twin_diff**: the authentic original exists. `|forged - authentic|` tells which
#   marked component changed (the pasted copy) and which did not (its source).
# - **mask_pair**: no twin, but the channel marks two components; they are matched to
#   each other under the 8 flips and rotations and a few scales.
# - **search**: the channel marks only the copy; the rest of the image is searched for
#   its source, **the copy's own location excluded** (a search that may return the
#   target itself always "finds" it with a perfect score).
#
# Scores: `ncc` (aligned source vs copy), `residual_ncc` (the same on the noise left
# after a blur: a copy carries its noise along, a look-alike lane or blot does not),
# `identical_frac` (pixels identical after alignment), `texture` (too little, and the
# region would match anything: *undecidable*), and `margin` over the best competitor.

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
from eda_lib.report import figures, gallery, plots

s = eda_lib.start(globals(), "06")
t, cfg = s.tables, s.cfg

# %%
cm = t.copy_move
print(f"{len(cm)} instances analysed in {cm['case_id'].nunique()} forged images")

# %% [markdown]
# ## Resolved instances, by method and verdict

# %%
stats.copy_move_overview(cm)

# %%
fig = plots.bar_counts(cm, "method", hue="verdict", title="Instances by method and verdict",
                       xlabel="method", ylabel="instances")
s.show(fig, "methods")

# %% [markdown]
# ## Flips and rotations
#
# `target = transform(source)`; `rot90` turns counter-clockwise.

# %%
stats.transform_counts(cm)

# %%
fig = plots.bar_counts(stats.confirmed_copies(cm), "transform",
                       title="Transforms of the confirmed copies", xlabel="transform",
                       ylabel="instances")
s.show(fig, "transforms")

# %% [markdown]
# ## Copy distances and directions

# %%
dist = stats.copy_distances(stats.confirmed_copies(cm), t.images)
stats.distance_quantiles(dist)

# %%
fig = plots.hist_by_label(dist.assign(label="forged"), "distance_frac",
                          title="Distance from source to copy",
                          xlabel="offset length / image diagonal")
s.show(fig, "distances")

# %%
fig = plots.direction_rose(dist["dx"], dist["dy"])
s.show(fig, "directions")

# %% [markdown]
# ## Scores
#
# Copies sit in the top-right corner. Points high on `ncc` but low on `residual_ncc` are
# look-alikes (repetitive content), not copies.

# %%
fig = plots.score_scatter(cm)
s.show(fig, "scores")

# %%
fig = plots.hist_by_label(cm, "identical_frac", by="verdict", bins=25,
                          title="Pixels identical after alignment",
                          xlabel="identical_frac")
s.show(fig, "identical_frac")

# %% [markdown]
# ## Does the mask mark the source as well as the copy?

# %%
stats.source_marking(t.instances, t.label_check)

# %% [markdown]
# ## Label quality against the twin
#
# Where the authentic original exists, the pixels say what the forgery changed. Changed
# pixels outside every mask are edits the mask misses; marked pixels that did not change
# are source regions (or masks drawn wider than the edit).

# %%
stats.label_quality(t.label_check)

# %%
t.label_check.sort_values("changed_outside_mask_px", ascending=False).head(5)

# %% [markdown]
# ## Per image: the evidence
#
# Each figure outlines the source (blue) and the copy (red) with an arrow from source to
# copy, then shows the source warped by the recovered transform beside the copy, and
# their difference: near black where the copy is exact. Image and crops come from the
# display view the data pass stored (at most 768 px on the longest side), boxes and sizes
# are quoted in the file's pixels.

# %%
showcase = gallery.copy_move_showcase(cm, n=3, seed=cfg.seed)
s.show_groups(figures.copy_move_evidence(cfg, t, showcase))
