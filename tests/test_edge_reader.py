"""The edge reader (``vision.edge``, ``python -m training edge``): a throw read from the whole box
where no finder places a hand. Real ncnn models on views of real photos from ../shared/datasets,
made as ``python -m training views`` makes them (hands cut by the box's edge, blurred close-ups)."""

from __future__ import annotations

import json
import shutil
import zlib

import numpy as np
import pytest
from helpers import DATASETS, break_ncnn_part, dataset_images, load, shipped_hand_meta

from vision.classifier import GestureClassifier
from vision.errors import ModelError
from vision.labels import CLASS_ORDER, Gesture
from vision.paths import ASSETS_DIR

HAND_DIR = ASSETS_DIR / "hand"
pytestmark = pytest.mark.skipif(not DATASETS.is_dir(), reason="needs ../shared/datasets")

#: views no finder places a hand in (box pass, search, palm detector, tiles), as the views
#: command makes them: (kind, photo under the datasets, seed)
MISSED = [
    ("cut", "hands-subhih/rock/1528664299.56_pic00109_b1.jpg", 0),
    ("cut", "hands-subhih/scissors/1528664299.56_pic00132_b1.jpg", 0),
    ("blur", "best-of-one/scissors/107.jpg", 0),
]
WALLS = [DATASETS / "best-of-one" / "none" / f"{i}.jpg" for i in (1, 3, 5, 7, 9, 11)]


def view(kind: str, photo: str, seed: int) -> np.ndarray:
    from training.hand.views import make_view

    rng = np.random.default_rng([seed, zlib.crc32(f"{photo}|{kind}".encode())])
    return make_view(kind, load(DATASETS / photo), rng, [load(w) for w in WALLS])


@pytest.fixture(scope="module")
def hand():
    return GestureClassifier(HAND_DIR).recogniser


@pytest.fixture(scope="module")
def no_edge(tmp_path_factory):
    """The shipped recogniser as older metadata wrote it: no edge reader."""
    folder = tmp_path_factory.mktemp("hand-no-edge")
    meta = shipped_hand_meta()
    meta.pop("edge")
    (folder / "model.json").write_text(json.dumps(meta))
    return GestureClassifier(folder).recogniser


@pytest.mark.parametrize(("kind", "photo", "seed"), MISSED)
def test_a_hand_no_finder_places_is_read_only_with_the_edge_reader(
    hand, no_edge, kind, photo, seed
):
    image = view(kind, photo, seed)
    assert no_edge.edge is None
    assert no_edge(image).label is Gesture.NONE, "no finder places it"
    p = hand(image)
    assert p.label is Gesture(photo.split("/")[1])
    assert p.confidence >= hand.edge.floor
    assert p.landmarks is None and p.palm_box is None, "no skeleton: no hand was placed"


def test_empty_scenes_stay_none_with_the_edge_reader(hand):
    """Plain walls and offices (the reader was fitted on views of these rooms: its figure on
    rooms it never saw is the leave-one-set-out measurement's, 0 of 1,400 fired)."""
    for folder in ("best-of-one", "finger-counting"):
        for photo in dataset_images(folder, "none", 8, start=20):
            p = hand(load(photo))
            assert p.label is Gesture.NONE, photo.name
    assert hand.edge.passes > 0, "the reader looked at them"


def test_the_stream_reads_one_lost_frame_in_every_few_and_holds_its_reading(hand):
    kind, photo, seed = MISSED[0]
    cut, wall = view(kind, photo, seed), load(WALLS[0], (320, 320))
    hand.reset_tracking()
    every = hand.edge.every
    before = hand.edge.passes
    labels = [hand.track(cut).label for _ in range(2 * every)]
    assert labels == [Gesture(photo.split("/")[1])] * (2 * every)
    assert hand.edge.passes - before == 2, "one look every few lost frames"
    after = [hand.track(wall).label for _ in range(every)]
    assert after[-1] is Gesture.NONE, "the hand gone: none by the next look"


@pytest.mark.parametrize("broken", ["missing-param", "truncated-bin", "not-ncnn", "short-head"])
def test_a_missing_or_corrupt_edge_reader_names_the_file_and_the_command(tmp_path, broken):
    folder = tmp_path / "hand"
    shutil.copytree(HAND_DIR, folder)
    if broken == "short-head":  # a head that does not match the trunk's features
        whole = json.loads((folder / "model.json").read_text())
        whole["edge"]["head"]["weights"] = whole["edge"]["head"]["weights"][:100]
        (folder / "model.json").write_text(json.dumps(whole))
        expect = "features"
    else:
        expect = break_ncnn_part(folder, "edge", broken)
    with pytest.raises(ModelError) as info:
        GestureClassifier(folder)
    assert expect in str(info.value)
    assert "python -m training edge" in str(info.value)


