"""The robot's strategies: the API, learning a habit, staying unpredictable, simulated players."""

from __future__ import annotations

from collections import Counter

import pytest

from game.bench import duel, robot_win_rate
from game.players import PLAYERS, CyclicPlayer
from game.strategy import STRATEGIES, AdaptiveStrategy, make_strategy, play_rounds
from vision.labels import THROWS, Gesture


def test_make_strategy_by_name_and_bad_names():
    assert set(STRATEGIES) == {"adaptive", "random"}
    assert isinstance(make_strategy(), AdaptiveStrategy)
    assert make_strategy(" Random ").name == "random"
    with pytest.raises(ValueError, match="adaptive, random"):
        make_strategy("psychic")


def test_api_accepts_strings_and_enums_and_rejects_none():
    s = make_strategy("adaptive", seed=1)
    robot = s.choose()
    assert robot in THROWS
    s.record(player="rock", robot=robot)
    s.record(player=Gesture.PAPER, robot="scissors")
    assert s.history == [(Gesture.ROCK, robot), (Gesture.PAPER, Gesture.SCISSORS)]
    with pytest.raises(ValueError, match="none"):
        s.record(player="none", robot="rock")


def test_same_seed_same_choices():
    moves = ["rock", "rock", "paper", "scissors", "rock"] * 6
    a = play_rounds(make_strategy("adaptive", seed=9), moves)
    b = play_rounds(make_strategy("adaptive", seed=9), moves)
    assert a == b


def test_random_strategy_is_uniformish_and_never_predicts():
    s = make_strategy("random", seed=2)
    counts = Counter(s.choose() for _ in range(3000))
    assert set(counts) == set(THROWS)
    assert all(900 < n < 1100 for n in counts.values()), counts
    assert s.prediction() is None


def test_adaptive_beats_a_cyclic_player_quickly():
    s = make_strategy("adaptive", seed=4)
    player = CyclicPlayer(seed=4)
    counts = duel(s, player, 60)
    assert robot_win_rate(counts) > 80, counts
    # and it says what it expects: the next throw of the cycle
    expected = THROWS[(THROWS.index(player.history[-1][0]) + player.step) % 3]
    assert s.prediction() is expected


def test_adaptive_reads_a_player_who_always_throws_rock():
    s = make_strategy("adaptive", seed=0)
    throws = play_rounds(s, ["rock"] * 40)
    assert Counter(throws[-20:])[Gesture.PAPER] >= 18
    assert s.prediction() is Gesture.ROCK


@pytest.mark.parametrize("name", ["copy", "beat-last", "wsls"])
def test_adaptive_learns_reactive_players(name):
    counts = duel(make_strategy("adaptive", seed=1), PLAYERS[name](seed=1), 100)
    assert robot_win_rate(counts) > 75, counts


def test_adaptive_is_no_better_than_chance_against_random_play():
    rates = [
        robot_win_rate(duel(make_strategy("adaptive", seed=s), PLAYERS["random"](seed=s), 150))
        for s in range(4)
    ]
    assert 35 < sum(rates) / len(rates) < 65, rates


def test_adaptive_falls_back_to_random_when_it_is_being_read():
    """A player who always plays what beats the robot's best guess gets no lasting edge."""
    s = AdaptiveStrategy(seed=3)
    robot_wins = player_wins = 0
    for _ in range(300):
        # the adversary simulates the robot's current favourite candidate and beats its counter
        guess = s.prediction()
        player = guess.beaten_by.beaten_by if guess is not None else Gesture.ROCK
        robot = s.choose()
        if robot.beats(player):
            robot_wins += 1
        elif player.beats(robot):
            player_wins += 1
        s.record(player=player, robot=robot)
    assert player_wins / max(1, robot_wins + player_wins) < 0.6, (robot_wins, player_wins)
