"""Property-based tests of every parser of outside data.

Whatever the input, each parser returns a valid result or raises its typed error
(a subclass of EdaError); it never crashes with another exception and never
returns a wrong shape.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from eda_lib import config
from eda_lib.dataset import images, masks
from eda_lib.errors import ConfigError, ImageError, MaskError

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

dtypes = st.sampled_from([np.bool_, np.uint8, np.int8, np.uint16, np.int32, np.int64,
                          np.float16, np.float32, np.float64, np.complex64])
arrays = dtypes.flatmap(lambda dt: hnp.arrays(
    dt, hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=6)))
sizes = st.none() | st.tuples(st.integers(1, 9), st.integers(1, 9))


@SETTINGS
@given(arrays, sizes)
def test_normalize_gives_a_valid_mask_or_a_mask_error(array, hw):
    try:
        m = masks.normalize(array, hw)
    except MaskError as exc:
        assert exc.kind in masks.REFUSALS
        return
    assert m.instances.dtype == bool and m.instances.ndim == 3
    # no instance only when the file itself holds none (an (0, H, W) array)
    assert m.instances.shape[0] >= 1 or (array.ndim == 3 and 0 in array.shape)
    if hw is not None:
        assert m.instances.shape[1:] == hw
    assert set(m.notes) <= set(masks.RULES)


@SETTINGS
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 4), st.integers(1, 8), st.integers(1, 8)),
                  elements=st.integers(0, 1)))
def test_competition_masks_pass_unchanged(array):
    m = masks.normalize(array, array.shape[1:])
    assert m.notes == []
    np.testing.assert_array_equal(m.instances, array.astype(bool))


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


@SETTINGS
@given(st.binary(max_size=300) | arrays.map(_npy_bytes), st.integers(0, 400))
def test_load_random_or_cut_files(data, cut):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.npy"
        path.write_bytes(data[:cut] if cut < len(data) else data)
        try:
            out = masks.load(path)
        except MaskError as exc:
            assert exc.kind in masks.REFUSALS
            return
        assert isinstance(out, np.ndarray) and not out.dtype.hasobject


PNG = b"\x89PNG\r\n\x1a\n"


@SETTINGS
@given(st.binary(max_size=400), st.booleans())
def test_decode_random_bytes(data, with_signature):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.png"
        path.write_bytes((PNG + data) if with_signature else data)
        try:
            d = images.decode(path, max_pixels=10_000_000)
        except ImageError as exc:
            assert exc.kind
            return
        assert d.rgb.ndim == 3 and d.rgb.shape[2] == 3 and d.rgb.dtype == np.uint8


@SETTINGS
@given(st.text(max_size=200))
def test_read_yaml_random_text(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            data = config.read_yaml(path)
        except ConfigError:
            return
        assert isinstance(data, dict)


values = st.none() | st.booleans() | st.integers(-5, 10**9) | st.text(max_size=10) | st.floats()


@SETTINGS
@given(st.dictionaries(st.sampled_from([p.name for p in config.PARAMS] + ["other", "seeed"]),
                       values, max_size=6))
def test_make_config_random_values(values):
    try:
        cfg = config.make_config(values)
    except ConfigError as exc:
        assert exc.key is not None
        return
    for p in config.PARAMS:
        value = getattr(cfg, p.name)
        if p.name == "cache_dir" and value == "":
            continue  # empty: the default cache folder under out_dir
        assert isinstance(value, Path if p.name in ("data_dir", "out_dir", "cache_dir") else p.type)
