"""Every screen drawn on a surface under SDL's dummy driver; taps, scaling and silent sound."""

from __future__ import annotations

import numpy as np
import pygame
import pytest

from game import art
from game.app import App, Options
from game.inputs import PlayerInput
from game.referee import MatchOver, RoundResult
from game.rules import Play
from game.screens import SCREENS, TAP, CountdownScreen
from game.sound import NoneSound, Sounds, load_sounds, waveforms
from vision.labels import Gesture, Outcome
from vision.sources import Frame


@pytest.fixture(scope="module")
def display():
    pygame.display.init()
    pygame.font.init()
    pygame.display.set_mode((art.WIDTH, art.HEIGHT))
    yield
    pygame.display.quit()


class FakeCamera(PlayerInput):
    """A camera that always shows the same frame and reading (no camera can run in a test)."""

    def __init__(self):
        super().__init__(name="fake camera", mirror=True)
        rng = np.random.default_rng(0)
        self._frame = Frame(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), 0.0, 1)

    @property
    def camera(self) -> bool:
        return True

    def frame(self):
        return self._frame

    def reading(self):
        from vision.stream import GestureReading

        return GestureReading(Gesture.PAPER, 0.8, None, 0.0, 1, 12.0, "ok")

    def roi_rect(self, shape):
        return (40, 0, 240, 240)


def distinct_colours(surface: pygame.Surface) -> int:
    pixels = pygame.surfarray.array3d(surface).reshape(-1, 3)
    return len(np.unique(pixels[::7], axis=0))


def render(app: App, name: str, now: float = 5.0, persist: dict | None = None) -> pygame.Surface:
    surface = pygame.Surface((art.WIDTH, art.HEIGHT))
    screen = entered(app, name, now, persist)
    screen.update(now, 0.03)
    screen.update(now + 0.6, 0.03)
    screen.draw(surface)
    return surface


def _app(player_input=None, **kw) -> App:
    app = App(Options(seed=1, **kw), player_input or PlayerInput(), Sounds.silent())
    app.referee.match.record(Gesture.PAPER, Gesture.ROCK)
    return app


def handover(app: App) -> dict:
    """What the countdown hands over after the round ``_app`` recorded, the match over."""
    play = app.referee.match.plays[-1]
    result = RoundResult(1, Gesture.ROCK, Gesture.PAPER, play, Gesture.SCISSORS, 0.9)
    return {"result": result, "over": MatchOver("won"), "still": None}


def entered(app: App, name: str, now: float = 0.0, persist: dict | None = None):
    """Screen ``name`` as the app enters it, handed ``persist`` (else ``handover(app)``)."""
    screen = SCREENS[name](app)
    screen.startup(now, handover(app) if persist is None else persist)
    return screen


@pytest.mark.parametrize("camera", [False, True], ids=["keyboard", "camera"])
@pytest.mark.parametrize("name", sorted(SCREENS))
def test_every_screen_draws_something(display, tmp_path, name, camera):
    app = _app(FakeCamera() if camera else PlayerInput(message="No camera found: test"))
    surface = render(app, name)
    assert distinct_colours(surface) > 12, f"{name} looks blank"
    pygame.image.save(surface, str(tmp_path / f"{name}.png"))
    assert (tmp_path / f"{name}.png").stat().st_size > 2000


def test_replay_result_and_robot_hands_differ(display):
    app = _app()
    replay_result = RoundResult(2, Gesture.SCISSORS, Gesture.NONE, None, None)
    replay = pygame.surfarray.array3d(render(app, "result", persist={"result": replay_result}))
    sprites = [pygame.surfarray.array3d(art.hand_sprite(g, 64)) for g in Gesture]
    for i in range(len(sprites)):
        for j in range(i + 1, len(sprites)):
            assert not np.array_equal(sprites[i], sprites[j])
    assert replay.std() > 10


def test_keyboard_and_tap_throws_reach_the_round(display):
    app = _app()
    app.new_match()
    screen = CountdownScreen(app)
    screen.update(1.0, 0.03)
    assert app.referee.round is not None and not app.referee.round.revealed
    rect = screen.buttons.rects[Gesture.SCISSORS]
    screen.handle_event(pygame.event.Event(TAP, pos=rect.center))
    assert screen.chosen is Gesture.SCISSORS
    screen.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_r, mod=0, unicode="r"))
    assert screen.chosen is Gesture.ROCK
    t = 1.0
    while screen.next is None:
        t += 0.05
        screen.update(t, 0.05)
    assert screen.next == "result" and screen.cleanup()["result"].player is Gesture.ROCK


def test_taps_are_mapped_from_a_scaled_window(display):
    app = _app()
    window = pygame.Surface((1600, 1200))  # 2x wider, letterboxed top and bottom
    scale, rect = app._view(window)
    assert scale == 2.0 and rect.topleft == (0, 120)
    click = pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(800, 600), touch=False)
    assert app._translate(window, click).pos == (400, 240)
    touch_copy = pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(800, 600), touch=True)
    assert app._translate(window, touch_copy) is None
    finger = pygame.event.Event(pygame.FINGERDOWN, x=0.25, y=0.5, finger_id=0, touch_id=0)
    assert app._translate(window, finger).pos == (200, 240)


def test_fps_counter_draws(display):
    app = _app(FakeCamera())
    surface = pygame.Surface((art.WIDTH, art.HEIGHT))
    app._draw_fps(surface, pygame.time.Clock())
    assert distinct_colours(surface.subsurface((500, 440, 300, 40))) > 2


def test_sounds_are_made_in_code_or_silent():
    waves = waveforms()
    assert {"beat", "shoot", "win", "lose", "draw", "replay"} <= set(waves)
    assert all(np.abs(w).max() > 0.05 and np.abs(w).max() <= 1.0 for w in waves.values())
    assert all(isinstance(s, NoneSound) for s in vars(load_sounds(mute=True)).values())
    sounds = load_sounds()  # the dummy audio driver, or no device: either way no error
    sounds.beat.play()
    sounds.outcome(Outcome.WIN).play()


def test_match_end_in_auto_mode_quits(display):
    app = _app(auto=True, speed=10.0)
    screen = entered(app, "matchend")
    screen.update(0.0, 0.0)
    screen.update(1.0, 1.0)
    assert app.exit_code == 0


def test_result_screen_goes_to_match_end_when_the_match_is_over(display):
    app = _app(speed=10.0)
    app.referee.over = MatchOver("lost")
    screen = entered(app, "result")
    screen.update(0.0, 0.0)
    screen.update(1.0, 1.0)
    assert screen.next == "matchend"
    assert isinstance(screen.result.play, Play)
    assert screen.cleanup()["over"] == MatchOver("won"), "the match's end goes on to match end"
