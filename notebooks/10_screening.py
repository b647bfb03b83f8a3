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
# # 10. Blind screen: duplicated regions found without mask or twin
#
# Sections 3 to 6 start from a mask. Most images have none: the test images, the
# authentic images (which may hide a duplication nobody labelled), supplemental images,
# an analyst's folder of figures. The data pass looked at every image by itself
# (`eda_lib.measure.screening`): SIFT keypoints matched within the image and against its
# mirror, a dense nearest-neighbour field of patch features for copies too small or too
# faint for keypoints (blocks instead of keypoints on smooth images), a similarity fitted
# per cluster of matches (flips, 90-degree rotations, scale), then the dense scores of
# section 6 (`ncc`, `residual_ncc`, `margin`, ...) on each candidate pair. Nothing of a mask or a twin is
# read; the labels are used only afterwards, to say how well the screen did.
#
# Each candidate pair ends as `copy`, `unsure` or `rejected`, with the reason: a
# false-positive control (`periodic`: gel lanes, grids and regular textures repeat
# beyond the region; `too_close`: a region matching its own shifted self; `scale_bar`;
# `text`: repeated letters, labels and chart elements; `flat`: backgrounds and
# gutters) or a doubt (`free_rotation`, `weak_match`). Without a twin, which end of a pair was pasted is
# unknown: `roles` is `undecided`. The table is `tables/screening.csv`; the screen's
# submission, scored on grouped folds in section 9, is
# `python -m eda_lib baseline --data-dir D --out SUB.csv [--split train --fold K]`.
#
# The figures are a bounded sample, whatever the size of the data: of each group of
# flagged images below, the strongest pairs only, at most a quarter of `max_grid_images`
# (3 by default; each group says how many of how many it draws), and one example of
# each false-positive control. They are drawn from the display views the data pass
# stored, no image is decoded again.

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
from eda_lib.report import figures

s = eda_lib.start(globals(), "10")
t, cfg = s.tables, s.cfg

# %%
print(f"{len(t.screening)} candidate pairs in "
      f"{len(t.screening.groupby(['split', 'label', 'case_id']))} images")

# %% [markdown]
# ## What was screened
#
# `too_small` and `too_flat` images have nothing to match (the reason is in
# `tables/images.csv`, column `screen_reason`); `failed` ones are listed in section 1's
# problems (`screening_failed`); `off` means the run had `screening: false`.

# %%
stats.screen_status(t.images)

# %% [markdown]
# ## What the screen found, per split and label
#
# *flagged*: images with at least one `copy` pair. On forged images that is the share a
# blind detector catches; on authentic images it is either a false alarm or a
# duplication the labels miss (drawn below).

# %%
stats.screen_overview(t.images, t.screening)

# %% [markdown]
# ## Test, supplemental and unlabelled images
#
# What the screen finds outside the training split: on test and unlabelled images
# there is no label to check it against; supplemental images are labelled, and their
# labelled copies count in the recovery below (*Against the labels*). The strongest
# `copy` pairs, 20 at most (the full list is in `tables/screening.csv`; each pair's
# instance, as the baseline writes it, is its `annotation`):

# %%
unscored = stats.screen_flagged(t.screening, None, ("test", "supplemental", "unlabelled"))
unscored.drop(columns=["annotation", "reason"]).head(20)  # a copy has no reason

# %%
drawn = figures.screening_pairs(cfg, t, unscored, "unscored")
print(f"{stats.counted(len(unscored), 'pair', 'pairs')} flagged copy; "
      f"the {len(drawn)} strongest drawn")

# %%
s.show_all(drawn, empty="No test, supplemental or unlabelled image was flagged copy.")

# %% [markdown]
# ## False-positive controls
#
# How many candidate pairs each control (or doubt) kept from `copy`, and in how many
# images; then its strongest example (each caption says how many pairs it kept and how
# many are drawn). A control that fires on real copies is too
# strict; a flagged authentic image below that a control should have caught shows what
# is missing.

# %%
stats.screen_controls(t.screening)

# %%
s.show_groups(figures.screening_controls(cfg, t))

# %% [markdown]
# ## Against the labels
#
# The labels are read only here, to judge the screen: how much of the labelled forgeries
# it recovers, which authentic images it flags, and what it finds in forged training
# images.

# %%
s.rest_needs("screen_labels")

# %% [markdown]
# ### How much of the labelled forgeries a blind screen recovers
#
# A labelled pair (section 6, with its source found) counts as recovered when one of
# the screen's `copy` pairs has both boxes at IoU >= 0.5 with its source and target,
# either way round. Low shares show where this dataset is hard for a classical
# detector: by flip or rotation, by scale, by copied area, by image size.

# %%
stats.screen_recovery(t.copy_move, t.images, "transform")

# %%
stats.screen_recovery(t.copy_move, t.images, "area")

# %%
s.show_all(figures.screening_recovery(t), empty="No labelled copy-move pair to compare with.")

# %% [markdown]
# ### Authentic images flagged `copy`
#
# Each is a likely label problem (a duplication the dataset calls authentic) or a
# natural repetition worth knowing before training. The image outlines both ends of
# the pair with an arrow between them; below, one end brought onto the other by the
# found transform, the other end, and their difference (dark where they agree).

# %%
flagged = stats.screen_flagged(t.screening, "authentic")
drawn = figures.screening_pairs(cfg, t, flagged, "authentic")
print(f"{stats.counted(len(flagged), 'pair', 'pairs')} flagged copy in authentic images; "
      f"the {len(drawn)} strongest drawn")

# %% [markdown]
# Every authentic pair flagged `copy`, strongest first (the full list is in
# `tables/screening.csv`, `label == "authentic"` and `verdict == "copy"`):

# %%
flagged.drop(columns=["annotation", "reason"])

# %%
s.show_all(drawn, empty="No authentic image was flagged copy.")

# %% [markdown]
# ### Forged training images: the screen's copies
#
# The strongest `copy` pairs found in forged images, drawn the same way (compare with
# section 6, which starts from the masks).

# %%
flagged = stats.screen_flagged(t.screening, "forged", ("train",))
drawn = figures.screening_pairs(cfg, t, flagged, "forged")
print(f"{stats.counted(len(flagged), 'pair', 'pairs')} flagged copy in forged training images; "
      f"the {len(drawn)} strongest drawn")

# %%
s.show_all(drawn, empty="No forged training image was flagged copy.")
