"""What a player sees: every line inside the 800x480 screen with the longest texts, readable key
cards, the score bar at SHOOT, the still of the box read and "I saw: paper 91%", the wording.

Screens are drawn under SDL's dummy driver; ``art.recording_text()`` lists each line drawn.
The still is tested end to end: real photos, the real shipped model, the real gesture stream.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pygame
import pytest
from helpers import dataset_images, load

from game import art, screens
from game.app import App, Options
from game.inputs import PlayerInput, StreamInput
from game.referee import MatchOver, RoundResult
from game.round import Round, Timing
from game.screens import (
    SCREENS,
    CountdownScreen,
    MatchEndScreen,
    ResultScreen,
    explain,
    input_line,
    still_surface,
)
from game.sound import Sounds
from vision.classifier import GestureClassifier
from vision.labels import THROWS, Gesture
from vision.paths import SHIPPED_MODEL_DIR
from vision.sources import MemorySource
from vision.stream import GestureStream

SCREEN = pygame.Rect(0, 0, art.WIDTH, art.HEIGHT)
LONG_MESSAGE = (
    "No camera found: camera 0 did not open (is it plugged in, and is it used by another "
    "program? /dev/video0: permission denied for the user running the game)"
)


@pytest.fixture(scope="module", autouse=True)
def display():
    pygame.display.init()
    pygame.font.init()
    pygame.display.set_mode((art.WIDTH, art.HEIGHT))
    yield
    pygame.display.quit()


@pytest.fixture(scope="module")
def classifier():
    return GestureClassifier()


class FakeClock:
    def __init__(self, t: float = 10.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def far_away_model(tmp_path_factory):
    """The shipped model under a long path, loaded by that path (``origin`` is the path)."""
    folder = tmp_path_factory.mktemp("m") / "a-very-long-folder-name-for-models" / "my-own-model"
    folder.mkdir(parents=True)
    for file in SHIPPED_MODEL_DIR.iterdir():
        (folder / file.name).symlink_to(file)
    return GestureClassifier(folder / "model.json")


def camera_input(classifier, photos: list[np.ndarray], clock=None) -> StreamInput:
    source = MemorySource(photos, loop=True, name="camera 0", clock=clock or FakeClock())
    return StreamInput(GestureStream(source, classifier), name="camera 0", mirror=True)


def paper_photos(n: int = 6) -> list[np.ndarray]:
    return [load(p, (640, 480)) for p in dataset_images("rps-cv", "paper", n)]


def app_for(player_input, **options) -> App:
    return App(Options(seed=1, **options), player_input, Sounds.silent())


def draw(screen, now: float) -> tuple[pygame.Surface, list[art.DrawnText]]:
    surface = pygame.Surface((art.WIDTH, art.HEIGHT))
    screen.update(now, 0.03)
    with art.recording_text() as drawn:
        screen.draw(surface)
    return surface, drawn


def entered(screen, persist: dict | None = None, now: float = 0.0):
    """``screen`` as the app enters it, handed ``persist`` by the screen before."""
    screen.startup(now, persist or {})
    return screen


def longest_state(app: App) -> dict:
    """Big numbers, a long streak, a prediction: the longest lines every screen can show (the
    countdown's hand-over of that round is returned)."""
    match = app.referee.match
    match.record(Gesture.SCISSORS, Gesture.ROCK)
    match.wins, match.losses, match.draws = 888, 999, 777
    match.streak = -888  # "the robot has won 888 in a row"
    match.best_win_streak = 888
    app.referee.replays = 999
    play = match.plays[-1]
    return {"result": RoundResult(9, Gesture.SCISSORS, Gesture.SCISSORS, play, Gesture.SCISSORS)}


def assert_inside_and_apart(drawn: list[art.DrawnText], what: str) -> None:
    assert drawn, f"{what}: no text drawn"
    for line in drawn:
        assert SCREEN.contains(line.rect), f"{what}: {line.message!r} at {line.rect} is cut off"
    for a, b in itertools.combinations(drawn, 2):
        assert not a.rect.colliderect(b.rect), f"{what}: {a.message!r} overlaps {b.message!r}"


@pytest.mark.parametrize("reason", ["won", "lost", "no hand", "time"])
def test_every_match_end_title_fits_at_the_top_of_its_pulse(reason):
    app = app_for(PlayerInput(message=LONG_MESSAGE))
    over = MatchOver(reason)
    screen = entered(MatchEndScreen(app), {**longest_state(app), "over": over})
    widths = []
    for k in range(12):  # the pulse is sin(5 t): sample a whole period, peaks included
        now = 1.0 + k * (2 * math.pi / 5) / 12 + (math.pi / 10 if k == 0 else 0)
        _, drawn = draw(screen, now)
        assert_inside_and_apart(drawn, f"match end ({reason}) at {now:.2f}")
        widths.append(next(d.rect.width for d in drawn if d.message == over.message))
    assert max(widths) > min(widths) * 1.03, "the title no longer pulses"


@pytest.mark.parametrize("camera", [False, True], ids=["keyboard", "camera"])
@pytest.mark.parametrize("name", sorted(SCREENS))
def test_every_screen_keeps_its_longest_texts_inside_and_apart(name, camera, far_away_model):
    if camera:
        player_input = camera_input(far_away_model, paper_photos(1))
        player_input.stream.step()
    else:
        player_input = PlayerInput(message=LONG_MESSAGE)
    notice = "Your personal model is broken: playing with the shipped model (see the log)"
    app = app_for(player_input, rounds=999, notice=notice)
    persist = {**longest_state(app), "over": MatchOver("no hand")}
    screen = entered(SCREENS[name](app), persist)
    for now in (1.0, 1.3, 1.9, 3.0):  # through the countdown to SHOOT and after
        _, drawn = draw(screen, now)
        assert_inside_and_apart(drawn, f"{name} at {now}")


def test_key_cards_are_readable():
    app = app_for(PlayerInput())
    _, drawn = draw(CountdownScreen(app), 1.0)
    labels = {d.message: d for d in drawn if d.message in {str(g) for g in THROWS}}
    assert set(labels) == {"rock", "paper", "scissors"}
    for label in labels.values():
        assert label.line_height >= 18, f"{label.message!r} is {label.line_height} px high"


def test_the_score_bar_does_not_change_before_the_result_shows():
    app = app_for(PlayerInput())
    screen = CountdownScreen(app)
    _, before = draw(screen, 1.0)
    screen.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_p, mod=0, unicode="p"))
    now = 1.0
    while screen.next is None:  # the key decides the round at SHOOT
        now += 0.05
        screen.update(now, 0.05)
    assert app.referee.match.rounds == 1
    _, at_shoot = draw(screen, now)
    bar = lambda lines: sorted(d.message for d in lines if d.rect.bottom <= 52)  # noqa: E731
    assert bar(at_shoot) == bar(before) == ["0 Robot", "You 0", "best of 5", "draws 0"]
    _, result = draw(entered(ResultScreen(app), screen.cleanup()), now)
    match = app.referee.match
    assert bar(result) == sorted(
        [f"You {match.wins}", f"{match.losses} Robot", "best of 5", f"draws {match.draws}"]
    )
    assert "You pressed P: paper" in [d.message for d in result]


