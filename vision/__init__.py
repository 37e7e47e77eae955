"""Vision: frame sources, the gesture classifier, smoothing and the gesture stream.

``GestureClassifier`` (``classifier``) is the one door to a model; ``metadata`` reads its
``model.json``; the kinds behind the door are ``cnn``, ``handrecogniser`` (the landmark
recogniser: ``hand``, ``palm``, ``edge``, ``handfeatures``) and ``fused``; every ncnn network
opens through ``ncnnnet``. Frames come from ``sources``, are read by ``stream``'s thread and
smoothed by ``smoothing``. Importing this package opens nothing and loads no heavy library;
``GestureClassifier`` (which needs ncnn) is imported on first use.
"""

from .labels import CLASS_ORDER, THROWS, Gesture, Outcome, judge

__all__ = [
    "CLASS_ORDER",
    "THROWS",
    "Gesture",
    "GestureClassifier",
    "Outcome",
    "Prediction",
    "judge",
]


def __getattr__(name: str):
    if name in ("GestureClassifier", "Prediction"):
        from . import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module 'vision' has no attribute {name!r}")