def test_the_fused_default_asks_the_edge_reader_last():
    """Its own rule (the CNN where a pass saw a hint of a hand) decides first; the reader reads
    what is still ``none``."""
    fused = GestureClassifier(ASSETS_DIR / "default").recogniser
    kind, photo, seed = MISSED[0]
    image = view(kind, photo, seed)
    assert fused.landmarks.find(image).label is Gesture.NONE
    assert fused(image).label is Gesture(photo.split("/")[1])


# --- building it (training.hand.edge) ---------------------------------------------------------


def test_the_folded_head_reads_as_its_steps():
    """Standardise, project on principal directions, whiten, softmax regression: folded into one
    layer on the raw features, it gives the same probabilities as the steps."""
    pytest.importorskip("torch")
    from training.hand.edge import fit_head, fit_softmax, softmax

    rng = np.random.default_rng(0)
    y = rng.integers(0, len(CLASS_ORDER), 400)
    x = rng.normal(size=(400, 40)) * rng.uniform(0.1, 5, 40) + 3.0
    x[:, :4] = rng.normal(size=(400, 4)) * 0.5 + np.eye(4)[y] * 3.0  # the classes' signal
    weights, bias = fit_head(x, y, dims=8, l2=1e-3)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    vt = np.linalg.svd(z, full_matrices=False)[2][:8].T
    xs = z @ vt
    xs /= xs.std(0) + 1e-6
    w, b = fit_softmax(xs, y, len(CLASS_ORDER), 1e-3)
    np.testing.assert_allclose(softmax(x @ weights + bias), softmax(xs @ w + b), atol=1e-4)
    assert (softmax(x @ weights + bias).argmax(1) == y).mean() > 0.9


def test_the_shipped_trunk_reads_as_torchs():
    """The shipped ncnn trunk against EfficientNet-Lite0 in torch, through the shipped head, on
    real views (the conversion's own check, on the files that ship)."""
    pytest.importorskip("torch")
    from training.hand.edge import check_parity, trunk_module

    meta = json.loads((HAND_DIR / "model.json").read_text())["edge"]
    views = [view(*m) for m in MISSED] + [load(WALLS[0], (320, 320))]
    param, binary = HAND_DIR / meta["param"], HAND_DIR / meta["bin"]
    assert check_parity(trunk_module(), meta["head"], param, binary, views) < 0.03


def test_a_converted_trunk_that_disagrees_with_torch_is_refused(tmp_path):
    """The conversion's check refuses a trunk other than the one converted (a small network
    stands in for EfficientNet-Lite0: the check is the same)."""
    torch = pytest.importorskip("torch")
    from training.hand.edge import check_parity, convert, head_metadata
    from vision.errors import RPSError

    class Small(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 16, 5, stride=4)

        def forward(self, x):
            return torch.relu(self.conv(x)).mean((2, 3))

    torch.manual_seed(0)
    trunk, other = Small().eval(), Small().eval()
    head = head_metadata(np.random.default_rng(1).normal(0, 3.0, (16, 4)), np.zeros(4))
    param, binary = convert(trunk, tmp_path)
    views = [load(p, (320, 320)) for p in dataset_images("hands-subhih", "rock", 3)]
    assert check_parity(trunk, head, param, binary, views) < 0.03
    with pytest.raises(RPSError, match="not written|reads a view"):
        check_parity(other, head, param, binary, views)


# --- personalising it (training.hand.edgepersonal) ------------------------------------------------


def _person(dataset: str, first: int, later: int) -> tuple[list, list]:
    """A person's first ``first`` captures of each throw and ``later`` later frames (from the
    75th on, every fifth), in capture order."""
    from training.personalize import ordered_images

    caps, rest = [], []
    for g in (Gesture.ROCK, Gesture.PAPER, Gesture.SCISSORS):
        files = ordered_images(DATASETS / dataset / g.value)
        caps += [(p, g.index) for p in files[:first]]
        rest += [(p, g.index) for p in files[75 : 75 + 5 * later : 5]]
    return caps, rest


def _sure(reader, features, labels) -> tuple[int, int]:
    """Sure throws right and wrong."""
    probs = np.stack([reader.read_features(f) for f in features])
    said = (probs.max(1) >= reader.floor) & (probs.argmax(1) != Gesture.NONE.index)
    right = int((said & (probs.argmax(1) == labels)).sum())
    return right, int(said.sum()) - right


