"""A model's metadata (``model.json``): read and check it, resolve the ``shipped:`` asset names
it may use, and open one part of a model as a given kind. numpy-free, ncnn-free.

The metadata is the one source of truth of a model: its kind (``"kind"``: ``cnn`` when absent,
``landmarks`` or ``fused``), its files, classes and preprocessing. ``load_metadata`` checks the
fields every CNN needs and that the ncnn files it names look loadable; the other kinds check
their own fields when they open.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import ModelError
from .ncnnnet import REEXPORT, check_ncnn_files
from .paths import ASSETS_DIR, METADATA_NAME, default_model_dir

#: The recogniser kinds a model's metadata may name (the door opens each: ``GestureClassifier``).
KIND_NAMES = ("cnn", "landmarks", "fused")
#: Metadata fields every CNN model needs, and what each one must be.
REQUIRED_FIELDS = {
    "classes": "a list of class names",
    "input_size": "[height, width]",
    "mean": "a list of per-channel means",
    "norm": "a list of per-channel scales",
    "param": "the ncnn .param file name",
    "bin": "the ncnn .bin file name",
}
SHIPPED_PREFIX = "shipped:"


def resolve_asset(name: str, folder: Path) -> Path:
    """A file named in metadata: ``shipped:rel/path`` lies under ``assets/``, else under
    ``folder`` (so a personal model can reuse the shipped network without copying it)."""
    if name.startswith(SHIPPED_PREFIX):
        return ASSETS_DIR / name[len(SHIPPED_PREFIX) :]
    return folder / name


def load_metadata(path: str | Path | None = None) -> tuple[dict, Path]:
    """Read a model's metadata from its JSON path or its folder; returns (metadata, folder).

    The metadata is checked field by field and the ncnn files it names must exist, be non-empty
    and (the ``.param``) start with ncnn's magic line, so that a broken model is reported by file
    and field here, before ncnn gets to print anything.
    """
    path = Path(path).expanduser() if path is not None else default_model_dir()
    meta_path = path / METADATA_NAME if path.is_dir() else path
    if not meta_path.is_file():
        empty = " (the folder is empty)" if path.is_dir() and not any(path.iterdir()) else ""
        raise ModelError(
            f"no model metadata at {meta_path}{empty}: pass the folder of an exported "
            f"model or its {METADATA_NAME} (python -m training export writes both)"
        )
    try:
        text = meta_path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read {meta_path}: {exc}") from exc
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        why = "it is empty" if not text.strip() else f"{exc.msg} at line {exc.lineno}"
        raise ModelError(f"{meta_path} is not valid JSON ({why}): {REEXPORT}") from exc
    if not isinstance(meta, dict):
        raise ModelError(f"{meta_path} is not a model metadata object: {REEXPORT}")
    kind = meta.get("kind", "cnn")
    if kind != "cnn":
        if kind not in KIND_NAMES:
            others = ", ".join(k for k in KIND_NAMES if k != "cnn")
            raise ModelError(
                f"{meta_path}: unknown recogniser kind {kind!r} (use one of cnn, {others}): "
                f"{REEXPORT}"
            )
        return meta, meta_path.parent  # each kind checks its own fields and files
    _check_fields(meta, meta_path)
    check_model_files(meta, meta_path.parent, meta_path)
    return meta, meta_path.parent


def _check_fields(meta: dict, meta_path: Path) -> None:
    for key, what in REQUIRED_FIELDS.items():
        if key not in meta:
            raise ModelError(f"{meta_path}: the field {key!r} ({what}) is missing: {REEXPORT}")
    for key in ("classes", "input_size", "mean", "norm"):
        if not isinstance(meta[key], list) or not meta[key]:
            raise ModelError(
                f"{meta_path}: the field {key!r} must be {REQUIRED_FIELDS[key]}, "
                f"not {meta[key]!r}: {REEXPORT}"
            )
    for key in ("param", "bin"):
        if not isinstance(meta[key], str) or not meta[key].strip():
            raise ModelError(
                f"{meta_path}: the field {key!r} must be {REQUIRED_FIELDS[key]}, "
                f"not {meta[key]!r}: {REEXPORT}"
            )


def check_model_files(meta: dict, folder: Path, meta_path: Path | None = None) -> None:
    """Raise ``ModelError`` naming the file unless the ``.param`` and ``.bin`` look loadable."""
    source = meta_path or folder / METADATA_NAME
    check_ncnn_files(folder / meta["param"], folder / meta["bin"], REEXPORT, source)


def open_part(kind_class, path: Path, threads: int, exact: bool, wrong_kind: str):
    """A model folder opened as ``kind_class`` (a recogniser class with a ``kind``), without the
    door: how the fused recogniser opens its parts. ``wrong_kind``: the error's text when the
    folder holds another kind."""
    meta, folder = load_metadata(path)
    if meta.get("kind", "cnn") != kind_class.kind:
        raise ModelError(wrong_kind)
    return kind_class(meta, folder, threads, exact)
