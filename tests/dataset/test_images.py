import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from eda_lib.dataset.images import decode, image_size, to_rgb, to_uint8, used_bits
from eda_lib.errors import ImageError


def test_modes_decode(tmp_path):
    for mode, arr in [
        ("RGB", np.zeros((3, 4, 3), np.uint8)),
        ("RGBA", np.zeros((3, 4, 4), np.uint8)),
        ("L", np.zeros((3, 4), np.uint8)),
    ]:
        p = tmp_path / f"{mode}.png"
        Image.fromarray(arr).save(p)
        d = decode(p)
        assert (d.mode, d.width, d.height) == (mode, 4, 3)
        assert d.rgb.shape == (3, 4, 3) and d.rgb.dtype == np.uint8


def test_palette_and_16_bit(tmp_path):
    p = tmp_path / "p.png"
    Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4)).convert("P").save(p)
    assert decode(p).mode == "P" and decode(p).rgb.shape == (3, 4, 3)
    q = tmp_path / "q.png"
    Image.fromarray(np.full((3, 4), 65535, np.uint16)).save(q)
    d = decode(q)
    assert d.mode.startswith("I") and int(d.rgb.max()) == 255


def _png_header_only(width, height):
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


@pytest.mark.parametrize("content, kind", [
    (b"", "empty_file"),
    (b"not an image at all", "not_an_image"),
    (_png_header_only(30000, 30000), "too_many_pixels"),
])
def test_bad_files(tmp_path, content, kind):
    p = tmp_path / "x.png"
    p.write_bytes(content)
    with pytest.raises(ImageError) as info:
        decode(p, max_pixels=100_000_000)
    assert info.value.kind == kind and "x.png" in str(info.value)


def test_truncated(tmp_path):
    p = tmp_path / "t.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(p)
    p.write_bytes(p.read_bytes()[:-300])
    with pytest.raises(ImageError) as info:
        decode(p)
    assert info.value.kind in ("truncated_image", "unreadable_image")


def test_jpeg_named_png(tmp_path):
    p = tmp_path / "j.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(p, format="JPEG")
    with pytest.raises(ImageError) as info:
        decode(p)
    assert info.value.kind == "wrong_format"


@pytest.mark.parametrize("suffix, fmt", [(".jpg", "JPEG"), (".JPEG", "JPEG"), (".tif", "TIFF"),
                                         (".tiff", "TIFF"), (".bmp", "BMP"), (".webp", "WEBP")])
def test_other_formats_decode_when_the_name_says_them(tmp_path, suffix, fmt):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    p = tmp_path / f"fig{suffix}"
    Image.fromarray(pixels).save(p, format=fmt)
    d = decode(p)
    assert (d.width, d.height) == (40, 30) and d.pixels.shape == (30, 40, 3)
    assert image_size(p) == (40, 30)
    if fmt in ("TIFF", "BMP"):  # lossless
        assert np.array_equal(d.pixels, pixels)
    lied = tmp_path / f"png_inside{suffix}"
    Image.fromarray(pixels).save(lied, format="PNG")
    with pytest.raises(ImageError) as info:
        decode(lied)
    assert info.value.kind == "wrong_format" and f"not {fmt} as its name says" in str(info.value)


@pytest.mark.parametrize("suffix, fmt", [(".jpg", "JPEG"), (".png", "PNG"), (".webp", "WEBP"),
                                         (".tif", "TIFF")])
@pytest.mark.parametrize("orientation", [2, 3, 4, 6])
def test_exif_orientation_is_kept_and_the_pixels_are_as_stored(tmp_path, suffix, fmt,
                                                                orientation):
    rng = np.random.default_rng(orientation)
    pixels = rng.integers(0, 256, (4, 6), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = tmp_path / f"phone{suffix}"
    options = {"lossless": True} if fmt == "WEBP" else {"quality": 100} if fmt == "JPEG" else {}
    Image.fromarray(pixels).save(p, format=fmt, exif=exif, **options)
    if fmt == "TIFF" and orientation == 6:  # Pillow turns and garbles it: refused, said why
        with pytest.raises(ImageError) as info:
            decode(p)
        assert info.value.kind == "unreadable_image" and "orientation tag (6)" in str(info.value)
        return
    d = decode(p)
    assert d.orientation == orientation and (d.width, d.height) == (6, 4)
    if fmt != "JPEG":  # lossless: exactly the stored pixels
        assert np.array_equal(to_rgb(d.pixels)[..., 0], pixels)


def test_image_size_of_a_file_that_is_no_image_is_none(tmp_path):
    for name in ("x.png", "x.jpg"):
        (tmp_path / name).write_bytes(b"not an image")
        assert image_size(tmp_path / name) is None


def test_a_16_bit_tiff_keeps_its_top_8_bits(tmp_path):
    values = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000).astype(np.uint16)
    p = tmp_path / "scan.tif"
    Image.fromarray(values).save(p, format="TIFF")
    d = decode(p)
    assert d.pixels.dtype == np.uint16 and np.array_equal(to_rgb(d.pixels)[..., 0],
                                                           (values >> 8).astype(np.uint8))


def test_to_rgb_drops_alpha_and_replicates_gray():
    rgba = np.zeros((1, 1, 4), np.uint8)
    rgba[0, 0] = (1, 2, 3, 4)
    assert to_rgb(rgba)[0, 0].tolist() == [1, 2, 3]
    assert to_rgb(np.full((1, 1), 9, np.uint8))[0, 0].tolist() == [9, 9, 9]


def test_12_bit_data_in_a_16_bit_file_keeps_the_top_8_of_its_12_bits(tmp_path):
    values = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 372).astype(np.uint16)  # < 4096
    p = tmp_path / "scan.png"
    Image.fromarray(values).save(p)
    d = decode(p)
    assert d.pixels.dtype == np.uint16 and d.bits == 12
    assert np.array_equal(d.rgb[..., 0], (values >> 4).astype(np.uint8))
    assert int(d.rgb.max()) == 255  # not the near-black top 8 of 16 bits (values >> 8)
    assert np.array_equal(d.uint8, (values >> 4).astype(np.uint8))
    assert used_bits(values) == 12 and used_bits(values.astype(np.uint8)) == 8
    assert to_uint8(values, bits=10).max() == 255  # values beyond the bits are clipped


@pytest.mark.parametrize("values, expected", [
    (np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4),  # floats in 0..1: times 255
     np.round(np.linspace(0, 1, 12) * 255).astype(np.uint8).reshape(3, 4)),
    (np.linspace(0, 255, 12, dtype=np.float32).reshape(3, 4),  # 0..255: as they are
     np.round(np.linspace(0, 255, 12)).astype(np.uint8).reshape(3, 4)),
    (np.linspace(0, 4095, 12, dtype=np.float32).reshape(3, 4),  # 12-bit floats
     (np.round(np.linspace(0, 4095, 12)).astype(np.uint16) >> 4).astype(np.uint8).reshape(3, 4)),
])
def test_float_tiffs_are_read_by_their_range(tmp_path, values, expected):
    p = tmp_path / "f.tif"
    Image.fromarray(values, mode="F").save(p, format="TIFF")
    assert np.array_equal(decode(p).rgb[..., 0], expected)


def test_32_bit_whole_numbers_of_8_bit_range_are_read_as_they_are(tmp_path):
    values = np.arange(0, 240, 20, dtype=np.int32).reshape(3, 4)
    p = tmp_path / "i.tif"
    Image.fromarray(values, mode="I").save(p, format="TIFF")
    assert np.array_equal(decode(p).rgb[..., 0], values.astype(np.uint8))
