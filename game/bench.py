"""Strategy benchmark: each strategy against simulated players, as win % of decided rounds.

    python -m game.bench [--rounds 300] [--seeds 10] [--noise 0.0]

Not a timed test: it prints a table (Markdown) of how often the robot wins the rounds that were
not draws, averaged over seeds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence

from vision.labels import Gesture, Outcome, judge

from .players import PLAYERS, SimulatedPlayer
from .strategy import STRATEGIES, Strategy, make_strategy


class StrategyPlayer(SimulatedPlayer):
    """A player who is itself an adaptive robot: a check that the robot cannot be read easily."""

    name = "another adaptive robot"

    def __init__(self, seed: int | None = None, noise: float = 0.0):
        super().__init__(seed, noise)
        self.mind = make_strategy("adaptive", seed=None if seed is None else seed + 7919)

    def habit(self) -> Gesture:
        return self.mind.choose()

    def record(self, player: Gesture, robot: Gesture) -> None:
        super().record(player, robot)
        self.mind.record(player=robot, robot=player)  # from its side, the robot is the player


ALL_PLAYERS = {**PLAYERS, "adaptive": StrategyPlayer}
SEEDS = 10  # the README's table: about 3 s on one core


def duel(strategy: Strategy, player: SimulatedPlayer, rounds: int) -> dict[str, int]:
    """Play ``rounds`` rounds; counts of robot wins, losses and draws."""
    counts = {"robot": 0, "player": 0, "draw": 0}
    for _ in range(rounds):
        robot = strategy.choose()  # fixed before the player throws
        move = player.throw()
        outcome = judge(move, robot)
        counts[{Outcome.WIN: "player", Outcome.LOSE: "robot", Outcome.DRAW: "draw"}[outcome]] += 1
        strategy.record(player=move, robot=robot)
        player.record(move, robot)
    return counts


def robot_win_rate(counts: dict[str, int]) -> float:
    decided = counts["robot"] + counts["player"]
    return 100.0 * counts["robot"] / decided if decided else 50.0


def run(
    strategies: Sequence[str], players: Sequence[str], rounds: int, seeds: int, noise: float
) -> dict[tuple[str, str], tuple[float, float]]:
    """(strategy, player) -> (mean robot win %, standard deviation over seeds)."""
    table = {}
    for pname in players:
        for sname in strategies:
            rates = []
            for seed in range(seeds):
                player = ALL_PLAYERS[pname](seed=1000 + seed, noise=noise)
                strategy = make_strategy(sname, seed=seed)
                rates.append(robot_win_rate(duel(strategy, player, rounds)))
            sd = statistics.stdev(rates) if len(rates) > 1 else 0.0
            table[sname, pname] = (statistics.mean(rates), sd)
    return table


def format_table(table, strategies: Sequence[str], players: Sequence[str]) -> str:
    head = "| player | " + " | ".join(f"{s} robot wins" for s in strategies) + " |"
    rule = "|---|" + "---:|" * len(strategies)
    rows = [head, rule]
    for p in players:
        cells = [f"{table[s, p][0]:.1f}% ± {table[s, p][1]:.1f}" for s in strategies]
        rows.append(f"| {ALL_PLAYERS[p].name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m game.bench",
        description="The robot's strategies against simulated players: robot win % of the "
        "rounds that were not draws.",
    )
    parser.add_argument("--rounds", type=int, default=300, help="rounds per duel (default 300)")
    parser.add_argument(
        "--seeds", type=int, default=SEEDS, help=f"duels averaged per cell (default {SEEDS})"
    )
    parser.add_argument(
        "--noise", type=float, default=0.0, help="chance a player throws at random (default 0)"
    )
    parser.add_argument("--strategy", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    parser.add_argument("--player", nargs="+", default=list(ALL_PLAYERS), choices=list(ALL_PLAYERS))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.rounds < 1 or args.seeds < 1 or not 0.0 <= args.noise <= 1.0:
        build_parser().error("--rounds and --seeds must be >= 1 and --noise within 0..1")
    table = run(args.strategy, args.player, args.rounds, args.seeds, args.noise)
    print(
        f"Robot win % of decided rounds, {args.rounds} rounds, mean ± sd over {args.seeds} seeds"
        + (f", players throw at random {args.noise:.0%} of the time" if args.noise else "")
    )
    print(format_table(table, args.strategy, args.player))
    return 0


if __name__ == "__main__":
    sys.exit(main())
