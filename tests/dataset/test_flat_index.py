"""A flat folder of images as a dataset: its index, its hostile files, its layout errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from eda_lib.dataset.index import FLAT_SPLIT, SPLITS, check_layout, fingerprint, layout_of, scan
from eda_lib.errors import LayoutError


def textured(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_mask(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array, allow_pickle=False)


def flat_folder(root: Path) -> Path:
    """Two figures at the top, two in subfolders (one name twice), a numeric name."""
    for i, rel in enumerate(["fig1.png", "10.png", "2.png", "paper/fig1.png",
                             "paper/panels/a.png"]):
        write_png(root / rel, textured(12, 16, i))
    return root


def test_a_flat_folder_is_one_unlabelled_split(tmp_path):
    root = flat_folder(tmp_path / "figs")
    assert layout_of(root) == "flat" and SPLITS[-1] == FLAT_SPLIT == "unlabelled"
    idx = scan(root)
    assert [(e.case_id, e.path) for e in idx.images] == [
        ("2", "2.png"), ("10", "10.png"), ("fig1", "fig1.png"),
        ("paper/fig1", "paper/fig1.png"), ("paper/panels/a", "paper/panels/a.png")]
    assert {(e.split, e.label, e.mask_path, e.twin) for e in idx.images} == {
        ("unlabelled", "", None, False)}
    assert idx.masks == [] and idx.problems == []


def test_every_hostile_rule_holds_in_a_flat_folder(tmp_path):
    root = flat_folder(tmp_path / "figs")
    sub = root / "paper"
    (root / "notes.txt").write_text("hi")
    (root / "photo.JPG").write_bytes(b"\xff\xd8")  # an image by its name: the index opens nothing
    (root / "fig1.jpg").write_bytes(b"\xff\xd8")  # one stem twice: the PNG is analysed
    (root / "anim.gif").write_bytes(b"GIF89a")
    (root / ".DS_Store").write_bytes(b"\0")
    (sub / "._fig1.png").write_bytes(b"\0\1")  # macOS resource fork: never opened
    (root / ".git").mkdir()
    write_png(root / ".git" / "hidden.png", textured(4, 4, 9))
    write_png(sub / "fig1.PNG", textured(12, 16, 8))
    (root / os.fsdecode(b"\xff.png")).write_bytes(b"x")
    (root / "gone.png").symlink_to(root / "missing.png")
    (sub / "out.png").symlink_to("/etc/passwd")
    (sub / "inside.png").symlink_to(root / "fig1.png")  # a link inside the data: followed
    (root / "again").symlink_to(sub)  # a link to a folder: never walked (its files are)
    (sub / "up").symlink_to(root)  # a loop: never walked
    os.mkfifo(sub / "fifo.png")
    idx = scan(root)
    problems = {(q.path, q.kind) for q in idx.problems}
    assert problems == {
        ("notes.txt", "stray_file"), ("anim.gif", "stray_file"), (".DS_Store", "stray_file"),
        ("fig1.jpg", "duplicate_case_id"),
        ("paper/._fig1.png", "stray_file"), (".git", "stray_folder"),
        ("paper/fig1.PNG", "duplicate_case_id"), ("\\xff.png", "bad_file_name"),
        ("gone.png", "broken_link"), ("paper/out.png", "link_outside_data"),
        ("paper/fifo.png", "not_a_regular_file"), ("again", "stray_folder"),
        ("paper/up", "stray_folder"),
    }
    by_path = {q.path: q for q in idx.problems}
    assert "convert it to PNG" in by_path["anim.gif"].detail
    assert "fig1.png is analysed" in by_path["fig1.jpg"].detail
    assert by_path["paper/fig1.PNG"].case_id == "paper/fig1"  # as the image's case_id
    assert {e.case_id for e in idx.images} == {"2", "10", "fig1", "paper/fig1", "paper/inside",
                                               "paper/panels/a", "photo"}
    assert next(e.path for e in idx.images if e.case_id == "fig1") == "fig1.png"
    assert not any(e.path.startswith(".git") for e in idx.images)


def test_a_folder_with_competition_folders_is_read_in_the_competition_layout(tiny_dataset):
    write_png(tiny_dataset / "loose.png", textured(8, 8, 1))
    assert layout_of(tiny_dataset) == "competition"
    idx = scan(tiny_dataset)
    assert all(e.split != FLAT_SPLIT for e in idx.images)
    loose = next(q for q in idx.problems if q.path == "loose.png")
    assert loose.kind == "stray_file" and "flat folder of images" in loose.detail


def _raises(root: Path) -> LayoutError:
    with pytest.raises(LayoutError) as info:
        check_layout(root)
    assert str(root) in str(info.value)
    return info.value


@pytest.mark.parametrize("make, kind", [
    (lambda p: None, "missing_data_dir"),
    (lambda p: p.mkdir(), "empty_data_dir"),
    (lambda p: (p.mkdir(), (p / "images").mkdir()), "unexpected_layout"),
    (lambda p: (p.mkdir(), (p / "README.txt").write_text("x")), "unexpected_layout"),
    (lambda p: write_mask(p / "train_masks" / "1.npy", np.zeros((1, 2, 2), np.uint8)),
     "unexpected_layout"),
])
def test_every_layout_error_says_a_flat_folder_of_images_is_accepted(tmp_path, make, kind):
    root = tmp_path / "d"
    make(root)
    error = _raises(root)
    assert error.kind == kind
    assert "flat folder of images (PNG, JPEG, TIFF, BMP or WebP" in str(error)


def test_a_folder_of_jpegs_and_tiffs_is_a_flat_folder_of_images(tmp_path):
    root = tmp_path / "d"
    (root / "sub").mkdir(parents=True)
    for name in ("a.jpg", "b.JPEG", "sub/c.tif"):
        (root / name).write_bytes(b"x")
    check_layout(root)
    assert [(e.case_id, e.path) for e in scan(root).images] == [
        ("a", "a.jpg"), ("b", "b.JPEG"), ("sub/c", "sub/c.tif")]


def test_a_folder_of_gifs_is_told_to_convert_them(tmp_path):
    root = tmp_path / "d"
    (root / "sub").mkdir(parents=True)
    for name in ("a.gif", "sub/b.GIF"):
        (root / name).write_bytes(b"x")
    error = _raises(root)
    assert error.kind == "unexpected_layout"
    assert "2 .gif images, a format not read: convert them to PNG" in str(error)


def test_a_dataset_one_level_deeper_is_pointed_at(tmp_path):
    root = tmp_path / "d"
    write_png(root / "inner" / "train_images" / "forged" / "1.png", textured(4, 4, 1))
    write_png(root / "cover.png", textured(4, 4, 2))
    error = _raises(root)
    assert error.kind == "nested_dataset" and f"point data_dir at {root / 'inner'}" in str(error)


def test_check_layout_accepts_a_png_deep_down_and_opens_nothing(tmp_path):
    root = tmp_path / "d"
    write_png(root / "a" / "b" / "c.png", textured(4, 4, 1))
    os.mkfifo(root / "a" / "fifo.png")  # opening it would block
    check_layout(root)
    assert layout_of(root) == "flat"


def test_a_loop_of_links_is_a_broken_link_and_the_rest_is_read(tmp_path):
    root = flat_folder(tmp_path / "figs")
    (root / "a.png").symlink_to("b.png")
    (root / "b.png").symlink_to("a.png")
    (root / "self.png").symlink_to("self.png")
    check_layout(root)
    idx = scan(root)
    loops = {q.path: q for q in idx.problems}
    assert set(loops) == {"a.png", "b.png", "self.png"}
    assert {q.kind for q in loops.values()} == {"broken_link"}
    assert all("loop" in q.detail for q in loops.values())
    assert len(idx.images) == 5
    assert fingerprint(root)["files"] == 8  # the links are described by themselves


def test_a_folder_that_cannot_be_listed_is_a_problem_and_the_rest_is_read(tmp_path, monkeypatch):
    root = flat_folder(tmp_path / "figs")
    locked = root / "paper" / "panels"
    listed = Path.iterdir

    def iterdir(self):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return listed(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    check_layout(root)
    idx = scan(root)
    assert [(q.path, q.kind) for q in idx.problems] == [("paper/panels", "unreadable_folder")]
    assert "Permission denied" in idx.problems[0].detail and "chmod" in idx.problems[0].detail
    assert [e.case_id for e in idx.images] == ["2", "10", "fig1", "paper/fig1"]


def test_a_data_folder_that_cannot_be_listed_is_a_layout_error(tmp_path, monkeypatch):
    root = flat_folder(tmp_path / "figs")
    listed = Path.iterdir
    monkeypatch.setattr(Path, "iterdir", lambda self: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied")) if self == root else listed(self))
    assert _raises(root).kind == "unreadable_data_dir"


def test_a_subfolder_that_cannot_be_looked_into_is_not_taken_for_a_dataset(tmp_path, monkeypatch):
    root = flat_folder(tmp_path / "figs")
    is_dir = Path.is_dir

    def guarded(self):
        if self.parent == root / "paper":
            raise PermissionError(13, "Permission denied", str(self))
        return is_dir(self)

    monkeypatch.setattr(Path, "is_dir", guarded)
    assert layout_of(root / "paper") == "flat"
    check_layout(root)


def test_an_empty_file_never_takes_the_place_of_its_twin_of_another_format(tmp_path):
    root = flat_folder(tmp_path / "figs")
    (root / "fig1.png").write_bytes(b"")
    (root / "fig1.jpg").write_bytes(b"\xff\xd8")
    idx = scan(root)
    assert next(e.path for e in idx.images if e.case_id == "fig1") == "fig1.jpg"
    (dup,) = [q for q in idx.problems if q.kind == "duplicate_case_id"]
    assert dup.path == "fig1.png" and "fig1.jpg is analysed" in dup.detail