def test_the_result_shows_the_box_it_read_and_how_sure_it_was(classifier):
    """Real paper photos through the real stream and model: the still is the read frame's box."""
    clock = FakeClock()
    app = app_for(camera_input(classifier, paper_photos(), clock))
    stream = app.input.stream
    screen = CountdownScreen(app)
    while screen.next is None:
        clock.t += 1 / 30
        stream.step()
        screen.update(clock.t, 1 / 30)
    handed = screen.cleanup()
    result, decision = handed["result"], screen.round.decision
    assert result.player is Gesture.PAPER and decision.frame_index is not None
    frame = stream.source.images[decision.frame_index % len(stream.source.images)]
    x, y, w, h = stream.roi_rect(frame.shape)
    assert np.array_equal(handed["still"], frame[y : y + h, x : x + w, :][:, ::-1])

    surface, drawn = draw(entered(ResultScreen(app), handed), clock.t + 1.0)
    seen = f"I saw: paper {result.confidence:.0%}"
    assert seen in [d.message for d in drawn] and 0.55 <= result.confidence <= 1.0
    still = still_surface(handed["still"], ResultScreen.STILL)
    box = still.get_rect(center=(685, 190))
    shown = pygame.surfarray.array3d(surface.subsurface(box))
    assert np.array_equal(shown, pygame.surfarray.array3d(still))


def test_a_no_hand_replay_shows_the_box_and_says_it_saw_no_hand(classifier):
    clock = FakeClock()
    empty = [load(p, (640, 480)) for p in dataset_images("rps-cv", "none", 4)]
    if not empty:
        empty = [np.full((480, 640, 3), 30, np.uint8)]
    app = app_for(camera_input(classifier, empty, clock))
    screen = CountdownScreen(app)
    while screen.next is None:
        clock.t += 1 / 30
        app.input.stream.step()
        screen.update(clock.t, 1 / 30)
    handed = screen.cleanup()
    assert handed["result"].replay and handed["still"] is not None
    _, drawn = draw(entered(ResultScreen(app), handed), clock.t + 1.0)
    assert "I saw: no hand" in [d.message for d in drawn]


