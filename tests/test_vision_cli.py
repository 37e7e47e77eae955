"""``python -m vision``: classify, evaluate, watch (JSON lines via a real subprocess), bench."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from helpers import ROOT, gesture_clip, write_video

from vision.__main__ import main
from vision.bench import DEFAULT_ANCHORS, param_io, published_figures


def photo(path, seed=0, size=(120, 90)):
    rng = np.random.default_rng(seed)
    cv2.imwrite(str(path), rng.integers(0, 256, (size[1], size[0], 3), np.uint8))
    return path


def run_cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "vision", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_watch_jsonl_prints_only_json_objects_one_per_change(tmp_path, datasets_dir):
    clip = gesture_clip(tmp_path / "clip.avi", ["rock", "paper", "scissors"], frames_each=6)
    overlay = tmp_path / "overlay.avi"
    result = run_cli("watch", "--source", str(clip), "--jsonl", "--overlay-out", str(overlay))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines, "the first reading is always printed"
    records = [json.loads(line) for line in lines]
    gestures = [r["gesture"] for r in records]
    assert all(set(r) == {"frame", "t", "gesture", "confidence"} for r in records)
    assert records[0]["frame"] == 0 and records[0]["t"] == 0
    assert all(a != b for a, b in zip(gestures, gestures[1:], strict=False))  # changes only
    frames = [r["frame"] for r in records]
    assert frames == sorted(frames) and frames[-1] < 18
    assert all(g in {"rock", "paper", "scissors", "none"} for g in gestures)
    assert all(0 <= r["confidence"] <= 1 for r in records)
    assert all(r["t"] == pytest.approx(r["frame"] / 15, abs=1e-3) for r in records)  # video time
    cap = cv2.VideoCapture(str(overlay))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, first = cap.read()
    cap.release()
    assert ok and first.shape == (480, 640, 3) and count == 18


def test_watch_plain_text_and_max_frames(tmp_path, capsys):
    frames = [np.full((60, 80, 3), v, np.uint8) for v in (20, 20, 200, 200, 200, 90)]
    clip = write_video(tmp_path / "c.avi", frames)
    assert main(["watch", "--source", str(clip), "--max-frames", "4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out and out[0].startswith("frame      0")
    assert all("t=" in line for line in out)


def test_watch_bad_source_exits_2_with_a_message():
    result = run_cli("watch", "--source", "/no/such/video.avi")
    assert result.returncode == 2
    assert "no such file" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_classify_prints_label_and_confidence_per_file(tmp_path, capsys):
    files = [photo(tmp_path / f"{i}.jpg", seed=i) for i in range(2)]
    assert main(["classify", *map(str, files)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line, path in zip(lines, files, strict=True):
        name, label, confidence = line.split("\t")
        assert name == str(path) and label in {"rock", "paper", "scissors", "none"}
        assert 0 <= float(confidence) <= 1
    assert main(["classify", "--json", str(files[0])]) == 0
    record = json.loads(capsys.readouterr().out)
    assert sum(record["probs"].values()) == pytest.approx(1, abs=1e-3)


def test_classify_missing_and_unreadable_files(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["classify", str(tmp_path / "nope.jpg")])
    assert info.value.code == 2 and "no such image" in capsys.readouterr().err
    junk = tmp_path / "junk.jpg"
    junk.write_text("not a picture")
    assert main(["classify", str(junk)]) == 1
    assert "not an image" in capsys.readouterr().err


def test_evaluate_named_and_numeric_class_folders(tmp_path, capsys):
    for folder, n in (("rock", 2), ("2", 3), ("none", 1)):  # 2 = paper
        (tmp_path / folder).mkdir()
        for i in range(n):
            photo(tmp_path / folder / f"{i}.png", seed=i + n)
    (tmp_path / "lizard").mkdir()  # ignored with a warning
    assert main(["evaluate", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    matrix = np.array(result["confusion"])
    assert result["classes"] == ["scissors", "rock", "paper", "none"]
    assert result["images"] == 6 and matrix.sum(axis=1).tolist() == [0, 2, 3, 1]
    assert result["accuracy"] == pytest.approx(np.trace(matrix) / 6)
    assert main(["evaluate", str(tmp_path), "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "on 3 images" in out and "recall" in out


def test_evaluate_without_class_folders_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["evaluate", str(tmp_path)])
    assert info.value.code == 2 and "no class folders" in capsys.readouterr().err


def test_every_command_has_help():
    for command in ("classify", "evaluate", "watch", "bench"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0


def test_bad_model_is_a_message_not_a_traceback(tmp_path, capsys):
    image = photo(tmp_path / "a.jpg")
    with pytest.raises(SystemExit) as info:
        main(["classify", "--model", str(tmp_path / "missing"), str(image)])
    assert info.value.code == 2 and "no model metadata" in capsys.readouterr().err


def test_anchor_param_io_and_published_figures():
    param = DEFAULT_ANCHORS / "ncnn-benchmark" / "shufflenet_v2.param"
    if not param.is_file():
        pytest.skip("../shared/anchors is absent")
    assert param_io(param) == ("data", (3, 224, 224), "output")
    figures = published_figures(DEFAULT_ANCHORS / "README.md")
    assert figures["Pi 4B"] == {4: 24.56, 1: 42.12}
    assert figures["Pi 5"] == {4: 3.39, 1: 7.14}


def test_bench_json_reports_ratios_goals_and_projections(capsys):
    if not DEFAULT_ANCHORS.is_dir():
        pytest.skip("../shared/anchors is absent")
    cnn = str(ROOT / "assets" / "models")
    assert main(["bench", "--model", cnn, "--json", "--iterations", "5", "--warmup", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    t = result["timings_ms"]
    assert set(t) == {"a", "a_call", "b", "c"} and all(v["median"] > 0 for v in t.values())
    assert result["model_ratio"] == pytest.approx(t["a"]["median"] / t["b"]["median"])
    assert result["path_ratio"] == pytest.approx(t["c"]["median"] / t["a"]["median"])
    assert set(result["goals"]) == {"model_ratio<=0.75", "path_ratio<=1.2"}
    pi4 = result["projections"]["Pi 4B 1t"]
    assert pi4["model_ms"] == pytest.approx(result["model_ratio"] * 42.12)
    assert pi4["model_fps"] == pytest.approx(1000 / pi4["model_ms"])


def test_bench_of_the_default_recogniser_times_still_frame_and_passes(capsys):
    """The default (fused) recogniser: a still box, a tracked stream frame (one landmark pass),
    a frame that finds a lost far hand, and one pass of each landmark network, palm detector
    and the edge reader, each beside shufflenet_v2."""
    if not DEFAULT_ANCHORS.is_dir():
        pytest.skip("../shared/anchors is absent")
    assert main(["bench", "--json", "--iterations", "4", "--warmup", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["kind"] == "fused" and result["reads"].startswith("rock")
    t = result["timings_ms"]
    assert set(t) == {
        "still", "still_empty", "frame", "empty_frame", "found_frame", "b", "b_bf16",
        "pass_full", "pass_lite", "palm_full", "palm_lite", "edge",
    }  # fmt: skip
    # an empty stream frame on average: the edge reader reads one lost frame in a few
    mean = t["empty_frame"]["mean"] / t["b"]["median"]
    assert result["ratios"]["empty_frame_mean"] == pytest.approx(mean)
    # a small far hand the box pass misses, found again by the palm detector
    assert result["far_reads"].startswith("rock")
    # like for like: the frame also against shufflenet_v2 stored in bf16, as the landmarks are
    same = result["ratios_bf16_anchor"]["frame"]
    assert same == pytest.approx(t["frame"]["median"] / t["b_bf16"]["median"])
    assert result["passes"]["frame"] == pytest.approx(1.0)  # tracking: one pass a frame
    assert result["passes"]["still"] >= 2.0  # the box, then the landmark-placed crop
    assert result["passes"]["still_empty"] >= 4.0  # the box and the first search round
    assert result["ratios"]["still"] == pytest.approx(t["still"]["median"] / t["b"]["median"])
    assert set(result["goals"]) == {
        "still<=7.0", "frame<=2.2", "found_frame<=4.0", "empty_frame<=3.0"
    }  # fmt: skip
    pi4 = result["projections"]["Pi 4B 4t"]["frame"]
    assert pi4["fps"] == pytest.approx(1000 / pi4["ms"])


def test_bench_missing_anchors_says_where_to_point(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["bench", "--anchors", str(tmp_path), "--iterations", "1"])
    assert info.value.code == 2 and "--anchors" in capsys.readouterr().err
