"""PyTorch -> ONNX -> onnxsim -> ncnn (through pnnx), with metadata and a parity check."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
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


def pnnx_candidates() -> list[Path]:
    """Where the pnnx converter may be: PATH, inside the pip package, beside this Python."""
    found = []
    if exe := shutil.which("pnnx"):
        found.append(Path(exe))
    try:
        import pnnx  # the pip package ships the converter binary inside itself
    except ImportError:
        pnnx = None
    if pnnx is not None and getattr(pnnx, "__file__", None):
        package = Path(pnnx.__file__).parent
        found += [package / "pnnx", package / "bin" / "pnnx"]
    found.append(Path(sys.executable).parent / "pnnx")  # a venv's bin/, activated or not
    return found


def pnnx_binary() -> str:
    """The pnnx converter, wherever the installed package put it (a venv need not be active)."""
    for candidate in pnnx_candidates():
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise ModelError(
        "the pnnx converter was not found (looked on PATH, in the pnnx package and beside "
        f"{sys.executable}): pip install pnnx (the 'train' extra)"
    )


def export_ncnn(
    model: nn.Module,
    out_dir: str | Path,
    spec: Preprocessing,
    extra_metadata: dict | None = None,
    fp16: bool = False,
) -> Path:
    """Write ``model.ncnn.param``, ``model.ncnn.bin`` and ``model.json`` into ``out_dir``.

    ``fp16=True`` stores the weights as float16 (half the size; ncnn computes in float32 with
    ``exact=True``). Returns the metadata path. Files are written to a temporary folder and
    moved into place only when the conversion succeeded, so a failed export never leaves a
    half-written model.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    h, w = spec.input_size
    model = model.eval().cpu()
    with tempfile.TemporaryDirectory(prefix="rps-export-") as tmp:
        tmp = Path(tmp)
        torch_to_ncnn(model, tmp, "model", torch.zeros(1, 3, h, w), fp16)
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
    log.debug("converted to ncnn in %s", out_dir)
    return out_dir / METADATA_NAME


def torch_to_ncnn(
    model: nn.Module, work: Path, stem: str, example: torch.Tensor, fp16: bool
) -> tuple[Path, Path]:
    """The write-up's path: ``model`` -> ONNX (``to_onnx``) -> onnx-simplifier -> ncnn (pnnx),
    into ``work/<stem>.ncnn.param`` and ``.bin`` (blobs ``in0`` and ``out0``); ``fp16``: the
    weights stored as float16. ``ModelError`` when a step fails."""
    import onnx
    import onnxsim

    onnx_path = work / f"{stem}.onnx"
    to_onnx(model, onnx_path, example)
    simplified, ok = onnxsim.simplify(onnx.load(str(onnx_path)))
    if not ok:
        raise ModelError("onnx-simplifier could not validate the simplified model")
    onnx.save(simplified, str(onnx_path))
    shape = ",".join(str(n) for n in example.shape)
    cmd = [pnnx_binary(), onnx_path.name, f"inputshape=[{shape}]", f"fp16={int(fp16)}"]
    run = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    param, binary = work / f"{stem}.ncnn.param", work / f"{stem}.ncnn.bin"
    if run.returncode != 0 or not param.exists() or not binary.exists():
        raise ModelError(f"pnnx failed ({run.returncode}): {run.stderr[-2000:]}")
    return param, binary


def to_onnx(
    model: nn.Module,
    path: Path,
    example: torch.Tensor,
    *,
    input_name: str = INPUT_BLOB,
    output_name: str = OUTPUT_BLOB,
    dynamic_batch: bool = False,
) -> Path:
    """``model`` as ONNX through torch.export (``dynamo=True``), not the deprecated TorchScript
    exporter. Measured on the shipped liteconv: the same 94-line ncnn graph after onnxsim and
    pnnx and the same parity (largest probability difference 1.5e-6 either way, 32 photos), 6 s
    against 3 s; on the edge reader's trunk the same onnxruntime features (6.9e-6 from torch
    either way). Its notes about torch's own internals (pytree deprecations, torchvision ops
    it skips) are not the user's to act on and are kept out of the output. ``dynamic_batch``:
    any batch size (onnxruntime reads views 32 at a time)."""
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)
    shapes = ({0: torch.export.Dim("n", min=1, max=4096)},) if dynamic_batch else None
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                model,
                (example,),
                str(path),
                input_names=[input_name],
                output_names=[output_name],
                opset_version=18,
                dynamo=True,
                dynamic_shapes=shapes,
                verbose=False,
            )
    finally:
        onnx_log.setLevel(level)
    return path


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