def test_the_attract_screen_says_what_reads_the_hand(classifier, far_away_model):
    keyboard = app_for(PlayerInput(message="No camera found: camera 0 did not open"))
    _, drawn = draw(SCREENS["attract"](keyboard), 1.0)
    texts = [d.message for d in drawn]
    assert "No camera found: playing with the keyboard" in texts
    assert "3. Press R, P or S (or tap) before SHOOT!" in texts
    assert "4. Best of 5: first to 3 wins" in texts

    shipped = app_for(camera_input(classifier, paper_photos(1)))
    assert classifier.origin == "shipped"
    _, drawn = draw(SCREENS["attract"](shipped), 1.0)
    texts = [d.message for d in drawn]
    assert "Camera 0 · model: shipped" in texts
    assert "3. Show your hand in the box at SHOOT!" in texts

    fallback = (
        "Your personal model is broken: playing with the shipped model. Run 'python -m training "
        "personalize --reset' (or personalize again)."
    )
    broken = app_for(camera_input(classifier, paper_photos(1)), notice=fallback)
    _, drawn = draw(SCREENS["attract"](broken), 1.0)
    notice = [d for d in drawn if d.message.split()[0] in fallback.split()]
    assert " ".join(d.message for d in notice[-2:]) == fallback  # wrapped, not shrunk to dust
    assert all(d.line_height >= 14 for d in notice[-2:])

    far = app_for(camera_input(far_away_model, paper_photos(1)), notice="a notice from the cli")
    line = input_line(far)
    assert line == "Camera 0 · model: …/my-own-model/model.json"
    _, drawn = draw(SCREENS["attract"](far), 1.0)
    assert {line, "a notice from the cli"} <= {d.message for d in drawn}


def test_match_end_says_how_to_play_again_and_whose_streak():
    app = app_for(PlayerInput())
    app.referee.match.record(Gesture.PAPER, Gesture.ROCK)
    app.referee.replays = 1
    _, drawn = draw(entered(MatchEndScreen(app), {"over": MatchOver("won")}), 1.0)
    texts = [d.message for d in drawn]
    assert "Press SPACE (or tap) to play again" in texts
    assert "1 round decided, 1 replayed (no hand seen)" in texts
    assert "your best streak" in texts and "best streak" not in texts
    demo = app_for(PlayerInput(), auto=True)
    _, drawn = draw(entered(MatchEndScreen(demo), {"over": MatchOver("won")}), 1.0)
    assert not any("play again" in d.message for d in drawn)


@pytest.mark.parametrize(
    ("player", "robot", "outcome", "line"),
    [
        ("scissors", "paper", "win", "Your scissors cut paper"),
        ("rock", "scissors", "win", "Your rock crushes scissors"),
        ("paper", "rock", "win", "Your paper covers rock"),
        ("paper", "scissors", "lose", "The robot's scissors cut your paper"),
        ("scissors", "rock", "lose", "The robot's rock crushes your scissors"),
        ("rock", "paper", "lose", "The robot's paper covers your rock"),
        ("rock", "rock", "draw", "You both threw rock"),
    ],
)
def test_the_result_says_why_in_plain_words(player, robot, outcome, line):
    assert explain(Gesture(player), Gesture(robot), outcome) == line


def test_the_round_names_the_frame_its_throw_was_read_from():
    from vision.stream import GestureReading

    rnd = Round(Gesture.ROCK, 0.0, Timing(beat=0.1, capture=0.5))
    seen = [(Gesture.PAPER, 0.7), (Gesture.PAPER, 0.95), (Gesture.ROCK, 0.99), (Gesture.PAPER, 0.8)]
    rnd.update(rnd.shoot_time)
    for i, (gesture, confidence) in enumerate(seen):
        rnd.observe(GestureReading(gesture, confidence, None, rnd.shoot_time + 0.01 * i, 40 + i))
    (decision,) = rnd.update(rnd.end_time)
    assert (decision.player, decision.frame_index) == (Gesture.PAPER, 41)  # its best vote

    empty = Round(Gesture.ROCK, 0.0, Timing(beat=0.1, capture=0.5))
    empty.update(empty.shoot_time)
    for i in range(3):
        empty.observe(GestureReading(Gesture.NONE, 0.9, None, empty.shoot_time + 0.01 * i, 7 + i))
    (decision,) = empty.update(empty.end_time)
    assert (decision.player, decision.frame_index) == (Gesture.NONE, 9)  # the newest frame


