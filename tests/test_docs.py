"""The README's commands and figures agree with the code they describe."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def test_the_readme_test_command_prints_its_summary_line(tmp_path):
    """Even for a user whose PYTEST_ADDOPTS already says -q (the config's own -q made it -qq)."""
    block = [line.strip() for line in _section("Test").splitlines() if line.startswith("    ")]
    assert block and block[0].startswith("python -m pytest"), block
    tiny = tmp_path / "test_tiny.py"
    tiny.write_text("def test_one():\n    assert 1\n\n\ndef test_two():\n    assert 2\n")
    cmd = shlex.split(block[0])
    cmd[0] = sys.executable
    cmd += ["-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), str(tiny)]
    cmd += ["-p", "no:cacheprovider"]
    env = dict(os.environ, PYTEST_ADDOPTS="-q")
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    assert re.search(r"\b2 passed", last), done.stdout[-2000:]


def test_the_vision_bench_figures_say_how_many_rounds_they_took():
    from vision.__main__ import get_args_parser

    speed = README[README.index("### Speed") : README.index("## The models")]
    default = get_args_parser().parse_args(["bench"]).iterations
    checked = 0
    for part in speed.split("\n\n"):  # each figure's paragraph names its command and rounds
        command = re.search(r"`python -m vision bench([^`]*)--threads 1([^`]*)`", part)
        rounds = re.search(r"(\d+) rounds", part)
        if not (command and rounds):
            continue
        asked = re.search(r"--iterations (\d+)", "".join(command.groups()))
        assert int(rounds.group(1)) == (int(asked.group(1)) if asked else default), part[:80]
        assert f"default is `--iterations {default}`" in part or not asked
        checked += 1
    assert checked >= 2