def test_personalising_reads_a_persons_cut_and_blurred_hands_and_keeps_their_rooms_none():
    """rps-cv's person (hands on green, seen from above): a throws head refitted on 15 captures a
    throw reads their later frames' cut and blurred views better than the shipped reader;
    ``none`` stays the shipped head's, so empty walls stay unread."""
    from training.hand.edgepersonal import capture_views, refit_edge
    from vision.edge import EdgeReader

    meta = json.loads((HAND_DIR / "model.json").read_text())["edge"]
    caps, later = _person("rps-cv", 15, 10)
    personal = refit_edge(caps, meta, HAND_DIR)
    assert personal["personalization"]["refitted"], personal["personalization"]
    assert "throws_head" in personal and personal["head"] == meta["head"]
    shipped, mine = EdgeReader(meta, HAND_DIR), EdgeReader(personal, HAND_DIR)
    views, labels, _ = capture_views(later, 1)
    walls = [load(p, (320, 320)) for p in dataset_images("best-of-one", "none", 10, start=40)]
    features = np.stack([shipped.features(v) for v in views + walls])
    labels = np.concatenate([labels, np.full(len(walls), Gesture.NONE.index)])
    before, after = _sure(shipped, features, labels), _sure(mine, features, labels)
    assert after[0] >= before[0] + 10 and after[1] <= before[1], (before, after)
    empty = features[-len(walls) :]
    assert _sure(mine, empty, labels[-len(walls) :]) == (0, 0), "no throw on an empty wall"


def test_a_refit_that_reads_the_held_out_views_no_better_is_not_kept(monkeypatch):
    """A refit that learns nothing (no steps) reads the held-out views no better than the reader
    in use (its higher floor only drops sure throws) and is not kept."""
    import training.hand.edgepersonal as edgepersonal

    monkeypatch.setattr(edgepersonal, "STEPS", 0)
    meta = json.loads((HAND_DIR / "model.json").read_text())["edge"]
    caps, _ = _person("best-of-one", 5, 0)
    personal = edgepersonal.refit_edge(caps, meta, HAND_DIR)
    done = personal["personalization"]
    assert not done["refitted"] and "throws_head" not in personal
    assert done["held_out_score_after"] <= done["held_out_score_before"]


def _far(paths: list, walls: list, tag: str) -> list[np.ndarray]:
    """Far views of photos (shrunk to 20-50% of the box on the walls), seeded by file."""
    from training.hand.views import make_view

    out = []
    for p in paths:
        rng = np.random.default_rng([0, zlib.crc32(f"{p.name}|{tag}".encode())])
        out.append(make_view("far", load(p), rng, walls))
    return out


def test_personalising_with_far_views_reads_a_persons_far_hands_and_not_their_face():
    """best-of-one's person: a throws head refitted with far views of 20 captures a throw (on 10
    of their empty walls) reads far views of their later frames better than one refitted on
    cut and blurred views alone (the refit before far views) and than the shipped reader; the
    later frames of their room stay unread, the ones where their face peeks in too."""
    from training.hand.edgepersonal import refit_edge
    from vision.edge import EdgeReader

    meta = json.loads((HAND_DIR / "model.json").read_text())["edge"]
    caps, later = _person("best-of-one", 20, 20)
    caps += [(p, Gesture.NONE.index) for p in dataset_images("best-of-one", "none", 10)]
    before_far_views = refit_edge(caps, meta, HAND_DIR, kinds=("cut", "blur"))
    readers = {
        "shipped": EdgeReader(meta, HAND_DIR),
        "cut and blur": EdgeReader(before_far_views, HAND_DIR),
        "with far views": EdgeReader(refit_edge(caps, meta, HAND_DIR), HAND_DIR),
    }
    walls = [load(w) for w in WALLS]
    views = _far([p for p, _ in later], walls, "far")
    # best-of-one's 129th to 150th "empty" frames: its player's face peeking into the box
    room = [load(DATASETS / "best-of-one" / "none" / f"{i}.jpg") for i in range(125, 175, 2)]
    shipped = readers["shipped"]
    features = np.stack([shipped.features(v) for v in views + room])
    labels = np.array([lab for _, lab in later] + [Gesture.NONE.index] * len(room))
    read = {who: _sure(r, features, labels) for who, r in readers.items()}
    right = {who: r[0] for who, r in read.items()}
    assert right["with far views"] >= right["cut and blur"] + 6, read
    assert right["with far views"] >= right["shipped"] + 6, read
    assert read["with far views"][1] <= read["cut and blur"][1], read
    empty = features[-len(room) :]
    assert _sure(readers["with far views"], empty, labels[-len(room) :]) == (0, 0), read