def _as_images(images: Sequence[np.ndarray | str | Path]) -> list[np.ndarray]:
    from training.data import read_image

    out = []
    for img in images:
        bgr = img if isinstance(img, np.ndarray) else read_image(img)
        if bgr is not None:
            out.append(bgr)
        else:
            log.warning("parity check: skipping unreadable image %s", img)
    return out


def export_checkpoint(
    checkpoint_path: str | Path,
    out_dir: str | Path,
    test_images: Sequence[np.ndarray | str | Path],
    *,
    accuracy: dict | None = None,
    data: dict | list | None = None,
    max_images: int = 64,
    tol: float = 1e-3,
    fp16: bool = False,
) -> Path:
    """Checkpoint -> ncnn model in ``out_dir`` with metadata, checked for parity on real images.

    The model is exported into a temporary folder beside ``out_dir`` and moved into place only
    after ncnn and PyTorch agreed on every test image (top-1, probabilities within ``tol``);
    otherwise ``ModelError`` is raised and ``out_dir`` is left as it was. Returns the metadata path.
    """
    from training.checkpoint import load_checkpoint, model_from_checkpoint
    from training.models import count_macs, count_params
    from training.train import empty_class_warnings

    ckpt = load_checkpoint(checkpoint_path)
    model, spec = model_from_checkpoint(ckpt)
    images = _as_images(list(test_images)[:max_images])
    if not images:
        raise ModelError("the parity check needs real test images: pass --test-images or --data")
    config = dict(ckpt.get("config") or {})
    recipe = {k: v for k, v in config.items() if k not in ("out", "resume", "progress", "device")}
    extra = {
        "model": ckpt["model_name"],
        "macs": count_macs(model, spec.input_size),
        "params": count_params(model),
        "recipe": recipe,
        "epochs_trained": ckpt.get("epoch"),
        "data": data if data is not None else ckpt.get("data"),
        "accuracy": accuracy if accuracy is not None else {"test": ckpt.get("test_acc")},
    }
    counts = ckpt.get("train_counts") or _train_counts(extra["data"])
    if counts is not None:
        extra["train_counts"] = counts
        if warnings := empty_class_warnings(counts):
            extra["warnings"] = warnings  # the model card says what this model cannot do
            for warning in warnings:
                log.warning("warning: %s", warning)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}-", dir=out_dir.parent) as tmp:
        meta_path = export_ncnn(model, tmp, spec, {**extra, "fp16_weights": fp16}, fp16=fp16)
        worst = check_parity(model, meta_path, images, tol)
        meta = json.loads(meta_path.read_text())
        meta["parity"] = {"images": len(images), "max_prob_diff": worst, "tolerance": tol}
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in (PARAM_NAME, BIN_NAME, METADATA_NAME):
            os.replace(Path(tmp) / name, out_dir / name)
    log.info("parity on %d images: max prob diff %.2e", len(images), worst)
    log.info("exported the ncnn model to %s", out_dir)
    return out_dir / METADATA_NAME


def _train_counts(data) -> dict[str, int] | None:
    """Training images per class from a checkpoint's data description (older checkpoints)."""
    if not isinstance(data, list) or not all(
        isinstance(d, dict) and isinstance(d.get("train_counts"), dict) for d in data
    ):
        return None
    total: dict[str, int] = {g.value: 0 for g in CLASS_ORDER}
    for d in data:
        for name, n in d["train_counts"].items():
            total[name] = total.get(name, 0) + int(n)
    return total


def compact_state_dict(state: dict) -> tuple[dict, dict]:
    """A state dict small enough to ship beside the ncnn model, for fine-tuning.

    Convolution and linear weights become int8 with one float32 scale per output channel
    (symmetric, max-abs); every other float tensor becomes float16. Returns ``(tensors,
    scales)``; ``expand_state_dict`` undoes it (to within int8 rounding).
    """
    tensors, scales = {}, {}
    for name, value in state.items():
        if value.is_floating_point() and value.dim() >= 2:
            flat = value.float().reshape(value.shape[0], -1)
            scale = flat.abs().amax(1).clamp_min(1e-12) / 127.0
            tensors[name] = (flat / scale[:, None]).round().to(torch.int8).reshape(value.shape)
            scales[name] = scale
        elif value.is_floating_point():
            tensors[name] = value.half()
        else:
            tensors[name] = value
    return tensors, scales


def expand_state_dict(tensors: dict, scales: dict | None = None) -> dict:
    """A float32 state dict from ``compact_state_dict``'s output (or from float16 weights)."""
    scales = scales or {}
    state = {}
    for name, value in tensors.items():
        if name in scales:
            shape = (-1,) + (1,) * (value.dim() - 1)
            state[name] = value.float() * scales[name].float().reshape(shape)
        else:
            state[name] = value.float() if value.is_floating_point() else value
    return state
