"""MediaPipe's palm detector (``palm_detection_{full,lite}.tflite``) converted to ncnn.

Called by ``python -m training landmarks``, which converts the landmark networks from the same
``mediapipe`` wheel. Two converter gaps are bridged, each checked by the parity test after it:
``tflite2onnx`` 0.4 cannot place the layout of a PReLU slope stored in fp16 (its rank-3 source
tensor gets a rank-4 layout), so that tensor is given the leading 1 the slope itself gets; and
``pnnx`` leaves ONNX ``Resize`` given by output sizes as a layer ncnn does not know, so the graph
is given scales (both are 2x) and the layer is written as ncnn's bilinear ``Interp``
(half-pixel centres, as TFLite's ``RESIZE_BILINEAR`` with ``half_pixel_centers`` computes it).
"""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
from pathlib import Path

import numpy as np

from vision.errors import ModelError
from vision.palm import INPUT_SIZE, PalmDetector
from vision.palm import VALUES_PER_ANCHOR as VALUES

log = logging.getLogger("training.hand.landmarks")

VARIANTS = ("full", "lite")
WHEEL_PATH = "mediapipe/modules/palm_detection/palm_detection_{}.tflite"
#: ncnn blob names pnnx gives the converted detector (checked against ONNX at conversion).
BLOBS = {"input": "in0", "boxes": "out0", "scores": "out1"}
#: Largest differences allowed from the reference: box and keypoint values (input pixels of
#: 192) and score logits.
BOX_TOLERANCE_PX = 0.05
SCORE_TOLERANCE = 0.01
_RESIZE_LINE = re.compile(r"^Resize(\s+)(\S+)(\s+)1 1 (\S+) (\S+)\s*$")


@contextlib.contextmanager
def _prelu_fp16_slopes():
    """tflite2onnx with the PReLU slope fix (see the module's docstring)."""
    from tflite2onnx.graph import Graph

    original = Graph._propagateLayout

    def propagate(self):
        for op in self.ops:
            if op.type == "PRelu" and len(op.inputs) > 1:
                slope = op.inputs[1]
                for producer in slope.producers:  # the fp16 -> fp32 Dequantize
                    source = producer.inputs[0]
                    if len(source.shape) < len(slope.shape):
                        source.shape.insert(0, 1)
        return original(self)

    Graph._propagateLayout = propagate
    try:
        yield
    finally:
        Graph._propagateLayout = original


def _resize_by_scales(onnx_path: Path) -> int:
    """ONNX ``Resize`` nodes given output sizes rewritten with scales; returns how many."""
    import onnx
    from onnx import numpy_helper, shape_inference

    model = onnx.load(str(onnx_path))
    inferred = shape_inference.infer_shapes(model)
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in (*inferred.graph.value_info, *inferred.graph.input)
    }
    sizes = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    count = 0
    for node in model.graph.node:
        if node.op_type != "Resize" or len(node.input) != 4 or node.input[3] not in sizes:
            continue
        src = shapes.get(node.input[0])
        if not src or 0 in src:
            raise ModelError(f"{onnx_path.name}: the input shape of {node.name} is unknown")
        scales = np.asarray(sizes[node.input[3]], np.float32) / np.asarray(src, np.float32)
        name = f"{node.name or 'resize'}_{count}_scales"
        model.graph.initializer.append(numpy_helper.from_array(scales, name))
        node.input[2] = name
        del node.input[3]
        count += 1
    onnx.save(model, str(onnx_path))
    return count


def _interp_layers(param: Path, scale: float = 2.0) -> int:
    """pnnx's unconverted ``Resize`` lines written as ncnn bilinear ``Interp`` layers."""
    lines = param.read_text().splitlines()
    count = 0
    for i, line in enumerate(lines):
        m = _RESIZE_LINE.match(line)
        if m:
            lines[i] = f"Interp{m[1]}{m[2]}{m[3]}1 1 {m[4]} {m[5]} 0=2 1={scale:e} 2={scale:e} 6=0"
            count += 1
    param.write_text("\n".join(lines) + "\n")
    return count


def convert(tflite: Path, work: Path) -> tuple[Path, Path, Path]:
    """TFLite -> ONNX -> ncnn; returns (onnx, param, bin) in ``work``."""
    import tflite2onnx

    from training.export import pnnx_binary

    stem = tflite.stem
    onnx_path = work / f"{stem}.onnx"
    logging.getLogger("tflite2onnx").setLevel(logging.ERROR)
    with _prelu_fp16_slopes():
        tflite2onnx.convert(str(tflite), str(onnx_path))
    pnnx_input = work / f"{stem}.scaled.onnx"
    pnnx_input.write_bytes(onnx_path.read_bytes())
    resized = _resize_by_scales(pnnx_input)
    done = subprocess.run(
        [pnnx_binary(), pnnx_input.name, f"inputshape=[1,3,{INPUT_SIZE},{INPUT_SIZE}]", "fp16=0"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    param = work / f"{stem}.scaled.ncnn.param"
    binary = work / f"{stem}.scaled.ncnn.bin"
    if done.returncode != 0 or not param.is_file():
        raise ModelError(f"pnnx failed on {pnnx_input.name}: {done.stderr.strip()[-400:]}")
    if _interp_layers(param) != resized:
        raise ModelError(f"{param.name}: expected {resized} Resize layers to rewrite")
    return onnx_path, param, binary


def check_parity(param: Path, binary: Path, onnx_path: Path, tflite: Path, images: list[Path]):
    """Largest box/keypoint (input px) and score-logit differences of ncnn against each
    reference, on the 192x192 pixels of real photos."""
    from training.hand.landmarks import photo_inputs, reference_runners

    detector = PalmDetector(param, binary, BLOBS, threads=1, exact=True)
    runners = reference_runners(onnx_path, tflite)
    worst = {name: [0.0, 0.0] for name in runners}
    for pixels, rgb01 in photo_inputs(images, INPUT_SIZE):
        boxes, scores = detector.raw(pixels)
        for name, run in runners.items():
            out = run(rgb01)
            ref_boxes, ref_scores = out[0].reshape(-1, VALUES), out[1].reshape(-1)
            w = worst[name]
            w[0] = max(w[0], float(np.abs(boxes - ref_boxes).max()))
            w[1] = max(w[1], float(np.abs(scores - ref_scores).max()))
    return {name: {"max_box_px": a, "max_score_logit": b} for name, (a, b) in worst.items()}


def check(variant: str, parity: dict) -> None:
    for ref, d in parity.items():
        log.info(
            "palm %s vs %s: boxes within %.2e px, score logits within %.2e",
            variant, ref, d["max_box_px"], d["max_score_logit"],
        )  # fmt: skip
        if d["max_box_px"] > BOX_TOLERANCE_PX or d["max_score_logit"] > SCORE_TOLERANCE:
            raise ModelError(
                f"the ncnn palm detector ({variant}) disagrees with {ref}: boxes "
                f"{d['max_box_px']:.4f} px (limit {BOX_TOLERANCE_PX}), score logits "
                f"{d['max_score_logit']:.4f} (limit {SCORE_TOLERANCE}); nothing written"
            )
