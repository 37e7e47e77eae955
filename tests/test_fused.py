"""The default recogniser (assets/default): the landmark recogniser fused with the CNN, on real
photos from ../shared/datasets; the rule chosen by ``python -m training fusion``."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from helpers import DATASETS, dataset_images, load

from training.hand.fusion import LANDMARKS_ALONE, HeldOut, Rule, choose_rule
from vision.classifier import GestureClassifier
from vision.errors import ModelError
from vision.labels import Gesture
from vision.paths import ASSETS_DIR, SHIPPED_DEFAULT_DIR, SHIPPED_HAND_DIR, SHIPPED_MODEL_DIR

pytestmark = pytest.mark.skipif(not DATASETS.is_dir(), reason="needs ../shared/datasets")


@pytest.fixture(scope="module")
def fused():
    return GestureClassifier()


def test_each_kind_loads_and_the_default_is_fused(fused, tmp_path):
    assert fused.kind == "fused"
    assert GestureClassifier(SHIPPED_HAND_DIR).kind == "landmarks"
    assert GestureClassifier(SHIPPED_MODEL_DIR).kind == "cnn"
    # a CNN exported before recognisers had kinds (no "kind" in its metadata) still loads
    old = tmp_path / "old"
    shutil.copytree(SHIPPED_MODEL_DIR, old)
    meta = json.loads((old / "model.json").read_text())
    meta.pop("kind", None)
    (old / "model.json").write_text(json.dumps(meta))
    clf = GestureClassifier(old)
    assert clf.kind == "cnn" and clf(load(dataset_images("rps-cv", "rock", 1)[0])).label
    rule = json.loads((SHIPPED_DEFAULT_DIR / "model.json").read_text())["rule"]
    assert fused.recogniser.cnn_min_confidence == rule["cnn_min_confidence"]


def _default_copy(tmp_path, cnn: str = "shipped:models", hand: str = "shipped:hand"):
    folder = tmp_path / "default"
    folder.mkdir(parents=True)
    meta = json.loads((SHIPPED_DEFAULT_DIR / "model.json").read_text())
    meta["parts"] = {"landmarks": hand, "cnn": cnn}
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


def test_a_broken_part_is_an_error_naming_the_file(tmp_path):
    cnn = tmp_path / "default" / "cnn"
    folder = _default_copy(tmp_path, cnn="cnn")
    shutil.copytree(SHIPPED_MODEL_DIR, cnn)
    binary = cnn / json.loads((cnn / "model.json").read_text())["bin"]
    binary.write_bytes(binary.read_bytes()[:50_000])
    with pytest.raises(ModelError, match=binary.name):
        GestureClassifier(folder)
    folder2 = _default_copy(tmp_path / "b", hand="nowhere")
    with pytest.raises(ModelError, match="nowhere"):
        GestureClassifier(folder2)
    # a part of the wrong kind
    folder3 = _default_copy(tmp_path / "c", cnn="shipped:hand")
    with pytest.raises(ModelError, match="not a CNN"):
        GestureClassifier(folder3)


@pytest.mark.parametrize("dataset", ["best-of-one", "finger-counting"])
def test_an_empty_scene_is_none(fused, dataset):
    for photo in dataset_images(dataset, "none", 4, start=10):
        p = fused(load(photo))
        assert p.label is Gesture.NONE, photo.name


def test_a_found_hand_is_read_by_the_landmarks_with_its_skeleton(fused):
    for label in ("rock", "paper", "scissors"):
        p = fused(load(dataset_images("hands-subhih", label, 1, start=3)[0]))
        assert p.label is Gesture(label) and p.landmarks is not None


MISSED = [
    "rps-sxsw/rock/rock.0009_png.rf.fd4e32b0f3e7e086a7de43c8fb307fc2_00824.jpg",
    "rps-sxsw/rock/rock.0010_png.rf.e4d27157d15c7fb048284b22535c35e4_01305.jpg",
]


@pytest.mark.parametrize("photo", MISSED)
def test_a_hand_the_landmark_net_misses_is_still_read_by_the_fusion(fused, photo):
    """Blurred fists of rps-sxsw's test split (the fused CNN trained on the rest of the set)
    that the landmark network does not place: the landmarks alone say none, the fusion hands
    them to the CNN (before the edge reader, which reads them too)."""
    image = load(DATASETS / photo)
    alone = fused.recogniser.landmarks.find(image)
    assert alone.label is Gesture.NONE and alone.presence >= fused.recogniser.min_presence
    calls = fused.recogniser.cnn_calls
    p = fused(image)
    assert p.label is Gesture.ROCK and p.confidence >= fused.recogniser.cnn_min_confidence
    assert fused.recogniser.cnn_calls == calls + 1


# --- the rule (training.hand.fusion) --------------------------------------------------------------


def _held_out(labels, hand, presence, cnn_label, cnn_conf, head_conf=None) -> HeldOut:
    n = len(labels)
    cnn = np.full((n, 4), 0.0)
    for i, (c, q) in enumerate(zip(cnn_label, cnn_conf, strict=True)):
        cnn[i] = (1 - q) / 3
        cnn[i, c] = q
    return HeldOut(
        labels=np.array(labels),
        hand=np.array(hand),
        presence=np.array(presence, float),
        cnn=cnn,
        head_conf=np.ones(n) if head_conf is None else np.array(head_conf, float),
    )


def test_the_rule_hands_a_missed_hand_to_a_sure_cnn_only_after_a_hint():
    rule = Rule(min_presence=0.05, cnn_min_confidence=0.9)
    d = _held_out(
        labels=[1, 1, 3, 2, 0],
        hand=[3, 3, 3, 2, 0],  # two rocks missed, an empty wall, two found hands
        presence=[0.2, 0.01, 0.3, 0.9, 0.9],
        cnn_label=[1, 1, 0, 1, 0],
        cnn_conf=[0.95, 0.99, 0.8, 0.99, 0.99],
        head_conf=[0, 0, 0, 0.99, 0.55],
    )
    out = rule.apply(d.hand, d.presence, d.cnn, d.head_conf)
    # the first rock is handed over; the second saw no hint; the wall's CNN is unsure;
    # a sure head keeps its paper against the CNN
    assert out.tolist() == [1, 3, 3, 2, 0]
    overrule = Rule(0.05, 0.9, overrule_below=0.9)
    d.cnn[4] = [0.0, 0.99, 0.01, 0.0]  # the CNN sure of rock where the head is unsure
    assert overrule.apply(d.hand, d.presence, d.cnn, d.head_conf)[4] == 1
    assert LANDMARKS_ALONE.apply(d.hand, d.presence, d.cnn, d.head_conf).tolist() == d.hand.tolist()


def test_the_chosen_rule_raises_the_worst_set_without_calling_walls_a_throw():
    # set a: hands the landmarks miss, the CNN sure (0.95) of them; set b: empty walls the CNN
    # calls a throw at 0.85, and hands the landmarks read
    a = _held_out([1] * 10, [3] * 4 + [1] * 6, [0.3] * 10, [1] * 10, [0.95] * 10)
    b = _held_out([3] * 10 + [2] * 10, [3] * 10 + [2] * 10, [0.3] * 20, [0] * 20, [0.85] * 20)
    rule, report, alone = choose_rule({"a": a, "b": b})
    assert alone["a"]["throw_accuracy"] == 0.6
    assert report["a"]["throw_accuracy"] == 1.0
    assert report["b"]["none_accuracy"] == 1.0
    assert 0.85 < rule.cnn_min_confidence <= 0.95


def test_the_rule_in_the_metadata_is_the_one_the_recogniser_uses(tmp_path):
    folder = _default_copy(tmp_path)
    meta = json.loads((folder / "model.json").read_text())
    meta["rule"] = {"min_presence": 0.02, "cnn_min_confidence": 0.5, "overrule_below": 0.0}
    (folder / "model.json").write_text(json.dumps(meta))
    rec = GestureClassifier(folder).recogniser
    wall = load(DATASETS / "best-of-one" / "none" / "107.jpg")  # no hint of a hand
    before = rec.cnn_calls
    assert rec(wall).label is Gesture.NONE
    assert rec.cnn_calls == before, "the CNN is not asked where no pass saw a hint of a hand"
    assert ASSETS_DIR.is_dir()


def test_the_fusion_command_refuses_bad_arguments_with_a_message(capsys):
    from training.cli import main

    assert main(["fusion", str(DATASETS / "best-of-one")]) == 2
    assert "at least two dataset folders" in capsys.readouterr().err
    two = [str(DATASETS / "best-of-one"), str(DATASETS / "sign-digits")]
    assert main(["fusion", *two, "--held-out-cnn", "rps-cv"]) == 2
    assert "SET=DIR" in capsys.readouterr().err
    assert main(["fusion", *two, "--held-out-cnn", "rps-cv=somewhere"]) == 2
    assert "sets not given: rps-cv" in capsys.readouterr().err
