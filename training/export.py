"""PyTorch -> ONNX -> onnxsim -> ncnn (through pnnx), with metadata and a parity check."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vision.errors import ModelError
from vision.labels import CLASS_ORDER
from vision.paths import METADATA_NAME
from vision.preprocess import Preprocessing, prepare

log = logging.getLogger(__name__)

INPUT_BLOB = "in0"
OUTPUT_BLOB = "out0"
PARAM_NAME = "model.ncnn.param"
BIN_NAME = "model.ncnn.bin"


def _pnnx_binary() -> str:
    exe = shutil.which("pnnx")
    if exe:
        return exe
    import pnnx  # the pip package ships the converter binary

    candidate = Path(pnnx.__file__).parent / "bin" / "pnnx"
    if candidate.exists():
        return str(candidate)
    raise ModelError("the pnnx converter was not found: pip install pnnx (the 'train' extra)")


def export_ncnn(
    model: nn.Module,
    out_dir: str | Path,
    spec: Preprocessing,
    extra_metadata: dict | None = None,
) -> Path:
    """Write ``model.ncnn.param``, ``model.ncnn.bin`` and ``model.json`` into ``out_dir``.

    Returns the metadata path. Files are written to a temporary folder and moved into place
    only when the conversion succeeded, so a failed export never leaves a half-written model.
    """
    import onnx
    import onnxsim

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    h, w = spec.input_size
    model = model.eval().cpu()
    with tempfile.TemporaryDirectory(prefix="rps-export-") as tmp:
        tmp = Path(tmp)
        onnx_path = tmp / "model.onnx"
        with torch.no_grad():
            torch.onnx.export(
                model,
                (torch.zeros(1, 3, h, w),),
                str(onnx_path),
                input_names=[INPUT_BLOB],
                output_names=[OUTPUT_BLOB],
                opset_version=13,
                dynamo=False,
            )
        simplified, ok = onnxsim.simplify(onnx.load(str(onnx_path)))
        if not ok:
            raise ModelError("onnx-simplifier could not validate the simplified model")
        sim_path = tmp / "model.onnx"
        onnx.save(simplified, str(sim_path))
        cmd = [_pnnx_binary(), sim_path.name, f"inputshape=[1,3,{h},{w}]", "fp16=0"]
        run = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        param, binary = tmp / "model.ncnn.param", tmp / "model.ncnn.bin"
        if run.returncode != 0 or not param.exists() or not binary.exists():
            raise ModelError(f"pnnx failed ({run.returncode}): {run.stderr[-2000:]}")
        meta = {
            "format": "rps-robot-model/1",
            "classes": [g.value for g in CLASS_ORDER],
            **spec.to_metadata(),
            "param": PARAM_NAME,
            "bin": BIN_NAME,
            "input_blob": INPUT_BLOB,
            "output_blob": OUTPUT_BLOB,
            "output": "logits",
            **(extra_metadata or {}),
        }
        (tmp / METADATA_NAME).write_text(json.dumps(meta, indent=2) + "\n")
        for name in (PARAM_NAME, BIN_NAME, METADATA_NAME):
            shutil.move(str(tmp / name), str(out_dir / name))
    log.info("exported ncnn model to %s", out_dir)
    return out_dir / METADATA_NAME


def torch_probs(model: nn.Module, batch: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(model.eval()(torch.from_numpy(batch)), 1).numpy()


def check_parity(
    model: nn.Module, metadata_path: str | Path, images: Sequence[np.ndarray], tol: float = 1e-3
) -> float:
    """Run the exported ncnn model and the PyTorch model on ``images``; raise unless they agree.

    Returns the largest absolute probability difference seen.
    """
    from vision.classifier import GestureClassifier

    if not images:
        raise ModelError("the parity check needs at least one image")
    clf = GestureClassifier(metadata_path, threads=1, exact=True)
    spec = clf.preprocessing
    batch = np.stack([prepare(img, spec) for img in images])
    ref = torch_probs(model, batch)
    worst = 0.0
    for i, img in enumerate(images):
        got = clf(img).probs
        diff = float(np.abs(got - ref[i]).max())
        worst = max(worst, diff)
        if int(np.argmax(got)) != int(np.argmax(ref[i])) or diff > tol:
            raise ModelError(
                f"ncnn and PyTorch disagree on image {i}: top-1 {int(np.argmax(got))} vs "
                f"{int(np.argmax(ref[i]))}, max prob diff {diff:.2e} (tolerance {tol:.0e})"
            )
    return worst
