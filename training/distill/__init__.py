"""The shipped model's recipe: an ImageNet-pretrained teacher distilled into liteconv.

Training liteconv from scratch on a few thousand photos does not generalise (0.79 in-domain,
about 0.57 on other people's photos), so the deployed network learns from a teacher that has
seen ImageNet: EfficientNet-Lite0 with its early blocks frozen and its late blocks fine-tuned.
On two CPU cores every expensive step is done once and cached:

1. ``views``: every training photo is augmented ``--views`` times (``training.augment``, green
   tables swapped for synthetic rooms and textures) and ``none`` scenes are synthesised
   (``training.synth``); the views are kept as uint8 at the student's input size.
2. ``teacher``: the frozen trunk runs once per view; the late blocks and a new head train on the
   cached trunk features; its logits on every view become the soft targets.
3. ``student``: liteconv trains on the cached views with hard labels plus the teacher's soft
   targets (Hinton et al., 2015), random flips on the fly, one checkpoint per epoch (resumable).

Datasets after ``--cross`` are never trained on: they only measure cross-domain accuracy.
"""

# The package's modules: ``config`` (DistillConfig), ``data`` (splits, photos, cached views),
# ``teacher``, ``student``, ``recipe`` (the whole run) and ``command`` (the subcommand and the
# shipped model's export).

from training.distill.command import add_arguments, export_shipped, main
from training.distill.config import DistillConfig
from training.distill.recipe import run
from training.distill.teacher import TEACHER_MEAN, TEACHER_NORM, load_teacher, teacher_trunk

__all__ = [
    "TEACHER_MEAN",
    "TEACHER_NORM",
    "DistillConfig",
    "add_arguments",
    "export_shipped",
    "load_teacher",
    "main",
    "run",
    "teacher_trunk",
]
