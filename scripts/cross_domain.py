"""Cross-domain figures of a trained checkpoint on every photo of a dataset it never saw.

    python scripts/cross_domain.py runs/kdx_sxsw/model.pt ../shared/datasets/rps-cv

Prints the 4-class accuracy, the accuracy among throws only (argmax over rock/paper/scissors,
ignoring `none`) and the share of hand photos read as `none`: the model card's cross-domain table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.data import read_image, scan_dataset  # noqa: E402
from training.evaluate import predict_probs  # noqa: E402
from training.personalize import load_base_checkpoint  # noqa: E402
from vision.labels import Gesture  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a distill or train checkpoint (model.pt)")
    parser.add_argument("dataset", help="a dataset folder the checkpoint was not trained on")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    model, spec, _ = load_base_checkpoint(args.checkpoint)
    items = scan_dataset(args.dataset)
    root = Path(args.dataset)
    images = [read_image(str(root / rel)) for rel, _ in items]
    labels = np.array([label for _, label in items])
    probs = predict_probs(model, images, spec)
    none = Gesture.NONE.index
    throws = [i for i in range(probs.shape[1]) if i != none]
    result = {
        "images": len(items),
        "accuracy": float((probs.argmax(1) == labels).mean()),
        "throws_only": float((np.array(throws)[probs[:, throws].argmax(1)] == labels).mean()),
        "read_as_none": float((probs.argmax(1) == none).mean()),
        "interpolation": spec.interpolation,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
