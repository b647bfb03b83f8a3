"""Figure files: written at the size a page shows them, with matplotlib's own pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from eda_lib.report import plots, session


def drawn(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=plots.DPI, layout="constrained")
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    ax.imshow(rng.integers(0, 255, (60, 90, 3), dtype=np.uint8))
    ax.set_title("a photograph, and text")
    return fig


def matplotlib_png(fig: Figure, dpi: float) -> np.ndarray:
    """The pixels matplotlib writes itself (RGBA PNG), as an array."""
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png", facecolor="white")
    return np.asarray(Image.open(buf))


def test_a_figure_narrower_than_the_page_keeps_the_suite_resolution(tmp_path):
    fig = drawn(6, 4)
    with Image.open(plots.save_figure(fig, tmp_path, "narrow")) as image:
        assert image.size == (6 * plots.DPI, 4 * plots.DPI)
        assert image.info["dpi"] == pytest.approx((plots.DPI, plots.DPI), abs=0.01)


def test_a_wide_figure_is_written_as_wide_as_the_page_shows_it(tmp_path):
    fig = drawn(16, 4)
    with Image.open(plots.save_figure(fig, tmp_path, "wide")) as image:
        assert image.size == (plots.DISPLAY_WIDTH, plots.DISPLAY_WIDTH // 4)
    assert fig.get_size_inches() == pytest.approx((16, 4))  # the figure itself is unchanged


def test_the_file_holds_matplotlibs_pixels_without_the_alpha_channel(tmp_path):
    with Image.open(plots.save_figure(drawn(6, 4), tmp_path, "same")) as image:
        assert image.mode == "RGB"
        ours = np.asarray(image)
    theirs = matplotlib_png(drawn(6, 4), plots.DPI)  # a twin: layout runs on the first draw
    assert (theirs[..., 3] == 255).all()
    np.testing.assert_array_equal(ours, theirs[..., :3])


def test_a_wide_figure_holds_matplotlibs_pixels_at_the_lowered_resolution(tmp_path):
    with Image.open(plots.save_figure(drawn(16, 4), tmp_path, "wide")) as image:
        ours = np.asarray(image)
    twin = drawn(16, 4)
    np.testing.assert_array_equal(ours, matplotlib_png(twin, plots.shown_dpi(twin))[..., :3])


def test_figures_are_sized_and_saved_at_one_resolution():
    assert session.STYLE["figure.dpi"] == session.STYLE["savefig.dpi"] == plots.DPI
    assert plots.shown_dpi(Figure(figsize=(plots.DISPLAY_WIDTH / plots.DPI, 3))) == plots.DPI


def _chunks(png: bytes) -> list[bytes]:
    """The chunk types of a PNG, in order."""
    types, at = [], 8
    while at < len(png):
        length = int.from_bytes(png[at:at + 4], "big")
        types.append(png[at + 4:at + 8])
        at += 12 + length
    return types


@pytest.mark.parametrize("bands", [3, 4])
def test_encoded_pngs_are_lossless_and_carry_only_their_resolution(bands):
    rng = np.random.default_rng(bands)
    pixels = rng.integers(0, 256, (37, 53, bands), dtype=np.uint8)
    png = plots.encode_png(pixels, plots.DPI)
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == ("RGB" if bands == 3 else "RGBA")
        np.testing.assert_array_equal(np.asarray(image), pixels)
        assert image.info["dpi"] == pytest.approx((plots.DPI, plots.DPI), abs=0.01)
    kinds = _chunks(png)
    assert kinds[:2] == [b"IHDR", b"pHYs"] and kinds[-1] == b"IEND"
    assert set(kinds[2:-1]) == {b"IDAT"}  # no time stamp, no text: same pixels, same bytes
    assert plots.encode_png(pixels, plots.DPI) == png