def test_the_camera_preview_draws_the_hand_skeleton_the_landmark_recogniser_found():
    """The preview draws the 21-point skeleton of the hand read in the frame shown, once the
    label under it names the throw (not while it still reads "no hand"); a CNN (which places no
    hand) draws none."""
    from types import SimpleNamespace

    from vision.paths import SHIPPED_HAND_DIR

    photo = load(dataset_images("best-of-one", "paper", 1, start=3)[0], (480, 480))
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 80:560] = photo
    skeleton = np.array([230, 160, 40])  # the preview's skeleton colour, RGB

    def preview(model, frames: int = 2) -> tuple[np.ndarray, object]:
        player = camera_input(GestureClassifier(model), [frame])
        for _ in range(frames):
            player.stream.step()
        surf = screens.frame_surface(SimpleNamespace(input=player), (400, 300))
        rgb = pygame.surfarray.array3d(surf).transpose(1, 0, 2).astype(int)
        return np.abs(rgb - skeleton).sum(axis=2) < 40, player.reading()

    early, reading = preview(SHIPPED_HAND_DIR, frames=1)  # the smoothed label: "no hand" yet
    assert reading.landmarks is not None and reading.gesture is Gesture.NONE
    assert early.sum() < 20, "a skeleton drawn while the label reads 'no hand'"
    drawn, reading = preview(SHIPPED_HAND_DIR)
    assert reading.landmarks is not None and reading.raw is Gesture.PAPER
    assert reading.gesture is Gesture.PAPER
    assert drawn.sum() > 300, "no skeleton drawn"
    ys, xs = np.nonzero(drawn)
    assert 60 <= xs.mean() <= 340  # on the hand, in the middle of the (mirrored) preview
    plain, reading = preview(SHIPPED_MODEL_DIR)
    assert reading.landmarks is None and plain.sum() < 20


def test_an_ended_source_says_so_once_not_waiting_for_the_camera(classifier, tmp_path):
    """A folder whose only image cannot be read: the stream ends without a picture. The preview
    used to say "ended" and "waiting for the camera..." at once."""
    from vision.sources import open_source

    folder = tmp_path / "shots"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"not a jpeg")
    stream = GestureStream(open_source(folder), classifier)
    while stream.step():
        pass
    player = StreamInput(stream, name=str(folder), mirror=False)
    assert player.reading().state == "ended" and player.frame() is None
    _, drawn = draw(CountdownScreen(app_for(player)), 1.0)
    texts = [d.message for d in drawn]
    assert "no more frames: the video has ended" in texts
    assert not {"waiting for the camera...", "ended"} & set(texts)
    assert_inside_and_apart(drawn, "countdown, source ended")


def test_match_end_counts_draws_apart_and_the_robot_shows_who_won():
    def match_end(player: Gesture, robot: Gesture, reason: str):
        app = app_for(PlayerInput())
        app.referee.match.record(Gesture.ROCK, Gesture.ROCK)  # a draw
        for _ in range(3):
            app.referee.match.record(player, robot)
        screen = entered(MatchEndScreen(app), {"over": MatchOver(reason)})
        surface, drawn = draw(screen, 1.0)  # eyes open at 1.0 (no blink)
        face = pygame.surfarray.array3d(surface)[340:460, 130:250].copy()
        return face, [d.message for d in drawn]

    happy, texts = match_end(Gesture.SCISSORS, Gesture.ROCK, "lost")
    assert "3 rounds decided, 1 draw (not counted)" in texts
    assert not any("scored" in t for t in texts)
    sad, _ = match_end(Gesture.PAPER, Gesture.ROCK, "won")
    plain, _ = match_end(Gesture.PAPER, Gesture.ROCK, "no hand")
    assert (happy != sad).any() and (sad != plain).any() and (happy != plain).any()


def test_attract_notice_starts_each_sentence_on_its_own_line(classifier, tmp_path):
    """The broken-model warning in a panel with room around it: the command is not split."""
    fallback = (
        "Your personal model is broken: playing with the shipped model. Run 'python -m training "
        "personalize --reset' (or personalize again)."
    )
    surface, drawn = draw(
        SCREENS["attract"](app_for(camera_input(classifier, paper_photos(1)), notice=fallback)),
        1.0,
    )
    texts = [d.message for d in drawn]
    assert "Your personal model is broken: playing with the shipped model." in texts
    assert "Run 'python -m training personalize --reset' (or personalize again)." in texts
    notice = [d.rect for d in drawn if d.message in fallback]
    top, bottom = min(r.top for r in notice), max(r.bottom for r in notice)
    for other in (d for d in drawn if d.message not in fallback):
        room = max(top - other.rect.bottom, other.rect.top - bottom)
        assert room >= 12, f"{other.message!r} is {room} px from the notice"
    pygame.image.save(surface, str(tmp_path / "attract-notice.png"))
