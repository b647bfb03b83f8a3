import numpy as np
import pytest

from eda_lib.dataset import masks
from eda_lib.errors import MaskError


def test_competition_format_passes_untouched(tmp_path):
    a = np.zeros((2, 4, 5), np.uint8)
    a[0, 1, 1] = a[1, 2, 3] = 1
    p = tmp_path / "m.npy"
    np.save(p, a)
    m = masks.load_mask(p, (4, 5))
    assert m.instances.dtype == bool and m.instances.shape == (2, 4, 5)
    assert m.notes == [] and m.n_instances == 2 and int(m.union.sum()) == 2


def test_pickled_object_array_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "ran"

    class Boom:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    p = tmp_path / "evil.npy"
    np.save(p, np.array([Boom()], dtype=object), allow_pickle=True)
    assert not marker.exists()  # saving pickles, it does not unpickle
    with pytest.raises(MaskError) as info:
        masks.load_mask(p)
    assert info.value.kind == "pickled_mask"
    assert not marker.exists()


def test_not_npy(tmp_path):
    p = tmp_path / "m.npy"
    p.write_text("hello")
    with pytest.raises(MaskError) as info:
        masks.load_mask(p)
    assert info.value.kind == "unreadable_mask"


@pytest.mark.parametrize(
    "array, hw, shape, note",
    [
        (np.array([[0, 1], [1, 0]], np.uint8), (2, 2), (1, 2, 2), "2d_single_instance"),
        (np.full((1, 2, 2), 255, np.uint8), (2, 2), (1, 2, 2), "values_0_255"),
        (np.ones((1, 2, 2), bool), (2, 2), (1, 2, 2), "bool_values"),
        (np.ones((1, 2, 2), np.float32), (2, 2), (1, 2, 2), "float_values"),
        (np.ones((3, 4, 2), np.uint8), (3, 4), (2, 3, 4), "channel_last"),
        (np.ones((1, 3, 3), np.uint8), (6, 6), (1, 6, 6), "resized_to_image"),
        (np.full((1, 2, 2), 7, np.uint8), (2, 2), (1, 2, 2), "nonbinary_values"),
    ],
)
def test_normalisation_rules(array, hw, shape, note):
    m = masks.normalize(array, hw)
    assert m.instances.shape == shape and m.instances.dtype == bool
    assert note in m.notes
    assert note in masks.RULES


def test_resize_keeps_blocks():
    a = np.zeros((1, 2, 2), np.uint8)
    a[0, 0, 0] = 1
    m = masks.normalize(a, (4, 4))
    assert m.instances[0, :2, :2].all() and m.instances[0].sum() == 4


def test_channel_first_kept_when_ambiguous():
    # (N, H, W) that equals the image size is never reinterpreted
    a = np.zeros((3, 3, 3), np.uint8)
    a[0] = 1
    m = masks.normalize(a, (3, 3))
    assert m.notes == [] and m.instances[0].all() and not m.instances[1:].any()


@pytest.mark.parametrize(
    "array, kind",
    [
        (np.full((1, 2, 2), np.nan, np.float32), "bad_mask_values"),
        (np.full((1, 2, 2), -1, np.int16), "bad_mask_values"),
        (np.zeros((1, 1, 2, 2), np.uint8), "bad_mask_shape"),
        (np.zeros((5,), np.uint8), "bad_mask_shape"),
        (np.zeros((1, 0, 2), np.uint8), "bad_mask_shape"),
        (np.array([["a"]]), "bad_mask_dtype"),
    ],
)
def test_refusals(array, kind):
    with pytest.raises(MaskError) as info:
        masks.normalize(array, None)
    assert info.value.kind == kind and kind in masks.REFUSALS


def test_empty_channels_are_kept_and_counted():
    a = np.zeros((2, 3, 3), np.uint8)
    a[1, 1, 1] = 1
    m = masks.normalize(a, (3, 3))
    assert m.n_instances == 2 and int(m.union.sum()) == 1
