"""``python -m training hand``: fit the landmark recogniser's head on every shared set.

Reads (and caches) the landmarks of each set's photos and of augmented views of them, reports
leave-one-set-out figures (for each set: fitted on the others, tested on every photo of it),
then fits the head on all sets and writes the recogniser's metadata next to the network.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from training.config import positive_int
from training.hand import palm as palmdetector
from training.hand.data import AUGMENT_VERSION, Landmarks, set_landmarks
from training.hand.head import HeadConfig, leave_one_set_out, summarise, train_recipe
from training.hand.landmarks import BLOBS, HAND_DIR
from vision.errors import RPSError
from vision.hand import SEARCH_VERSION
from vision.labels import CLASS_ORDER
from vision.palm import MIN_SCORE
from vision.paths import atomic_write_text

log = logging.getLogger("training.hand")

#: The palm detector the recogniser ships with (see ``python -m training views``).
DETECTOR = "lite"
#: The side of the box's corner tiles the detector looks in again for a small hand (see
#: ``vision.hand.tiles``; ``python -m training views --tile``).
TILE = 0.6
DEFAULT_SETS = (
    "rps-sxsw", "rps-cv", "best-of-one", "hands-subhih",
    "finger-counting", "sign-digits", "roboflow-hands",
)  # fmt: skip


def add_data_argument(p: argparse.ArgumentParser) -> None:
    """The dataset folders, by default the seven shared sets."""
    p.add_argument(
        "data",
        type=Path,
        nargs="*",
        default=[Path("../shared/datasets") / s for s in DEFAULT_SETS],
        help="dataset folders (default: the seven shared sets under ../shared/datasets)",
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_data_argument(p)
    p.add_argument("--network", choices=("full", "lite"), default="full")
    p.add_argument(
        "--search-network",
        choices=("full", "lite"),
        default="lite",
        help="the network for the search crops of a box whose first pass saw no hand (full: "
        "LOSO mean 0.9296, worst set 0.798, best-of-one walls 0.976; lite: 0.9290, 0.799, 0.980)",
    )
    p.add_argument("--views", type=positive_int, default=3, help="views per photo")
    p.add_argument(
        "--hidden", type=int, nargs="*", default=[], help="hidden layer sizes (default: none)"
    )
    p.add_argument(
        "--embedding-dims",
        type=int,
        default=HeadConfig.embedding_dims,
        help="principal directions of the network's embedding the head reads besides the "
        "landmark features (0: none; LOSO mean / worst: 0: 0.9290 / 0.799, 8: 0.9299 / 0.799, "
        "32: 0.9313 / 0.791)",
    )
    p.add_argument("--epochs", type=positive_int, default=60)
    p.add_argument("--workers", type=positive_int, default=2)
    p.add_argument("--cache", type=Path, default=Path("runs/hand-cache"))
    p.add_argument("--out", type=Path, default=HAND_DIR, help="where model.json goes")
    p.add_argument("--no-loso", action="store_true", help="skip the leave-one-set-out figures")


def network_files(network: str, out: Path) -> tuple[str, str]:
    """The metadata's names for the network files (``shipped:`` when they are the shipped ones)."""
    names = (f"hand_landmark_{network}.ncnn.param", f"hand_landmark_{network}.ncnn.bin")
    if out.resolve() == HAND_DIR.resolve():
        return names
    return tuple(f"shipped:hand/{n}" for n in names)  # type: ignore[return-value]


def detector_metadata(
    variant: str, out: Path, before_search: bool = True, tile: float = TILE
) -> dict:
    """The metadata's palm detector (MediaPipe's, ``variant`` full or lite), its files named as
    the landmark network's are; ``tile``: the side of the corner tiles it looks in again for a
    small hand (0: none)."""
    stem = f"palm_detection_{variant}.ncnn"
    param, binary = (
        (f"{stem}.param", f"{stem}.bin")
        if out.resolve() == HAND_DIR.resolve()
        else (f"shipped:hand/{stem}.param", f"shipped:hand/{stem}.bin")
    )
    return {
        "network": f"MediaPipe palm_detection_{variant} (Apache-2.0), ncnn",
        "param": param,
        "bin": binary,
        "blobs": palmdetector.BLOBS,
        "min_score": MIN_SCORE,
        "before_search": before_search,
        "tile": tile,
    }


