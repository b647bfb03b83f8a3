import pytest

from eda_lib.dataset.index import fingerprint, scan
from eda_lib.errors import LayoutError


def test_scan_tiny(tiny_dataset):
    idx = scan(tiny_dataset)
    by = {(e.split, e.label, e.case_id): e for e in idx.images}
    assert set(by) == {
        ("train", "authentic", "10"), ("train", "authentic", "25"),
        ("train", "forged", "10"), ("train", "forged", "25"), ("train", "forged", "31"),
        ("test", "", "45"),
    }
    assert by[("train", "forged", "10")].twin and by[("train", "authentic", "10")].twin
    assert not by[("train", "forged", "31")].twin
    # the pitfall: an authentic image must never "have" its twin's mask
    assert by[("train", "authentic", "10")].mask_path is None
    assert by[("train", "forged", "10")].mask_path == "train_masks/10.npy"
    kinds = {(p.kind, p.case_id) for p in idx.problems}
    assert kinds == {("missing_mask", "31"), ("orphan_mask", "77")}


def test_stray_files_reported(tiny_dataset):
    (tiny_dataset / "train_images/forged/.DS_Store").write_bytes(b"\0")
    (tiny_dataset / "README.txt").write_text("hi")
    (tiny_dataset / "train_masks/Thumbs.db").write_bytes(b"\0")
    kinds = sorted((p.kind, p.path) for p in scan(tiny_dataset).problems if p.kind.startswith("stray"))
    assert kinds == [
        ("stray_file", "README.txt"),
        ("stray_file", "train_images/forged/.DS_Store"),
        ("stray_file", "train_masks/Thumbs.db"),
    ]


def test_supplemental_flat_layout(tiny_dataset):
    import shutil

    (tiny_dataset / "supplemental_images").mkdir()
    (tiny_dataset / "supplemental_masks").mkdir()
    shutil.copy(tiny_dataset / "train_images/forged/10.png", tiny_dataset / "supplemental_images/900.png")
    shutil.copy(tiny_dataset / "train_masks/10.npy", tiny_dataset / "supplemental_masks/900.npy")
    sup = [e for e in scan(tiny_dataset).images if e.split == "supplemental"]
    assert [(e.case_id, e.label, e.mask_path) for e in sup] == [
        ("900", "forged", "supplemental_masks/900.npy")
    ]


@pytest.mark.parametrize("make, kind", [
    (lambda p: None, "missing_data_dir"),
    (lambda p: p.mkdir(), "empty_data_dir"),
    (lambda p: (p.mkdir(), (p / "images").mkdir()), "unexpected_layout"),
])
def test_layout_errors(tmp_path, make, kind):
    root = tmp_path / "d"
    make(root)
    with pytest.raises(LayoutError) as info:
        scan(root)
    assert info.value.kind == kind and str(root) in str(info.value)


def test_fingerprint_changes_with_files(tiny_dataset):
    a = fingerprint(tiny_dataset)
    assert a == fingerprint(tiny_dataset)
    (tiny_dataset / "test_images/46.png").write_bytes(b"x")
    b = fingerprint(tiny_dataset)
    assert b["files"] == a["files"] + 1 and b["sha256"] != a["sha256"]
