"""Kiosk basics by touch: Settings on the start screen, a settings screen (rounds, sound and
volume, mirror, the box with a live preview) saved for the next start, Quit without a keyboard;
``--roi``, ``--mirror`` and ``--volume`` on the command line. SDL's dummy drivers, real streams."""

from __future__ import annotations

import json
import sys

import numpy as np
import pygame
import pytest
from helpers import dataset_images, gesture_clip, load, on_a_full_disk

from game import cli
from game.app import App, Options
from game.inputs import PlayerInput, StreamInput, open_input
from game.screens import SCREENS, TAP, AttractScreen, SettingsScreen
from game.settings import Settings, default_settings_path, load_settings
from game.sound import Sounds, load_sounds
from vision.classifier import GestureClassifier
from vision.sources import MemorySource
from vision.stream import GestureStream


@pytest.fixture(scope="module", autouse=True)
def display():
    pygame.display.init()
    pygame.font.init()
    pygame.display.set_mode((800, 480))
    yield
    pygame.display.quit()


@pytest.fixture(scope="module")
def camera(datasets_dir):
    """A fist in front of "camera 0" (a real stream over a real photo), mirrored like a camera."""
    photo = load(dataset_images("best-of-one", "rock", 1, start=3)[0], (480, 480))
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 80:560] = photo
    source = MemorySource([frame], loop=True, name="camera 0", clock=lambda: 1.0)
    player = StreamInput(GestureStream(source, GestureClassifier()), "camera 0", mirror=True)
    player.stream.step()
    return player


def tap(screen, button: str) -> None:
    screen.handle_event(pygame.event.Event(TAP, pos=screen.buttons[button].rect.center))


def draw(screen, tmp_path=None, name="screen") -> pygame.Surface:
    surface = pygame.Surface((800, 480))
    screen.update(1.0, 0.03)
    screen.draw(surface)
    if tmp_path is not None:
        pygame.image.save(surface, str(tmp_path / f"{name}.png"))
    return surface


def test_settings_by_touch_are_saved_and_read_at_the_next_start(camera, tmp_path):
    app = App(Options(seed=1), camera, Sounds.silent())
    attract = AttractScreen(app)
    draw(attract, tmp_path, "attract")
    attract.handle_event(pygame.event.Event(TAP, pos=AttractScreen.SETTINGS.center))
    assert attract.next == "settings"  # not a match start
    screen = SCREENS["settings"](app)
    for button in ("rounds+", "volume-", "volume-", "sound", "mirror", "size-", "size-", "up"):
        tap(screen, button)
    assert camera.stream.roi == pytest.approx((0.175, 0.0, 0.65, 0.9))  # the preview moves now
    assert camera.mirror is False
    draw(screen, tmp_path, "settings")
    tap(screen, "save")
    assert screen.next == "attract" and app.exit_code is None
    saved = json.loads(default_settings_path().read_text())
    assert saved == {"rounds": 7, "sound": False, "volume": 0.6, "mirror": False,
                     "roi": [0.175, 0.0, 0.65, 0.9]}  # fmt: skip
    assert app.referee.match.best_of == 7  # the new match plays by them
    # the next start: options not given on the command line come from the file
    parser = cli.build_parser()
    args = parser.parse_args(["--source", "keyboard"])
    cli.check_args(parser, args)
    assert (args.rounds, args.volume, args.mirror, args.roi) == (
        7,
        60,
        False,
        (0.175, 0.0, 0.65, 0.9),
    )
    assert args.settings.sound is False
    given = parser.parse_args(["--source", "keyboard", "--rounds", "3", "--mirror"])
    cli.check_args(parser, given)
    assert (given.rounds, given.mirror) == (3, True)  # the command line wins for this run
    camera.stream.roi, camera.mirror = None, True


def test_cancel_puts_back_what_was_there(camera):
    app = App(Options(seed=1), camera, Sounds.silent())
    screen = SettingsScreen(app)
    tap(screen, "left")
    tap(screen, "mirror")
    assert camera.stream.roi is not None and camera.mirror is False
    tap(screen, "cancel")
    assert camera.stream.roi is None and camera.mirror is True and screen.next == "attract"
    assert not default_settings_path().exists()


def test_quit_by_touch():
    app = App(Options(seed=1), PlayerInput(), Sounds.silent())
    screen = SettingsScreen(app)
    tap(screen, "quit")
    assert app.exit_code == 0


