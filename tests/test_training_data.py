"""Datasets: class folders, splits and lists, odd and broken images, dataset and augmentation."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.augment import Augmenter
from training.data import (
    GestureDataset,
    drop_unreadable,
    find_lists,
    load_split,
    read_image,
    read_list,
    scan_dataset,
    source_key,
    split_dataset,
    write_split,
)
from vision.errors import DatasetError
from vision.labels import Gesture
from vision.preprocess import Preprocessing, prepare

SPEC = Preprocessing(input_size=(64, 64))


def _photo(rng: np.random.Generator, h: int = 40, w: int = 60) -> np.ndarray:
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def make_dataset(root: Path, counts: dict[str, int], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for folder, n in counts.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            cv2.imwrite(str(root / folder / f"{folder}_{i:03d}.png"), _photo(rng))
    return root


def test_named_folders_give_numeric_labels_in_class_order(tmp_path):
    make_dataset(tmp_path, {"rock": 2, "paper": 1, "scissors": 1, "none": 1, "notes": 0})
    items = scan_dataset(tmp_path)
    assert items == [
        ("scissors/scissors_000.png", 0),
        ("rock/rock_000.png", 1),
        ("rock/rock_001.png", 1),
        ("paper/paper_000.png", 2),
        ("none/none_000.png", 3),
    ]


def test_numeric_folders_follow_the_write_up(tmp_path):
    make_dataset(tmp_path, {"0": 1, "1": 1, "2": 1, "3": 1})
    labels = {rel.split("/")[0]: lab for rel, lab in scan_dataset(tmp_path)}
    assert labels == {"0": 0, "1": 1, "2": 2, "3": 3}
    assert Gesture.from_index(labels["1"]) is Gesture.ROCK


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        scan_dataset(tmp_path / "nowhere")


def test_folder_without_class_folders_is_a_clear_error(tmp_path):
    (tmp_path / "holiday").mkdir()
    with pytest.raises(DatasetError, match="no class folders"):
        scan_dataset(tmp_path)


def test_empty_class_folder_is_a_clear_error(tmp_path):
    make_dataset(tmp_path, {"rock": 2})
    (tmp_path / "paper").mkdir()
    with pytest.raises(DatasetError, match="paper has no images"):
        scan_dataset(tmp_path)


def test_two_folders_for_one_class_is_an_error(tmp_path):
    make_dataset(tmp_path, {"rock": 1, "1": 1})
    with pytest.raises(DatasetError, match="two folders for rock"):
        scan_dataset(tmp_path)


def test_split_is_stratified_80_20_deterministic_and_in_the_write_up_format(tmp_path):
    data = make_dataset(tmp_path / "data", {"rock": 10, "paper": 20, "scissors": 5})
    split = split_dataset(data, seed=3)
    assert split == split_dataset(data, seed=3)
    assert split != split_dataset(data, seed=4)
    test_counts = {lab: sum(1 for _, x in split.test if x == lab) for lab in (0, 1, 2)}
    assert test_counts == {0: 1, 1: 2, 2: 4}
    assert not {r for r, _ in split.train} & {r for r, _ in split.test}
    assert len(split.train) + len(split.test) == 35
    train_txt, test_txt = write_split(split, tmp_path / "lists")
    line = test_txt.read_text().splitlines()[0]
    rel, label = line.split(" ")
    assert (data / rel).is_file() and label in {"0", "1", "2"}
    assert read_list(train_txt) == split.train


def test_split_honours_a_test_list_without_labels(tmp_path):
    data = make_dataset(tmp_path / "data", {"rock": 3, "paper": 3})
    listed = tmp_path / "original_testing_split.txt"
    listed.write_text("rock/rock_001.png\npaper/paper_002.png\npaper/gone.png\n")
    split = split_dataset(data, test_list=listed)
    assert split.test == [("rock/rock_001.png", 1), ("paper/paper_002.png", 2)]
    assert len(split.train) == 4


def test_rps_sxsw_test_list_format_is_read(datasets_dir):
    items = read_list(datasets_dir / "rps-sxsw" / "original_testing_split.txt")
    assert len(items) == 470
    assert {lab for _, lab in items} == {0, 1, 2}
    assert all((datasets_dir / "rps-sxsw" / rel).is_file() for rel, _ in items[:20])


def test_lists_live_outside_a_read_only_dataset(tmp_path):
    data = make_dataset(tmp_path / "data", {"rock": 5, "none": 5})
    write_split(split_dataset(data), tmp_path / "splits" / "data")
    assert find_lists(data, tmp_path / "splits") == tmp_path / "splits" / "data"
    train, test = load_split(data, tmp_path / "splits")
    assert all(Path(p).is_absolute() and Path(p).is_file() for p, _ in train + test)
    with pytest.raises(DatasetError, match="python -m training split"):
        load_split(data)


def test_source_key_groups_crops_of_one_photo():
    a = "rock/rock.IMG_7043_MOV-178_jpg.rf.b13ef1f70fd525902e4ed8bf812072a1_00058.jpg"
    b = "rock/rock.IMG_7043_MOV-178_jpg.rf.0123_00012.jpg"
    c = "paper/paper.0095_png.rf.f73776d68bedc379161f7b5c611c31d5_00578.jpg"
    assert source_key(a) == source_key(b) != source_key(c) == "paper.0095"


def test_odd_images_load_and_broken_ones_are_skipped_with_one_warning(tmp_path, caplog):
    rng = np.random.default_rng(0)
    root = tmp_path / "rock"
    root.mkdir()
    grey, rgba = root / "grey.png", root / "rgba.png"
    tiny, huge = root / "tiny.jpg", root / "huge.jpg"
    cv2.imwrite(str(grey), rng.integers(0, 256, (30, 50), dtype=np.uint8))
    cv2.imwrite(str(rgba), rng.integers(0, 256, (30, 50, 4), dtype=np.uint8))
    cv2.imwrite(str(tiny), _photo(rng, 5, 5))
    cv2.imwrite(str(huge), np.full((3000, 4000, 3), 90, np.uint8))
    corrupt, empty = root / "corrupt.jpg", root / "empty.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    empty.write_bytes(b"")
    items = [(p, 1) for p in (grey, rgba, corrupt, tiny, empty, huge)]
    with caplog.at_level(logging.WARNING, logger="training.data"):
        good = drop_unreadable(items)
    assert [p for p, _ in good] == [grey, rgba, tiny, huge]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "corrupt.jpg" in warnings[0].message
    assert "empty.jpg" in warnings[0].message
    assert read_image(corrupt) is None
    for path in (grey, rgba, tiny, huge):
        assert read_image(path).shape[2] == 3
    ds = GestureDataset(good, SPEC)
    aug = GestureDataset(good, SPEC, Augmenter(SPEC))
    for i in range(len(good)):
        x, label = ds[i]
        assert x.shape == (3, 64, 64) and x.dtype == np.float32 and label == 1
        assert aug[i][0].shape == (3, 64, 64)


def test_evaluation_preprocessing_is_the_run_time_one(tmp_path):
    data = make_dataset(tmp_path, {"paper": 2})
    items = [(tmp_path / rel, lab) for rel, lab in scan_dataset(data)]
    for cache in (False, True):
        x, _ = GestureDataset(items, SPEC, cache=cache)[1]
        expected = prepare(cv2.imread(str(items[1][0])), SPEC)
        np.testing.assert_array_equal(x, expected)


def test_array_items_and_index_are_returned(tmp_path):
    img = _photo(np.random.default_rng(1), 80, 120)
    ds = GestureDataset([(img, 3), (img[:, :, 0], 2)], SPEC, return_index=True)
    x, label, index = ds[1]
    assert (x.shape, label, index) == ((3, 64, 64), 2, 1)


def test_augmentation_depends_only_on_seed_epoch_and_index(tmp_path):
    data = make_dataset(tmp_path, {"rock": 3})
    items = [(tmp_path / rel, lab) for rel, lab in scan_dataset(data)]
    a = GestureDataset(items, SPEC, Augmenter(SPEC), seed=5)
    b = GestureDataset(items, SPEC, Augmenter(SPEC), seed=5)
    b[2], b[0]  # other samples drawn first change nothing
    np.testing.assert_array_equal(a[1][0], b[1][0])
    a.set_epoch(1)
    assert not np.array_equal(a[1][0], b[1][0])
    assert a.image(1).shape == (64, 64, 3) and a.image(1).dtype == np.uint8


def test_rgb_augmentation_keeps_bgr_order():
    """A blue picture stays blue through the pipeline (albumentations works in RGB)."""
    blue = np.zeros((100, 100, 3), np.uint8)
    blue[:, :, 0] = 200
    aug = Augmenter(SPEC, "light")
    out = aug(blue, np.random.default_rng(0))
    assert out[:, :, 0].mean() > out[:, :, 2].mean() + 50


def test_rps_sxsw_test_crops_sharing_a_photo_with_training_crops_are_found(datasets_dir):
    from training.evaluate import shared_source

    root = datasets_dir / "rps-sxsw"
    split = split_dataset(root, test_list=root / "original_testing_split.txt")
    assert sum(shared_source(split.test, split.train)) == 75


class _Dice:
    """A stand-in for ``np.random.Generator`` whose every draw is the same fraction of its range."""

    def __init__(self, u: float):
        self.u = u

    def random(self) -> float:
        return self.u

    def uniform(self, low: float, high: float) -> float:
        return low + self.u * (high - low)

    def integers(self, low: int, high: int) -> int:
        return int(low + self.u * (high - 1 - low))


def test_landmark_views_lose_resolution_and_blur_as_cheap_webcams_do():
    """The head's augmented views are sometimes shot at a lower resolution and blurred along a
    direction (sxsw's small, blurred webcam crops); otherwise the photo passes untouched."""
    from helpers import DATASETS, dataset_images, load

    from training.hand.data import _webcam

    if not DATASETS.is_dir():
        pytest.skip("needs ../shared/datasets")
    photo = load(dataset_images("best-of-one", "paper", 1)[0])

    def sharpness(image: np.ndarray) -> float:
        return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())

    soft = _webcam(photo, _Dice(0.1))  # both draws below their odds: low-res, then blurred
    assert soft.shape == photo.shape and soft.dtype == np.uint8
    assert sharpness(soft) < 0.5 * sharpness(photo)
    assert np.array_equal(_webcam(photo, _Dice(0.9)), photo)  # neither: untouched
