"""``python -m training evaluate``: accuracy, precision/recall and confusion matrix.

Evaluates a checkpoint (PyTorch) or an exported model (ncnn) on datasets' test lists: accuracy,
per-class precision and recall, the confusion matrix printed and saved as PNG, and the training
curves as PNG when the run's history is known.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from training.commands.common import add_data_arguments, dataset_names, load_datasets
from vision.errors import UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--checkpoint", metavar="CKPT", help="a training checkpoint (.pt)")
    which.add_argument(
        "--model-dir", metavar="DIR", help="an exported model's folder or model.json"
    )
    add_data_arguments(p)
    p.add_argument("--list", metavar="FILE", help="evaluate the images of this list (one dataset)")
    p.add_argument(
        "--split",
        choices=("test", "train", "all"),
        default="test",
        help="which images: a split's list, or every image of the dataset (default test)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="where PNGs and report.json go (default: beside the checkpoint or model)",
    )
    p.add_argument("--threads", type=int, default=2, help="ncnn threads (default %(default)s)")


def items_for_evaluation(args: argparse.Namespace) -> list[tuple[str, list, list]]:
    """``[(name, items, train_items)]`` to evaluate, per dataset."""
    from training.data import read_list, scan_dataset

    if args.list:
        if len(args.data) != 1:
            raise UsageError("--list goes with exactly one DATA folder")
        root = Path(args.data[0]).resolve()
        items = [(root / rel, lab) for rel, lab in read_list(args.list)]
        return [(dataset_names(args.data)[0], items, [])]
    if args.split == "all":
        out = []
        for name, root in zip(dataset_names(args.data), args.data, strict=True):
            r = Path(root).resolve()
            out.append((name, [(r / rel, lab) for rel, lab in scan_dataset(r)], []))
        return out
    datasets = load_datasets(args.data, args.splits)
    if args.split == "train":
        return [(name, tr, []) for name, _, tr, _ in datasets]
    return [(name, te, tr) for name, _, tr, te in datasets]


def run_evaluation(predictor, sets, out_dir: Path, history: list | None = None) -> dict:
    """Evaluate ``[(name, items, train_items)]``, print and save the reports; returns accuracies."""
    from training.evaluate import (
        compute_report,
        evaluate_items,
        format_report,
        save_confusion_png,
        save_curves_png,
        shared_source,
        write_report_json,
    )

    results: dict = {"model": predictor.name, "datasets": {}}
    all_labels, all_preds = [], []
    for name, items, train_items in sets:
        report, probs, kept = evaluate_items(predictor, items)
        print(format_report(report, f"{name}: "))
        entry = report.to_dict()
        if train_items:
            shared = shared_source(kept, train_items)
            if any(shared):
                keep = [i for i, s in enumerate(shared) if not s]
                clean = compute_report([kept[i][1] for i in keep], probs[keep].argmax(1))
                entry["accuracy_without_shared_source"] = clean.accuracy
                entry["shared_source_images"] = int(sum(shared))
                print(
                    f"  without the {sum(shared)} test images that share a source photo with a "
                    f"training image: accuracy {clean.accuracy:.4f} on {clean.total}"
                )
        png = save_confusion_png(report, out_dir / f"confusion_{name}.png", f"{name}: ")
        print(f"  confusion matrix: {png}\n")
        results["datasets"][name] = entry
        all_labels += [lab for _, lab in kept]
        all_preds += list(probs.argmax(1))
    if len(sets) > 1:
        total = compute_report(all_labels, all_preds)
        print(format_report(total, "all datasets: "))
        save_confusion_png(total, out_dir / "confusion_all.png", "all: ")
        results["all"] = total.to_dict()
    if history:
        print(f"training curves: {save_curves_png(history, out_dir / 'curves.png')}")
    write_report_json(results, out_dir / "report.json")
    return results


def main(args: argparse.Namespace) -> int:
    from training.evaluate import CheckpointPredictor, NcnnPredictor

    sets = items_for_evaluation(args)
    history = None
    if args.checkpoint:
        predictor = CheckpointPredictor(args.checkpoint)
        history = predictor.checkpoint.get("history")
        default_out = Path(args.checkpoint).resolve().parent
    else:
        from vision.cores import checked_threads

        predictor = NcnnPredictor(args.model_dir, threads=checked_threads(args.threads))
        default_out = predictor.classifier.folder
        hist = default_out / "history.json"
        history = json.loads(hist.read_text()) if hist.is_file() else None
    run_evaluation(predictor, sets, Path(args.out) if args.out else default_out / "eval", history)
    return 0
