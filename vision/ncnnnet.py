"""ncnn networks: check a model's two files, load them, and keep ncnn's own messages (written
by C++ straight to file descriptor 2) out of the player's terminal and in the error instead.
Every network the recognisers run (the CNN, the landmark networks, the palm detector) opens here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from pathlib import Path

from .errors import ModelError

log = logging.getLogger(__name__)

PARAM_MAGIC = "7767517"
#: What to run when a model's files are missing or broken (the default advice).
REEXPORT = "re-export it (python -m training export) or pass another --model"


def check_ncnn_files(
    param: Path, binary: Path, todo: str = REEXPORT, named_in: Path | None = None
) -> None:
    """Raise ``ModelError`` naming the file (and ``todo``, what to run) unless both files exist,
    are not empty and the ``.param`` starts with ncnn's magic line; ``named_in``: the metadata
    file that names them."""
    for key, file in (("param", param), ("bin", binary)):
        if not file.is_file():
            where = f" (the {key!r} of {named_in})" if named_in is not None else ""
            raise ModelError(f"{file}{where} does not exist: {todo}")
        if file.stat().st_size == 0:
            raise ModelError(f"{file} is empty: {todo}")
    try:
        with open(param, "rb") as f:
            first = f.readline(64).strip()
    except OSError as exc:
        raise ModelError(f"cannot read {param}: {exc}") from exc
    if first != PARAM_MAGIC.encode():
        raise ModelError(
            f"{param} is not an ncnn .param file (its first line is not {PARAM_MAGIC}): {todo}"
        )


@contextlib.contextmanager
def captured_stderr():
    """Collect what C code writes to file descriptor 2 (ncnn's messages) into ``out[0]``."""
    out = [""]
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr: nothing to capture
        yield out
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield out
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            out[0] = tmp.read(8192).decode("utf-8", "replace").strip()


def load_net(
    ncnn,
    param: Path,
    binary: Path,
    threads: int,
    exact: bool,
    todo: str = REEXPORT,
    bf16: bool = False,
):
    """An ``ncnn.Net`` with both files loaded; ncnn's own messages go into the error, not stderr.
    ``todo`` ends the error: what the user should run. ``bf16``: store weights and activations
    as bfloat16 where the CPU has no fp16 path (ignored with ``exact``)."""
    net = ncnn.Net()
    net.opt.num_threads = threads
    net.opt.use_vulkan_compute = False
    if exact:
        net.opt.use_fp16_storage = False
        net.opt.use_fp16_packed = False
        net.opt.use_fp16_arithmetic = False
    elif bf16:
        net.opt.use_bf16_storage = True
    with captured_stderr() as said:
        failed = None
        if net.load_param(str(param)) != 0:
            failed = param
        elif net.load_model(str(binary)) != 0:
            failed = binary
    if failed is not None:
        why = f" (ncnn: {' / '.join(said[0].splitlines()[:3])})" if said[0] else ""
        if failed == binary:
            problem = f"{binary}: it is truncated or does not match {param.name}"
        else:
            problem = f"{param}: it is broken"
        raise ModelError(f"ncnn cannot load {problem}{why}: {todo}")
    if said[0]:
        log.debug("ncnn: %s", said[0])
    return net


def open_net(
    param: Path, binary: Path, threads: int, exact: bool, todo: str = REEXPORT, bf16: bool = False
):
    """``(ncnn, ncnn.Net)``: both files checked (``check_ncnn_files``), then loaded
    (``load_net``); a bad file is named, with ``todo``."""
    import ncnn

    param, binary = Path(param), Path(binary)
    check_ncnn_files(param, binary, todo)
    return ncnn, load_net(ncnn, param, binary, int(threads), exact, todo, bf16=bf16)
