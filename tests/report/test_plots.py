"""Tests of eda_lib.report.plots on tiny hand-made arrays and tables."""

import matplotlib

matplotlib.use("Agg")

import cv2
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Affine2D

from eda_lib.errors import ImageError, MaskError
from eda_lib.report import plots


def visible_axes(fig: Figure) -> list:
    """Axes that show something: visible, and not colour bars."""
    return [ax for ax in fig.get_axes() if ax.get_visible() and ax.get_label() != "<colorbar>"]


def gray_rgb(h: int, w: int, value: int = 100) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def square_mask(h: int, w: int, y: slice, x: slice) -> np.ndarray:
    mask = np.zeros((1, h, w), np.uint8)
    mask[0, y, x] = 1
    return mask


@pytest.fixture
def images_df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": ["authentic", "forged", "forged", "forged", "authentic"],
            "width": [256, 256, 696, 1000, 74],
            "height": [256, 256, 520, np.nan, 64],
            "mode": ["RGB", "RGBA", "RGB", None, "L"],
        }
    )


# ---------------------------------------------------------------- thumbnails and masks


def test_thumbnail_keeps_aspect_when_shrinking():
    assert plots.thumbnail(gray_rgb(100, 400), 128).shape == (32, 128, 3)


def test_thumbnail_thin_strip_keeps_one_pixel():
    assert plots.thumbnail(gray_rgb(1, 1000), 128).shape == (1, 128, 3)


def test_thumbnail_enlarges_small_images_with_nearest():
    img = np.zeros((10, 20, 3), np.uint8)
    img[:, 10:] = 255
    out = plots.thumbnail(img, 40)
    assert out.shape == (20, 40, 3) and out.dtype == np.uint8
    assert set(np.unique(out)) == {0, 255}


def test_thumbnail_rejects_zero_side():
    with pytest.raises(ValueError, match="max_side"):
        plots.thumbnail(gray_rgb(4, 4), 0)


def test_resize_masks_shape_and_dtype():
    out = plots.resize_masks(np.ones((2, 40, 80), np.uint8), (10, 20))
    assert out.shape == (2, 10, 20) and out.dtype == bool and out.all()


def test_resize_masks_keeps_a_one_pixel_instance():
    masks = np.zeros((1, 1000, 1000), np.uint8)
    masks[0, 503, 777] = 1
    out = plots.resize_masks(masks, (10, 10))
    assert out.sum() == 1 and out[0, 5, 7]


def test_resize_masks_empty_stack():
    assert plots.resize_masks(np.zeros((0, 30, 40), bool), (3, 4)).shape == (0, 3, 4)


# ---------------------------------------------------------------- overlay


def test_overlay_changes_mask_pixels_only_nearby():
    rgb = gray_rgb(200, 200)
    masks = square_mask(200, 200, slice(80, 120), slice(80, 120))
    out = plots.overlay_instances(rgb, masks)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    assert (out[95:105, 95:105] != rgb[95:105, 95:105]).any(axis=2).all()
    assert (out[170:, 170:] == rgb[170:, 170:]).all()
    assert (out[:30, 170:] == rgb[:30, 170:]).all()
    assert (rgb == 100).all()  # input untouched


def test_overlay_without_instances_is_a_copy():
    rgb = gray_rgb(20, 30)
    out = plots.overlay_instances(rgb, np.zeros((0, 20, 30), np.uint8))
    assert out is not rgb and (out == rgb).all()


def test_overlay_label_drawn_when_box_touches_top_edge():
    rgb = gray_rgb(120, 160)
    masks = square_mask(120, 160, slice(0, 30), slice(50, 90))
    with_label = plots.overlay_instances(rgb, masks)
    without = plots.overlay_instances(rgb, masks, labels=False)
    assert (with_label != without).any()
    # the tag is inside the image, just below the top edge, inside the box's columns
    assert (with_label[:30, 40:100] != without[:30, 40:100]).any()


def test_overlay_skips_box_and_label_of_empty_instance():
    rgb = gray_rgb(50, 50)
    out = plots.overlay_instances(rgb, np.zeros((1, 50, 50), bool))
    assert (out == rgb).all()


def test_overlay_uses_instance_colour():
    rgb = np.zeros((60, 60, 3), np.uint8)
    masks = square_mask(60, 60, slice(20, 40), slice(20, 40))
    out = plots.overlay_instances(rgb, masks, alpha=1.0, boxes=False, labels=False)
    assert tuple(out[30, 30]) == plots.instance_color(1)


