"""Teach it your hand: personalise the gesture model on your own captures and install it.

``python -m training personalize DATA`` checks the captures in ``DATA`` (one folder per class, as
``python -m training collect`` writes them). The model in use reads every capture as the game
would: per class, how many it finds a hand in and reads right, with advice (hold the hand closer,
keep it in the box, more light, check the label), the worst few drawn in ``DATA-report.png``
beside the folder; where it confidently reads most of a class as another class, it stops before
training (check the label; ``--trust-labels`` goes on). It holds back the *last* captures of each
class (the latest fifth, in capture order): a random split would test on near-twins of the
training frames.
A recogniser kind (``--kind``: the fused default refits the landmark head and fine-tunes its
CNN part, ``landmarks`` refits the head alone in seconds, ``cnn`` fine-tunes the CNN from the
shipped weights) trains a candidate on the rest and exports it; the candidate and the model in
use now (the active personal model, else the shipped one) both read the held-back images as the
game reads a hand, and the candidate is installed only if it reads more of them right (a tie
vouches for no gain) and at least ``ACCURACY_FLOOR`` (0.8) of them; a class it still cannot
read is named. The ``fused`` and ``cnn`` kinds need PyTorch (``pip install -e ".[train]"``);
without it the default kind is ``landmarks`` (numpy, the Pi's install) and the others stop at
once. The model it
replaces is kept as the previous one. ``--reset`` goes back to the shipped model, ``--rollback``
swaps the active and previous models. ``python -m training`` alone is a guided session: check the
camera, capture each class, then personalise.

Nothing the user captured is ever moved, changed or deleted, whatever happens; nothing is written
into the capture folder.

Exit status: 0 installed (or --reset/--rollback done), 2 the captures or the command need fixing
(the message says what to capture next; wrong labels; a kind this install cannot train), 3
trained but not installed (worse than the model in use on the held-back captures, or under the
floor), 130 interrupted, 143 SIGTERM (nothing half-written is left; a killed run's is removed by
the next run).
"""

# The package's modules, in the order a run uses them: ``captures`` (the folders, the held-back
# latest fifth), ``check`` (the model in use reads them: the report, the label check), ``kinds``
# (with ``finetune`` for the CNN), ``run``, ``store`` (installing), ``command`` (the subcommand)
# and ``session`` (the guided session). It keeps the command's name (``personalize``), so
# ``python -m training personalize`` and ``from training import personalize`` read as before.

from training.personalize.captures import (
    HOLD_BACK_FRACTION,
    MIN_IMAGES_PER_CLASS,
    SUGGESTED_IMAGES_PER_CLASS,
    Captures,
    NotEnoughDataError,
    WrongLabelError,
    capture_key,
    ordered_images,
    split_captures,
    variety_warnings,
)
from training.personalize.command import (
    add_arguments,
    choose_kind,
    main,
    missing_train_extra,
    print_result,
)
from training.personalize.finetune import (
    BASE_CHECKPOINT,
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    FROZEN_PARTS,
    PLOT_NAME,
    REPORT_NAME,
    fine_tune,
    load_base_checkpoint,
    predict,
    require_base_checkpoint,
)
from training.personalize.kinds import DEFAULT_KIND, RECOGNISERS, Options, fit_cnn, fit_fused
from training.personalize.run import (
    ACCURACY_FLOOR,
    EXIT_NOT_INSTALLED,
    PersonalizeResult,
    personalize,
    refusal_reason,
    weak_classes,
)
from training.personalize.session import add_guided_arguments, capture_feedback, guided
from training.personalize.store import install_model, reset_model, rollback_model

__all__ = [
    "ACCURACY_FLOOR",
    "BASE_CHECKPOINT",
    "DEFAULT_EPOCHS",
    "DEFAULT_KIND",
    "DEFAULT_LR",
    "EXIT_NOT_INSTALLED",
    "FROZEN_PARTS",
    "HOLD_BACK_FRACTION",
    "MIN_IMAGES_PER_CLASS",
    "PLOT_NAME",
    "RECOGNISERS",
    "REPORT_NAME",
    "SUGGESTED_IMAGES_PER_CLASS",
    "Captures",
    "NotEnoughDataError",
    "Options",
    "PersonalizeResult",
    "WrongLabelError",
    "add_arguments",
    "add_guided_arguments",
    "capture_feedback",
    "capture_key",
    "choose_kind",
    "fine_tune",
    "fit_cnn",
    "fit_fused",
    "guided",
    "install_model",
    "load_base_checkpoint",
    "main",
    "missing_train_extra",
    "ordered_images",
    "personalize",
    "predict",
    "print_result",
    "refusal_reason",
    "require_base_checkpoint",
    "reset_model",
    "rollback_model",
    "split_captures",
    "variety_warnings",
    "weak_classes",
]
