"""Measure personalisation: accuracy on a person's later frames after their first captures.

    python scripts/measure_personalize.py --base assets/models/model.pt [--sets best-of-one ...]
    python scripts/measure_personalize.py --mode scenarios --scenario all   # the older scenarios

``--mode sessions`` (the default; issue 14): for every shared set with one person or capture
session per folder of captures, the first ``--captures`` (50) images of each class in file order
(numbers compared as numbers) are the captures and the images from the ``--test-from``-th (75th)
on are the test, as a new user would capture and then play. Sessions:

- ``best-of-one``: one person, one wall; the whole set is one session (``1.jpg`` ... ``250.jpg``).
- ``hands-subhih``: the file name's prefix before ``_pic`` is the session (``2_pic00038_b1.jpg``
  is session ``2``, as in SOURCES.csv's upstream names); only sessions with ``--captures`` images
  of every throw qualify (today: session ``2``; its rock has too few for a rock test).
- ``finger-counting``: ``Set1_``/``Set2_`` are the sessions; the set has no rock, so no session
  qualifies (personalisation needs every class) and the table says so.
- ``rps-cv``: its file names are random, so the whole set is one session (a few people, one table).
- ``rps-sxsw``: many strangers in many rooms, none of it in sessions; the whole set stands in
  for one player as hard to read as all of them together (the far proxy's hardest case: the
  finders miss a sixth of its far hands).

A set without ``none`` gets generated empty scenes for it (``rps-cv``: its table with the hand
removed; ``hands-subhih``: a generated room, jittered), said in the table. The base model should
be trained without the set (leave-one-set-out) so the person is a stranger: ``--base PATH`` is
that model's PyTorch checkpoint (training one per set is too slow for a 2-core CPU; the shipped
model is trained on rps-sxsw and rps-cv, so it is a stranger to every set here but ``rps-cv``,
which the table marks when the base's ``model.json`` lists the set). "before" is the base model
(PyTorch) on the test images, "after" the installed ncnn model; "held-back check" is what
``personalize`` itself saw on the captures' latest fifth, against the base's ncnn export when it
sits beside ``--base`` (else the shipped model), and whether it would have installed the model.

``--view far`` or ``--view cut`` (issue 22's proxy for players whose hands are hard to find):
every throw capture and every later throw frame is first turned into that view of itself, as
``python -m training views`` builds them (``training.hand.views``: shrunk to 20-50% of the box on
a real empty scene, or 20-45% pushed out at an edge), seeded by its file, so the person holds
the hand far (or cut) both while capturing and while playing; empty scenes stay as they are.

``--mode scenarios`` keeps the older figures (issue 6): rps-cv's test split as it is, keyed onto a
generated room, and rps-sxsw's test split; see ``scenario_images``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training import personalize, synth  # noqa: E402
from training.data import IMAGE_EXTS, find_test_list, read_image, split_dataset  # noqa: E402
from training.evaluate import compute_report  # noqa: E402
from vision.classifier import GestureClassifier  # noqa: E402
from vision.labels import CLASS_ORDER, Gesture  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
RPS_CV = DATASETS / "rps-cv"
RPS_SXSW = DATASETS / "rps-sxsw"
SESSION_SETS = ("best-of-one", "hands-subhih", "finger-counting", "rps-cv", "rps-sxsw")
SCENARIOS = ("rps-cv", "new-room", "rps-sxsw")
GOAL_SECONDS = 300
GOAL_ACCURACY = 0.98


def jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A hand-held camera: a small shift, zoom and tilt, a change of light, sensor noise."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-4, 4), rng.uniform(1.0, 1.1))
    m[:, 2] += rng.uniform(-0.04, 0.04, 2) * (w, h)
    out = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT_101).astype(np.float32)
    out = out * rng.uniform(0.85, 1.15) + rng.normal(0, 3, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def scenario_images(
    scenario: str, per_class: int, split_seed: int, seed: int, none_heldout: int
) -> tuple[dict[Gesture, list[np.ndarray]], dict[Gesture, list[np.ndarray]]]:
    """(captures, held-out) images per class for one scenario."""
    rng = np.random.default_rng(seed)
    root = RPS_SXSW if scenario == "rps-sxsw" else RPS_CV
    test = split_dataset(root, 0.2, seed=split_seed, test_list=find_test_list(root)).test
    photos: dict[Gesture, list[np.ndarray]] = {g: [] for g in CLASS_ORDER}
    for rel, label in test:
        photos[CLASS_ORDER[label]].append(read_image(root / rel))
    room = synth.room(np.random.default_rng(seed + 1000), (200, 300))
    all_photos = [img for g in CLASS_ORDER for img in photos[g]]

    def scene(hand: np.ndarray | None) -> np.ndarray:
        if scenario == "rps-cv":
            if hand is None:
                return synth.empty_table(all_photos[rng.integers(len(all_photos))], rng)
            return hand
        if scenario == "rps-sxsw":  # its own people and rooms; no empty scenes of them exist
            return hand if hand is not None else jitter(room, rng)
        background = jitter(room, rng)
        return background if hand is None else synth.composite(hand, background, rng)

    captures, heldout = {}, {}
    for g in CLASS_ORDER:
        if g is Gesture.NONE:
            captures[g] = [scene(None) for _ in range(per_class)]
            heldout[g] = [scene(None) for _ in range(none_heldout)]
            continue
        order = rng.permutation(len(photos[g]))
        images = [scene(photos[g][i]) for i in order]
        captures[g], heldout[g] = images[:per_class], images[per_class:]
    return captures, heldout


def write_captures(captures: dict[Gesture, list[np.ndarray]], data: Path) -> None:
    for g, images in captures.items():
        (data / g.value).mkdir(parents=True)
        for i, img in enumerate(images):
            cv2.imwrite(str(data / g.value / f"{g.value}_{i:04d}.jpg"), img)


def measure(scenario: str, args: argparse.Namespace) -> dict:
    captures, heldout = scenario_images(
        scenario, args.per_class, args.split_seed, args.seed, args.none_heldout
    )
    images = [img for g in CLASS_ORDER for img in heldout[g]]
    labels = [g.index for g in CLASS_ORDER for _ in heldout[g]]
    with tempfile.TemporaryDirectory(prefix="rps-measure-") as tmp:
        tmp = Path(tmp)
        write_captures(captures, tmp / "captures")
        if args.save_examples:
            for g in CLASS_ORDER:
                cv2.imwrite(f"/tmp/measure_{scenario}_{g.value}.jpg", captures[g][0])
        start = time.perf_counter()
        result = personalize.personalize(
            tmp / "captures",
            epochs=args.epochs,
            base_checkpoint=args.base_checkpoint,
            models_dir=tmp / "models",
            lr=args.lr,
            frozen=tuple(args.freeze),
            force=True,
            progress=not args.no_progress,
            kind="cnn",
        )
        seconds = time.perf_counter() - start
        base, spec, _ = personalize.load_base_checkpoint(args.base_checkpoint)
        before = compute_report(labels, personalize.predict(base, images, spec))
        clf = GestureClassifier(result.model_dir, threads=args.threads)
        after = compute_report(labels, [clf(img).label.index for img in images])
    return {
        "scenario": scenario,
        "captures_per_class": args.per_class,
        "heldout": {g.value: len(heldout[g]) for g in CLASS_ORDER},
        "seconds_total": round(seconds, 1),
        "seconds_training": round(result.train_seconds, 1),
        "epochs": args.epochs,
        "lr": args.lr,
        "frozen": args.freeze,
        "accuracy_before": round(before.accuracy, 4),
        "accuracy_after": round(after.accuracy, 4),
        "recall_after": after.recall,
        "own_test_split_before_after": [result.accuracy_before, result.accuracy_after],
        "confusion_after": after.confusion.tolist(),
        "goal_met": seconds <= GOAL_SECONDS and after.accuracy >= GOAL_ACCURACY,
    }


# --- sessions: one person's first captures, then their later frames -----------------------------


def session_of(set_name: str, name: str) -> str:
    """Which capture session a file of a set belongs to (see the module docstring)."""
    if set_name == "hands-subhih":
        return name.split("_pic")[0] if "_pic" in name and not name.startswith("pic") else "?"
    if set_name == "finger-counting":
        return name.split("_")[0]
    return set_name


def sessions(set_name: str) -> dict[str, dict[Gesture, list[Path]]]:
    """``{session: {class: files in file order}}`` of a shared set (classes it has only)."""
    root = DATASETS / set_name
    out: dict[str, dict[Gesture, list[Path]]] = {}
    for g in CLASS_ORDER:
        folder = root / g.value
        if not folder.is_dir():
            continue
        files = [f for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXTS]
        for f in sorted(files, key=lambda f: personalize.capture_key(Path(f.name))):
            out.setdefault(session_of(set_name, f.name), {}).setdefault(g, []).append(f)
    return out


def generated_none(set_name: str, photos: list[Path], n: int, seed: int) -> list[np.ndarray]:
    """Empty scenes for a set without ``none``: its own table (rps-cv) or a generated room."""
    rng = np.random.default_rng(seed)
    if set_name == "rps-cv":
        pool = [read_image(p) for p in photos[:: max(1, len(photos) // 60)]]
        return [synth.empty_table(pool[rng.integers(len(pool))], rng) for _ in range(n)]
    room = synth.room(np.random.default_rng(seed + 1000), (240, 240))
    return [jitter(room, rng) for _ in range(n)]


def base_datasets(base: Path) -> list[str]:
    """The data sets the base model was trained on, from the ``model.json`` beside it."""
    meta = base.parent / "model.json"
    if not meta.is_file():
        return []
    return list(json.loads(meta.read_text()).get("data", {}).get("datasets", []))


def landmark_base(args, set_name: str) -> Path:
    """The landmark recogniser to start from: ``--loso DIR``'s head fitted without this set
    (``DIR/<set>/model.json``, from ``python -m training hand <the other sets> --out
    DIR/<set> --no-loso``), else the shipped one. A ``--loso`` head without an edge reader
    (``training hand`` writes none) is given the shipped one with a head fitted without the set
    too (``scripts/measure_edge_personal.py``'s cache), so that every part is a stranger."""
    if args.loso is not None:
        folder = args.loso / set_name
        if not (folder / "model.json").is_file():
            sys.exit(f"no {folder / 'model.json'}: python -m training hand ... --out {folder}")
        meta = json.loads((folder / "model.json").read_text())
        if "edge" not in meta:
            meta["edge"] = stranger_edge(set_name)
            (folder / "model.json").write_text(json.dumps(meta, indent=1) + "\n")
            print(f"{folder}: gave it the edge reader with a head fitted without {set_name}")
        return folder
    return ROOT / "assets" / "hand"


def stranger_edge(set_name: str) -> dict:
    """The shipped edge reader's metadata (files named ``shipped:``) with a head fitted on the
    other sets' far, cut and blurred views and empty scenes."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from measure_edge_personal import stranger_cache

    from training.hand.edge import fit_head, head_metadata

    edge = json.loads((ROOT / "assets" / "hand" / "model.json").read_text())["edge"]
    d = stranger_cache(ROOT / "runs" / "edge-stranger.npz")
    keep = d["set"] != set_name
    files = {k: f"shipped:hand/{edge[k]}" for k in ("param", "bin")}
    head = head_metadata(*fit_head(d["imagenet"][keep], d["label"][keep]))
    return {**edge, **files, "head": head, "data": {"without": set_name}}


def cnn_part(args, set_name: str) -> Path | None:
    """The CNN part to fuse (and fine-tune) for a set: ``--cnn-part SET=DIR`` (a CNN trained
    without the set, with its ``model.pt``), else the default's own."""
    for spec in args.cnn_part:
        name, _, folder = spec.partition("=")
        if name == set_name:
            return Path(folder)
    return None


def fused_base(hand: Path, tmp: Path, cnn: Path | None = None) -> Path:
    """The shipped fusion rule over ``hand`` and ``cnn`` (default: the default's CNN part), as a
    model folder."""
    meta = json.loads((ROOT / "assets" / "default" / "model.json").read_text())
    meta["parts"] = {**meta["parts"], "landmarks": str(hand.resolve())}
    if cnn is not None:
        meta["parts"]["cnn"] = str(cnn.resolve())
    folder = tmp / "fused-base"
    folder.mkdir(exist_ok=True)
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


def as_view(path: Path, args) -> np.ndarray | None:
    """The photo at ``path`` as ``args.view`` makes it (plain: as it is), seeded by its name."""
    img = read_image(path)
    if img is None or args.view == "plain":
        return img
    import zlib

    from training.hand import views as handviews

    if not hasattr(args, "_scenes"):
        args._scenes = [read_image(p) for p in handviews.scene_files(DATASETS)]
    rng = np.random.default_rng([args.seed, zlib.crc32(f"{path.name}|{args.view}".encode())])
    return handviews.make_view(args.view, img, rng, args._scenes)


def measure_session(set_name: str, session: str, files, args) -> dict:
    """Personalise on the session's first captures; score base and result on its later frames."""
    row = {"set": set_name, "session": session, "notes": []}
    if args.view != "plain":
        row["notes"].append(f"{args.view} views of every throw")
    throws_short = [
        g.value
        for g in CLASS_ORDER
        if g is not Gesture.NONE and len(files.get(g, [])) < args.captures
    ]
    if throws_short:
        row["skipped"] = f"fewer than {args.captures} images of {', '.join(throws_short)}"
        return row
    test = [(p, g) for g, fs in files.items() for p in fs[args.test_from :]]
    trained_on = (
        base_datasets(args.base)
        if args.kind == "cnn"
        else list(json.loads((landmark_base(args, set_name) / "model.json").read_text())["data"])
    )
    if set_name in trained_on:
        row["notes"].append("the base was trained on this set")
    cnn = cnn_part(args, set_name)
    if args.kind == "fused":
        row["cnn_part"] = str(cnn or ROOT / "assets" / "default" / "cnn")
        if set_name in base_datasets(Path(row["cnn_part"]) / "model.pt"):
            row["notes"].append("its CNN part was trained on this set")
    with tempfile.TemporaryDirectory(prefix="rps-measure-") as tmp:
        data = Path(tmp) / "captures"
        for g in CLASS_ORDER:
            (data / g.value).mkdir(parents=True)
            if g in files:
                for i, src in enumerate(files[g][: args.captures]):
                    dest = data / g.value / f"{i:04d}{src.suffix.lower()}"
                    if args.view == "plain" or g is Gesture.NONE:
                        dest.write_bytes(src.read_bytes())
                    else:
                        cv2.imwrite(str(dest.with_suffix(".jpg")), as_view(src, args))
        test_images = [read_image(p) if g is Gesture.NONE else as_view(p, args) for p, g in test]
        labels = [g.index for _, g in test]
        if Gesture.NONE not in files:
            photos = [p for fs in files.values() for p in fs]
            scenes = generated_none(set_name, photos, args.captures + 100, args.seed)
            for i, img in enumerate(scenes[: args.captures]):
                cv2.imwrite(str(data / "none" / f"{i:04d}.jpg"), img)
            test_images += scenes[args.captures :]
            labels += [Gesture.NONE.index] * (len(scenes) - args.captures)
            row["notes"].append("none: generated empty scenes")
        start = time.perf_counter()
        if args.kind == "cnn":
            beside = args.base.parent
            result = personalize.personalize(
                data, epochs=args.epochs, base_checkpoint=args.base,
                models_dir=Path(tmp) / "models", lr=args.lr, frozen=tuple(args.freeze),
                force=True, progress=not args.no_progress, kind="cnn",
                current_model=beside if (beside / "model.json").is_file() else None,
            )  # fmt: skip
            row["seconds"] = round(time.perf_counter() - start, 1)
            base, spec, _ = personalize.load_base_checkpoint(args.base)
            before = compute_report(labels, personalize.predict(base, test_images, spec))
        else:
            hand_base = landmark_base(args, set_name)
            if args.kind == "landmarks":
                current = hand_base
            else:
                current = fused_base(hand_base, Path(tmp), cnn)
            result = personalize.personalize(
                data, models_dir=Path(tmp) / "models", force=True, kind=args.kind,
                current_model=current, base_recogniser=current, epochs=args.epochs,
                progress=not args.no_progress,
            )  # fmt: skip
            row["seconds"] = round(time.perf_counter() - start, 1)
            row["base"] = str(hand_base)
            clf = GestureClassifier(current, threads=args.threads)
            before = compute_report(labels, [clf(img).label.index for img in test_images])
        clf = GestureClassifier(result.model_dir, threads=args.threads)
        after = compute_report(labels, [clf(img).label.index for img in test_images])
    per_class = {CLASS_ORDER[k].value: labels.count(k) for k in sorted(set(labels))}
    row.update(
        test_images=len(labels),
        test_per_class=per_class,
        accuracy_before=round(before.accuracy, 4),
        accuracy_after=round(after.accuracy, 4),
        heldback_before_after=[round(result.accuracy_before, 4), round(result.accuracy_after, 4)],
        would_install=result.refused is None,  # the rule as personalize applies it
        refused=result.refused,
        confusion_after=after.confusion.tolist(),
    )
    return row


def print_table(rows: list[dict], args) -> None:
    print(
        f"\nkind {args.kind}, base {args.loso or args.base}; {args.captures} captures a class, "
        f"test from image {args.test_from} on; {args.epochs} epochs, {args.threads} threads\n"
    )
    print("| set / session | later frames | base -> personalised | held-back check | time |")
    print("|---|---:|---:|---|---:|")
    for r in rows:
        name = f"`{r['set']}`" + (f" {r['session']}" if r["session"] != r["set"] else "")
        if "skipped" in r:
            print(f"| {name} | skipped: {r['skipped']} | | | |")
            continue
        hb = r["heldback_before_after"]
        verdict = "installs" if r["would_install"] else f"refused: {r.get('refused')}"
        check = f"{hb[0]:.2f} -> {hb[1]:.2f}, {verdict}"
        notes = f" ({'; '.join(r['notes'])})" if r["notes"] else ""
        print(
            f"| {name}{notes} | {r['test_images']} | {r['accuracy_before']:.3f} -> "
            f"**{r['accuracy_after']:.3f}** | {check} | {r['seconds']:.0f} s |"
        )
    measured = [r for r in rows if "skipped" not in r]
    if measured:
        worst = min(r["accuracy_after"] for r in measured)
        mean = sum(r["accuracy_after"] for r in measured) / len(measured)
        print(f"\nmean after {mean:.3f}, worst {worst:.3f} (goal: every person >= {GOAL_ACCURACY})")
        # what each person plays with: the candidate where it is installed, else the model in use
        kept = [r["accuracy_after" if r["would_install"] else "accuracy_before"] for r in measured]
        print(f"as installed: mean {sum(kept) / len(kept):.3f}, worst {min(kept):.3f}")


def run_sessions(args) -> int:
    rows = []
    for set_name in args.sets:
        found = sessions(set_name)
        names = sorted(found, key=lambda k: -sum(len(v) for v in found[k].values()))
        if args.max_sessions:
            names = names[: args.max_sessions]
        for session in names:
            row = measure_session(set_name, session, found[session], args)
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "confusion_after"}), flush=True)
    print_table(rows, args)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    measured = [r for r in rows if "skipped" not in r]
    return 0 if measured and all(r["accuracy_after"] >= GOAL_ACCURACY for r in measured) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("sessions", "scenarios"), default="sessions")
    parser.add_argument(
        "--kind", choices=tuple(personalize.RECOGNISERS), default="cnn",
        help="which recogniser to personalise (sessions; default cnn)",
    )  # fmt: skip
    parser.add_argument(
        "--loso", type=Path, help="folder of landmark heads fitted without each set (DIR/<set>)"
    )
    parser.add_argument(
        "--cnn-part", nargs="*", default=[], metavar="SET=DIR",
        help="--kind fused: the CNN part for SET, trained without it (default: the default's)",
    )  # fmt: skip
    parser.add_argument(
        "--base", "--base-checkpoint", dest="base", type=Path, default=personalize.BASE_CHECKPOINT,
        help="PyTorch checkpoint to personalise (ideally trained without the set measured)",
    )  # fmt: skip
    parser.add_argument("--sets", nargs="+", choices=SESSION_SETS, default=list(SESSION_SETS))
    parser.add_argument(
        "--view", choices=("plain", "far", "cut"), default="plain",
        help="sessions: turn every throw capture and later frame into this view of itself",
    )  # fmt: skip
    parser.add_argument("--captures", type=int, default=50, help="captures per class (sessions)")
    parser.add_argument("--test-from", type=int, default=75, help="first test image (sessions)")
    parser.add_argument("--max-sessions", type=int, default=0, help="per set, largest first")
    parser.add_argument("--scenario", choices=(*SCENARIOS, "both", "all"), default="both")
    parser.add_argument("--per-class", type=int, default=50, help="captures per class")
    parser.add_argument("--none-heldout", type=int, default=100, help="held-out empty scenes")
    parser.add_argument("--epochs", type=int, default=personalize.DEFAULT_EPOCHS)
    parser.add_argument("--lr", type=float, default=personalize.DEFAULT_LR)
    parser.add_argument("--freeze", nargs="*", default=list(personalize.FROZEN_PARTS))
    parser.add_argument("--threads", type=int, default=2, help="torch and ncnn threads")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the rps-cv split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--save-examples", action="store_true", help="a capture per class in /tmp")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if not DATASETS.is_dir():
        parser.error(f"{DATASETS} is absent")
    if not args.base.is_file():
        parser.error(f"--base {args.base}: no such checkpoint")
    import logging

    import torch

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    if args.mode == "sessions":
        return run_sessions(args)
    args.base_checkpoint = args.base
    scenarios = {"both": SCENARIOS[:2], "all": SCENARIOS}.get(args.scenario, (args.scenario,))
    results = []
    for scenario in scenarios:
        r = measure(scenario, args)
        results.append(r)
        print(
            f"{scenario}: {r['captures_per_class']} captures per class, personalised in "
            f"{r['seconds_total']} s (training {r['seconds_training']} s, {args.threads} threads); "
            f"held-out accuracy {r['accuracy_before']:.4f} -> {r['accuracy_after']:.4f} on "
            f"{sum(r['heldout'].values())} images; goal (<= {GOAL_SECONDS} s, >= {GOAL_ACCURACY}) "
            f"{'met' if r['goal_met'] else 'NOT met'}",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(r["goal_met"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
