"""``python -m game.bench``: its help reads right, its defaults are the README's, and what it
measures holds."""

from __future__ import annotations

import re
import subprocess
import sys

from helpers import ROOT

from game.bench import build_parser, run


def test_help_prints_a_plain_percent_sign():
    done = subprocess.run(
        [sys.executable, "-m", "game.bench", "--help"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "%%" not in done.stdout and "win %" in done.stdout
    assert "default 10" in done.stdout


def test_default_seeds_and_rounds_are_the_ones_the_readme_reports():
    readme = (ROOT / "README.md").read_text()
    claim = re.search(r"game\.bench` plays .* for (\d+) rounds \((\d+) seeds", readme, re.S)
    assert claim, "the README no longer says how game.bench is run"
    defaults = build_parser().parse_args([])
    assert (defaults.rounds, defaults.seeds) == (int(claim[1]), int(claim[2]))


def test_the_adaptive_robot_beats_a_cyclic_player_and_seeds_repeat():
    """The behaviour the README's table reports: a player cycling rock, paper, scissors is
    learned (the adaptive robot wins nearly every round; the random robot about a third to a
    half), and the same seeds give the same table."""
    table = run(["adaptive", "random"], ["cyclic"], 60, 4, 0.0)
    adaptive, spread = table["adaptive", "cyclic"]
    assert adaptive > 90 and spread < 10, table
    assert 35 < table["random", "cyclic"][0] < 65, table
    assert run(["adaptive", "random"], ["cyclic"], 60, 4, 0.0) == table
