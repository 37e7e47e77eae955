"""Output meant for people: words, rounded numbers, the right complaint for the wrong input."""

from __future__ import annotations

import pytest
from helpers import dataset_images

from vision.__main__ import main as vision_main


def test_classify_a_folder_says_it_is_a_folder_and_what_to_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        vision_main(["classify", str(tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "no such image" not in err
    assert err.strip().endswith(
        f"error: {tmp_path}: a folder, not an image: pass image files (for example DIR/*.jpg), "
        "or use 'python -m vision evaluate DIR' on class folders"
    )


def test_a_truncated_jpeg_is_not_classified(tmp_path, capsys, datasets_dir):
    photo = dataset_images("rps-cv", "rock", 1)[0]
    whole, cut = tmp_path / "whole.jpg", tmp_path / "cut.jpg"
    whole.write_bytes(photo.read_bytes())
    cut.write_bytes(photo.read_bytes()[: photo.stat().st_size // 2])  # a copy cut short
    assert vision_main(["classify", str(whole), str(cut)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{whole}\t") and str(cut) not in captured.out
    assert (
        f"{cut}: a truncated JPEG (its end is missing): not classified; copy or save it again"
        in captured.err
    )
