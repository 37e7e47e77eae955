"""A short soak: the threaded stream over a few hundred frames leaves no thread, little memory."""

from __future__ import annotations

import threading

from vision.soak import main, run_soak, soak_frames


def test_short_soak_passes_with_no_leaked_threads():
    before = threading.active_count()
    result = run_soak(160, cycles=3, size=(96, 72), warmup=20)
    assert result.passed, result.problems
    assert result.frames >= 160
    assert result.errors >= 160 // 16 - 1  # the empty frames were skipped, not fatal
    assert result.python_threads_after == result.python_threads_before == before
    assert result.growth_mb < 10


def test_soak_frames_include_the_odd_ones():
    frames = soak_frames((32, 24))
    shapes = {f.shape for f in frames}
    assert (24, 32) in shapes and (24, 32, 4) in shapes and (0, 0, 3) in shapes


def test_soak_cli_fails_loudly_when_the_limit_is_impossible(capsys):
    assert (
        main(
            [
                "--frames",
                "40",
                "--cycles",
                "1",
                "--size",
                "48x36",
                "--warmup",
                "10",
                "--max-growth-mb",
                "-1",
            ]
        )
        == 1
    )
    assert "FAIL: memory grew" in capsys.readouterr().out
