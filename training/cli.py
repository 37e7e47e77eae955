"""``python -m training``: split, train, evaluate and export the gesture model; see ``OVERVIEW``.

Parsing imports no torch; each subcommand imports what it needs when it runs. ``collect``,
``personalize`` and ``distill`` live in their own modules (``add_arguments(parser)`` and
``main(args) -> int``), imported only when that subcommand is asked for.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from training.config import (
    add_input_size_argument,
    add_train_arguments,
    config_from_args,
    input_size_of,
)
from vision.errors import RPSError

log = logging.getLogger("training")

PROG = "python -m training"
OVERVIEW = f"""\
{PROG}: build the rock-paper-scissors gesture model offline (PyTorch -> ncnn).

A dataset is a folder with one subfolder per class: rock/ paper/ scissors/ none/
(or the write-up's numbers 0/ scissors, 1/ rock, 2/ paper, 3/ none).

subcommands:
  all DATA... --out DIR     split, train, evaluate and export in one go
  split DATA                write train.txt/test.txt (80/20 per class, fixed seed)
  train DATA...             train a network, checkpointing every epoch (--resume continues)
  evaluate --checkpoint|--model-dir M DATA...
                            accuracy, precision/recall, confusion matrix (text and PNG)
  export --checkpoint C --out DIR
                            ncnn model + metadata, checked against PyTorch on real images
  info                      MACs and parameters of every network
  collect                   capture your own photos with the camera
  personalize [DATA]        fine-tune the model on your captures and install it
  distill                   train the small network from a pretrained teacher
  landmarks                 fetch and convert MediaPipe's hand-landmark networks
  hand                      fit the landmark recogniser's head (leave-one-set-out figures)
  fusion                    choose the default recogniser's rule (leave-one-set-out)

Run '{PROG} SUBCOMMAND --help' for a subcommand's options. '{PROG}' alone (or with
--source S, --out DATA, --count N) is a guided session: capture your hand, then personalise.
"""

#: Subcommands implemented in their own modules: name -> (module, one-line help).
EXTERNAL = {
    "collect": ("training.collect", "capture your own photos of each gesture with the camera"),
    "personalize": ("training.personalize", "fine-tune the model on your captures and install it"),
    "distill": ("training.distill", "train the small network from a pretrained teacher"),
    "landmarks": (
        "training.landmarks",
        "fetch MediaPipe's hand-landmark networks and convert them to ncnn (checked)",
    ),
    "hand": (
        "training.handcmd",
        "fit the landmark recogniser's gesture head on every set (leave-one-set-out figures)",
    ),
    "views": (
        "training.handviews",
        "leave-one-set-out on far, cut-off and blurred views of each set (finding hands)",
    ),
    "edge": (
        "training.edgereader",
        "fit the reader of hands no finder places (cut-off, blurred) and convert it to ncnn",
    ),
    "fusion": (
        "training.fusion",
        "choose when the default recogniser asks the CNN (leave-one-set-out figures)",
    ),
}


class Formatter(argparse.HelpFormatter):
    pass


# --- parser ------------------------------------------------------------------------------------


def _add_data_arguments(p: argparse.ArgumentParser, nargs: str = "+") -> None:
    p.add_argument("data", nargs=nargs, metavar="DATA", help="dataset folder(s) of class folders")
    p.add_argument(
        "--splits",
        metavar="DIR",
        help="where the train.txt/test.txt lists are (DIR/<dataset name>/ or DIR); "
        "default: inside each dataset folder",
    )


def _add_split_arguments(p: argparse.ArgumentParser, seed_flag: str = "--split-seed") -> None:
    p.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="share of each class for test (default %(default)s)",
    )
    p.add_argument(
        seed_flag, type=int, default=0, help="seed of the random split (default %(default)s)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (reusable in tests: ``build_parser().parse_args([...])``)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Build the gesture model: split datasets, train, evaluate, export to ncnn.",
        epilog=OVERVIEW.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")

    p = sub.add_parser(
        "split",
        help="write train.txt/test.txt for a dataset",
        formatter_class=Formatter,
        description="Write DATA's train.txt and test.txt ('relative/path label' per line, numeric "
        "labels 0 scissors 1 rock 2 paper 3 none): 80/20 stratified per class with a fixed seed, "
        "or the dataset's own test list (original_testing_split.txt) when it has one.",
    )
    p.add_argument("data", metavar="DATA", help="dataset folder of class folders")
    p.add_argument("--out", metavar="DIR", help="write the lists here (default: into DATA)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--test-list", metavar="FILE", help="use these images as the test set")
    group.add_argument(
        "--no-test-list",
        action="store_true",
        help="ignore a test list shipped with the dataset; split at random",
    )
    _add_split_arguments(p, seed_flag="--seed")

    p = sub.add_parser(
        "info",
        help="MACs and parameters of every network",
        formatter_class=Formatter,
        description="Print multiply-accumulates and parameters of each network at an input size.",
    )
    add_input_size_argument(p, default=(224, 224))

    p = sub.add_parser(
        "train",
        help="train a network on datasets' train lists",
        formatter_class=Formatter,
        description="Train on the train lists of one or more datasets, test on their test lists "
        "every epoch, checkpoint every epoch into --out (last.pt, best.pt, history.csv/json).",
    )
    _add_data_arguments(p)
    add_train_arguments(p)

    p = sub.add_parser(
        "evaluate",
        help="accuracy, precision/recall and confusion matrix",
        formatter_class=Formatter,
        description="Evaluate a checkpoint (PyTorch) or an exported model (ncnn) on datasets' test "
        "lists: accuracy, per-class precision and recall, confusion matrix printed and saved as "
        "PNG, training curves as PNG when the run's history is known.",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--checkpoint", metavar="CKPT", help="a training checkpoint (.pt)")
    which.add_argument(
        "--model-dir", metavar="DIR", help="an exported model's folder or model.json"
    )
    _add_data_arguments(p)
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

    p = sub.add_parser(
        "export",
        help="checkpoint -> ncnn model with metadata and parity check",
        formatter_class=Formatter,
        description="Export a checkpoint to ncnn (ONNX, onnxsim, pnnx) with its metadata, then run "
        "ncnn and PyTorch on real test images; fails, leaving no model behind, unless top-1 agrees "
        "on all and probabilities differ by at most 1e-3.",
    )
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="a training checkpoint")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the ncnn model")
    p.add_argument(
        "--test-images",
        nargs="+",
        metavar="PATH",
        help="images (or folders of images) for the parity check",
    )
    p.add_argument(
        "--data",
        nargs="+",
        metavar="DATA",
        help="take parity images from these datasets' test lists",
    )
    p.add_argument("--splits", metavar="DIR", help="where the datasets' lists are")
    p.add_argument(
        "--max-images", type=int, default=64, help="parity images at most (default %(default)s)"
    )

    p = sub.add_parser(
        "all",
        help="split, train, evaluate and export in one go",
        formatter_class=Formatter,
        description="Split each dataset (or reuse its lists), train on all train lists together, "
        "evaluate on each dataset's test list, and export the final model to ncnn. Writes "
        "<out>/splits, <out>/train (checkpoints, history), <out>/eval and <out>/model.",
    )
    p.add_argument("data", nargs="+", metavar="DATA", help="dataset folder(s) of class folders")
    _add_split_arguments(p)
    p.add_argument(
        "--pick",
        choices=("last", "best"),
        default="last",
        help="which checkpoint to export (default last; best is picked on the test set)",
    )
    add_train_arguments(p, out_help="folder for the whole run (default %(default)s)")

    for name, (_module, text) in EXTERNAL.items():
        sub.add_parser(name, help=text, description=text, add_help=False)
    return parser


# --- helpers -----------------------------------------------------------------------------------


def _is_main_process() -> bool:
    """False in the other ranks of a ``torchrun`` job (they train, but print and write nothing)."""
    return os.environ.get("RANK", "0") == "0"


def _fail(parser: argparse.ArgumentParser, message: str) -> None:
    parser.error(message)  # exits 2


def _writable(folder: Path) -> bool:
    """Writable, and not marked read-only (root ignores the mode bits, we do not)."""
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    return os.access(folder, os.W_OK) and bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def dataset_names(roots: Sequence[str | Path]) -> list[str]:
    """A distinct short name per dataset folder (its folder name, numbered if repeated)."""
    names: list[str] = []
    for root in roots:
        base = Path(root).resolve().name or "data"
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def _load_datasets(roots: Sequence[str], splits: str | None):
    """``[(name, root, train_items, test_items)]`` for each dataset."""
    from training.data import load_split

    out = []
    for name, root in zip(dataset_names(roots), roots, strict=True):
        lists = Path(splits) / name if splits and (Path(splits) / name).is_dir() else splits
        train_items, test_items = load_split(root, lists)
        out.append((name, Path(root), train_items, test_items))
    return out


def _data_info(datasets) -> list[dict]:
    from training.data import label_counts

    return [
        {
            "name": name,
            "root": str(root.resolve()),
            "train": len(tr),
            "test": len(te),
            "train_counts": label_counts(tr),
            "test_counts": label_counts(te),
        }
        for name, root, tr, te in datasets
    ]


# --- subcommands -------------------------------------------------------------------------------


def cmd_split(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from training.data import (
        counts_text,
        find_test_list,
        label_counts,
        split_dataset,
        write_split,
    )

    root = Path(args.data)
    if not 0.0 < args.test_fraction < 1.0:
        _fail(parser, f"--test-fraction must be between 0 and 1, not {args.test_fraction}")
    out = Path(args.out) if args.out else root
    if not args.out and root.is_dir() and not _writable(root):
        _fail(parser, f"{root} is read-only: pass --out DIR for the lists (then --splits DIR)")
    test_list = args.test_list
    if test_list is None and not args.no_test_list and root.is_dir():
        test_list = find_test_list(root)
        if test_list:
            print(f"using the dataset's own test list {test_list} (--no-test-list to ignore it)")
    if test_list is not None and not Path(test_list).is_file():
        _fail(parser, f"--test-list {test_list} does not exist")
    split = split_dataset(root, args.test_fraction, args.seed, test_list)
    train_path, test_path = write_split(split, out)
    print(f"{train_path}: {len(split.train)} images ({counts_text(label_counts(split.train))})")
    print(f"{test_path}: {len(split.test)} images ({counts_text(label_counts(split.test))})")
    return 0


def cmd_info(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import torch

    from training.models import MODELS, build_model, count_macs, count_params

    size = input_size_of(args, parser)
    torch.set_num_threads(min(4, torch.get_num_threads()))
    rows = []
    for name in MODELS:
        model = build_model(name)
        rows.append((name, count_macs(model, size), count_params(model)))
    ref = dict((n, m) for n, m, _ in rows).get("shufflenet_v2_x1_0")
    print(f"input {size[0]}x{size[1]} (height x width), 4 classes")
    print(f"{'model':<20}{'MMACs':>10}{'params (M)':>12}{'MACs vs 1.0x':>14}")
    for name, macs, params in rows:
        ratio = f"{macs / ref:.2f}" if ref else "-"
        print(f"{name:<20}{macs / 1e6:>10.2f}{params / 1e6:>12.3f}{ratio:>14}")
    return 0


def _check_out(parser: argparse.ArgumentParser, folder: str | Path, flag: str = "--out") -> None:
    """Exit 2 before any work when ``folder`` cannot be written (read-only, full, a file)."""
    from vision.paths import unwritable_reason

    if _is_main_process() and (problem := unwritable_reason(folder)):
        _fail(parser, f"{flag} {folder}: {problem}; pass a folder you can write to")


def cmd_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from training.train import train

    config = config_from_args(args, parser)
    _check_out(parser, config.out)
    datasets = _load_datasets(args.data, args.splits)
    train_items = [it for _, _, tr, _ in datasets for it in tr]
    test_items = [it for _, _, _, te in datasets for it in te]
    result = train(config, train_items, test_items, data_info=_data_info(datasets))
    if not _is_main_process():
        return 0
    best = "-" if result.best_acc is None else f"{result.best_acc:.4f}"
    print(f"checkpoints in {result.out_dir} (best test accuracy {best}, epoch {result.best_epoch})")
    return 0


def _items_for_evaluation(args, parser) -> list[tuple[str, list, list]]:
    """``[(name, items, train_items)]`` to evaluate, per dataset."""
    from training.data import read_list, scan_dataset

    if args.list:
        if len(args.data) != 1:
            _fail(parser, "--list goes with exactly one DATA folder")
        root = Path(args.data[0]).resolve()
        items = [(root / rel, lab) for rel, lab in read_list(args.list)]
        return [(dataset_names(args.data)[0], items, [])]
    if args.split == "all":
        out = []
        for name, root in zip(dataset_names(args.data), args.data, strict=True):
            r = Path(root).resolve()
            out.append((name, [(r / rel, lab) for rel, lab in scan_dataset(r)], []))
        return out
    datasets = _load_datasets(args.data, args.splits)
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


def cmd_evaluate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import json

    from training.evaluate import CheckpointPredictor, NcnnPredictor

    sets = _items_for_evaluation(args, parser)
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


def _parity_images(paths: Sequence[str]) -> list[Path]:
    from training.data import IMAGE_EXTS

    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTS)
        elif p.is_file():
            out.append(p)
    return out


def _spread(items: Sequence, n: int) -> list:
    """``n`` items spread over the list (all classes of a sorted list get some)."""
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def cmd_export(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from training.export import export_checkpoint

    if not args.test_images and not args.data:
        _fail(
            parser, "the parity check needs real images: pass --test-images PATH... or --data DATA"
        )
    images: list = _parity_images(args.test_images or [])
    if args.data:
        for _, _, _, te in _load_datasets(args.data, args.splits):
            images += [p for p, _ in te]
    if not images:
        _fail(parser, "no images found for the parity check in --test-images/--data")
    _check_out(parser, args.out)
    meta = export_checkpoint(args.checkpoint, args.out, _spread(images, args.max_images))
    print(f"exported {meta} (ncnn and PyTorch agree on {min(len(images), args.max_images)} images)")
    return 0


def cmd_all(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from training.data import find_test_list, split_dataset, write_split
    from training.evaluate import CheckpointPredictor
    from training.export import export_checkpoint
    from training.train import train

    if not 0.0 < args.test_fraction < 1.0:
        _fail(parser, f"--test-fraction must be between 0 and 1, not {args.test_fraction}")
    run = Path(args.out)
    config = config_from_args(args, parser)
    _check_out(parser, run)
    config.out = str(run / "train")
    splits = run / "splits"
    for name, root in zip(dataset_names(args.data), args.data, strict=True):
        if (splits / name / "test.txt").is_file() or (Path(root) / "test.txt").is_file():
            log.info("%s: reusing its existing train/test lists", name)
            continue
        test_list = find_test_list(root)
        split = split_dataset(root, args.test_fraction, args.split_seed, test_list)
        write_split(split, splits / name)
        how = f"test list {test_list.name}" if test_list else f"{args.test_fraction:.0%} per class"
        if _is_main_process():
            print(f"{name}: {len(split.train)} train, {len(split.test)} test ({how})")
    datasets = _load_datasets(args.data, str(splits))
    train_items = [it for _, _, tr, _ in datasets for it in tr]
    test_items = [it for _, _, _, te in datasets for it in te]
    result = train(config, train_items, test_items, data_info=_data_info(datasets))
    if not _is_main_process():
        return 0
    ckpt = result.last_checkpoint if args.pick == "last" else result.best_checkpoint
    sets = [(name, te, tr) for name, _, tr, te in datasets]
    results = run_evaluation(CheckpointPredictor(ckpt), sets, run / "eval", result.history)
    accuracy = {name: r["accuracy"] for name, r in results["datasets"].items()}
    for name, r in results["datasets"].items():
        if "accuracy_without_shared_source" in r:
            accuracy[f"{name} (no shared source)"] = r["accuracy_without_shared_source"]
    parity = _spread([p for p, _ in test_items], 64)
    meta = export_checkpoint(ckpt, run / "model", parity, accuracy=accuracy)
    print(f"exported {meta}")
    return 0


COMMANDS = {
    "split": cmd_split,
    "info": cmd_info,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "export": cmd_export,
    "all": cmd_all,
}


def run_external(name: str, argv: Sequence[str]) -> int:
    """Import ``collect``/``personalize``/``distill`` now and hand them their arguments."""
    module_name, text = EXTERNAL[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        print(f"{PROG} {name} is not available yet ({module_name} is missing)", file=sys.stderr)
        return 2
    from vision.helptext import plain

    doc = plain(module.__doc__ or text)
    parser = argparse.ArgumentParser(
        prog=f"{PROG} {name}", description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    module.add_arguments(parser)
    return int(module.main(parser.parse_args(list(argv))) or 0)


def guided(argv: Sequence[str] = ()) -> int:
    """``python -m training [--source S] [--out DATA] ...``: the guided personalisation."""
    try:
        from training import personalize
    except ImportError:
        personalize = None
    if not callable(getattr(personalize, "guided", None)):
        print(OVERVIEW)
        return 0
    if not argv:
        return int(personalize.guided() or 0)
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Guided session: check the camera, capture rock, paper, scissors and an "
        f"empty scene, then personalise the model. '{PROG} --help' lists the subcommands.",
    )
    personalize.add_guided_arguments(parser)
    args = parser.parse_args(list(argv))
    return int(
        personalize.guided(
            source=args.source,
            data_dir=args.out,
            count=args.count,
            countdown=args.countdown,
            kind=args.kind,
        )
        or 0
    )


def _is_guided(argv: Sequence[str]) -> bool:
    """No subcommand: nothing at all, or only the guided session's flags (``--source 1``)."""
    return not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help"))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    level = logging.INFO if _is_main_process() else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s")
    if _is_guided(argv):
        return guided(argv)
    if argv[0] in EXTERNAL:
        return run_external(argv[0], argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    sub = parser._subparsers._group_actions[0].choices[args.command]  # for errors with its usage
    try:
        return COMMANDS[args.command](args, sub)
    except RPSError as exc:  # a user's mistake found while running (bad dataset, bad checkpoint)
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk anywhere: one line, not a traceback
        from vision.diskspace import disk_full, is_disk_full

        if not is_disk_full(exc):
            raise
        where = Path(exc.filename).parent if exc.filename else Path.cwd()
        print(f"{PROG} {args.command}: error: {disk_full(where, None)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
