"""``vision.paths.atomic_write``: the one writer for files replaced whole."""

from __future__ import annotations

import numpy as np
import pytest

from vision.paths import atomic_write, atomic_write_text


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = atomic_write_text(tmp_path / "model.json", '{"old": 1}\n')

    def half_then_fail(tmp):
        tmp.write_text('{"new": ')
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(path, half_then_fail)
    assert path.read_text() == '{"old": 1}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


def test_the_temporary_keeps_the_suffix_so_numpy_adds_none(tmp_path):
    path = tmp_path / "cache.npz"
    atomic_write(path, lambda tmp: np.savez(tmp, x=np.arange(3)))
    assert np.load(path)["x"].tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.npz"]
    atomic_write(path, lambda tmp: np.savez(tmp, x=np.arange(2)), durable=True)
    assert np.load(path)["x"].tolist() == [0, 1]