def test_overlay_requires_rgb():
    with pytest.raises(ImageError, match=r"\(H, W, 3\) uint8"):
        plots.overlay_instances(np.zeros((10, 10), np.uint8), np.zeros((0, 10, 10), bool))
    with pytest.raises(ImageError):
        plots.overlay_instances(np.zeros((10, 10, 3), np.float32), np.zeros((0, 10, 10), bool))


def test_overlay_requires_masks_of_image_size():
    with pytest.raises(MaskError, match="channel-first"):
        plots.overlay_instances(gray_rgb(10, 10), np.zeros((10, 10), np.uint8))
    with pytest.raises(MaskError):
        plots.overlay_instances(gray_rgb(10, 10), np.zeros((1, 10, 12), np.uint8))


def test_instance_colours_cycle_tab10():
    assert plots.instance_color(1) == plots.INSTANCE_COLORS[0]
    assert plots.instance_color(11) == plots.instance_color(1)


# ---------------------------------------------------------------- save


def test_save_figure_is_reproducible(tmp_path):
    fig = plots.bar_counts(pd.DataFrame({"x": ["a", "b", "b"]}), "x", title="t", xlabel="x")
    first = plots.save_figure(fig, tmp_path / "figures", "counts")
    data = first.read_bytes()
    second = plots.save_figure(fig, tmp_path / "figures", "counts")
    assert first == second == tmp_path / "figures" / "counts.png"
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert second.read_bytes() == data
    assert b"Software" not in data
    assert fig.get_axes()  # still usable after saving


# ---------------------------------------------------------------- table plots


