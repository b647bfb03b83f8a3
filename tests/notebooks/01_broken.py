# %% [markdown]
# # Breaks on purpose
#
# Fixture for the runner tests: the second cell raises, so the run must record the
# failure, save and render this notebook with the error, and go on with the next one.

# %% tags=["parameters"]
data_dir = None  # competition layout or flat folder of images (read only)
out_dir = "reports/demo"  # where tables, figures, notebooks and HTML are written
seed = 42  # seed of the folds and of every random sample shown
workers = 0  # processes for the data pass; 0 means all cores
display_size = 768  # longest side in pixels of single-image figures
grid_size = 320  # longest side in pixels of each grid thumbnail
max_grid_images = 12  # most images drawn in one grid
copy_move_max_side = 1024  # longest side at which copy-move search runs
screening = True  # run the blind copy-move screen on every image in the data pass
screening_max_side = 512  # longest side at which the blind screen looks for copies
max_image_pixels = 100_000_000  # images claiming more pixels are refused
progress = True  # show progress bars on long work

# %%
raise ValueError("deliberate failure <in> the fixture notebook")

# %%
print("never reached")
