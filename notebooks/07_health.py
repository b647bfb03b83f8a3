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
# duplicate sets) are computed on the table. Per image: `tables/health.csv`.
#
# Twins are near duplicates by construction (the forgery changes a few percent of the
# pixels), so near-duplicate sets are expected here; duplicates *across* case_ids are
# the ones that leak between folds (section 8).

# %% tags=["parameters"]
data_dir: str = "../data/demo"  # dataset folder in the competition layout (read only)
out_dir: str = "../reports/demo"  # where tables, figures, notebooks and HTML are written
seed: int = 42  # seed of every random sample shown
workers: int = 0  # processes for the data pass; 0 means all cores
display_size: int = 768  # longest side in pixels of single-image figures
grid_size: int = 320  # longest side in pixels of each grid thumbnail
max_grid_images: int = 12  # most images drawn in one grid
folds: int = 5  # grouped folds written to tables/folds
copy_move: bool = True  # run the copy-move analysis in the data pass
copy_move_max_side: int = 1024  # longest side at which copy-move search runs
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
from eda_lib.report import gallery, plots

s = eda_lib.start(globals(), "07")
t, cfg = s.tables, s.cfg
h = t.health

# %% [markdown]
# ## Flags by label

# %%
counts = stats.health_counts(h)
counts

# %%
long = h.melt(id_vars=["label"], value_vars=[c for c in h.columns if c.startswith("is_")],
              var_name="issue", value_name="flagged")
long = long[long["flagged"].fillna(False).astype(bool)]
fig = plots.bar_counts(long.assign(issue=long["issue"].str[3:-6]), "issue", hue="label",
                       title="Images flagged per health issue", xlabel="issue")
s.show(fig, "flags")

# %% [markdown]
# ## Score distributions

# %%
for issue in ["dark", "light", "blurry", "low_information"]:
    fig = plots.hist_by_label(h[h["label"] != ""], f"{issue}_score", bins=30,
                              title=f"{issue.replace('_', ' ')} score (low = issue)",
                              xlabel=f"{issue}_score")
    s.show(fig, f"{issue}_score")

# %% [markdown]
# ## The worst examples of each flag

# %%
for issue in counts.index[counts["total"] > 0]:
    rows = stats.worst(h, issue, min(4, cfg.max_grid_images))
    items = [(f"{r.label or 'test'} {r.case_id}: {getattr(r, issue + '_score'):.3f}",
              gallery.load_rgb(cfg, gallery.image_path(t, r.split, r.label, r.case_id)), None)
             for r in rows.itertuples()]
    fig = plots.overlay_grid(items, tile=cfg.grid_size, cols=4,
                             suptitle=f"{issue.replace('_', ' ')}: lowest scores")
    s.show(fig, f"worst_{issue}")
