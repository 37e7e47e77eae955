"""Datasets on disk: class folders, train/test lists, image reading and a map-style dataset.

A dataset is a folder with one subfolder per class, named ``rock/ paper/ scissors/ none/`` or by
the write-up's numeric labels (``0/`` scissors, ``1/`` rock, ``2/`` paper, ``3/`` none). A split is
two text files, ``train.txt`` and ``test.txt``, one ``relative/path label`` per line with the
numeric label (``rock/abc.jpg 1``). The shared datasets are read-only, so the lists may live in
another folder (``split --out DIR``; training reads them from there).

numpy and OpenCV only: torch's ``DataLoader`` collates the numpy arrays this module returns.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vision.diskspace import disk_full, is_disk_full
from vision.errors import DatasetError
from vision.labels import CLASS_ORDER, Gesture, class_subfolders
from vision.paths import atomic_write
from vision.preprocess import BadFrameError, Preprocessing, fit, normalize, to_bgr

log = logging.getLogger(__name__)

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
TRAIN_LIST = "train.txt"
TEST_LIST = "test.txt"
#: Test lists that come with a dataset and are used instead of a random split.
KNOWN_TEST_LISTS = ("original_testing_split.txt",)
#: A label for images with no label (distillation on unlabelled images); the loss ignores it.
UNLABELLED = -1

#: One training or test example: an image path (or a decoded image) and its numeric label.
Item = tuple["str | Path | np.ndarray", int]


# --- folders and lists -------------------------------------------------------------------------


def class_folders(root: str | Path) -> dict[Gesture, Path]:
    """The class subfolders of a dataset, by gesture; raises ``DatasetError`` if there are none
    or two name the same class."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist: pass a folder of class folders")
    found: dict[Gesture, Path] = {}
    for gesture, sub in class_subfolders(root):
        if gesture in found:
            raise DatasetError(
                f"{root} has two folders for {gesture.value}: {found[gesture].name}/ and "
                f"{sub.name}/; merge them into one"
            )
        found[gesture] = sub
    if not found:
        names = "rock/ paper/ scissors/ none/ (or 0/ 1/ 2/ 3/)"
        raise DatasetError(f"{root} has no class folders: put images into {names}")
    return found


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())


def scan_dataset(root: str | Path) -> list[tuple[str, int]]:
    """Every image of a dataset as ``(relative posix path, numeric label)``, classes in order."""
    root = Path(root)
    folders = class_folders(root)
    items: list[tuple[str, int]] = []
    for gesture in CLASS_ORDER:
        if gesture not in folders:
            continue
        files = _images_in(folders[gesture])
        if not files:
            raise DatasetError(
                f"class folder {folders[gesture]} has no images ({', '.join(sorted(IMAGE_EXTS))}):"
                " add some or remove the folder"
            )
        items += [(f.relative_to(root).as_posix(), gesture.index) for f in files]
    return items


def parse_list_line(line: str) -> tuple[str, int | None]:
    """``"rock/a.jpg 1"`` -> ``("rock/a.jpg", 1)``; ``"rock/a.jpg"`` -> ``("rock/a.jpg", None)``."""
    parts = line.rsplit(None, 1)
    if len(parts) == 2:
        try:
            return parts[0], Gesture.parse(parts[1]).index
        except ValueError:
            pass
    return line, None


def read_list(path: str | Path) -> list[tuple[str, int]]:
    """Read a list file; a line without a label takes it from its class folder (``rock/x.jpg``)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"list file {path} does not exist")
    items = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        rel, label = parse_list_line(line)
        if label is None:
            folder = Path(rel).parts[0] if len(Path(rel).parts) > 1 else ""
            try:
                label = Gesture.parse(folder).index
            except ValueError:
                raise DatasetError(
                    f"{path}:{number}: {line!r} has no label: write 'class/file' or 'path label'"
                ) from None
        items.append((rel, label))
    return items


def write_list(path: str | Path, items: Iterable[tuple[str, int]]) -> Path:
    """Write ``relative/path label`` lines (atomically: ``vision.paths.atomic_write``, whose
    temporary name carries the process id, as ranks of a torchrun job may race)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(f"{rel} {label}\n" for rel, label in items).encode("utf-8")
    try:
        atomic_write(path, lambda tmp: tmp.write_bytes(data))
    except OSError as exc:  # nothing half-written is left
        if is_disk_full(exc):
            raise disk_full(path.parent, len(data), f"writing {path.name}") from exc
        raise
    return path


