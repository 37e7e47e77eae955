"""The training recipe as a dataclass, and the command-line flags that fill it (no torch here).

Defaults are the write-up's recipe: SGD momentum 0.9, lr 0.01, weight decay 1e-4, 60 epochs,
learning rate x0.1 at epochs 35 and 40.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field, fields

from training.augment import DEFAULT_STRENGTH, STRENGTHS
from vision.errors import UsageError

MODEL_NAMES = ("liteconv", "shufflenet_v2_x1_0", "shufflenet_v2_x0_5", "csp")
DEFAULT_INPUT_SIZE = (160, 160)
RESIZE_MODES = ("center_crop", "letterbox", "stretch")


@dataclass
class TrainConfig:
    model: str = "liteconv"
    epochs: int = 60
    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE  # (height, width)
    batch_size: int = 64
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: tuple[int, ...] = (35, 40)
    gamma: float = 0.1
    label_smoothing: float = 0.0
    dropout: float = 0.0
    augment: str = DEFAULT_STRENGTH
    background_p: float = 0.3
    resize: str = "center_crop"
    workers: int = 2
    seed: int = 0
    device: str = "auto"
    out: str = "runs/train"
    resume: str | None = None  # a checkpoint path, or "auto" for <out>/last.pt
    init_from: str | None = None  # start from these weights (fine-tuning); fresh optimiser
    progress: bool = True
    extra: dict = field(default_factory=dict)  # free-form notes carried into checkpoints

    def __post_init__(self) -> None:
        self.input_size = tuple(int(v) for v in self.input_size)
        self.milestones = tuple(int(v) for v in self.milestones)
        if self.model not in MODEL_NAMES:
            raise ValueError(
                f"unknown model {self.model!r}: choose one of {', '.join(MODEL_NAMES)}"
            )
        if len(self.input_size) != 2 or min(self.input_size) < 32:
            raise ValueError(
                f"input size must be (height, width), each >= 32, not {self.input_size}"
            )
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch size must be at least 1")
        if self.lr <= 0:
            raise ValueError(f"learning rate must be positive, not {self.lr}")
        if self.augment not in STRENGTHS:
            raise ValueError(f"augment must be one of {', '.join(STRENGTHS)}, not {self.augment!r}")
        if self.resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {', '.join(RESIZE_MODES)}")

    def to_dict(self) -> dict:
        """Plain lists, numbers and strings only (checkpoints load with ``weights_only=True``)."""
        d = asdict(self)
        d["input_size"] = list(self.input_size)
        d["milestones"] = list(self.milestones)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _number(kind: type, allowed, requirement: str):
    """An argparse type: ``kind`` (int or float) whose value passes ``allowed``."""
    noun = "whole number" if kind is int else "number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {noun}") from None
        if not allowed(value):
            raise argparse.ArgumentTypeError(f"{value} {requirement}")
        return value

    return parse


positive_int = _number(int, lambda v: v >= 1, "must be at least 1")
non_negative_int = _number(int, lambda v: v >= 0, "must not be negative")
positive_float = _number(float, lambda v: v > 0, "must be positive")
non_negative_float = _number(float, lambda v: v >= 0, "must not be negative")
fraction = _number(float, lambda v: 0.0 <= v <= 1.0, "must be between 0 and 1")
share = _number(float, lambda v: 0.0 <= v < 1.0, "must be at least 0 and below 1")


def add_input_size_argument(parser: argparse.ArgumentParser, default=DEFAULT_INPUT_SIZE) -> None:
    parser.add_argument(
        "--input-size",
        nargs="+",
        type=positive_int,
        default=list(default),
        metavar="PX",
        help="network input: one number for a square, or HEIGHT WIDTH "
        f"(default {default[0]} {default[1]})",
    )


def input_size_of(args: argparse.Namespace) -> tuple[int, int]:
    """``--input-size`` as ``(height, width)``; ``UsageError`` unless one or two numbers >= 32."""
    size = args.input_size
    if len(size) == 1:
        size = [size[0], size[0]]
    if len(size) != 2 or min(size) < 32:
        raise UsageError(
            f"--input-size takes one or two numbers, each >= 32, not {args.input_size}"
        )
    return int(size[0]), int(size[1])


def add_train_arguments(
    parser: argparse.ArgumentParser,
    out_help: str = "folder for checkpoints and logs (default %(default)s)",
) -> None:
    """The training flags (defaults from ``TrainConfig``): the recipe's, then the run's."""
    _add_recipe_arguments(parser.add_argument_group("training recipe"), TrainConfig())
    _add_running_arguments(parser.add_argument_group("running"), TrainConfig(), out_help)


def _add_recipe_arguments(g, d: TrainConfig) -> None:
    g.add_argument(
        "--model", choices=MODEL_NAMES, default=d.model, help="network (default %(default)s)"
    )
    g.add_argument("--epochs", type=positive_int, default=d.epochs, help="default %(default)s")
    add_input_size_argument(g)
    g.add_argument(
        "--batch-size", type=positive_int, default=d.batch_size, help="default %(default)s"
    )
    g.add_argument(
        "--lr", type=positive_float, default=d.lr, help="SGD learning rate (default %(default)s)"
    )
    g.add_argument("--momentum", type=float, default=d.momentum, help="default %(default)s")
    g.add_argument("--weight-decay", type=float, default=d.weight_decay, help="default %(default)s")
    g.add_argument(
        "--milestones",
        nargs="*",
        type=positive_int,
        default=list(d.milestones),
        metavar="EPOCH",
        help="epochs at which the learning rate is multiplied by --gamma (default 35 40)",
    )
    g.add_argument("--gamma", type=positive_float, default=d.gamma, help="default %(default)s")
    g.add_argument("--label-smoothing", type=fraction, default=d.label_smoothing, help="default 0")
    g.add_argument(
        "--dropout", type=fraction, default=d.dropout, help="before the classifier (default 0)"
    )
    g.add_argument(
        "--augment",
        choices=STRENGTHS,
        default=d.augment,
        help="augmentation strength (default %(default)s)",
    )
    g.add_argument(
        "--background-p",
        type=fraction,
        default=d.background_p,
        help="share of training images whose background is replaced (default %(default)s)",
    )
    g.add_argument(
        "--resize",
        choices=RESIZE_MODES,
        default=d.resize,
        help="how a frame becomes the input, in training and at run time (default %(default)s)",
    )


def _add_running_arguments(r, d: TrainConfig, out_help: str) -> None:
    r.add_argument("--out", default=d.out, help=out_help)
    r.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        default=None,
        metavar="CHECKPOINT",
        help="continue an interrupted run (default: <out>/last.pt)",
    )
    r.add_argument("--init-from", metavar="CHECKPOINT", help="start from these weights (fine-tune)")
    r.add_argument(
        "--workers",
        type=non_negative_int,
        default=d.workers,
        help="data loader processes (default %(default)s)",
    )
    r.add_argument("--seed", type=int, default=d.seed, help="default %(default)s")
    r.add_argument("--device", default=d.device, help="auto, cpu, cuda or cuda:N (default auto)")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """A ``TrainConfig`` from parsed flags; a bad combination is a ``UsageError`` (exit 2)."""
    try:
        return TrainConfig(
            model=args.model,
            epochs=args.epochs,
            input_size=input_size_of(args),
            batch_size=args.batch_size,
            lr=args.lr,
            momentum=args.momentum,
            weight_decay=args.weight_decay,
            milestones=tuple(args.milestones),
            gamma=args.gamma,
            label_smoothing=args.label_smoothing,
            dropout=args.dropout,
            augment=args.augment,
            background_p=args.background_p,
            resize=args.resize,
            workers=args.workers,
            seed=args.seed,
            device=args.device,
            out=args.out,
            resume=args.resume,
            init_from=args.init_from,
            progress=not args.no_progress,
        )
    except UsageError:
        raise
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def arguments(add_arguments, **values) -> argparse.Namespace:
    """A subcommand's parsed arguments without an argv round trip: every flag at its default,
    ``values`` (already of the flag's type) set by destination name. A name the subcommand does
    not have is a ``TypeError``."""
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    defaults = {a.dest: a.default for a in parser._actions}
    unknown = set(values) - set(defaults)
    if unknown:
        raise TypeError(f"no such argument: {', '.join(sorted(unknown))}")
    return argparse.Namespace(**{**defaults, **values})
