"""``python -m game.bench``: its help reads right and its defaults are the README's."""

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


def test_the_readme_table_is_what_the_defaults_measure():
    """The adaptive robot's row against the cyclic player, as printed in the README."""
    readme = (ROOT / "README.md").read_text()
    row = re.search(r"\| cyclic \| ([\d.]+)% ± ([\d.]+) \|", readme)
    assert row, "the README's bench table has no cyclic row"
    args = build_parser().parse_args([])
    mean, sd = run(["adaptive"], ["cyclic"], args.rounds, args.seeds, 0.0)["adaptive", "cyclic"]
    assert (f"{mean:.1f}", f"{sd:.1f}") == (row[1], row[2])
