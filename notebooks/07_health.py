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
# # 7. Image health
#
# The per-image checks of cleanvision, with its definitions and default thresholds
# (`eda_lib.measure.health` documents each score): dark, light, blurry, low information,
# grayscale, odd aspect ratio, odd size, exact duplicates (same pixels) and near
# duplicates (same perceptual hash). Every score is *low = issue*. Scores were
# measured in the data pass; the flags that depend on the whole dataset (odd size,
# duplicate sets) are computed on the table. Per image: `tables/health.csv`. What a
# duplicate set means depends on the data (twins, or a folder of figures), said next.

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

from IPython.display import Markdown

sys.path.append(str(Path.cwd().parent))  # finds eda_lib next to notebooks/ when not installed
import eda_lib
from eda_lib.analysis import stats, summary
from eda_lib.report import figures, plots

s = eda_lib.start(globals(), "07")
t, cfg = s.tables, s.cfg
h = t.health

# %%
Markdown(summary.duplicates_note(t))

# %% [markdown]
# ## Flags by label

# %%
stats.health_counts(h)

# %%
fig = plots.bar_counts(stats.flagged_issues(h), "issue", hue="label",
                       title="Images flagged per health issue", xlabel="issue")
s.show(fig, "flags")

# %% [markdown]
# ## Score distributions
#
# Each health score by label, from 0 (the issue at its worst) to 1 (none of it); the
# images below an issue's threshold are the ones flagged above. A label whose curve
# differs from the other's is a shortcut a model can learn instead of the forgery.

# %%
s.show_all(figures.health_scores(h))

# %% [markdown]
# ## The worst examples of each flag
#
# Drawn from the display views the data pass stored; captions give each file's size.

# %%
s.show_all(figures.health_worst(cfg, t))