def find_test_list(root: str | Path) -> Path | None:
    """A test list shipped with the dataset (``original_testing_split.txt``), if any."""
    for name in KNOWN_TEST_LISTS:
        if (Path(root) / name).is_file():
            return Path(root) / name
    return None


@dataclass(frozen=True)
class Split:
    train: list[tuple[str, int]]
    test: list[tuple[str, int]]


def split_dataset(
    root: str | Path,
    test_fraction: float = 0.2,
    seed: int = 0,
    test_list: str | Path | None = None,
) -> Split:
    """Stratified train/test split of a dataset, or the given test list and everything else."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test fraction must be between 0 and 1, not {test_fraction}")
    items = scan_dataset(root)
    if test_list is not None:
        wanted = read_list(test_list)
        present = {rel for rel, _ in items}
        missing = [rel for rel, _ in wanted if rel not in present]
        if missing:
            log.warning(
                "%d of %d entries of %s are not in %s (first: %s); they are left out",
                len(missing),
                len(wanted),
                test_list,
                root,
                missing[0],
            )
        test_names = {rel for rel, _ in wanted if rel in present}
        test = [it for it in items if it[0] in test_names]
        train = [it for it in items if it[0] not in test_names]
        return Split(train, test)
    rng = random.Random(seed)
    train, test = [], []
    for label in sorted({lab for _, lab in items}):
        members = [it for it in items if it[1] == label]
        rng.shuffle(members)
        n_test = round(len(members) * test_fraction)
        if len(members) >= 2:
            n_test = min(max(n_test, 1), len(members) - 1)
        test += sorted(members[:n_test])
        train += sorted(members[n_test:])
    return Split(train, test)


def write_split(split: Split, out_dir: str | Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    return write_list(out_dir / TRAIN_LIST, split.train), write_list(
        out_dir / TEST_LIST, split.test
    )


def find_lists(root: str | Path, lists_dir: str | Path | None = None) -> Path:
    """The folder holding ``root``'s ``train.txt``/``test.txt``: ``lists_dir``/<name>, ``lists_dir``
    or ``root`` itself, in that order."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist: pass a folder of class folders")
    candidates = []
    if lists_dir is not None:
        candidates += [Path(lists_dir) / root.name, Path(lists_dir)]
    candidates.append(root)
    for folder in candidates:
        if (folder / TRAIN_LIST).is_file() and (folder / TEST_LIST).is_file():
            return folder
    raise DatasetError(
        f"no {TRAIN_LIST}/{TEST_LIST} for {root} (looked in {', '.join(map(str, candidates))}): "
        f"run 'python -m training split {root} --out DIR' and pass --splits DIR"
    )


def load_split(root: str | Path, lists_dir: str | Path | None = None) -> tuple[list, list]:
    """``(train_items, test_items)`` with absolute paths, from the lists found by ``find_lists``."""
    root = Path(root).resolve()
    folder = find_lists(root, lists_dir)
    absolute = [
        [(root / rel, label) for rel, label in read_list(folder / name)]
        for name in (TRAIN_LIST, TEST_LIST)
    ]
    return absolute[0], absolute[1]


def source_key(path: str | Path) -> str:
    """The source photo of a Roboflow crop (file name before ``_png.rf.``/``_jpg.rf.``/``.rf.``).

    Two ``rps-sxsw`` crops with the same key come from the same photo.
    """
    name = Path(path).name
    for marker in ("_png.rf.", "_jpg.rf.", ".rf."):
        if marker in name:
            return name.split(marker, 1)[0]
    return Path(name).stem


# --- images ------------------------------------------------------------------------------------


