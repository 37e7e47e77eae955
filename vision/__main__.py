"""``python -m vision``: classify images, evaluate on a folder, watch a source, benchmark.

Results go to stdout; logs and problems to stderr. Bad arguments exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .cores import checked_threads
from .diskspace import disk_full, free_bytes
from .errors import RPSError
from .helptext import plain
from .labels import CLASS_ORDER, Gesture, class_subfolders
from .stream import parse_roi

log = logging.getLogger("vision")


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", help="exported model folder or its model.json (default: the active model)"
    )
    parser.add_argument("--threads", type=int, default=1, help="ncnn threads (default 1)")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vision", description=plain(__doc__))
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("classify", help="label and confidence of each image")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    _model_options(p)

    p = sub.add_parser("evaluate", help="accuracy and confusion matrix on class folders")
    p.add_argument(
        "folder",
        type=Path,
        metavar="DIR",
        help="folder with one sub-folder per class: rock/paper/scissors/none or 0-3",
    )
    p.add_argument("--limit", type=int, default=0, help="at most N images per class")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _model_options(p)

    p = sub.add_parser("watch", help="print each change of the stable gesture")
    p.add_argument(
        "--source",
        required=True,
        help="camera index (0), /dev/videoN, picam, a video file or an image folder",
    )
    p.add_argument(
        "--jsonl",
        action="store_true",
        help='one JSON object per change: {"frame", "t", "gesture", "confidence"}',
    )
    p.add_argument(
        "--overlay-out",
        type=Path,
        metavar="FILE.avi",
        help="write the frames with the ROI and gesture drawn on them (MJPG)",
    )
    p.add_argument("--roi", type=parse_roi, help="region of interest x,y,w,h as fractions")
    p.add_argument("--realtime", action="store_true", help="pace files to their fps")
    p.add_argument("--loop", action="store_true", help="loop files and folders")
    p.add_argument("--max-frames", type=int, default=0, help="stop after N frames")
    p.add_argument("--window", type=int, default=3, help="smoothing window in frames")
    p.add_argument("--threshold", type=float, default=0.6, help="confidence to take a gesture")
    p.add_argument("--hysteresis", type=float, default=0.15, help="margin to change gesture")
    _model_options(p)

    p = sub.add_parser("bench", help="latency of our model beside ncnn's shufflenet_v2")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "--anchors",
        type=Path,
        help="the anchors folder (default ../shared/anchors beside the repository)",
    )
    p.add_argument("--iterations", type=int, default=200, help="interleaved rounds (default 200)")
    p.add_argument("--warmup", type=int, default=20, help="warm-up rounds (default 20)")
    _model_options(p)
    for name, command in sub.choices.items():
        command.set_defaults(command_parser=command, run=COMMANDS[name])
    return parser


def _classifier(args, parser):
    from .classifier import GestureClassifier

    if args.threads < 1:
        parser.error("--threads must be at least 1")
    return GestureClassifier(args.model, threads=checked_threads(args.threads))


def cmd_classify(args, parser) -> int:
    import cv2

    folders = [str(p) for p in args.images if p.is_dir()]
    if folders:
        parser.error(f"{', '.join(folders)}: a folder, not an image: pass image files (for "
                     "example DIR/*.jpg), or use 'python -m vision evaluate DIR' on class "
                     "folders")  # fmt: skip
    missing = [str(p) for p in args.images if not p.is_file()]
    if missing:
        parser.error(f"no such image: {', '.join(missing)}")
    classifier = _classifier(args, parser)
    status = 0
    for path in args.images:
        if _truncated_jpeg(path):
            print(f"{path}: a truncated JPEG (its end is missing): not classified; copy or "
                  "save it again", file=sys.stderr)  # fmt: skip
            status = 1
            continue
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            print(f"{path}: not an image OpenCV can read", file=sys.stderr)
            status = 1
            continue
        pred = classifier(image)
        if args.json:
            probs = {
                g.value: round(float(p), 4)
                for g, p in zip(classifier.classes, pred.probs, strict=True)
            }
            print(
                json.dumps(
                    {
                        "file": str(path),
                        "gesture": pred.label.value,
                        "confidence": round(pred.confidence, 4),
                        "probs": probs,
                    }
                )
            )
        else:
            print(f"{path}\t{pred.label.value}\t{pred.confidence:.3f}")
    return status


def _truncated_jpeg(path: Path, tail: int = 4096) -> bool:
    """A JPEG whose end-of-image marker is missing: OpenCV would read it, the lost part grey."""
    with open(path, "rb") as f:
        if f.read(2) != b"\xff\xd8":
            return False  # not a JPEG: OpenCV decides
        size = f.seek(0, 2)
        f.seek(max(0, size - tail))
        return b"\xff\xd9" not in f.read()


def _class_folders(folder: Path) -> dict[Gesture, Path]:
    named = class_subfolders(folder)
    classes = {sub for _, sub in named}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p not in classes):
        log.warning("ignoring %s: not a class name or number", sub)
    return dict(named)  # rock/ and 1/ both there: the later one (rock/) is read


def cmd_evaluate(args, parser) -> int:
    import cv2
    import numpy as np

    from .sources import IMAGE_SUFFIXES

    if not args.folder.is_dir():
        parser.error(f"no such folder: {args.folder}")
    folders = _class_folders(args.folder)
    if not folders:
        parser.error(f"{args.folder} has no class folders (rock, paper, scissors, none or 0-3)")
    classifier = _classifier(args, parser)
    order = list(CLASS_ORDER)
    matrix = np.zeros((len(order), len(order)), int)
    for gesture, sub in folders.items():
        files = sorted(p for p in sub.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        for path in files[: args.limit or None]:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                log.warning("skipping %s: not a readable image", path)
                continue
            matrix[order.index(gesture), order.index(classifier(image).label)] += 1
    total = int(matrix.sum())
    if not total:
        parser.error(f"no readable images in the class folders of {args.folder}")
    accuracy = float(np.trace(matrix)) / total
    if args.json:
        print(
            json.dumps(
                {
                    "accuracy": accuracy,
                    "images": total,
                    "classes": [g.value for g in order],
                    "confusion": matrix.tolist(),
                }
            )
        )
        return 0
    print(f"accuracy {accuracy:.4f} on {total} images")
    print("rows: true class, columns: predicted")
    print(f"{'':>10}" + "".join(f"{g.value:>10}" for g in order) + f"{'recall':>10}")
    for i, g in enumerate(order):
        n = matrix[i].sum()
        recall = f"{matrix[i, i] / n:.3f}" if n else "-"
        print(f"{g.value:>10}" + "".join(f"{v:>10}" for v in matrix[i]) + f"{recall:>10}")
    return 0


def cmd_watch(args, parser) -> int:
    from .smoothing import SmoothingConfig
    from .sources import open_source
    from .stream import GestureStream

    try:
        smoothing = SmoothingConfig(args.window, args.threshold, args.hysteresis)
        source = open_source(args.source, loop=args.loop, realtime=args.realtime)
    except RPSError as exc:
        parser.error(str(exc))
    writer = None
    try:
        stream = GestureStream(source, _classifier(args, parser), roi=args.roi, smoothing=smoothing)
    except RPSError:
        source.close()
        raise
    previous, start, frames, last_index = None, None, 0, -1
    try:
        while stream.step():
            reading, frame = stream.latest(), stream.latest_frame()
            if frame is None or reading.frame_index in (last_index, -1):
                continue  # no new frame, or it was skipped as bad
            last_index = reading.frame_index
            frames += 1
            if args.overlay_out is not None:
                writer = writer or _OverlayWriter(args.overlay_out, source.fps)
                writer.write(stream, frame, reading)
            if reading.gesture is not previous:
                previous = reading.gesture
                start = frame.timestamp if start is None else start
                t = frame.timestamp - start if source.live else frame.index / source.fps
                _print_change(args.jsonl, frame.index, t, reading)
            if args.max_frames and frames >= args.max_frames:
                break
    except KeyboardInterrupt:
        pass
    finally:
        stream.stop()
        if writer is not None:
            writer.release()
    return 0


def _print_change(jsonl: bool, index: int, t: float, reading) -> None:
    if jsonl:
        record = {
            "frame": index,
            "t": round(t, 3),
            "gesture": reading.gesture.value,
            "confidence": round(reading.confidence, 4),
        }
        print(json.dumps(record), flush=True)
    else:
        print(
            f"frame {index:6d}  t={t:8.3f}s  {reading.gesture.value:8} {reading.confidence:.2f}",
            flush=True,
        )


class _OverlayWriter:
    """An MJPG video of frames with the ROI and reading drawn; sized by the first frame."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps = path, fps
        self.size: tuple[int, int] | None = None
        self._writer = None

    def write(self, stream, frame, reading) -> None:
        import cv2

        from .overlay import draw_overlay

        roi = stream.roi_rect(frame.image.shape)
        image = draw_overlay(
            frame.image,
            roi,
            reading.gesture,
            reading.confidence,
            reading.fps,
            reading.state,
            landmarks=reading.landmarks if reading.frame_index == frame.index else None,
            palm_box=reading.palm_box if reading.frame_index == frame.index else None,
        )
        if self._writer is None:
            self.size = (image.shape[1], image.shape[0])
            fourcc = cv2.VideoWriter_fourcc(*"MJPG")
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, self.size)
            if not self._writer.isOpened():
                raise RPSError(f"cannot write {self.path}: use a writable .avi path")
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        # OpenCV's writer drops frames silently on a full disk: stop while one more still fits
        # (an MJPG frame is well under a quarter of its pixels' bytes), the video kept playable
        needed = image.nbytes // 4
        free = free_bytes(self.path)
        if free is not None and free < needed:
            self.release()
            raise disk_full(self.path, needed, "the overlay video's next frame")
        self._writer.write(image)

    def release(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


def cmd_bench(args, parser) -> int:
    from .bench import format_report, run_bench

    if args.threads < 1 or args.iterations < 1 or args.warmup < 0:
        parser.error("--threads and --iterations must be at least 1, --warmup at least 0")
    result = run_bench(
        model=args.model,
        threads=checked_threads(args.threads),
        anchors=args.anchors,
        iterations=args.iterations,
        warmup=args.warmup,
    )
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0


COMMANDS = {
    "classify": cmd_classify,
    "evaluate": cmd_evaluate,
    "watch": cmd_watch,
    "bench": cmd_bench,
}


def main(argv: list[str] | None = None) -> int:
    parser = get_args_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    sub = args.command_parser
    try:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # no V4L2 probe chatter
        return args.run(args, sub)
    except RPSError as exc:  # a bad model, source or file: a message, not a traceback
        sub.exit(2, f"{sub.prog}: error: {exc}\n")


if __name__ == "__main__":
    sys.exit(main())