def test_hist_by_label_legend_counts(images_df):
    fig = plots.hist_by_label(images_df, "height", title="Heights", xlabel="height (px)")
    ax = fig.get_axes()[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["authentic (n=2)", "forged (n=2, 1 missing)"]
    assert ax.get_title() == "Heights" and ax.get_xlabel() == "height (px)"


def test_hist_by_label_log_x_drops_non_positive():
    df = pd.DataFrame({"label": ["forged"] * 4, "v": [0.0, -1.0, 0.1, 10.0]})
    fig = plots.hist_by_label(df, "v", log_x=True, title="t", xlabel="v")
    ax = fig.get_axes()[0]
    assert ax.get_xscale() == "log"
    assert ax.get_legend().get_texts()[0].get_text() == "forged (n=2, 2 missing)"


@pytest.mark.parametrize(
    "df",
    [
        pd.DataFrame({"label": pd.Series([], dtype=str), "v": pd.Series([], dtype=float)}),
        pd.DataFrame({"label": ["authentic", "forged"], "v": [np.nan, np.nan]}),
    ],
    ids=["empty", "all_nan"],
)
@pytest.mark.parametrize("log_x", [False, True])
def test_hist_by_label_without_values(df, log_x):
    fig = plots.hist_by_label(df, "v", log_x=log_x, title="nothing", xlabel="v")
    assert isinstance(fig, Figure) and fig.get_axes()[0].get_title() == "nothing"


def test_hist_by_label_into_given_axes(images_df):
    fig = Figure()
    axes = fig.subplots(1, 2)
    assert plots.hist_by_label(images_df, "width", title="w", xlabel="px", ax=axes[1]) is fig


def test_bar_counts_values_on_bars(images_df):
    fig = plots.bar_counts(images_df, "mode", hue="label", title="Modes", xlabel="mode")
    ax = fig.get_axes()[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["L", "RGB", "RGBA", "(missing)"]
    bar_texts = sorted(t.get_text() for t in ax.texts)
    assert bar_texts == sorted(["1", "0", "1", "1", "0", "1", "0", "1"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["authentic", "forged"]
    assert ax.get_ylabel() == "images"


def test_bar_counts_orders_numbers_numerically():
    df = pd.DataFrame({"n": [10, 2, 2, 1]})
    ax = plots.bar_counts(df, "n", title="t", xlabel="n").get_axes()[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "10"]


def test_bar_counts_empty():
    df = pd.DataFrame({"mode": pd.Series([], dtype=str), "label": pd.Series([], dtype=str)})
    fig = plots.bar_counts(df, "mode", hue="label", title="none", xlabel="mode")
    assert fig.get_axes()[0].get_title() == "none"


def test_scatter_sizes(images_df):
    fig = plots.scatter_sizes(images_df)
    ax = fig.get_axes()[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["authentic (n=2)", "forged (n=2)"]  # the NaN height is dropped
    assert {t.get_text() for t in ax.texts} == {"W/H = 1", "W/H = 2", "W/H = 1/2"}


def test_scatter_sizes_empty(images_df):
    fig = plots.scatter_sizes(images_df.iloc[:0])
    assert fig.get_axes()[0].get_title() == "Image sizes"


# ---------------------------------------------------------------- image figures


def test_example_panel():
    rgb = gray_rgb(60, 80)
    masks = np.concatenate(
        [square_mask(60, 80, slice(5, 20), slice(5, 20)), square_mask(60, 80, slice(30, 50), slice(40, 70))]
    )
    fig = plots.example_panel(rgb, masks, title="case 7", display_size=200)
    assert len(visible_axes(fig)) == 3
    assert fig.get_suptitle() == "case 7\n80×60 px, 2 instances"
    shown = visible_axes(fig)[2].get_images()[0].get_array()
    assert shown.shape == (150, 200, 3)  # aspect kept, longest side display_size
    original = visible_axes(fig)[0].get_images()[0].get_array()
    np.testing.assert_array_equal(original, plots.thumbnail(rgb, 200))  # same pixels


def test_example_panel_wide_strip_and_no_instances():
    fig = plots.example_panel(gray_rgb(10, 300), np.zeros((0, 10, 300), bool), title="s", display_size=128)
    assert len(visible_axes(fig)) == 3
    assert "0 instances" in fig.get_suptitle()


def test_overlay_grid_draws_cells_in_one_image():
    items = [
        ("a", gray_rgb(40, 80), square_mask(40, 80, slice(0, 10), slice(0, 10))),
        ("b", gray_rgb(90, 30), None),
        ("c", gray_rgb(8, 200), None),
        ("d", gray_rgb(5, 5), np.zeros((0, 5, 5), bool)),
        ("e", gray_rgb(50, 50), None),
    ]
    fig = plots.overlay_grid(items, tile=64, cols=4, suptitle="grid")
    assert fig.get_suptitle() == "grid"
    (ax,) = fig.get_axes()
    assert [t.get_text() for t in ax.texts] == [
        "a\n80×40 px, 1 instance", "b\n30×90 px", "c\n200×8 px", "d\n5×5 px, 0 instances",
        "e\n50×50 px"]
    sheet = ax.get_images()[0].get_array()
    cell_w = sheet.shape[1] // 4
    rows = sheet.reshape(2, sheet.shape[0] // 2, 4, cell_w, 3)
    middle = rows[0, -rows.shape[1] // 3, 1, :, 0]  # a row across b (30x90, letterboxed)
    runs = [int(v) for k, v in enumerate(middle) if k == 0 or v != middle[k - 1]]
    assert runs == [255, plots.BACKGROUND, 100, plots.BACKGROUND, 255]  # margin, band, image
    assert (rows[1, :, 1:] == 255).all()  # the last row's three unused cells stay white
    # saved at the size it is drawn: one sheet pixel per file pixel (cells are whole pixels)
    assert abs(ax.get_window_extent().width - sheet.shape[1]) <= 4 * 0.5


def test_overlay_grid_wider_than_the_page_draws_the_pixels_it_saves():
    items = [(str(k), gray_rgb(100, 100), None) for k in range(4)]
    fig = plots.overlay_grid(items, tile=400, cols=4, suptitle="wide")
    sheet = fig.get_axes()[0].get_images()[0].get_array()
    assert sheet.shape[1] == pytest.approx(plots.DISPLAY_WIDTH, abs=4)


def _drawn(img: np.ndarray, size=(200, 150), **imshow_kw) -> np.ndarray:
    """The canvas (RGB) of a figure of ``size`` pixels whose one axes fills it and shows ``img``."""
    fig = Figure(figsize=(size[0] / 100, size[1] / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    plots._imshow(ax, img, **imshow_kw)
    return plots.render(fig, 100)[..., :3]


def test_images_are_drawn_as_one_opencv_resize_to_the_pixels_they_cover():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)  # shrunk: area averaging
    np.testing.assert_array_equal(_drawn(photo),
                                  cv2.resize(photo, (200, 150), interpolation=cv2.INTER_AREA))
    tiny = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)  # enlarged: nearest, upright
    np.testing.assert_array_equal(_drawn(tiny),
                                  cv2.resize(tiny, (200, 150), interpolation=cv2.INTER_NEAREST_EXACT))
    np.testing.assert_array_equal(  # asked for nearest: nearest when shrinking too
        _drawn(photo, interpolation="nearest"),
        cv2.resize(photo, (200, 150), interpolation=cv2.INTER_NEAREST_EXACT))
    gray = rng.integers(0, 256, (150, 200), dtype=np.uint8)  # a grey level is its own colour,
    drawn = _drawn(gray, cmap="gray", vmin=0, vmax=255).astype(int)  # to the colour map's step
    assert np.abs(drawn - gray[..., None]).max() <= 1


def test_a_stretched_image_is_averaged_along_the_side_that_shrinks():
    stripes = np.zeros((20, 400, 3), np.uint8)  # one-pixel columns, black and white
    stripes[:, 1::2] = 255
    drawn = _drawn(stripes, aspect="auto")  # 400 -> 200 px wide, 20 -> 150 px tall
    np.testing.assert_array_equal(drawn, cv2.resize(stripes, (200, 150), interpolation=cv2.INTER_AREA))
    assert (drawn == 128).all()  # grey, as matplotlib draws it; nearest would pick one colour


def test_images_keep_the_colour_scale_they_are_given():
    dark = np.tile(np.arange(0, 50, dtype=np.uint8), (150, 4))  # 150 x 200, values 0..49
    drawn = _drawn(dark, cmap="gray", vmin=0, vmax=255).astype(int)
    assert np.abs(drawn - dark[..., None]).max() <= 1  # not stretched to its own range
    diff = np.zeros((150, 200), np.uint8)
    diff[:, 100:] = 40
    diff[:, 150:] = 20
    drawn = _drawn(diff, cmap=plots.DIFF_CMAP, vmin=0, vmax=40).astype(int)
    cmap = matplotlib.colormaps[plots.DIFF_CMAP]
    for column, fraction in ((120, 1.0), (170, 0.5), (20, 0.0)):
        expected = np.round(np.array(cmap(fraction)[:3]) * 255)
        assert np.abs(drawn[75, column] - expected).max() <= 2


def test_imshow_sets_the_limits_and_aspect_of_axes_imshow():
    img = np.zeros((30, 50, 3), np.uint8)
    for kw in ({}, {"extent": (-0.5, 99.5, 59.5, -0.5)}, {"aspect": "auto"}):
        mine, theirs = Figure().subplots(), Figure().subplots()
        plots._imshow(mine, img, **kw)
        theirs.imshow(img, **kw)
        assert (mine.get_xlim(), mine.get_ylim(), mine.get_aspect()) == (
            theirs.get_xlim(), theirs.get_ylim(), theirs.get_aspect())


def test_images_outside_the_quick_path_are_left_to_matplotlib():
    img = np.zeros((150, 200, 3), np.uint8)
    fig = Figure(figsize=(2, 1.5), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    image = plots._imshow(ax, img)
    image.set_alpha(0.5)  # transparency: blended by matplotlib, half way to the white
    assert np.abs(plots.render(fig, 100)[..., :3].astype(int) - 128).max() <= 1
    image.set_alpha(None)
    img[:, 75:] = 255
    image.set_data(img)
    ax.set_xlim(50, 150)  # partly outside its axes: clipped by matplotlib, not squeezed in
    ax.set_ylim(112, 37)
    assert image._resized() is None
    drawn = plots.render(fig, 100)[..., 0]
    assert (drawn[:, :45] == 0).all() and (drawn[:, 55:] == 255).all()  # the edge at x = 75
    for xlim, ylim in (((-0.5, 150), (149.5, -0.5)), ((50, 199.5), (149.5, -0.5)),
                       ((-0.5, 199.5), (149.5, 37)), ((-0.5, 199.5), (112, -0.5))):
        ax.set_xlim(*xlim)  # cut on one side only: still matplotlib's
        ax.set_ylim(*ylim)
        assert image._resized() is None, (xlim, ylim)
    ax.set_xlim(-0.5, 199.5)
    ax.set_ylim(149.5, -0.5)
    assert image._resized() is not None  # whole again: the quick path


def test_flipped_rotated_and_magnified_images_are_left_to_matplotlib():
    img = np.zeros((150, 200, 3), np.uint8)
    fig = Figure(figsize=(2, 1.5), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    image = plots._imshow(ax, img)
    renderer = FigureCanvasAgg(fig).get_renderer()
    assert image._resized() is not None
    image.origin = "lower"  # rows from the bottom up
    assert image._resized() is None
    image.origin = "upper"
    shown = image.get_transform()
    turn = Affine2D().translate(-100, -75).scale(0.5).rotate_deg(10).translate(100, 75)
    image.set_transform(shown + turn)  # turned about the centre, well inside the axes
    assert image._resized() is None
    image.set_transform(shown + Affine2D().translate(-100, -75).scale(0.5).translate(100, 75))
    assert image._resized() is not None  # the same without the turn: the quick path
    image.set_transform(shown)
    drawn, *_ = image.make_image(renderer)
    magnified, *_ = image.make_image(renderer, magnification=2.0)  # vector output, say
    assert drawn.shape[:2] == (150, 200) and magnified.shape[:2] == (300, 400)


def test_overlay_grid_empty():
    fig = plots.overlay_grid([], tile=64, suptitle="nothing")
    assert fig.get_axes() == [] and fig.get_suptitle() == "nothing"


def test_auth_vs_forged():
    authentic = [("1", gray_rgb(30, 40))]
    forged = [
        ("1", gray_rgb(30, 40), square_mask(30, 40, slice(0, 5), slice(0, 5))),
        ("2", gray_rgb(40, 30), square_mask(40, 30, slice(0, 5), slice(0, 5))),
    ]
    fig = plots.auth_vs_forged(authentic, forged, tile=64)
    assert [t.get_text() for t in fig.texts] == ["authentic (n=1)", "forged (n=2)",
                                                 "Authentic and forged images"]
    assert [len(ax.texts) for ax in fig.get_axes()] == [1, 2]  # a row of cells each
    authentic_row, forged_row = fig.get_axes()
    assert authentic_row.get_position().y0 > forged_row.get_position().y1


def test_twin_panel():
    authentic = gray_rgb(50, 60)
    forged = authentic.copy()
    forged[10:20, 10:20] = 200
    masks = square_mask(50, 60, slice(10, 20), slice(10, 20))
    fig = plots.twin_panel(authentic, forged, masks, title="twin 5", display_size=120)
    assert len(visible_axes(fig)) == 3
    assert len(fig.get_axes()) == 4  # plus the colour bar
    assert fig.get_suptitle().startswith("twin 5")
    assert "100% of them inside the mask" in visible_axes(fig)[2].get_title()


def test_twin_panel_rejects_different_sizes():
    with pytest.raises(ImageError, match="same size"):
        plots.twin_panel(gray_rgb(5, 6), gray_rgb(6, 5), np.zeros((0, 6, 5), bool), title="t",
                         display_size=64)


def test_copy_move_panel_with_source():
    rgb = gray_rgb(100, 140)
    crop = gray_rgb(20, 30)
    fig = plots.copy_move_panel(
        rgb, (80, 60, 109, 79), (10, 10, 39, 29), crop, crop, title="case 9", display_size=200
    )
    assert len(visible_axes(fig)) == 4
    assert fig.get_suptitle() == "case 9"
    image_ax = visible_axes(fig)[0]
    legend = [t.get_text() for t in image_ax.get_legend().get_texts()]
    assert legend == ["source: x 10–39, y 10–29", "target: x 80–109, y 60–79"]


def test_copy_move_panel_without_source():
    rgb = gray_rgb(100, 140)
    fig = plots.copy_move_panel(
        rgb, (80, 60, 109, 79), None, None, np.zeros((20, 30), np.uint8), title="case 9", display_size=200
    )
    assert len(visible_axes(fig)) == 2
    assert fig.get_suptitle() == "case 9: source not found"


def test_copy_move_panel_rejects_mismatched_crops():
    with pytest.raises(ImageError, match="same shape"):
        plots.copy_move_panel(
            gray_rgb(50, 50), (0, 0, 9, 9), (20, 20, 29, 29), gray_rgb(10, 10), gray_rgb(10, 12),
            title="t", display_size=64,
        )


def test_bar_counts_whole_floats_read_as_integers():
    df = pd.DataFrame({"n_instances": [1.0, 2.0, 2.0, np.nan]})
    ax = plots.bar_counts(df, "n_instances", title="t", xlabel="n").get_axes()[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "(missing)"]


def test_a_verdict_has_one_colour_in_every_plot():
    from matplotlib.colors import to_hex

    cm = pd.DataFrame({"verdict": ["undecidable", "copy", "copy", "unsure"],
                       "method": ["twin", "twin", "search", "search"],
                       "ncc": [0.2, 0.9, 0.95, 0.6], "residual_ncc": [0.1, 0.8, 0.9, 0.3]})
    want = {v: c.lower() for v, c in plots.VERDICT_COLORS.items()}

    def legend_colours(ax, artist_color) -> dict[str, str]:
        legend = ax.get_legend()
        names = [t.get_text().split(" (")[0] for t in legend.get_texts()]
        return dict(zip(names, (to_hex(artist_color(h)) for h in legend.legend_handles)))

    bars = plots.bar_counts(cm, "method", hue="verdict", title="t", xlabel="m").get_axes()[0]
    hist = plots.hist_by_label(cm, "ncc", by="verdict", title="t", xlabel="x").get_axes()[0]
    dots = plots.score_scatter(cm).get_axes()[0]
    assert legend_colours(bars, lambda h: h.get_facecolor()) == want
    assert legend_colours(hist, lambda h: h.get_edgecolor()) == want
    assert legend_colours(dots, lambda h: h.get_facecolor()[0]) == want


@pytest.mark.parametrize(("image", "crop"), [((100, 140), (20, 30)), ((100, 140), (13, 33)),
                                             ((300, 40), (60, 8)), ((30, 600), (5, 90))])
def test_copy_move_panel_lays_out_without_overlap_or_clipping(image, crop):
    rgb, patch = gray_rgb(*image), gray_rgb(*crop)
    fig = plots.copy_move_panel(rgb, (0, 0, crop[1] - 1, crop[0] - 1), (1, 1, crop[1], crop[0]),
                                patch, patch, title="case 9, instance 1: copy", display_size=320)
    assert fig.get_layout_engine() is None  # placed by hand
    axes = _assert_laid_out(fig)
    image_ax, *crop_axes = visible_axes(fig)
    below = axes[image_ax].y0
    assert all(axes[ax].y1 < below for ax in crop_axes)


@pytest.mark.parametrize("draw", [
    lambda: plots.overlay_grid([(f"case {k}", gray_rgb(40 + 9 * k, 60), None) for k in range(7)],
                               tile=96, cols=4, suptitle="grid"),
    lambda: plots.overlay_grid([("only one", gray_rgb(10, 300), None)], tile=32, cols=4,
                               suptitle="one"),
    lambda: plots.auth_vs_forged([("1", gray_rgb(30, 40))],
                                 [(str(k), gray_rgb(40, 30), np.zeros((1, 40, 30), bool))
                                  for k in range(6)], tile=64),
    lambda: plots.example_panel(gray_rgb(60, 80), np.zeros((2, 60, 80), bool), title="case 7",
                                display_size=200),
    lambda: plots.twin_panel(gray_rgb(60, 80), gray_rgb(60, 80, 90), np.ones((1, 60, 80), bool),
                             title="twin 5", display_size=120),
    lambda: plots.twin_panel(gray_rgb(10, 300), gray_rgb(10, 300, 90),
                             np.ones((1, 10, 300), bool), title="strip", display_size=320),
    lambda: plots.twin_panel(gray_rgb(300, 40), gray_rgb(300, 40, 90),
                             np.ones((1, 300, 40), bool), title="tall", display_size=320),
], ids=["grid", "single", "auth_vs_forged", "example", "twin", "twin_strip", "twin_tall"])
def test_image_figures_lay_out_without_overlap_or_clipping(draw):
    fig = draw()
    assert fig.get_layout_engine() is None
    _assert_laid_out(fig)


def _assert_laid_out(fig: Figure) -> dict:
    """Every text of ``fig`` (drawn at the size it is saved) lies inside the figure, over
    no axes but its own, and clear of every other text. Returns each axes' box."""
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(plots.shown_dpi(fig))
    canvas.draw()  # places the legends' texts
    renderer = canvas.get_renderer()
    frame = fig.bbox.padded(1)
    axes = {ax: ax.get_window_extent(renderer) for ax in fig.get_axes()}
    texts = [(t, t.get_window_extent(renderer)) for t in fig.findobj(Text)
             if t.get_visible() and t.get_text()]
    for text, box in texts:
        assert frame.containsx(box.x0) and frame.containsx(box.x1), text.get_text()
        assert frame.containsy(box.y0) and frame.containsy(box.y1), text.get_text()
        others = [ax_box for ax, ax_box in axes.items() if ax is not text.axes]
        assert not any(_overlap(box, ax_box) for ax_box in others), text.get_text()
    for i, (a, box_a) in enumerate(texts):
        assert not any(_overlap(box_a, box_b) for _, box_b in texts[i + 1 :]), a.get_text()
    return axes


def _overlap(a, b, tolerance: float = 1.0) -> bool:
    """Two display boxes share more than a ``tolerance`` pixels wide strip."""
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance
            and min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance)
