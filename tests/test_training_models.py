"""The networks: output shapes on a tiny input, MACs and parameters, and ``info``."""

from __future__ import annotations

import pytest
import torch

from training.cli import main
from training.config import MODEL_NAMES
from training.models import MODELS, build_model, count_macs, count_params


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_gives_four_logits_on_a_tiny_input(name):
    model = build_model(name).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 4)
    assert torch.isfinite(out).all()


def test_mac_counts_match_the_write_up():
    lite = count_macs(build_model("liteconv"), (224, 224))
    ref = count_macs(build_model("shufflenet_v2_x1_0"), (224, 224))
    assert round(lite / 1e6, 2) == 82.35
    assert round(ref / 1e6, 2) == 143.89
    assert lite < 0.6 * ref
    assert count_params(build_model("liteconv")) < count_params(build_model("shufflenet_v2_x1_0"))


def test_cli_model_choices_are_the_models():
    assert set(MODEL_NAMES) == set(MODELS)


def test_info_prints_every_model(capsys):
    assert main(["info", "--input-size", "64"]) == 0
    out = capsys.readouterr().out
    assert "input 64x64" in out
    for name in MODELS:
        assert name in out
    assert "1.00" in out.splitlines()[3]  # shufflenet_v2_x1_0 against itself