def test_the_volume_reaches_the_sounds():
    sounds = load_sounds()
    if not hasattr(sounds.beat, "get_volume"):
        pytest.skip("no mixer here")
    App(Options(seed=1, volume=0.5), PlayerInput(), sounds)
    assert sounds.beat.get_volume() == pytest.approx(0.5, abs=0.01)
    App(Options(seed=1, volume=0.5, sound=False), PlayerInput(), sounds)
    assert sounds.win.get_volume() == 0.0


def test_roi_and_mirror_on_the_command_line(tmp_path, datasets_dir, capsys):
    clip = gesture_clip(tmp_path / "clip.avi", ["rock"], frames_each=2, size=(160, 120))
    parser = cli.build_parser()
    args = parser.parse_args(["--source", str(clip), "--roi", "0.5,0,0.5,1", "--mirror"])
    cli.check_args(parser, args)
    player = open_input(args.source, roi=args.roi, mirror=args.mirror)
    try:
        assert player.stream.roi == (0.5, 0.0, 0.5, 1.0) and player.mirror is True
        assert player.roi_rect((120, 160, 3)) == (80, 0, 80, 120)
    finally:
        player.stop()
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["--roi", "0.8,0,0.5,1"])
    assert info.value.code == 2
    assert "the box must lie inside the frame" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.check_args(parser, parser.parse_args(["--volume", "150"]))
    assert "--volume must be 0-100 (percent), not 150" in capsys.readouterr().err


def test_a_broken_settings_file_is_reported_and_the_defaults_used(tmp_path, caplog):
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    assert load_settings(path) == Settings()
    assert "cannot read the settings" in caplog.text
    assert path.read_text() == "{not json"  # left for the player to look at


def test_saving_on_a_full_card_says_so_and_keeps_the_old_file(tmp_path):
    folder = tmp_path / "card"
    code = (
        "import sys; from pathlib import Path; from game.settings import Settings, save_settings; "
        "from vision.diskspace import DiskFull; p = Path(sys.argv[1]) / 'settings.json'\n"
        "save_settings(Settings(rounds=3), p)\n"
        "try:\n    open(Path(sys.argv[1]) / 'filler', 'wb').write(b'x' * 64 * 1024)\n"
        "except OSError:\n    pass\n"
        "try:\n    save_settings(Settings(rounds=9), p)\nexcept DiskFull as e:\n    print(e)\n"
    )
    after = 'cat "$DIR/settings.json"; ls -A "$DIR"'
    done = on_a_full_disk(folder, 64, [sys.executable, "-c", code, str(folder)], after)
    assert "exit=0" in done.stdout, done.stdout + done.stderr
    assert f"the disk is full at {folder}: saving the settings needs about 1 KB free" in done.stdout
    assert '"rounds": 3' in done.stdout and ".tmp" not in done.stdout  # no temporary file left


def test_headless_play_reads_the_hand_in_the_same_box(tmp_path, datasets_dir):
    import argparse

    from game.headless import _open_stream

    clip = gesture_clip(tmp_path / "clip.avi", ["rock"], frames_each=2, size=(160, 120))
    stream = _open_stream(argparse.Namespace(source=str(clip), roi=(0.5, 0.0, 0.5, 1.0)))
    try:
        assert stream.roi_rect((120, 160, 3)) == (80, 0, 80, 120)
    finally:
        stream.stop()


def test_a_touchscreen_alone_reaches_settings_and_quits_the_game():
    """The real loop: a click on Settings, then a finger on Quit game, as SDL delivers them."""
    pygame.init()  # SDL's timer, which delivers the taps
    app = App(Options(seed=1), PlayerInput(), Sounds.silent())
    click = pygame.event.Event(
        pygame.MOUSEBUTTONDOWN, pos=AttractScreen.SETTINGS.center, button=1, touch=False
    )
    x, y = SettingsScreen(app).buttons["quit"].rect.center
    finger = pygame.event.Event(pygame.FINGERDOWN, x=x / 800, y=y / 480, touch_id=1, finger_id=1)
    pygame.time.set_timer(click, 400, loops=1)  # one timer per event type: two types
    pygame.time.set_timer(finger, 1200, loops=1)
    assert app.run() == 0
    assert app.screens_shown == ["attract", "settings"]  # not a match: the taps hit buttons