def metadata(
    recipe,
    network: str,
    out: Path,
    extra: dict,
    search: str = "lite",
    detector: str | None = DETECTOR,
) -> dict:
    param, binary = network_files(network, out)
    search_files = {}
    if search != network:  # a lighter network for the search crops
        param_s, bin_s = network_files(search, out)
        search_files = {"search_param": param_s, "search_bin": bin_s}
    return {
        "format": "rps-robot-model/1",
        "kind": "landmarks",
        "classes": [g.value for g in CLASS_ORDER],
        "network": f"MediaPipe hand_landmark_{network} (Apache-2.0), ncnn",
        "param": param,
        "bin": binary,
        "blobs": BLOBS,
        "presence_threshold": round(recipe.threshold, 4),
        **search_files,
        "weak_presence": 0.5,
        "mirror_pass": True,
        **({"detector": detector_metadata(detector, out)} if detector else {}),
        "head": recipe.head.to_metadata(),
        **extra,
    }


def load_sets(
    data: list[Path], network: str, cache: Path, views: int, workers: int, search: str = "lite"
) -> dict:
    """Each set's ``Landmarks`` (its photos and augmented views), read once and then cached;
    ``search``: the network of the search crops."""
    # cached landmarks follow the networks, the search and the augmentation
    tag = f"{network}-{search}search{SEARCH_VERSION}-aug{AUGMENT_VERSION}-emb"
    files = [str(HAND_DIR / f"hand_landmark_{network}.ncnn.{e}") for e in ("param", "bin")]
    if search != network:
        files += [str(HAND_DIR / f"hand_landmark_{search}.ncnn.{e}") for e in ("param", "bin")]
    model = (files[0], files[1], BLOBS, *files[2:])
    return {Path(d).name: set_landmarks(d, model, cache, views, 0, workers, tag) for d in data}


def main(args: argparse.Namespace) -> int:
    try:
        by_set = load_sets(
            args.data, args.network, args.cache, args.views, args.workers, args.search_network
        )
    except (RPSError, OSError) as exc:
        print(f"hand: {exc}", file=sys.stderr)
        return 2
    if args.embedding_dims < 0:
        print("hand: --embedding-dims must be 0 or more", file=sys.stderr)
        return 2
    cfg = HeadConfig(
        hidden=tuple(args.hidden), epochs=args.epochs, embedding_dims=args.embedding_dims
    )
    log.info("head: hidden %s, %d epochs; %d sets", cfg.hidden or "none", cfg.epochs, len(by_set))
    extra: dict = {
        "data": {name: int((m.views == 0).sum()) for name, m in by_set.items()},
        "views": args.views,
        "recipe": {
            "hidden": list(cfg.hidden),
            "epochs": cfg.epochs,
            "lr": cfg.lr,
            "embedding_dims": cfg.embedding_dims,
        },
    }
    if not args.no_loso and len(by_set) > 1:
        report = leave_one_set_out(by_set, cfg)
        extra["leave_one_set_out"] = report
        extra["leave_one_set_out_summary"] = summarise(report)
        for name, r in report.items():
            print(
                f"{name:16s} throws {r.get('throw_accuracy', float('nan')):.3f} "
                f"(found {r.get('found', float('nan')):.3f}, {r['throws']})  "
                f"none {r.get('none_accuracy', float('nan')):.3f} ({r['empty']})  "
                f"threshold {r['threshold']:.2f}"
            )
        print(json.dumps(extra["leave_one_set_out_summary"]))
    recipe = train_recipe(Landmarks.concat(list(by_set.values())), cfg)
    meta = metadata(recipe, args.network, args.out, extra, args.search_network)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "model.json"
    atomic_write_text(path, json.dumps(meta, indent=1) + "\n")
    print(f"wrote {path} (presence threshold {recipe.threshold:.2f}, {recipe.fit_views} views)")
    return 0