def read_image(path: str | Path) -> np.ndarray | None:
    """An image file as BGR uint8 (grey, 16-bit, RGBA all converted), or None if unreadable."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        return None
    return to_bgr(img)


def _readable(item_image: str | Path | np.ndarray) -> bool:
    if isinstance(item_image, np.ndarray):
        try:
            to_bgr(item_image)
        except BadFrameError:
            return False
        return True
    data = np.fromfile(str(item_image), dtype=np.uint8) if Path(item_image).is_file() else None
    if data is None or data.size == 0:
        return False
    # a reduced decode is several times faster and still fails on a broken file
    img = cv2.imdecode(data, cv2.IMREAD_REDUCED_GRAYSCALE_4)
    return img is not None and img.size > 0


def drop_unreadable(items: Sequence[Item]) -> list[Item]:
    """The items whose images can be decoded; the rest are listed in one warning."""
    good, bad = [], []
    for item in items:
        (good if _readable(item[0]) else bad).append(item)
    if bad:
        names = ", ".join(
            "<array>" if isinstance(img, np.ndarray) else str(img) for img, _ in bad[:20]
        )
        more = f" and {len(bad) - 20} more" if len(bad) > 20 else ""
        log.warning("skipping %d unreadable image(s): %s%s", len(bad), names, more)
    return good


def label_counts(items: Iterable[Item]) -> dict[str, int]:
    counts = {g.value: 0 for g in CLASS_ORDER}
    for _, label in items:
        if label != UNLABELLED:
            counts[CLASS_ORDER[label].value] += 1
    return counts


def counts_text(counts: dict[str, int]) -> str:
    """``rock 10, paper 12, scissors 9, none 0``: class counts for people (not a dict)."""
    return ", ".join(f"{name} {n}" for name, n in counts.items())


# --- the dataset -------------------------------------------------------------------------------


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The random stream of one sample in one epoch: the same whoever loads it, and in any order."""
    return np.random.default_rng([seed, epoch, index])


class GestureDataset:
    """A map-style dataset of ``(path or BGR array, label)`` items for torch's ``DataLoader``.

    ``dataset[i]`` is ``(float32 3xHxW, label)`` (``(x, label, i)`` with ``return_index``).
    Without ``augment`` an image is prepared exactly as at run time (``vision.preprocess``:
    centre crop, resize, normalise). With ``augment`` (a callable ``(bgr, rng) -> bgr`` at input
    size, see ``training.augment.Augmenter``) each sample draws from ``sample_rng(seed, epoch, i)``,
    so an epoch's augmentation does not depend on worker count or on a resume.
    Call ``drop_unreadable`` on the items first; an image that fails later raises ``DatasetError``.
    ``cache=True`` keeps the fitted uint8 images in memory (for test sets; no augmentation).
    """

    def __init__(
        self,
        items: Sequence[Item],
        spec: Preprocessing,
        augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
        *,
        seed: int = 0,
        return_index: bool = False,
        cache: bool = False,
        max_side: int | None = None,
    ):
        self.items = list(items)
        self.spec = spec
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0
        self.return_index = return_index
        # large photos are shrunk before augmentation (run time sees them through ``fit`` anyway)
        self.max_side = max_side or 3 * max(spec.input_size)
        self._cache: list[np.ndarray] | None = None
        if cache:
            if augment is not None:
                raise ValueError("cache=True is for evaluation: it keeps unaugmented images")
            self._cache = [fit(self.load(i), spec) for i in range(len(self.items))]

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @property
    def labels(self) -> list[int]:
        return [label for _, label in self.items]

    def load(self, index: int) -> np.ndarray:
        """The item's image as BGR uint8 (arrays are converted, files decoded)."""
        image = self.items[index][0]
        if isinstance(image, np.ndarray):
            return to_bgr(image)
        bgr = read_image(image)
        if bgr is None:
            raise DatasetError(f"cannot read image {image}: remove it or re-run the split")
        return bgr

    def _shrunk(self, bgr: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        if min(h, w) <= self.max_side:
            return bgr
        scale = self.max_side / min(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        return cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)

    def image(self, index: int) -> np.ndarray:
        """The BGR uint8 image the network sees (augmented or fitted), before normalisation."""
        if self._cache is not None:
            return self._cache[index]
        if self.augment is None:
            return fit(self.load(index), self.spec)
        out = self.augment(self._shrunk(self.load(index)), sample_rng(self.seed, self.epoch, index))
        if out.shape[:2] != tuple(self.spec.input_size):
            out = fit(out, self.spec)
        return out

    def __getitem__(self, index: int):
        x = normalize(self.image(index), self.spec)
        label = self.items[index][1]
        return (x, label, index) if self.return_index else (x, label)
